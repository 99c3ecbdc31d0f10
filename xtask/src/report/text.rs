//! The terminal summary: the Regressions section, a grid, then each failing cell with its
//! first error and the command that reproduces it.

use std::io::Write;

use crate::model::outcome::Verdict;
use crate::model::text::term_safe;
use crate::report::{first_line, Grid};

/// Colour only when asked (on a terminal). Every text from the results goes through
/// `term_safe`: the only escape sequences written are the colours.
pub fn write(g: &Grid, w: &mut dyn Write, colour: bool) -> std::io::Result<()> {
    let r = g.results;
    if let Some(lines) = g.regression_lines() {
        writeln!(w, "Regressions:")?;
        for line in lines {
            writeln!(w, "  {}", term_safe(&line))?;
        }
        writeln!(w)?;
    }
    let paint = |s: &str, v: Verdict| -> String {
        if !colour {
            return s.to_string();
        }
        let code = match v {
            Verdict::Pass => "32",
            Verdict::Fail => "31",
            Verdict::Error | Verdict::Unreachable => "33",
            Verdict::Skip => "90",
        };
        format!("\x1b[{code}m{s}\x1b[0m")
    };
    let width = g
        .rows
        .iter()
        .map(|row| term_safe(&row.name()).len())
        .max()
        .unwrap_or(5)
        .max(5);
    write!(w, "{:<width$}", "entry")?;
    for name in g.column_names() {
        write!(w, "  {:<16}", term_safe(&name))?;
    }
    writeln!(w)?;
    for (i, row) in g.rows.iter().enumerate() {
        write!(w, "{:<width$}", term_safe(&row.name()))?;
        for j in 0..g.columns.len() {
            let (s, v) = g
                .square(i, j)
                .map(|c| (c.short(), c.health.verdict))
                .unwrap_or(("-".into(), Verdict::Skip));
            write!(w, "  {}", paint(&format!("{:<16}", term_safe(&s)), v))?;
        }
        writeln!(w)?;
    }
    let skipped = r.skipped_entries.len();
    if skipped > 0 {
        writeln!(
            w,
            "{skipped} entries cannot run (see results.json skipped_entries)"
        )?;
    }
    let mut failing = g.failing().peekable();
    if failing.peek().is_some() {
        writeln!(w, "\nfailing cells:")?;
        for c in failing {
            writeln!(
                w,
                "  {}.{}: {} — {}",
                term_safe(&c.name()),
                term_safe(&c.result.arch),
                term_safe(&c.short()),
                term_safe(first_line(&c.health.summary))
            )?;
            if !c.result.repro.is_empty() {
                writeln!(
                    w,
                    "    reproduce: {}",
                    term_safe(first_line(&c.result.repro))
                )?;
            }
        }
    }
    let pre: usize = g
        .cells()
        .filter(|c| !c.result.is_base())
        .map(|c| c.health.preexisting.len())
        .sum();
    if pre > 0 {
        writeln!(w, "\n{pre} problems seen in entries are the base's own (pre-existing), not counted against them")?;
    }
    Ok(())
}
