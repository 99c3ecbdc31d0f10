//! Progress you can watch. On a terminal: one line per running cell (cell, stage, elapsed)
//! above an overall bar (cells done of total, ETA), redrawn in place; finished cells and
//! other messages scroll above them. Elsewhere (CI, a log file): plain timestamped lines,
//! and `::group::` blocks under GitHub Actions, with a heartbeat line per running cell at
//! least every [`HEARTBEAT`] (stage, elapsed, how far its log has grown), so a CI log never
//! sits silent through a long build. Children never write here: they log to files.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::model::outcome::{now_rfc3339, Stage};
use crate::model::text::one_line;

enum Mode {
    Bars {
        multi: MultiProgress,
        overall: Mutex<Option<ProgressBar>>,
    },
    Plain {
        actions: bool,
    },
}

fn mode() -> &'static Mode {
    static M: OnceLock<Mode> = OnceLock::new();
    M.get_or_init(|| {
        let actions = std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true");
        let forced_plain = std::env::var_os("RFL_PROGRESS").is_some_and(|v| v == "plain");
        if std::io::stderr().is_terminal() && !actions && !forced_plain {
            Mode::Bars {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(4)),
                overall: Mutex::new(None),
            }
        } else {
            Mode::Plain { actions }
        }
    })
}

/// One progress line: terminal-safe, and a newline in it is shown as `\n`, so a line stays
/// one line (under Actions, a text that began a line with `::` would be a workflow command).
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
            ProgressStyle::with_template(
                "{prefix:.bold} [{bar:30}] {pos}/{len} cells, {elapsed} elapsed, ETA {eta}",
            )
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

/// How often, at most, a running cell goes without a line in plain mode.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// What the heartbeat knows of a running cell (plain mode only).
struct Running {
    name: String,
    dir: PathBuf,
    stage: Stage,
    stage_start: Instant,
    cell_start: Instant,
    last_line: Instant,
}

fn running() -> &'static Mutex<Vec<Arc<Mutex<Running>>>> {
    static R: OnceLock<Mutex<Vec<Arc<Mutex<Running>>>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(Vec::new()))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The log a stage writes into its cell's folder, and what one of its lines is.
fn stage_log(stage: Stage) -> Option<(&'static str, &'static str)> {
    match stage {
        Stage::Config | Stage::Rustdoc => Some((stage.log_name(), "lines")),
        Stage::Build | Stage::Clippy => Some((stage.log_name(), "build steps")),
        Stage::Boot | Stage::Kunit => Some((stage.log_name(), "console lines")),
        _ => None,
    }
}

/// Lines in a log so far, counted in bounded chunks (a build log is a few MB at most).
fn lines_in(path: &Path) -> Option<u64> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Some(n),
            Ok(k) => n += buf[..k].iter().filter(|b| **b == b'\n').count() as u64,
            Err(_) => return None,
        }
    }
}

fn mins(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// The heartbeat line of one running cell.
fn heartbeat_line(r: &Running) -> String {
    let now = Instant::now();
    let mut l = format!(
        "cell {}: {} for {} (cell {})",
        r.name,
        r.stage.name(),
        mins(now - r.stage_start),
        mins(now - r.cell_start)
    );
    if let Some((log, what)) = stage_log(r.stage) {
        match lines_in(&r.dir.join(log)) {
            Some(n) => l.push_str(&format!(", {n} {what} so far")),
            // Its make or QEMU starts with a job token; the log comes with it.
            None if matches!(r.stage, Stage::Build | Stage::Rustdoc) => {
                l.push_str(", waiting for a job slot")
            }
            None => {}
        }
    }
    l
}

/// In plain mode, a thread that prints a line for every cell that has been silent for
/// [`HEARTBEAT`]. Started once; it sleeps while no cell runs.
fn start_heartbeat() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let every = std::env::var("RFL_HEARTBEAT_S")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map_or(HEARTBEAT, Duration::from_secs);
        let _ = std::thread::Builder::new()
            .name("heartbeat".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_secs(1).min(every));
                let cells: Vec<Arc<Mutex<Running>>> = lock(running()).clone();
                for c in cells {
                    let mut r = lock(&c);
                    if r.last_line.elapsed() >= every {
                        let l = heartbeat_line(&r);
                        r.last_line = Instant::now();
                        drop(r);
                        line(&l);
                    }
                }
            });
    });
}

/// One running cell's line.
pub struct CellBar {
    name: String,
    bar: Option<ProgressBar>,
    /// Plain mode: the cell's entry in the heartbeat's list.
    beat: Option<Arc<Mutex<Running>>>,
}

/// A running cell whose logs go to `dir`.
pub fn cell(name: &str, dir: &Path) -> CellBar {
    let bar = match mode() {
        Mode::Bars { multi, overall } => {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {prefix:40!} {msg:10} {elapsed:>4}")
                    .expect("a valid template"),
            );
            b.set_prefix(one_line(name).into_owned());
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
    let beat = bar.is_none().then(|| {
        start_heartbeat();
        let now = Instant::now();
        let r = Arc::new(Mutex::new(Running {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            stage: Stage::Fetch,
            stage_start: now,
            cell_start: now,
            last_line: now,
        }));
        lock(running()).push(r.clone());
        r
    });
    CellBar {
        name: name.to_string(),
        bar,
        beat,
    }
}

impl CellBar {
    /// The cell has reached `stage`.
    pub fn stage(&self, stage: Stage) {
        if let Some(r) = &self.beat {
            let mut r = lock(r);
            r.stage = stage;
            r.stage_start = Instant::now();
            r.last_line = Instant::now();
        }
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
        if let Some(r) = &self.beat {
            lock(running()).retain(|x| !Arc::ptr_eq(x, r));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_line_stays_one_line() {
        assert_eq!(one_line("a\n::error::x\x1b"), "a\\n::error::x\\x1b");
    }
}
