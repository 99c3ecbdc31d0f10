//! One self-contained HTML page: the regressions against a baseline, then the grid, each cell
//! linking to its stage logs.

use std::io::Write;
use std::path::Path;

use crate::model::outcome::CellResult;
use crate::report::{first_line, is_http, resolve_log, Grid};

/// XML text escaping that also shows as visible escapes what XML 1.0 forbids (ANSI escapes'
/// ESC, BEL, …) and the bidi overrides and isolates that would reorder the page.
pub fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\t' | '\n' | '\r' => o.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                o.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if crate::model::text::is_bidi_control(c) => {
                o.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => o.push(c),
        }
    }
    o
}

pub fn html_escape(s: &str) -> String {
    xml_escape(s)
}

/// The page, its log links relative to `out_dir` (the current folder when `None`).
pub fn write(g: &Grid, w: &mut dyn Write, out_dir: Option<&Path>) -> std::io::Result<()> {
    let r = g.results;
    let mut o = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>RFL patch health</title>\n<style>\nbody{font-family:sans-serif;margin:1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}\n.pass{background:#d4f4d4}.in-base{background:#d4e8f8}.fail{background:#f8c8c8}.error,.unreachable{background:#f8e8b0}.skip{background:#eee;color:#666}\ntd small{display:block;color:#333}a{color:#036}\n</style></head><body>\n<h1>RFL patch health</h1>\n",
    );
    // The regressions first, as in the text report and the step summary.
    if let Some(lines) = g.regression_lines() {
        o.push_str("<h2>Regressions</h2>\n<ul id=\"regressions\">\n");
        for line in lines {
            o.push_str(&format!("<li>{}</li>\n", html_escape(&line)));
        }
        o.push_str("</ul>\n");
    }
    o.push_str(&format!(
        "<p>Run started {} — {} cells.</p>\n<table id=\"grid\">\n<tr><th>entry</th>",
        html_escape(&r.started),
        r.cells.len()
    ));
    for name in g.column_names() {
        o.push_str(&format!("<th>{}</th>", html_escape(&name)));
    }
    o.push_str("</tr>\n");
    for (i, row) in g.rows.iter().enumerate() {
        o.push_str(&format!("<tr><th>{}</th>", html_escape(&row.name())));
        for j in 0..g.columns.len() {
            match g.square(i, j) {
                Some(cell) => {
                    let (c, h) = (cell.result, cell.health);
                    let dir = cell.run_dir;
                    let links: Vec<String> = c
                        .stages
                        .iter()
                        .filter_map(|s| {
                            s.log
                                .as_ref()
                                .and_then(|lg| log_href(dir, c, lg, out_dir))
                                .map(|href| {
                                    format!(
                                        "<a href=\"{}\">{}</a>",
                                        html_escape(&href),
                                        s.stage.name()
                                    )
                                })
                        })
                        .collect();
                    o.push_str(&format!(
                        "<td class=\"{}\" title=\"{}\"><b>{}</b><small>{}</small><small>{}</small></td>",
                        h.verdict.name(),
                        html_escape(&h.summary),
                        html_escape(&cell.short()),
                        html_escape(first_line(&h.summary)),
                        links.join(" ")
                    ));
                }
                None => o.push_str("<td class=\"skip\">-</td>"),
            }
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n");
    if !r.skipped_entries.is_empty() {
        o.push_str("<h2>Entries that cannot run</h2>\n<ul>\n");
        for s in &r.skipped_entries {
            o.push_str(&format!(
                "<li><b>{}</b>: {}</li>\n",
                html_escape(&s.id),
                html_escape(&s.reason)
            ));
        }
        o.push_str("</ul>\n");
    }
    // Known failures apart from real ones, with the reason and a link (only an http(s) one
    // becomes an href; a commit id is shown as text).
    let known: Vec<String> = g
        .cells()
        .flat_map(|c| {
            let at = c.at();
            c.result.expectations.iter().map(move |m| {
                let link = if is_http(&m.link) {
                    format!("<a href=\"{0}\">{0}</a>", html_escape(&m.link))
                } else {
                    format!("<code>{}</code>", html_escape(&m.link))
                };
                format!(
                    "<li><b>{}</b> {} {} (<code>{}</code>, {}): {} — {}</li>\n",
                    html_escape(&at),
                    m.outcome.name(),
                    html_escape(&m.matched.render()),
                    html_escape(&m.id),
                    html_escape(&m.at),
                    html_escape(&m.reason),
                    link
                )
            })
        })
        .collect();
    if !known.is_empty() {
        o.push_str("<h2>Known failures (expectations.toml)</h2>\n<ul id=\"expected\">\n");
        o.extend(known);
        o.push_str("</ul>\n");
    }
    if !r.expectations.is_empty() {
        o.push_str("<h2>Expectations</h2>\n<ul>\n");
        for n in &r.expectations {
            o.push_str(&format!(
                "<li>{}</li>\n",
                html_escape(&crate::report::text::note_line(n))
            ));
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</body></html>\n");
    w.write_all(o.as_bytes())
}

/// Where the HTML page links a stage's log: an http(s) URL as it is, or a log that resolves
/// inside the run folder (see `resolve_log`) as a relative path from the page's folder (the
/// current folder when the page goes to stdout). Anything else (`javascript:`, a path out of
/// the run folder, a missing file) gets no link.
fn log_href(
    run_dir: &Path,
    cell: &CellResult,
    log: &str,
    out_dir: Option<&Path>,
) -> Option<String> {
    if is_http(log) {
        return log
            .chars()
            .all(|c| c.is_ascii_graphic())
            .then(|| log.to_string());
    }
    let target = resolve_log(run_dir, cell, log)?;
    let from = std::fs::canonicalize(out_dir.unwrap_or(Path::new("."))).ok()?;
    Some(relative_href(&target, &from))
}

/// `to` as a relative URL from the folder `from` (both canonical): `./…` or `../…`, each
/// byte outside `[A-Za-z0-9._~/-]` percent-encoded, so no part of it reads as a scheme.
fn relative_href(to: &Path, from: &Path) -> String {
    let to: Vec<_> = to.components().collect();
    let from: Vec<_> = from.components().collect();
    let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec![".".into()];
    parts.extend(std::iter::repeat_n("..".to_string(), from.len() - common));
    for c in &to[common..] {
        let mut seg = String::new();
        for b in c.as_os_str().as_encoded_bytes() {
            if b.is_ascii_alphanumeric() || b"._~-".contains(b) {
                seg.push(*b as char);
            } else {
                seg.push_str(&format!("%{b:02X}"));
            }
        }
        parts.push(seg);
    }
    if parts.len() > 1 && parts[1] == ".." {
        parts.remove(0);
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escaping_drops_what_xml_forbids() {
        assert_eq!(xml_escape("\u{1b}[31m]]>\u{7}"), "\\x1b[31m]]&gt;\\x07");
        assert_eq!(xml_escape("a\u{202e}b"), "a\\u{202e}b");
    }

    #[test]
    fn relative_links_never_read_as_a_scheme() {
        let p = |s: &str| Path::new(s).to_path_buf();
        assert_eq!(
            relative_href(&p("/r/cells/a/build.log"), &p("/r")),
            "./cells/a/build.log"
        );
        assert_eq!(
            relative_href(&p("/r/cells/a/javascript:alert(1)"), &p("/r/cells/a")),
            "./javascript%3Aalert%281%29"
        );
        assert_eq!(
            relative_href(&p("/r/one/cells/x.log"), &p("/r/two")),
            "../one/cells/x.log"
        );
    }
}
