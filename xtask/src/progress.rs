//! Progress you can watch. On a terminal: one line per running cell (cell, stage, elapsed)
//! above an overall bar (cells done of total, ETA), redrawn in place; finished cells and
//! other messages scroll above them. Elsewhere (CI, a log file): plain timestamped lines,
//! and `::group::` blocks under GitHub Actions. Children never write here: they log to files.

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

fn stamp(line: &str) -> String {
    format!("[{}] {line}", &now_rfc3339()[11..19])
}

/// A message line (above the bars on a terminal).
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
        eprintln!("::group::{title}");
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
            b.set_prefix(name.to_string());
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
