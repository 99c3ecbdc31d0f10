//! What a run tells whoever watches it, as data: the runner emits [`Event`]s to a [`Sink`]
//! and never formats a line; a display (`report::live`) or a test turns them into text.

use std::path::Path;
use std::time::Duration;

use crate::model::arch::Arch;
use crate::model::outcome::{BaseRecord, CellResult, Stage, StageResult};

/// One thing that happened in a run, in the order it happened.
#[derive(Debug)]
pub enum Event<'a> {
    /// A base was looked for (before any cell), in `elapsed`.
    Base {
        record: &'a BaseRecord,
        elapsed: Duration,
    },
    /// Under `toolchain = "auto"`: the toolchain the cells of `base` on `arch` get, and why.
    ToolchainChosen {
        base: &'a str,
        arch: Arch,
        why: &'a str,
    },
    /// `--resume`: this many finished cells are kept from the run folder `from`.
    Resumed {
        cells: usize,
        from: &'a Path,
    },
    /// The harness cannot read its own binary: no result is reused or stored.
    NoResultCache,
    /// The run will go through this many cells.
    RunStarted {
        cells: usize,
    },
    /// The cells of one entry on one base start together (their fetch and apply are shared).
    GroupStarted {
        entry: &'a str,
        base: &'a str,
        cells: &'a [String],
    },
    /// A stage of the group's, run once for all its cells.
    GroupStage(Stage),
    GroupFinished,
    /// Something about one cell.
    Cell {
        name: &'a str,
        event: CellEvent<'a>,
    },
    RunFinished,
}

/// The life of one cell.
#[derive(Debug)]
pub enum CellEvent<'a> {
    /// It starts; its logs go to `dir`.
    Started { dir: &'a Path },
    /// It reached `stage`.
    StageStarted(Stage),
    /// It has been in `stage` for `in_stage` without news; `log` is how far that stage's log
    /// has grown.
    Heartbeat {
        stage: Stage,
        in_stage: Duration,
        in_cell: Duration,
        log: LogGrowth,
    },
    /// A stage of its own ended (skips included).
    StageFinished(&'a StageResult),
    /// It ended and its result was recorded.
    Finished {
        result: &'a CellResult,
        elapsed: Duration,
    },
    /// Its result could not be written to the run folder (it is kept for results.json).
    NotWritten { why: &'a str },
    /// It was cut short by an interrupt: nothing of it is recorded.
    Interrupted,
    /// What the build cache (`--build-cache`) did for this base cell.
    BuildCache(BuildCacheNote<'a>),
}

/// What became of a base cell's build-cache archive.
#[derive(Debug)]
pub enum BuildCacheNote<'a> {
    /// Its build folders were restored from the archive of `from_commit` (`exact`: the
    /// cell's own commit); `changed` files of the tree differ from that commit's.
    Restored {
        from_commit: &'a str,
        exact: bool,
        changed: usize,
        bytes: u64,
        elapsed: Duration,
    },
    /// Its build folders were saved, `bytes` compressed.
    Saved { bytes: u64, elapsed: Duration },
    /// An archive could not be restored or saved: the cell builds (or built) as without one.
    Failed { why: &'a str },
    /// A config variant's cold folder started as a copy of the `from` config's build of the
    /// same base, toolchain and arch.
    Seeded { from: &'a str, elapsed: Duration },
}

/// How far a running stage's log has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogGrowth {
    /// The stage writes no log the heartbeat reads.
    None,
    /// Its command has not started: it waits for a job token.
    Waiting,
    /// So many units (lines, build steps, console lines) so far.
    Lines { count: u64, unit: &'static str },
}

/// Who is told of a run's events. Called from the cells' threads.
pub trait Sink: Sync {
    fn event(&self, e: &Event);

    /// Does it want heartbeats? Each reads the running stage's log, so a sink that shows
    /// time running by itself (bars on a terminal) says no.
    fn wants_heartbeats(&self) -> bool {
        true
    }
}
