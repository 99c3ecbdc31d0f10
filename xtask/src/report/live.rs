//! The run as you watch it, made from the runner's events. On a terminal: one line per
//! running cell (cell, stage, elapsed) above an overall bar (cells done of total, ETA),
//! redrawn in place; finished cells and other messages scroll above them. Elsewhere (CI, a
//! log file): plain timestamped lines, `::group::` blocks under GitHub Actions, and each
//! heartbeat the runner sends (stage, elapsed, how far its log has grown), so a CI log never
//! sits silent through a long build. Children never write here: they log to files.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::model::event::{BuildCacheNote, CellEvent, Event, LogGrowth, Sink};
use crate::model::outcome::{now_rfc3339, CellResult, Stage, Verdict};
use crate::model::text::one_line;
use crate::report::first_line;

enum Mode {
    Bars(MultiProgress),
    Plain { actions: bool },
}

/// The display: the mode chosen once, and the bars on the board.
pub struct Live {
    mode: Mode,
    overall: Mutex<Option<ProgressBar>>,
    /// Running cells' lines (terminal only).
    bars: Mutex<BTreeMap<String, ProgressBar>>,
    /// The group that runs now: its title and its cells.
    group: Mutex<(String, Vec<String>)>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Live {
    /// Bars on a terminal; plain lines under GitHub Actions, with `RFL_PROGRESS=plain`, or
    /// when standard error is not a terminal.
    pub fn new() -> Live {
        let actions = std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true");
        let forced_plain = std::env::var_os("RFL_PROGRESS").is_some_and(|v| v == "plain");
        let mode = if std::io::stderr().is_terminal() && !actions && !forced_plain {
            Mode::Bars(MultiProgress::with_draw_target(
                ProgressDrawTarget::stderr_with_hz(4),
            ))
        } else {
            Mode::Plain { actions }
        };
        Live {
            mode,
            overall: Mutex::new(None),
            bars: Mutex::new(BTreeMap::new()),
            group: Mutex::new((String::new(), Vec::new())),
        }
    }

    /// A message line (above the bars on a terminal). Any text may be given: it is made safe
    /// for the terminal here.
    fn line(&self, text: &str) {
        match &self.mode {
            Mode::Bars(multi) => {
                let _ = multi.println(stamp(text));
            }
            Mode::Plain { .. } => eprintln!("{}", stamp(text)),
        }
    }

    fn run_started(&self, total: usize) {
        if let Mode::Bars(multi) = &self.mode {
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
            *lock(&self.overall) = Some(bar);
        }
    }

    fn cell_started(&self, name: &str) {
        if let Mode::Bars(multi) = &self.mode {
            let b = ProgressBar::new_spinner();
            b.set_style(
                ProgressStyle::with_template("{spinner} {prefix:40!} {msg:10} {elapsed:>4}")
                    .expect("a valid template"),
            );
            b.set_prefix(one_line(name).into_owned());
            b.set_message("start");
            b.enable_steady_tick(Duration::from_millis(250));
            // Running cells go above the overall bar.
            let b = match lock(&self.overall).as_ref() {
                Some(o) => multi.insert_before(o, b),
                None => multi.add(b),
            };
            lock(&self.bars).insert(name.to_string(), b);
        }
        self.line(&format!("cell {name}: start"));
    }

    fn stage(&self, name: &str, stage: Stage) {
        match lock(&self.bars).get(name) {
            Some(b) => b.set_message(stage.name()),
            None => self.line(&format!("cell {name}: {}", stage.name())),
        }
    }

    /// The cell's line leaves the board; `said` scrolls above it.
    fn cell_ended(&self, name: &str, said: &str, counted: bool) {
        if let Some(b) = lock(&self.bars).remove(name) {
            b.finish_and_clear();
        }
        if counted {
            if let Some(o) = lock(&self.overall).as_ref() {
                o.inc(1);
            }
        }
        self.line(&format!("cell {name}: {said}"));
    }
}

impl Default for Live {
    fn default() -> Self {
        Live::new()
    }
}

impl Sink for Live {
    /// The bars show time running; only a log needs the heartbeat.
    fn wants_heartbeats(&self) -> bool {
        matches!(self.mode, Mode::Plain { .. })
    }

    fn event(&self, e: &Event) {
        let actions = matches!(self.mode, Mode::Plain { actions: true });
        match e {
            Event::Base { record, elapsed } => self.line(&format!(
                "base {}: {} {}{} ({:.1}s)",
                record.name,
                record.status.name(),
                record.commit.as_deref().unwrap_or(""),
                record.reason,
                elapsed.as_secs_f64()
            )),
            Event::ToolchainChosen { base, arch, why } => {
                self.line(&format!("toolchain for {base} on {arch}: {why}"))
            }
            Event::Resumed { cells, from } => self.line(&format!(
                "resume: {cells} finished cells kept from {}",
                from.display()
            )),
            Event::NoResultCache => {
                self.line("the harness cannot read its own binary: no result is reused or stored")
            }
            Event::RunStarted { cells } => self.run_started(*cells),
            Event::GroupStarted { entry, base, cells } => {
                let title = format!("{entry} on {base} ({})", cells.join(", "));
                if actions {
                    eprintln!("::group::{}", one_line(&title));
                }
                self.line(&format!("{title}: start"));
                *lock(&self.group) = (title, cells.to_vec());
            }
            // Every line of the group shows it; a plain log says it once.
            Event::GroupStage(stage) => {
                let (title, cells) = lock(&self.group).clone();
                match self.mode {
                    Mode::Bars(_) => cells.iter().for_each(|n| self.stage(n, *stage)),
                    Mode::Plain { .. } => self.line(&format!("{title}: {}", stage.name())),
                }
            }
            Event::GroupFinished => {
                if actions {
                    eprintln!("::endgroup::");
                }
            }
            Event::Cell { name, event } => match event {
                CellEvent::Started { .. } => self.cell_started(name),
                CellEvent::StageStarted(s) => self.stage(name, *s),
                CellEvent::Heartbeat {
                    stage,
                    in_stage,
                    in_cell,
                    log,
                } => self.line(&heartbeat_line(name, *stage, *in_stage, *in_cell, *log)),
                CellEvent::StageFinished(_) => {}
                CellEvent::Finished { result, elapsed } => self.cell_ended(
                    name,
                    &format!("{} ({:.0}s)", verdict(result), elapsed.as_secs_f64()),
                    true,
                ),
                CellEvent::NotWritten { why } => {
                    self.line(&format!("cell {name}: could not write its result: {why}"))
                }
                CellEvent::Interrupted => self.cell_ended(name, "interrupted, not recorded", false),
                CellEvent::BuildCache(note) => self.line(&build_cache_line(name, note)),
            },
            Event::RunFinished => {
                if let Some(b) = lock(&self.overall).take() {
                    b.finish_and_clear();
                }
            }
        }
    }
}

/// What the build cache did for a base cell, in one line.
fn build_cache_line(name: &str, note: &BuildCacheNote) -> String {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    match note {
        BuildCacheNote::Restored {
            from_commit,
            exact,
            changed,
            bytes,
            elapsed,
        } => {
            let short = from_commit.get(..12).unwrap_or(from_commit);
            if *exact {
                format!(
                    "cell {name}: build cache: restored its own commit's build ({:.0} MiB, {:.0}s)",
                    mib(*bytes),
                    elapsed.as_secs_f64()
                )
            } else {
                format!(
                    "cell {name}: build cache: restored the build of {short} ({:.0} MiB, {:.0}s); {changed} files differ, make redoes what they feed",
                    mib(*bytes),
                    elapsed.as_secs_f64()
                )
            }
        }
        BuildCacheNote::Saved { bytes, elapsed } => format!(
            "cell {name}: build cache: saved its build ({:.0} MiB, {:.0}s)",
            mib(*bytes),
            elapsed.as_secs_f64()
        ),
        BuildCacheNote::Failed { why } => format!("cell {name}: build cache: {why}"),
        BuildCacheNote::Seeded { from, elapsed } => format!(
            "cell {name}: build folder: a copy of the {from} config's build ({:.0}s); make redoes what the config change reaches",
            elapsed.as_secs_f64()
        ),
    }
}

/// One progress line: terminal-safe, and a newline in it is shown as `\n`, so a line stays
/// one line (under Actions, a text that began a line with `::` would be a workflow command).
fn stamp(line: &str) -> String {
    format!("[{}] {}", &now_rfc3339()[11..19], one_line(line))
}

fn mins(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

fn heartbeat_line(
    name: &str,
    stage: Stage,
    in_stage: Duration,
    in_cell: Duration,
    log: LogGrowth,
) -> String {
    let mut l = format!(
        "cell {name}: {} for {} (cell {})",
        stage.name(),
        mins(in_stage),
        mins(in_cell)
    );
    match log {
        LogGrowth::Lines { count, unit } => l.push_str(&format!(", {count} {unit} so far")),
        LogGrowth::Waiting => l.push_str(", waiting for a job slot"),
        LogGrowth::None => {}
    }
    l
}

/// The failures expectations forgave in a cell (xfail, flaky).
fn known_failures(r: &CellResult) -> usize {
    use crate::model::outcome::MetOutcome;
    r.expectations
        .iter()
        .filter(|m| matches!(m.outcome, MetOutcome::Xfail | MetOutcome::Flaky))
        .count()
}

/// A cell's verdict in one line: its health when judged, else its first stage that did not
/// pass.
pub fn verdict(r: &CellResult) -> String {
    match &r.health {
        Some(h) if h.verdict == Verdict::Pass && !h.preexisting.is_empty() => {
            format!("pass ({} problems are the base's own)", h.preexisting.len())
        }
        Some(h) if h.verdict == Verdict::Pass && known_failures(r) > 0 => {
            format!(
                "pass ({} known failures, expectations.toml)",
                known_failures(r)
            )
        }
        Some(h) if h.verdict == Verdict::Pass => "pass".to_string(),
        Some(h) if h.fault == Some(crate::model::outcome::Fault::Expectations) => {
            format!("XPASS: {}", first_line(&h.summary))
        }
        Some(h) => format!(
            "{} {}: {}",
            h.verdict.name().to_uppercase(),
            h.stage.map_or("", |s| s.name()),
            first_line(&h.summary)
        ),
        None => match r.first_problem() {
            Some(p) => format!(
                "{} {:?}: {}",
                p.stage.name(),
                p.status,
                first_line(&p.summary)
            ),
            None => "pass".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_progress_line_stays_one_line() {
        assert!(stamp("a\n::error::x\x1b").ends_with("] a\\n::error::x\\x1b"));
    }

    #[test]
    fn a_heartbeat_says_the_stage_the_times_and_the_log() {
        let l = heartbeat_line(
            "e@b@x86_64",
            Stage::Build,
            Duration::from_secs(95),
            Duration::from_secs(130),
            LogGrowth::Lines {
                count: 12,
                unit: "build steps",
            },
        );
        assert_eq!(
            l,
            "cell e@b@x86_64: build for 1m35s (cell 2m10s), 12 build steps so far"
        );
        let w = heartbeat_line(
            "c",
            Stage::Rustdoc,
            Duration::from_secs(5),
            Duration::from_secs(5),
            LogGrowth::Waiting,
        );
        assert!(w.ends_with("(cell 5s), waiting for a job slot"), "{w}");
    }
}
