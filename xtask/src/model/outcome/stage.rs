//! A stage of a cell and how it ended: `Stage` (and the log each writes), `Status`, whose
//! `Fault` a failure is, and `StageResult`, what one stage records.

use serde::{Deserialize, Serialize};

use super::finding::{BootFinding, Diagnostic};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Fetch,
    Apply,
    Toolchain,
    Config,
    Build,
    Boot,
    Kunit,
    Clippy,
    Rustfmt,
    Rustdoc,
    Objtool,
}

impl Stage {
    pub const ALL: [Stage; 11] = [
        Stage::Fetch,
        Stage::Apply,
        Stage::Toolchain,
        Stage::Config,
        Stage::Build,
        Stage::Boot,
        Stage::Kunit,
        Stage::Clippy,
        Stage::Rustfmt,
        Stage::Rustdoc,
        Stage::Objtool,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Stage::Fetch => "fetch",
            Stage::Apply => "apply",
            Stage::Toolchain => "toolchain",
            Stage::Config => "config",
            Stage::Build => "build",
            Stage::Boot => "boot",
            Stage::Kunit => "kunit",
            Stage::Clippy => "clippy",
            Stage::Rustfmt => "rustfmt",
            Stage::Rustdoc => "rustdoc",
            Stage::Objtool => "objtool",
        }
    }
    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|x| x.name() == s)
    }
    /// The log a stage writes in its cell's folder (the objtool check reads the build's, KUnit
    /// the boot's console). Fetch writes none: its name is never created.
    pub fn log_name(self) -> &'static str {
        match self {
            Stage::Fetch => "fetch.log",
            Stage::Apply => "apply.log",
            Stage::Toolchain => "toolchain.log",
            Stage::Config => "config.log",
            Stage::Build | Stage::Objtool => "build.log",
            Stage::Boot | Stage::Kunit => "console.log",
            Stage::Clippy => "clippy.log",
            Stage::Rustfmt => "rustfmt.log",
            Stage::Rustdoc => "rustdoc.log",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Error,
    Skip,
}

/// Whose fault a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// The code under test (the entry, or the base for a base cell).
    Code,
    /// The toolchain cannot serve this base.
    Toolchain,
    /// The harness or the machine (a missing tool, a full disk, a crash of ours).
    Harness,
    /// The network or a remote that did not answer: nothing said about the code. The cell is
    /// `unreachable`.
    Remote,
    /// The remote answered, but what the matrix names is not there (no such ref, a 404):
    /// nothing said about the code, but the source needs looking at.
    Source,
    /// The expectations file: an expected failure passed, so the expectation is stale (a
    /// cell's health only, never a stage's).
    Expectations,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageResult {
    pub stage: Stage,
    pub status: Status,
    /// The time the stage ran: its wall time less [`queued_s`](Self::queued_s).
    pub duration_s: f64,
    /// The time it waited for a job token, while other cells' or its own cell's makes and
    /// QEMUs held them (0 in results that predate it).
    #[serde(skip_serializing_if = "is_zero", default)]
    pub queued_s: f64,
    pub summary: String,
    /// Log file, relative to the cell's folder.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub log: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub diagnostics: Vec<Diagnostic>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fault: Option<Fault>,
    /// What a boot console shows (see [`BootFinding`]); empty for other stages, a clean
    /// boot, and results of schema 1.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub findings: Vec<BootFinding>,
    /// An apply stage that found every patch of the series already in the base (its summary
    /// says how): nothing is built, and the cell's health is `in-base`.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub in_base: bool,
}

impl StageResult {
    pub fn new(stage: Stage, status: Status, summary: impl Into<String>) -> StageResult {
        StageResult {
            stage,
            status,
            duration_s: 0.0,
            queued_s: 0.0,
            summary: summary.into(),
            log: None,
            diagnostics: Vec::new(),
            fault: None,
            findings: Vec::new(),
            in_base: false,
        }
    }
    pub fn skip(stage: Stage, why: impl Into<String>) -> StageResult {
        StageResult::new(stage, Status::Skip, why)
    }
    pub fn error(stage: Stage, why: impl Into<String>) -> StageResult {
        let mut r = StageResult::new(stage, Status::Error, why);
        r.fault = Some(Fault::Harness);
        r
    }
    /// The apply stage of a series whose every patch is already in the base; `how` says how
    /// that was found.
    pub fn already_in_base(how: impl Into<String>) -> StageResult {
        let mut r = StageResult::new(Stage::Apply, Status::Pass, how);
        r.in_base = true;
        r
    }
    pub fn with_log(mut self, log: &str) -> StageResult {
        self.log = Some(log.to_string());
        self
    }
    pub fn with_fault(mut self, f: Fault) -> StageResult {
        self.fault = Some(f);
        self
    }
    pub fn ok(&self) -> bool {
        self.status == Status::Pass
    }
    /// The stage waited `queued_s` for job tokens within the wall time it timed itself:
    /// that wait is not run time.
    pub fn with_queued(mut self, queued_s: f64) -> StageResult {
        // Below a millisecond is no wait at all, only the cost of asking.
        let queued_s = if queued_s < 0.001 { 0.0 } else { queued_s };
        self.queued_s = queued_s;
        self.duration_s = (self.duration_s - queued_s).max(0.0);
        self
    }
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}
