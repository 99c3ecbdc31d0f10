//! The registry table with a health column per arch, for `$GITHUB_STEP_SUMMARY` (< 1 MiB).
//! A failing square has a footnote that says why.

use std::collections::BTreeMap;
use std::io::Write;

use crate::model::outcome::{EntryInfo, Verdict};
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

/// The most bytes written, under the step summary's 1 MiB.
const LIMIT: usize = 900 * 1024;

/// Footnotes of the failing cells, numbered in order, as many as half the limit holds: by
/// cell index, its number and its line.
fn footnotes(g: &Grid) -> BTreeMap<usize, (usize, String)> {
    let mut notes = BTreeMap::new();
    let mut size = 0;
    for (n, c) in g.failing().enumerate() {
        let note = format!(
            "[^{}]: {}: {}\n",
            n + 1,
            escape(&c.at()),
            escape(&c.why().to_string())
        );
        size += note.len();
        if size > LIMIT / 2 {
            break;
        }
        notes.insert(c.index, (n + 1, note));
    }
    notes
}

pub fn write(g: &Grid, w: &mut dyn Write) -> std::io::Result<()> {
    let r = g.results;
    let notes = footnotes(g);
    let mut out = String::new();
    out.push_str("## RFL patch health\n\n");
    out.push_str(&format!(
        "Run started {}; {} cells.\n\n",
        escape(&r.started),
        r.cells.len()
    ));
    if let Some(lines) = g.regression_lines() {
        out.push_str("### Regressions\n\n");
        for line in lines {
            out.push_str(&format!("- {}\n", escape(&line)));
        }
        out.push('\n');
    }
    out.push_str("| Target Area | Status | Author | Source | Base |");
    for name in g.column_names() {
        out.push_str(&format!(" {} |", escape(&name)));
    }
    out.push_str("\n|---|---|---|---|---|");
    for _ in &g.columns {
        out.push_str("---|");
    }
    out.push('\n');
    let info: BTreeMap<&str, &EntryInfo> = r.entries.iter().map(|e| (e.id.as_str(), e)).collect();
    for (i, row) in g.rows.iter().enumerate() {
        let (area, status, authors, source, base) = match info.get(row.entry) {
            Some(e) => (
                e.area.clone(),
                e.status.clone(),
                e.authors.join(", "),
                format!("{}: {}", e.source_kind, e.source),
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
        out.push_str(&format!(
            "| {} | {}{} | {} | {} | {} |",
            escape(&area),
            escape(&status),
            stale_note(g, i, &status),
            escape(&authors),
            escape(&source),
            escape(&base)
        ));
        for j in 0..g.columns.len() {
            let s = g.square(i, j).map_or_else(|| "-".into(), |c| c.short());
            let note = g
                .square(i, j)
                .and_then(|c| notes.get(&c.index))
                .map(|(n, _)| format!("[^{n}]"))
                .unwrap_or_default();
            out.push_str(&format!(" {}{note} |", escape(&s)));
        }
        out.push('\n');
    }
    for s in &r.skipped_entries {
        let i = info.get(s.id.as_str());
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |",
            escape(i.map_or(&s.id, |i| &i.area)),
            escape(i.map_or("", |i| &i.status)),
            escape(&i.map(|i| i.authors.join(", ")).unwrap_or_default()),
            escape(
                &i.map(|i| format!("{}: {}", i.source_kind, i.source))
                    .unwrap_or_default()
            ),
            escape(&format!("cannot run: {}", s.reason))
        ));
        for _ in &g.columns {
            out.push_str(" skip |");
        }
        out.push('\n');
    }
    if !notes.is_empty() {
        out.push('\n');
        for (_, note) in notes.values() {
            out.push_str(note);
        }
    }
    out.push_str("\n<details><summary>Failing cells</summary>\n\n");
    for c in g.failing() {
        let item = format!(
            "- **{}** {}: {}  \n  reproduce: {}\n",
            escape(&c.at()),
            escape(&c.short()),
            escape(&c.why().to_string()),
            escape(&c.result.repro)
        );
        if out.len() + item.len() > LIMIT {
            out.push_str("- … (truncated to stay under the step summary's 1 MiB)\n");
            break;
        }
        out.push_str(&item);
    }
    out.push_str("\n</details>\n");
    w.write_all(out.as_bytes())
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
    #[test]
    fn table_cells_are_escaped() {
        assert_eq!(super::escape("a|b`c<script>"), "a\\|b\\`c&lt;script&gt;");
        assert_eq!(super::escape("a\u{202e}b\u{2066}c"), "abc");
    }
}
