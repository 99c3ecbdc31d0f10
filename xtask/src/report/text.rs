//! The terminal summary: the Regressions section, a grid, then each failing cell with why
//! (its first diagnostic and where it was found) and the command that reproduces it.

use std::io::Write;

use anstyle::{AnsiColor, Style};

use crate::model::outcome::{ExpectNote, NoteKind, StageResult, Verdict};
use crate::model::text::term_safe;
use crate::report::{first_line, Grid};

/// The grid squares are coloured by verdict; write through an `anstream::AutoStream`, which
/// keeps the colours or strips them (`--color`, `NO_COLOR`, `CLICOLOR_FORCE`, a terminal or
/// not). Every text from the results goes through `term_safe`: the only escape sequences
/// written are the colours.
pub fn write(g: &Grid, w: &mut dyn Write) -> std::io::Result<()> {
    let r = g.results;
    if let Some(lines) = g.regression_lines() {
        writeln!(w, "Regressions:")?;
        for line in lines {
            writeln!(w, "  {}", term_safe(&line))?;
        }
        writeln!(w)?;
    }
    let paint = |s: &str, v: Verdict| -> String {
        let colour = match v {
            Verdict::Pass => AnsiColor::Green,
            Verdict::Fail => AnsiColor::Red,
            Verdict::Error | Verdict::Unreachable => AnsiColor::Yellow,
            Verdict::Skip => AnsiColor::BrightBlack,
            Verdict::InBase => AnsiColor::Cyan,
        };
        let style = Style::new().fg_color(Some(colour.into()));
        format!("{style}{s}{style:#}")
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
                "  {}: {}{} — {}",
                term_safe(&c.at()),
                term_safe(&c.short()),
                c.health
                    .stage
                    .and_then(|s| c.result.stage(s))
                    .map_or(String::new(), took),
                term_safe(&c.why().to_string())
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
    let met: Vec<(String, String)> = g
        .cells()
        .flat_map(|c| c.met_lines().into_iter().map(move |l| (c.at(), l)))
        .collect();
    if !met.is_empty() {
        writeln!(
            w,
            "\nknown failures (expectations.toml), not counted against the cells:"
        )?;
        for (at, line) in met {
            writeln!(w, "  {}: {}", term_safe(&at), term_safe(&line))?;
        }
    }
    if !r.expectations.is_empty() {
        writeln!(w, "\nexpectations:")?;
        for n in &r.expectations {
            writeln!(w, "  {}", note_line(n))?;
        }
    }
    Ok(())
}

/// A run's note on one expectation, as stderr and the text report say it: `error: …` for an
/// expired one, `warning: …` for one that matched nothing.
pub fn note_line(n: &ExpectNote) -> String {
    let level = match n.kind {
        NoteKind::Expired => "error",
        NoteKind::Unmatched => "warning",
    };
    format!("{level}: {}", term_safe(&n.text))
}

/// A stage's run time, and its wait for job tokens when that is worth a look.
fn took(s: &StageResult) -> String {
    let queued = if s.queued_s >= 1.0 {
        format!(" (+{:.0} s queued)", s.queued_s)
    } else {
        String::new()
    };
    format!(" in {:.1} s{queued}", s.duration_s)
}
