//! GitHub Actions: annotations for the failing cells (regressions first, at most ten), then
//! the text report behind `::stop-commands::`.

use std::io::Write;
use std::path::{Component, Path};

use crate::model::outcome::{Change, Fault, MetOutcome, NoteKind, Verdict};
use crate::model::text::term_safe;
use crate::report::{text, Cell, Grid};

/// GitHub workflow-command escaping of a message (data).
pub fn data(s: &str) -> String {
    // Terminal escapes first: GitHub's log viewer renders them.
    term_safe(s)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// GitHub workflow-command escaping of a property value.
pub fn prop(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The token that ends a `::stop-commands::` block: 128 random bits in hex, so that no patch
/// or console line can guess it and turn workflow commands back on.
pub fn stop_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The most annotations for cells; one more `::notice` says how many were left out.
pub const MAX_ANNOTATIONS: usize = 10;

/// The failing cells in the order they are annotated: entry cells that regressed against the
/// baseline, then new entry cells that fail, then the other failing entry cells, then the
/// base cells' own failures (regressed first).
fn annotated<'g>(g: &'g Grid) -> Vec<Cell<'g>> {
    let rank = |c: &Cell| {
        let regressed = c.result.change == Some(Change::Regressed);
        match (c.result.is_base(), regressed, c.result.change) {
            (false, true, _) => 0,
            (false, false, Some(Change::New)) => 1,
            (false, false, _) => 2,
            (true, true, _) => 3,
            (true, false, _) => 4,
        }
    };
    let mut cells: Vec<Cell> = g.failing().collect();
    // Stable: within a rank, the results' order.
    cells.sort_by_key(|c| rank(c));
    cells
}

/// A source file the annotation may point at: a file of this repository (`root`), named by a
/// relative path without `..` that stays under the root with links resolved. A kernel path
/// (`rust/kernel/task.rs`, `drivers/x.c`) names no file here, and GitHub would show the
/// annotation against nothing.
fn repository_file(root: &Path, file: &str) -> bool {
    let p = Path::new(file);
    if file.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return false;
    }
    match (
        std::fs::canonicalize(root),
        std::fs::canonicalize(root.join(p)),
    ) {
        (Ok(root), Ok(real)) => real.starts_with(&root) && real.is_file(),
        _ => false,
    }
}

/// At most [`MAX_ANNOTATIONS`] annotations, in the order of [`annotated`], then one
/// `::notice` saying how many more the summary holds. Each is titled with the cell and its
/// change against the baseline, says why its cell fails (as the other reports do) and how to
/// reproduce it; an entry's failure is an `::error` (a `::warning` when the harness erred and
/// nothing regressed), a base's own is a `::notice`. `file=`/`line=` only for a file of this
/// repository (`root`). Then the text report (without colour) wrapped in `::stop-commands::`
/// so that nothing a patch or a console printed can act as a command.
pub fn write(g: &Grid, w: &mut dyn Write, token: &str, root: &Path) -> std::io::Result<()> {
    let cells = annotated(g);
    for cell in cells.iter().take(MAX_ANNOTATIONS) {
        let (c, h) = (cell.result, cell.health);
        let why = cell.why();
        let mut props = Vec::new();
        if let Some((file, line)) = why.source().filter(|(f, _)| repository_file(root, f)) {
            props.push(format!("file={}", prop(&file)));
            if let Some(n) = line {
                props.push(format!("line={n}"));
            }
        }
        let title = match c.change {
            Some(change) => format!("{}: {} ({})", cell.at(), change.name(), cell.short()),
            None => format!("{}: {}", cell.at(), cell.short()),
        };
        props.push(format!("title={}", prop(&title)));
        // An xpass is the expectations file's error, whichever cell shows it: annotated at
        // the expectation to delete.
        let xpass = c
            .expectations
            .iter()
            .find(|m| m.outcome == MetOutcome::Xpass)
            .filter(|_| h.fault == Some(Fault::Expectations));
        if let Some((file, line)) = xpass.and_then(|m| file_line(&m.at)) {
            if repository_file(root, &file) {
                props.retain(|p| p.starts_with("title="));
                props.insert(0, format!("file={}", prop(&file)));
                props.insert(1, format!("line={line}"));
            }
        }
        let kind = if xpass.is_some() {
            "error"
        } else if c.is_base() {
            "notice"
        } else if h.verdict == Verdict::Error && c.change != Some(Change::Regressed) {
            "warning"
        } else {
            "error"
        };
        writeln!(
            w,
            "::{kind} {}::{}",
            props.join(","),
            data(&format!("{why}\nreproduce: {}", c.repro))
        )?;
    }
    if cells.len() > MAX_ANNOTATIONS {
        writeln!(
            w,
            "::notice::{} more in the summary",
            cells.len() - MAX_ANNOTATIONS
        )?;
    }
    // The expectations file's own notes: an expired expectation is an error, one that
    // matched nothing a warning, each at its place.
    for n in &g.results.expectations {
        let kind = match n.kind {
            NoteKind::Expired => "error",
            NoteKind::Unmatched => "warning",
        };
        let mut props = Vec::new();
        if let Some((file, line)) = file_line(&n.at).filter(|(f, _)| repository_file(root, f)) {
            props.push(format!("file={}", prop(&file)));
            props.push(format!("line={line}"));
        }
        props.push(format!("title={}", prop(&format!("expectation {}", n.id))));
        writeln!(w, "::{kind} {}::{}", props.join(","), data(&n.text))?;
    }
    let known = g.cells().map(|c| c.expected().count()).sum::<usize>();
    if known > 0 {
        writeln!(
            w,
            "::notice title=known failures::{known} expected failures (xfail or flaky, from \
             expectations.toml) not counted against their cells; each with its reason and link \
             in the summary"
        )?;
    }
    writeln!(w, "::stop-commands::{token}")?;
    let mut plain = anstream::StripStream::new(Vec::new());
    text::write(g, &mut plain)?;
    w.write_all(&plain.into_inner())?;
    writeln!(w, "::{token}::")?;
    Ok(())
}

/// `file:line` → the file and the line.
fn file_line(at: &str) -> Option<(String, u32)> {
    let (file, line) = at.rsplit_once(':')?;
    Some((file.to_string(), line.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stop-commands token is random (it was the pid and the time): two tokens taken in
    /// the same process at once differ, and each is 128 bits in hex.
    #[test]
    fn stop_tokens_are_random() {
        let (a, b) = (stop_token().unwrap(), stop_token().unwrap());
        assert_ne!(a, b);
        for t in [&a, &b] {
            assert!(
                t.len() == 32 && t.chars().all(|c| c.is_ascii_hexdigit()),
                "{t}"
            );
        }
    }

    /// A failing cell of `entry` whose build names `file` at line 3, with its `change`.
    fn failing(entry: &str, verdict: &str, change: Option<&str>, file: &str) -> serde_json::Value {
        let why = format!("{file}:3: error: bad");
        serde_json::json!({"schema": 2, "entry": entry, "base": "b", "arch": "x86_64",
            "toolchain": {"name": "t", "versions": {}},
            "stages": [{"stage": "build", "status": "fail", "duration_s": 1.0, "summary": why,
                "diagnostics": [{"file": file, "line": 3, "level": "error", "message": "bad"}]}],
            "dir": format!("cells/{entry}"), "started": "", "duration_s": 1.0,
            "repro": format!("cargo xtask repro {entry}"),
            "health": {"verdict": verdict, "stage": "build", "summary": why},
            "change": change})
    }

    fn annotations(cells: Vec<serde_json::Value>, root: &Path) -> Vec<String> {
        let results: crate::model::outcome::RunResults = serde_json::from_value(
            serde_json::json!({"schema": 2, "harness_version": "x", "started": "", "cells": cells}),
        )
        .unwrap();
        let loaded = crate::report::Loaded {
            dirs: vec![root.to_path_buf(); results.cells.len()],
            results,
        };
        let mut out = Vec::new();
        write(&Grid::new(&loaded), &mut out, "TOKEN", root).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .take_while(|l| !l.starts_with("::stop-commands::"))
            .map(String::from)
            .collect()
    }

    /// Regressions first, then new failures, then the other failing entry cells, then the
    /// base's own failures as notices; ten in all, then one notice of how many more. Each is
    /// titled with its cell and its change, and points at a file only when it is one of this
    /// repository.
    #[test]
    fn annotations_put_regressions_first_and_the_bases_failures_as_notices() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("samples/rust")).unwrap();
        std::fs::write(root.path().join("samples/rust/ours.rs"), "").unwrap();
        let mut cells = vec![failing(
            "base",
            "fail",
            Some("regressed"),
            "rust/kernel/task.rs",
        )];
        for i in 0..12 {
            cells.push(failing(
                &format!("old{i}"),
                "fail",
                Some("still-failing"),
                "drivers/x.c",
            ));
        }
        cells.push(failing("erred", "error", Some("unchanged"), "x.c"));
        cells.push(failing(
            "new",
            "fail",
            Some("new"),
            "../samples/rust/ours.rs",
        ));
        cells.push(failing(
            "reg",
            "fail",
            Some("regressed"),
            "samples/rust/ours.rs",
        ));
        let lines = annotations(cells, root.path());
        assert_eq!(lines.len(), 11, "{lines:#?}");
        assert_eq!(
            lines[0],
            "::error file=samples/rust/ours.rs,line=3,title=reg.x86_64%3A regressed (FAIL build)::samples/rust/ours.rs:3: error: bad%0Areproduce: cargo xtask repro reg"
        );
        assert!(
            lines[1].starts_with("::error title=new.x86_64%3A new (FAIL build)::"),
            "no file out of the repository: {}",
            lines[1]
        );
        for (i, l) in lines[2..10].iter().enumerate() {
            assert!(
                l.starts_with(&format!(
                    "::error title=old{i}.x86_64%3A still failing (FAIL build)::"
                )),
                "a kernel path is no file here: {l}"
            );
        }
        // old8 to old11, the harness's error and the base's failure: six more.
        assert_eq!(lines[10], "::notice::6 more in the summary");
        assert!(!lines.iter().any(|l| l.contains("base b")), "{lines:#?}");

        // Few enough: the base's own failure is a notice, after the entries', and no count.
        let lines = annotations(
            vec![
                failing("base", "fail", Some("still-failing"), "x.c"),
                failing("erred", "error", None, "x.c"),
                failing("e", "fail", None, "x.c"),
            ],
            root.path(),
        );
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(lines[0].starts_with("::warning title=erred.x86_64%3A ERROR build::"));
        assert!(lines[1].starts_with("::error title=e.x86_64%3A FAIL build::"));
        assert!(
            lines[2].starts_with("::notice title=base b.x86_64%3A still failing (FAIL build)::")
        );
    }

    /// Only a relative path to a file under the root, without `..`, is a file of this
    /// repository.
    #[test]
    fn only_a_file_of_this_repository_is_annotated_with_its_place() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("a")).unwrap();
        std::fs::write(root.path().join("a/f.rs"), "").unwrap();
        assert!(repository_file(root.path(), "a/f.rs"));
        std::os::unix::fs::symlink("/etc/passwd", root.path().join("a/out")).unwrap();
        for no in [
            "a",
            "a/../a/f.rs",
            "/etc/passwd",
            "",
            "rust/kernel/task.rs",
            "./a/f.rs",
            "a/out",
        ] {
            assert!(!repository_file(root.path(), no), "{no}");
        }
    }

    #[test]
    fn workflow_commands_are_escaped() {
        assert_eq!(data("50%\n::x"), "50%25%0A::x");
        assert_eq!(prop("a:b,c"), "a%3Ab%2Cc");
    }
}
