//! The runner's side of the events: each running cell's handle ([`CellEvents`]) tells the
//! sink what the cell does, and a heartbeat thread tells it, at least every
//! [`HEARTBEAT`], what a silent cell is doing and how far its stage's log has grown.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::event::{BuildCacheNote, CellEvent, Event, LogGrowth, Sink};
use crate::model::outcome::{CellResult, Stage, StageResult};

/// How long, at most, a running cell goes without an event.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// What the heartbeat knows of a running cell.
struct Running {
    name: String,
    dir: PathBuf,
    stage: Stage,
    stage_start: Instant,
    cell_start: Instant,
    last_news: Instant,
}

/// The running cells of a run and where their events go.
pub(super) struct Watch<'a> {
    pub sink: &'a dyn Sink,
    running: Mutex<Vec<Running>>,
    stopped: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<'a> Watch<'a> {
    pub fn new(sink: &'a dyn Sink) -> Watch<'a> {
        Watch {
            sink,
            running: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
        }
    }

    pub fn emit(&self, e: &Event) {
        self.sink.event(e)
    }

    /// A cell starts: its handle, which tells the sink of everything it does.
    pub fn cell(&'a self, name: &str, dir: &Path) -> CellEvents<'a> {
        let now = Instant::now();
        lock(&self.running).push(Running {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            stage: Stage::Fetch,
            stage_start: now,
            cell_start: now,
            last_news: now,
        });
        let c = CellEvents {
            watch: self,
            name: name.to_string(),
        };
        c.emit(CellEvent::Started { dir });
        c
    }

    /// Until stopped ([`Watch::stopper`]), when the sink wants them: every second, a heartbeat
    /// for each cell silent for `every` (`RFL_HEARTBEAT_S` overrides [`HEARTBEAT`]).
    pub fn heartbeats(&self) {
        if !self.sink.wants_heartbeats() {
            return;
        }
        let every = std::env::var("RFL_HEARTBEAT_S")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map_or(HEARTBEAT, Duration::from_secs);
        while !self.stopped.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_secs(1).min(every));
            let now = Instant::now();
            let due: Vec<(String, CellEvent)> = lock(&self.running)
                .iter_mut()
                .filter(|r| now - r.last_news >= every)
                .map(|r| {
                    r.last_news = now;
                    let beat = CellEvent::Heartbeat {
                        stage: r.stage,
                        in_stage: now - r.stage_start,
                        in_cell: now - r.cell_start,
                        log: log_growth(r.stage, &r.dir),
                    };
                    (r.name.clone(), beat)
                })
                .collect();
            for (name, event) in due {
                self.emit(&Event::Cell { name: &name, event });
            }
        }
    }

    /// Ends [`Watch::heartbeats`] when dropped, so a panic in the run cannot leave it
    /// running.
    pub fn stopper(&self) -> Stopper<'_, 'a> {
        Stopper(self)
    }
}

pub(super) struct Stopper<'w, 'a>(&'w Watch<'a>);

impl Drop for Stopper<'_, '_> {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::Relaxed);
    }
}

/// One running cell's events.
pub(super) struct CellEvents<'a> {
    watch: &'a Watch<'a>,
    name: String,
}

impl CellEvents<'_> {
    fn emit(&self, event: CellEvent) {
        self.watch.emit(&Event::Cell {
            name: &self.name,
            event,
        });
    }

    /// The cell has reached `stage`.
    pub fn stage(&self, stage: Stage) {
        if let Some(r) = lock(&self.watch.running)
            .iter_mut()
            .find(|r| r.name == self.name)
        {
            r.stage = stage;
            r.stage_start = Instant::now();
            r.last_news = r.stage_start;
        }
        self.emit(CellEvent::StageStarted(stage));
    }

    pub fn stage_finished(&self, r: &StageResult) {
        self.emit(CellEvent::StageFinished(r));
    }

    pub fn finished(self, result: &CellResult, elapsed: Duration) {
        self.emit(CellEvent::Finished { result, elapsed });
    }

    pub fn not_written(&self, why: &str) {
        self.emit(CellEvent::NotWritten { why });
    }

    pub fn interrupted(self) {
        self.emit(CellEvent::Interrupted);
    }

    pub fn build_cache(&self, note: BuildCacheNote) {
        self.emit(CellEvent::BuildCache(note));
    }
}

impl Drop for CellEvents<'_> {
    fn drop(&mut self) {
        lock(&self.watch.running).retain(|r| r.name != self.name);
    }
}

/// How far the log of `stage` in the cell folder `dir` has grown.
fn log_growth(stage: Stage, dir: &Path) -> LogGrowth {
    let unit = match stage {
        Stage::Config | Stage::Rustdoc => "lines",
        Stage::Build | Stage::Clippy => "build steps",
        Stage::Boot | Stage::Kunit => "console lines",
        _ => return LogGrowth::None,
    };
    match lines_in(&dir.join(stage.log_name())) {
        Some(count) => LogGrowth::Lines { count, unit },
        // Its make or QEMU starts with a job token; the log comes with it.
        None if matches!(stage, Stage::Build | Stage::Rustdoc) => LogGrowth::Waiting,
        None => LogGrowth::None,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every event as one line of text, for assertions.
    struct Recorder(Mutex<Vec<String>>);

    impl Sink for Recorder {
        fn event(&self, e: &Event) {
            let line = match e {
                Event::Cell { name, event } => match event {
                    CellEvent::Started { .. } => format!("{name} started"),
                    CellEvent::StageStarted(s) => format!("{name} {}", s.name()),
                    CellEvent::Heartbeat { stage, log, .. } => {
                        format!("{name} beat {} {log:?}", stage.name())
                    }
                    CellEvent::StageFinished(r) => format!("{name} {} done", r.stage.name()),
                    CellEvent::Finished { .. } => format!("{name} finished"),
                    CellEvent::NotWritten { why } => format!("{name} not written: {why}"),
                    CellEvent::Interrupted => format!("{name} interrupted"),
                    CellEvent::BuildCache(n) => format!("{name} build cache {n:?}"),
                },
                other => format!("{other:?}"),
            };
            lock(&self.0).push(line);
        }
    }

    #[test]
    fn a_silent_cell_gets_heartbeats_with_its_stage_and_its_log() {
        let dir = std::env::temp_dir().join(format!("rfl-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(Stage::Build.log_name()), "a\nb\nc\n").unwrap();
        let rec = Recorder(Mutex::new(Vec::new()));
        let watch = Watch::new(&rec);
        std::thread::scope(|s| {
            let c = watch.cell("e@b@x86_64", &dir);
            c.stage(Stage::Build);
            // Backdate the cell's news so the next tick finds it silent.
            lock(&watch.running)[0].last_news -= HEARTBEAT;
            let stop = watch.stopper();
            s.spawn(|| watch.heartbeats());
            std::thread::sleep(Duration::from_millis(1500));
            drop(stop);
            c.interrupted();
        });
        let got = lock(&rec.0).clone();
        assert_eq!(got[0], "e@b@x86_64 started");
        assert_eq!(got[1], "e@b@x86_64 build");
        assert_eq!(
            got[2],
            "e@b@x86_64 beat build Lines { count: 3, unit: \"build steps\" }"
        );
        assert_eq!(got.last().unwrap(), "e@b@x86_64 interrupted");
        // One beat per silence: the beat is news.
        assert_eq!(got.iter().filter(|l| l.contains(" beat ")).count(), 1);
        assert!(
            lock(&watch.running).is_empty(),
            "a dropped cell leaves the table"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
