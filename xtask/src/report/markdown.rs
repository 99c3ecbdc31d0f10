//! The registry table with a health column per arch, for `$GITHUB_STEP_SUMMARY` (< 1 MiB,
//! cut with a notice past that). It opens with the regressions; a failing square has a
//! footnote that says why.

use std::collections::BTreeMap;
use std::io::Write;

use crate::model::matrix::Source;
use crate::model::outcome::{EntryInfo, Verdict};
use crate::model::text::clip;
use crate::report::Grid;

/// Markdown escaping for table cells: no pipe, backtick, angle bracket or newline survives,
/// nor a control character or a bidi override or isolate (they would reorder the page).
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => o.push_str("\\|"),
            '`' => o.push_str("\\`"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '*' | '_' | '[' | ']' | '\\' => {
                o.push('\\');
                o.push(c);
            }
            '\n' | '\r' => o.push(' '),
            c if c.is_control() => {}
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => {}
            c => o.push(c),
        }
    }
    o
}

/// The most bytes written before the cut notice, with room left under the step summary's
/// 1 MiB for the notice and the tags it closes.
const LIMIT: usize = 960 * 1024;

/// What the summary says where it was cut.
pub const CUT: &str = "… cut: the summary is limited to 1 MiB; see the artifacts";

/// The most bytes of one text from the results (a name, a source, why a cell fails) a line
/// quotes: one hostile cell cannot take the summary for itself.
const MAX_TEXT: usize = crate::model::text::MAX_SUMMARY;

/// A text from the results for the summary: clipped to [`MAX_TEXT`], then escaped.
fn text(s: &str) -> String {
    escape(&clip(s, MAX_TEXT))
}

/// lore's link to a thread by its message-id: `https://lore.kernel.org/r/<msgid>`, every byte
/// outside `[A-Za-z0-9._~@-]` percent-encoded. `None` when `msgid` is not a message-id
/// (`local@domain` in printable ASCII, no `<` `>`).
pub fn lore_url(msgid: &str) -> Option<String> {
    let ok = !msgid.is_empty()
        && msgid.len() <= 998
        && msgid.contains('@')
        && !msgid.starts_with('@')
        && !msgid.ends_with('@')
        && msgid
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '<' && c != '>');
    if !ok {
        return None;
    }
    let mut url = String::from("https://lore.kernel.org/r/");
    for b in msgid.bytes() {
        if b.is_ascii_alphanumeric() || b"._~@-".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    Some(url)
}

/// An entry's source as the table shows it: `kind: value`; a lore series as a link to its
/// thread (never left for GitHub to autolink as a mail address).
fn source(kind: &str, value: &str) -> String {
    if kind == Source::LORE {
        if let Some(url) = lore_url(value) {
            return format!("{}: [{}]({url})", text(kind), text(value));
        }
    }
    text(&format!("{kind}: {value}"))
}

/// The summary as it is written: whole lines while they fit under [`LIMIT`], then the cut
/// notice once, and nothing more.
struct Summary {
    out: String,
    cut: bool,
    /// Inside `<details>`: the cut closes it.
    details: bool,
}

impl Summary {
    /// Append `s` if it fits; once one does not, the summary is cut there.
    fn push(&mut self, s: &str) {
        if self.cut {
            return;
        }
        if self.out.len() + s.len() > LIMIT {
            self.cut = true;
            // A blank line first: a table or a list ends there.
            self.out.push_str(&format!("\n**{CUT}**\n"));
            if self.details {
                self.out.push_str("\n</details>\n");
            }
            return;
        }
        self.out.push_str(s);
    }
}

/// Footnotes of the failing cells, numbered in order, as many as half the limit holds: by
/// cell index, its number and its line.
fn footnotes(g: &Grid) -> BTreeMap<usize, (usize, String)> {
    let mut notes = BTreeMap::new();
    let mut size = 0;
    for (n, c) in g.failing().enumerate() {
        let note = format!(
            "[^{}]: {}: {}\n",
            n + 1,
            text(&c.at()),
            text(&c.why().to_string())
        );
        size += note.len();
        if size > LIMIT / 2 {
            break;
        }
        notes.insert(c.index, (n + 1, note));
    }
    notes
}

/// The step summary: the regressions first (as the text report), then the registry table with
/// a health column per arch, footnotes saying why each failing square fails, and the failing
/// cells with their repro lines. Under 1 MiB whatever the results: past that it is cut, and
/// says so.
pub fn write(g: &Grid, w: &mut dyn Write) -> std::io::Result<()> {
    let r = g.results;
    let notes = footnotes(g);
    let mut out = Summary {
        out: String::new(),
        cut: false,
        details: false,
    };
    out.push("## RFL patch health\n\n");
    if let Some(lines) = g.regression_lines() {
        out.push("### Regressions\n\n");
        for line in lines {
            out.push(&format!("- {}\n", text(&line)));
        }
        out.push("\n");
    }
    out.push(&format!(
        "Run started {}; {} cells.\n\n",
        text(&r.started),
        r.cells.len()
    ));
    let mut header = String::from("| Target Area | Status | Author | Source | Base |");
    for name in g.column_names() {
        header.push_str(&format!(" {} |", text(&name)));
    }
    header.push_str("\n|---|---|---|---|---|");
    for _ in &g.columns {
        header.push_str("---|");
    }
    header.push('\n');
    out.push(&header);
    let info: BTreeMap<&str, &EntryInfo> = r.entries.iter().map(|e| (e.id.as_str(), e)).collect();
    for (i, row) in g.rows.iter().enumerate() {
        if out.cut {
            break;
        }
        let (area, status, authors, source, base) = match info.get(row.entry) {
            Some(e) => (
                e.area.clone(),
                e.status.clone(),
                e.authors.join(", "),
                self::source(&e.source_kind, &e.source),
                e.base.clone().unwrap_or_default(),
            ),
            None => (
                row.name(),
                String::new(),
                String::new(),
                String::new(),
                row.base.to_string(),
            ),
        };
        let mut line = format!(
            "| {} | {}{} | {} | {} | {} |",
            text(&area),
            text(&status),
            stale_note(g, i, &status),
            text(&authors),
            source,
            text(&base)
        );
        for j in 0..g.columns.len() {
            let s = g.square(i, j).map_or_else(|| "-".into(), |c| c.short());
            let note = g
                .square(i, j)
                .and_then(|c| notes.get(&c.index))
                .map(|(n, _)| format!("[^{n}]"))
                .unwrap_or_default();
            line.push_str(&format!(" {}{note} |", text(&s)));
        }
        line.push('\n');
        out.push(&line);
    }
    for s in &r.skipped_entries {
        if out.cut {
            break;
        }
        let i = info.get(s.id.as_str());
        let mut line = format!(
            "| {} | {} | {} | {} | {} |",
            text(i.map_or(&s.id, |i| &i.area)),
            text(i.map_or("", |i| &i.status)),
            text(&i.map(|i| i.authors.join(", ")).unwrap_or_default()),
            i.map(|i| source(&i.source_kind, &i.source))
                .unwrap_or_default(),
            text(&format!("cannot run: {}", s.reason))
        );
        for _ in &g.columns {
            line.push_str(" skip |");
        }
        line.push('\n');
        out.push(&line);
    }
    if !notes.is_empty() {
        out.push("\n");
        for (_, note) in notes.values() {
            out.push(note);
        }
    }
    out.push("\n<details><summary>Failing cells</summary>\n\n");
    out.details = !out.cut;
    for c in g.failing() {
        if out.cut {
            break;
        }
        out.push(&format!(
            "- **{}** {}: {}  \n  reproduce: {}\n",
            text(&c.at()),
            text(&c.short()),
            text(&c.why().to_string()),
            text(&c.result.repro)
        ));
    }
    out.push("\n</details>\n");
    // Known failures apart from real ones, each with its reason and link; then what the run
    // says of the expectations file.
    let met: Vec<String> = g
        .cells()
        .flat_map(|c| {
            let at = c.at();
            c.met_lines()
                .into_iter()
                .map(move |l| format!("- **{}** {}\n", text(&at), text(&l)))
        })
        .collect();
    if !met.is_empty() && !out.cut {
        out.push("\n### Known failures (expectations.toml)\n\n");
        for line in met {
            if out.cut {
                break;
            }
            out.push(&line);
        }
    }
    if !r.expectations.is_empty() && !out.cut {
        out.push("\n### Expectations\n\n");
        for n in &r.expectations {
            out.push(&format!("- {}\n", text(&crate::report::text::note_line(n))));
        }
    }
    w.write_all(out.out.as_bytes())
}

/// A row whose series is already in its base while the registry does not say `merged`: the
/// registry is stale there, and the Status cell says so. A row with no status (not from the
/// registry) says nothing.
fn stale_note(g: &Grid, row: usize, status: &str) -> &'static str {
    let in_base = (0..g.columns.len())
        .filter_map(|j| g.square(row, j))
        .any(|c| c.health.verdict == Verdict::InBase);
    let merged = status.trim().eq_ignore_ascii_case("merged");
    if in_base && !status.trim().is_empty() && !merged {
        " (stale: already in the base)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Loaded;
    use serde_json::{json, Value};

    #[test]
    fn table_cells_are_escaped() {
        assert_eq!(super::escape("a|b`c<script>"), "a\\|b\\`c&lt;script&gt;");
        assert_eq!(super::escape("a\u{202e}b\u{2066}c"), "abc");
    }

    /// A cell of `entry` on `toolchain`, failing its build with `why`, with its `change`.
    fn cell(entry: &str, toolchain: &str, why: &str, change: Option<&str>) -> Value {
        json!({"schema": 2, "entry": entry, "base": "b", "arch": "x86_64",
            "toolchain": {"name": toolchain, "versions": {}},
            "stages": [{"stage": "build", "status": "fail", "duration_s": 1.0, "summary": why}],
            "dir": "cells/x", "started": "", "duration_s": 1.0, "repro": format!("cargo xtask repro {entry}"),
            "health": {"verdict": "fail", "stage": "build", "summary": why}, "change": change})
    }

    fn summary(cells: Vec<Value>, entries: Vec<Value>) -> String {
        let results: crate::model::outcome::RunResults = serde_json::from_value(json!({
            "schema": 2, "harness_version": "x", "started": "", "cells": cells, "entries": entries,
            "skipped_entries": [{"id": "later", "reason": "x".repeat(100_000)}]}))
        .unwrap();
        let loaded = Loaded {
            dirs: vec![std::path::PathBuf::from("."); results.cells.len()],
            results,
        };
        let mut out = Vec::new();
        write(&Grid::new(&loaded), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Under 1 MiB whatever the results: many rows, many columns, many regressions, each cut
    /// with a notice that says so (and `<details>` closed); a huge name is clipped; a small
    /// summary is whole.
    #[test]
    fn the_summary_stays_under_1_mib_and_says_where_it_was_cut() {
        const MIB: usize = 1 << 20;
        let long = "y".repeat(20_000);
        let id = |i: usize| format!("{i}{}", "e".repeat(300));
        let rows: Vec<Value> = (0..3000).map(|i| cell(&id(i), "t", &long, None)).collect();
        let entries: Vec<Value> = (0..3000)
            .map(|i| json!({"id": id(i), "area": "a".repeat(5000), "source_kind": "mbox", "source": "s"}))
            .collect();
        let columns: Vec<Value> = (0..3000)
            .map(|i| cell("e", &format!("{i}{}", "t".repeat(400)), "why", None))
            .collect();
        let regressions: Vec<Value> = (0..3000)
            .map(|i| cell(&id(i), "t", &long, Some("regressed")))
            .collect();
        for (what, cells, entries) in [
            ("rows", rows, entries),
            ("columns", columns, vec![]),
            ("regressions", regressions, vec![]),
        ] {
            let md = summary(cells, entries);
            assert!(md.len() < MIB, "{what}: {} bytes", md.len());
            assert!(md.contains(CUT), "{what}: no cut notice");
            assert_eq!(
                md.matches("<details>").count(),
                md.matches("</details>").count(),
                "{what}"
            );
        }
        let huge = summary(
            vec![cell(
                &"h".repeat(3 * MIB),
                "t",
                &"w".repeat(MIB),
                Some("regressed"),
            )],
            vec![],
        );
        assert!(huge.len() < 64 * 1024, "{} bytes", huge.len());
        assert!(huge.starts_with("## RFL patch health\n\n### Regressions\n"));
        let small = summary(vec![cell("e", "t", "why", None)], vec![]);
        assert!(!small.contains(CUT), "{small}");
        assert!(small.ends_with("</details>\n"), "{small}");
    }

    /// A lore series links to its thread on lore, percent-encoded, instead of reading as a
    /// mail address; what is no message-id stays text.
    #[test]
    fn a_lore_series_links_to_its_thread() {
        assert_eq!(
            lore_url("20240101.1234-1-a@b.example").as_deref(),
            Some("https://lore.kernel.org/r/20240101.1234-1-a@b.example")
        );
        assert_eq!(
            lore_url("CAHk-=w+x/y(z)@mail.gmail.com").as_deref(),
            Some("https://lore.kernel.org/r/CAHk-%3Dw%2Bx%2Fy%28z%29@mail.gmail.com")
        );
        for no in ["", "nope", "a b@c", "<a@b>", "@b", "a@", "a\n@b"] {
            assert_eq!(lore_url(no), None, "{no:?}");
        }
        assert_eq!(
            source("lore", "m_1@x"),
            "lore: [m\\_1@x](https://lore.kernel.org/r/m_1@x)"
        );
        assert_eq!(source("lore", "not a msgid"), "lore: not a msgid");
        assert_eq!(source("mbox", "a@b"), "mbox: a@b");
    }
}
