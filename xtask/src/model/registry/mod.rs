//! The RFL Patch & Project Registry (a markdown table) → matrix entries, with stable ids.
//!
//! Pure: text in, entries and a report of everything unusual out. Every table row becomes an
//! entry; a row the import cannot use becomes an entry with a `skip` reason, never nothing.
//! The tables are read by `table`, each link classified by `link`, each base spelling led to
//! a base by `base`; here a row becomes an entry and every entry gets its id.

pub mod base;
pub mod link;
pub mod table;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::matrix::{BaseDecl, EntryDecl, Source, BASE_ENTRY};
use base::{normalise_base, BaseChoice, BLANK_BASE};
use link::{classify_link, urls_in, Link};
use table::{parse_rows, Row};

const KNOWN_STATUSES: [&str; 6] = [
    "merged",
    "review",
    "rfc",
    "testing",
    "experimental",
    "abandoned",
];

/// The result of importing a registry.
#[derive(Debug, Default)]
pub struct Import {
    pub entries: Vec<EntryDecl>,
    /// Bases the rows need beyond the standard ones, by name.
    pub extra_bases: BTreeMap<String, BaseDecl>,
    /// Unusual values, kept and reported: unknown statuses, base spellings, link forms.
    pub notes: Vec<String>,
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "entry".into()
    } else {
        out
    }
}

/// A short word that tells a row's source apart from others of the same area.
fn discriminator(source: &Source, row: &Row) -> String {
    let v = source.value();
    let segs: Vec<&str> = v
        .split("://")
        .nth(1)
        .unwrap_or(v)
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let d = match source {
        Source::GithubPr(_) => format!("pr{}", segs.get(4).unwrap_or(&"")),
        // Seven characters, not bytes: a segment may hold any character.
        Source::PrCommit(_) => format!(
            "pr{}-{}",
            segs.get(4).unwrap_or(&""),
            segs.get(6)
                .map_or(String::new(), |s| s.chars().take(7).collect())
        ),
        Source::Branch(_) => format!(
            "{}-{}",
            segs.get(1).unwrap_or(&""),
            segs.last().unwrap_or(&"")
        ),
        Source::Commit(_) => format!(
            "{}-{}",
            segs.get(1).unwrap_or(&""),
            segs.last()
                .map_or(String::new(), |s| s.chars().take(7).collect())
        ),
        Source::Lore(id) => {
            // Message-ids of series usually start with the date: that is the short, telling part.
            let local = id.split('@').next().unwrap_or("");
            let date: String = local.chars().take_while(|c| c.is_ascii_digit()).collect();
            if date.len() >= 8 {
                date.chars().take(8).collect()
            } else {
                local.chars().take(24).collect()
            }
        }
        Source::File(_) => segs
            .last()
            .unwrap_or(&"")
            .split('.')
            .next()
            .unwrap_or("")
            .to_string(),
        _ => row.author.clone(),
    };
    slug(&d)
}

/// A row's identity for id stability: what it is about and where it comes from.
pub fn fingerprint(area: &str, source: &Source) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}",
        slug(area),
        source.kind(),
        source.value()
    )
}

/// Import the registry text. `previous` maps fingerprints to the ids an earlier import gave,
/// so that rows that did not change keep their ids.
pub fn import(markdown: &str, previous: &HashMap<String, String>) -> Import {
    let rows = parse_rows(markdown);
    let mut imp = Import::default();
    let mut drafts = Vec::new();
    for row in &rows {
        let (entry, notes) = classify_row(row, &mut imp.extra_bases);
        imp.notes.extend(notes);
        drafts.push(entry);
    }

    // Ids: keep the earlier import's for unchanged rows, then name the rest by area, adding a
    // word from the source when several rows share an area.
    let fps: Vec<String> = drafts
        .iter()
        .map(|e| fingerprint(&e.area, &e.source))
        .collect();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut ids: Vec<Option<String>> = vec![None; drafts.len()];
    for (i, fp) in fps.iter().enumerate() {
        if let Some(id) = previous.get(fp) {
            if taken.insert(id.clone()) {
                ids[i] = Some(id.clone());
            }
        }
    }
    let mut area_count: HashMap<String, usize> = HashMap::new();
    for e in &drafts {
        *area_count.entry(slug(&e.area)).or_default() += 1;
    }
    for i in 0..drafts.len() {
        if ids[i].is_some() {
            continue;
        }
        let base = slug(&drafts[i].area);
        let mut candidate = if area_count[&base] > 1 || taken.contains(&base) {
            let d = discriminator(&drafts[i].source, &rows[i]);
            if d.is_empty() {
                base.clone()
            } else {
                format!("{base}-{d}")
            }
        } else {
            base.clone()
        };
        let stem = candidate.clone();
        let mut n = 2;
        while taken.contains(&candidate) || candidate == BASE_ENTRY {
            candidate = format!("{stem}-{n}");
            n += 1;
        }
        taken.insert(candidate.clone());
        ids[i] = Some(candidate);
    }
    for (e, id) in drafts.iter_mut().zip(ids) {
        e.id = id.expect("every row got an id");
    }
    imp.entries = drafts;
    imp
}

fn classify_row(
    row: &Row,
    extra_bases: &mut BTreeMap<String, BaseDecl>,
) -> (EntryDecl, Vec<String>) {
    let mut notes = Vec::new();
    let at = format!("line {}", row.line);
    if let Some(p) = &row.shape_problem {
        notes.push(format!("{at}: {p}; missing cells read as empty"));
    }
    let status = row.status.trim().to_lowercase();
    if !status.is_empty() && !KNOWN_STATUSES.contains(&status.as_str()) {
        notes.push(format!("{at}: unknown status `{}` kept as is", row.status));
    }
    let authors: Vec<String> = row
        .author
        .split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();

    // Links: the git column and the mailing-list column, each possibly holding several URLs
    // or the words "not yet published".
    let mut git_links = Vec::new();
    let mut lore_ids = Vec::new();
    let mut unpublished = false;
    let mut unknown = Vec::new();
    for cell in [&row.git, &row.lore] {
        let mut parts: Vec<String> = urls_in(cell);
        if parts.is_empty() && !cell.trim().is_empty() {
            parts.push(cell.trim().to_string());
        }
        for p in parts {
            match classify_link(&p) {
                Link::Git(s) => git_links.push(s),
                Link::Lore(id) => lore_ids.push(id),
                Link::Unpublished => unpublished = true,
                Link::Unknown { link, reason } => unknown.push((link, reason)),
            }
        }
    }
    for (u, why) in &unknown {
        notes.push(format!(
            "{at}: link form not recognised ({why}), kept in the note: {u}"
        ));
    }
    let unknown: Vec<String> = unknown.into_iter().map(|(u, _)| u).collect();
    let lore_first = lore_ids.first().cloned();
    let (source, lore_alt) = if let Some(g) = git_links.first() {
        (g.clone(), lore_first)
    } else if let Some(id) = lore_first {
        (Source::Lore(id), None)
    } else if unpublished {
        (
            Source::Unpublished("the registry says not yet published".into()),
            None,
        )
    } else if let Some(u) = unknown.first() {
        (Source::None(format!("unrecognised link {u}")), None)
    } else {
        (Source::None("the registry row has no link".into()), None)
    };

    let mut skip = None;
    let mut note_parts: Vec<String> = unknown
        .iter()
        .map(|u| format!("unrecognised link: {u}"))
        .collect();
    let base = match normalise_base(&row.base) {
        BaseChoice::Named(name, decl) => {
            if let Some(d) = decl {
                extra_bases.entry(name.clone()).or_insert(d);
            }
            if row.base.trim().is_empty() {
                note_parts.push(format!("registry base is blank: tried on {BLANK_BASE}"));
            }
            Some(name)
        }
        BaseChoice::Unknown(why) => {
            notes.push(format!("{at}: {why}"));
            skip = Some(why);
            None
        }
    };
    if matches!(source, Source::File(_)) && status != "merged" {
        note_parts.push("a file link: health is whether that path exists in the base".into());
    }
    if let Some(s) = source.inherent_skip() {
        skip.get_or_insert(s);
    }
    let entry = EntryDecl {
        id: String::new(),
        area: row.area.clone(),
        status: row.status.trim().to_string(),
        authors,
        source,
        base,
        registry_base: row.base.trim().trim_matches('`').to_string(),
        skip,
        lore: lore_alt,
        note: note_parts.join("; "),
    };
    (entry, notes)
}

#[cfg(test)]
mod tests {
    use super::base::MERGED_BASE;
    use super::*;

    /// A commit or pull-request commit whose last segment is not ASCII still gets an id, cut
    /// at a character.
    #[test]
    fn a_non_ascii_commit_still_gets_an_id() {
        let imp = import(
            "| Area | Status | Git |\n|---|---|---|\n| a | review | https://github.com/o/r/commit/ééééééééé |\n| a | review | https://github.com/o/r/pull/1/commits/ßßßßßßßßß |\n",
            &HashMap::new(),
        );
        let ids: Vec<&str> = imp.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a-o", "a-pr1"]);
    }

    const TABLE: &str = "\
# Some other heading
| Target Area | Status | Author | Git Link | Mailing List Link | Base |
|---|---|---|---|---|---|
| debugfs | testing | Adam BK. | https://github.com/Rust-for-Linux/linux/pull/885 | | `rust` |
| debugfs | experimental | Fabien P. | https://github.com/Rust-for-Linux/linux/pull/1041 | | `rust-next` |
| phy | merged | Tomo F. | https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/tree/rust/kernel/net/phy.rs | https://lore.kernel.org/rust-for-linux/20231026001050.1720612-1-fujita.tomonori@gmail.com/ | merged |
| widget | shiny | X. | | | `rust-7.9` |
| odd | review | Y. | |
<!-- | | | | | | | -->
| | | | | | |

| Area | Task | Discussion | Notes |
|---|---|---|---|
| iio | any sensors | https://lore.kernel.org/x/y@z/ | notes |
";

    #[test]
    fn imports_rows_and_reports_the_unusual() {
        let imp = import(TABLE, &HashMap::new());
        let ids: Vec<&str> = imp.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            ["debugfs-pr885", "debugfs-pr1041", "phy", "widget", "odd"]
        );
        let phy = &imp.entries[2];
        assert!(matches!(phy.source, Source::File(_)));
        assert_eq!(
            phy.lore.as_deref(),
            Some("20231026001050.1720612-1-fujita.tomonori@gmail.com")
        );
        assert_eq!(phy.base.as_deref(), Some(MERGED_BASE));
        assert!(imp.extra_bases.contains_key("rust-7.9"));
        assert!(
            imp.notes
                .iter()
                .any(|n| n.contains("unknown status `shiny`")),
            "{:?}",
            imp.notes
        );
        assert!(
            imp.notes.iter().any(|n| n.contains("row has 4 cells")),
            "{:?}",
            imp.notes
        );
        assert_eq!(
            imp.entries[4].source,
            Source::None("the registry row has no link".into())
        );
    }

    #[test]
    fn ids_of_unchanged_rows_survive_a_new_row() {
        let first = import(TABLE, &HashMap::new());
        let previous: HashMap<String, String> = first
            .entries
            .iter()
            .map(|e| (fingerprint(&e.area, &e.source), e.id.clone()))
            .collect();
        // A newer registry: a row added at the top sharing the `phy` area.
        let newer = TABLE.replace(
            "|---|---|---|---|---|---|\n",
            "|---|---|---|---|---|---|\n| phy | review | Z. | https://github.com/Rust-for-Linux/linux/pull/1 | | `rust` |\n",
        );
        let second = import(&newer, &previous);
        let ids: Vec<&str> = second.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "phy-pr1",
                "debugfs-pr885",
                "debugfs-pr1041",
                "phy",
                "widget",
                "odd"
            ]
        );
    }
}
