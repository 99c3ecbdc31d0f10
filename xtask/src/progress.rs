//! Progress you can watch. On a terminal: one line per running cell (cell, stage, elapsed)
//! above an overall bar (cells done of total, ETA), redrawn in place; finished cells and
//! other messages scroll above them. Elsewhere (CI, a log file): plain timestamped lines,
//! and `::group::` blocks under GitHub Actions. Children never write here: they log to files.

use std::borrow::Cow;
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::outcome::{now_rfc3339, Stage};

enum Mode {
    Bars { multi: MultiProgress, overall: Mutex<Option<ProgressBar>> },
    Plain { actions: bool },
}

fn mode() -> &'static Mode {
    static M: OnceLock<Mode> = OnceLock::new();
    M.get_or_init(|| {
        let actions = std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true");
        let forced_plain = std::env::var_os("RFL_PROGRESS").is_some_and(|v| v == "plain");
        if std::io::stderr().is_terminal() && !actions && !forced_plain {
            Mode::Bars { multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4)), overall: Mutex::new(None) }
        } else {
            Mode::Plain { actions }
        }
    })
}

/// A character a terminal would act on rather than show: C0 controls but tab and newline,
/// DEL, C1 controls, and the bidi overrides and isolates that reorder what follows.
fn acts_on_terminal(c: char) -> bool {
    matches!(c, '\0'..='\x08' | '\x0b'..='\x1f' | '\x7f'..='\u{9f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Text from outside the harness (patch subjects, summaries, test names, console lines)
/// made safe for a terminal: every control character but tab and newline, and every bidi
/// override, is written as a visible escape (`\x1b`, `\u{202e}`), so an escape sequence in
/// a patch cannot retitle, clear or reorder the terminal it is shown on.
pub fn term_safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(acts_on_terminal) {
        return Cow::Borrowed(s);
    }
    let mut o = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if !acts_on_terminal(c) {
            o.push(c);
        } else if (c as u32) < 0x100 {
            o.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            o.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(o)
}

/// One progress line: terminal-safe, and a newline in it is shown as `\n`, so a line stays
/// one line (under Actions, a text that began a line with `::` would be a workflow command).
fn one_line(text: &str) -> String {
    term_safe(text).replace('\n', "\\n")
}

fn stamp(line: &str) -> String {
    format!("[{}] {}", &now_rfc3339()[11..19], one_line(line))
}

/// A message line (above the bars on a terminal). Any text may be given: it is made safe
/// for the terminal here.
pub fn line(text: &str) {
    match mode() {
        Mode::Bars { multi, .. } => {
            let _ = multi.println(stamp(text));
        }
        Mode::Plain { .. } => eprintln!("{}", stamp(text)),
    }
}

/// The number of cells this run will go through (the overall bar's length).
pub fn start_run(total: usize) {
    if let Mode::Bars { multi, overall } = mode() {
        let bar = multi.add(ProgressBar::new(total as u64));
        bar.set_style(
            ProgressStyle::with_template("{prefix:.bold} [{bar:30}] {pos}/{len} cells, {elapsed} elapsed, ETA {eta}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix("matrix");
        bar.enable_steady_tick(Duration::from_millis(500));
        *overall.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
    }
}

pub fn end_run() {
    if let Mode::Bars { overall, .. } = mode() {
        if let Some(b) = overall.lock().unwrap_or_else(|e| e.into_inner()).take() {
            b.finish_and_clear();
        }
    }
}

/// A block of cells that run together (one entry on one base): a `::group::` under Actions.
pub fn group_start(title: &str) {
    if let Mode::Plain { actions: true } = mode() {
        eprintln!("::group::{}", one_line(title));
    }
    line(&format!("{title}: start"));
}

pub fn group_end() {
    if let Mode::Plain { actions: true } = mode() {
        eprintln!("::endgroup::");
    }
}

/// One running cell's line.
pub struct CellBar {
    name: String,
    bar: Option<ProgressBar>,
}

pub fn cell(name: &str) -> CellBar {
    let bar = match mode() {
        Mode::Bars { multi, overall } => {
            let b = ProgressBar::new_spinner();
            b.set_style(ProgressStyle::with_template("{spinner} {prefix:40!} {msg:10} {elapsed:>4}").expect("a valid template"));
            b.set_prefix(one_line(name));
            b.set_message("start");
            b.enable_steady_tick(Duration::from_millis(250));
            // Running cells go above the overall bar.
            let b = match overall.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                Some(o) => multi.insert_before(o, b),
                None => multi.add(b),
            };
            Some(b)
        }
        Mode::Plain { .. } => None,
    };
    line(&format!("cell {name}: start"));
    CellBar { name: name.to_string(), bar }
}

impl CellBar {
    /// The cell has reached `stage`.
    pub fn stage(&self, stage: Stage) {
        match &self.bar {
            Some(b) => b.set_message(stage.name()),
            None => line(&format!("cell {}: {}", self.name, stage.name())),
        }
    }

    /// The cell is done: its line leaves the board, `summary` scrolls above it.
    pub fn finish(self, summary: &str) {
        if let Mode::Bars { overall, .. } = mode() {
            if let Some(o) = overall.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
                o.inc(1);
            }
        }
        line(&format!("cell {}: {summary}", self.name));
    }
}

/// Cells that share a stage (the fetch and apply of one entry): every line shows it, and a
/// plain log says it once.
pub fn shared_stage(bars: &[CellBar], title: &str, stage: Stage) {
    match mode() {
        Mode::Bars { .. } => bars.iter().for_each(|b| b.stage(stage)),
        Mode::Plain { .. } => line(&format!("{title}: {}", stage.name())),
    }
}

impl Drop for CellBar {
    fn drop(&mut self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_text_is_made_safe_for_a_terminal() {
        assert_eq!(term_safe("\x1b]0;pwned\x07\x1b[2J"), "\\x1b]0;pwned\\x07\\x1b[2J");
        assert_eq!(term_safe("a\u{202e}b\u{2066}c\u{9b}d\x7fe\r"), "a\\u{202e}b\\u{2066}c\\x9bd\\x7fe\\x0d");
        assert!(matches!(term_safe("tab\tnew\nline é ✓"), Cow::Borrowed(_)));
        assert_eq!(one_line("a\n::error::x"), "a\\n::error::x");
    }
}
