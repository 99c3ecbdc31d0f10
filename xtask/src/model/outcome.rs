//! The result model: stages, statuses, diagnostics, a cell's result. Pure data.
//!
//! A kernel failure (conflict, build error, panic, KUnit failure, lint) is a `Fail` value
//! here; `Error` is for the harness's and the machine's own faults. A stage whose input
//! failed is `Skip` with the reason.

use serde::{Deserialize, Serialize};

use crate::model::matrix::BASE_ENTRY;

/// Version of the results JSON schema (documented in ARCHITECTURE.md).
pub const SCHEMA: u32 = 2;

/// The oldest schema this harness still reads: 2 only adds fields (boot findings, a `source`
/// fault), so a schema 1 file reads as one without them.
pub const OLDEST_SCHEMA: u32 = 1;

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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub col: Option<u32>,
    pub level: Level,
    pub message: String,
    /// The line of the stage's log it was read from (from 1), where the parser knows it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub log_line: Option<u32>,
}

/// How bad a diagnostic is, as the tool said it (`fatal error` is an error), written as the
/// tools write it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    Note,
}

impl Level {
    /// A tool's word for it: `error` and `fatal error` are errors, `note` a note, anything
    /// else a warning.
    pub fn of(word: &str) -> Level {
        match word {
            "error" | "fatal error" | "ERROR" => Level::Error,
            "note" => Level::Note,
            _ => Level::Warning,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Note => "note",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Diagnostic {
    /// The same finding, wherever in the log it was read.
    pub fn same_as(&self, o: &Diagnostic) -> bool {
        (&self.file, self.line, self.col, &self.level, &self.message)
            == (&o.file, o.line, o.col, &o.level, &o.message)
    }
    pub fn render(&self) -> String {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => format!("{f}:{l}: {}: {}", self.level, self.message),
            (Some(f), None) => format!("{f}: {}: {}", self.level, self.message),
            _ => format!("{}: {}", self.level, self.message),
        }
    }
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

/// What a boot ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BootKind {
    /// Nothing to report (a verdict's kind, never a finding's).
    Clean,
    Panic,
    Oops,
    Warning,
    InitFailure,
    ModuleFailure,
    Hang,
    ConsoleFlood,
    QemuError,
}

impl BootKind {
    pub fn name(self) -> &'static str {
        match self {
            BootKind::Clean => "clean",
            BootKind::Panic => "panic",
            BootKind::Oops => "oops",
            BootKind::Warning => "warning",
            BootKind::InitFailure => "init-failure",
            BootKind::ModuleFailure => "module-failure",
            BootKind::Hang => "hang",
            BootKind::ConsoleFlood => "console-flood",
            BootKind::QemuError => "qemu-error",
        }
    }
}

/// One problem a boot console shows, by what it is rather than how it was printed: the same
/// WARNING on two boots has the same finding whatever its addresses, timestamps and PIDs, so
/// an entry's boot is compared with its base's finding by finding.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BootFinding {
    pub kind: BootKind,
    /// The report's source location (`file:line`), else its first line with every number
    /// taken out; for a hang, a module that failed or a flood, what the verdict says of it.
    pub identity: String,
    /// The module the report names, or the one being loaded or unloaded when it came.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub module: Option<String>,
}

impl BootFinding {
    pub fn render(&self) -> String {
        format!("{}: {}", self.kind.name(), self.what())
    }
    /// The identity, and the module when there is one: `identity [module]`.
    pub fn what(&self) -> String {
        let module = self
            .module
            .as_ref()
            .map(|m| format!(" [{m}]"))
            .unwrap_or_default();
        format!("{}{module}", self.identity)
    }
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

/// The most tests (suites and cases, every block and level together) one console is parsed
/// into. Plans multiply: 540 blocks of `1..10000` in 13 KB made 5 million cases and 2.4 GB.
/// Real consoles hold a few thousand.
pub const MAX_TESTS: usize = 100_000;

/// How one KUnit test case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseStatus {
    Pass,
    Fail,
    Skip,
    /// The test never reported (the kernel died or hung in it).
    Crash,
}

impl CaseStatus {
    pub fn name(self) -> &'static str {
        match self {
            CaseStatus::Pass => "pass",
            CaseStatus::Fail => "fail",
            CaseStatus::Skip => "skip",
            CaseStatus::Crash => "crash",
        }
    }
    /// A failure or a crash: what counts against a cell.
    pub fn is_bad(self) -> bool {
        matches!(self, CaseStatus::Fail | CaseStatus::Crash)
    }
}

impl std::fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One test case (a test with no subtests), flattened for results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    /// Names of the enclosing suites, outermost first, joined with `.`.
    pub suite: String,
    pub name: String,
    pub status: CaseStatus,
    /// For Rust doctests: `rust/…:LINE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Why it failed, crashed or was skipped: the telling lines of its log.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub summary: String,
}

impl Case {
    /// `fail name (rust/kernel/x.rs:12)`: how a failing case is named in summaries.
    pub fn describe(&self) -> String {
        match &self.location {
            Some(l) => format!("{} {} ({l})", self.status, self.name),
            None => format!("{} {}", self.status, self.name),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KunitCounts {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub crashed: usize,
    pub skipped: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Kunit {
    pub counts: KunitCounts,
    pub tests: Vec<Case>,
    /// Every suite (a test with subtests) with its counts, as kunit.py's JSON keeps them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suites: Vec<SuiteCounts>,
    /// What kunit_parser reported as parse errors (`Test: NAME: MESSAGE`), at most
    /// [`MAX_KUNIT_ERRORS`] of them; `errors_total` counts them all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    #[serde(default, skip_serializing_if = "is_none")]
    pub errors_total: usize,
    /// How many KTAP blocks the console held (0: no KTAP output at all).
    #[serde(default, skip_serializing_if = "is_none")]
    pub blocks: usize,
}

/// The parse errors a result keeps in full; the rest are counted.
pub const MAX_KUNIT_ERRORS: usize = 50;

fn is_none(n: &usize) -> bool {
    *n == 0
}

/// One suite of a KUnit run: its name (enclosing suites first, joined with `.`), its status as
/// kunit_parser gives it, and the counts of the cases under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteCounts {
    pub suite: String,
    /// `pass`, `fail`, `crash`, `skip`, or `no-tests`.
    pub status: String,
    pub passed: usize,
    pub failed: usize,
    pub crashed: usize,
    pub skipped: usize,
    /// Parse errors inside the suite.
    #[serde(default, skip_serializing_if = "is_none")]
    pub errors: usize,
}

impl Kunit {
    pub fn from_cases(tests: Vec<Case>) -> Kunit {
        let mut c = KunitCounts {
            total: tests.len(),
            ..Default::default()
        };
        for t in &tests {
            match t.status {
                CaseStatus::Pass => c.passed += 1,
                CaseStatus::Skip => c.skipped += 1,
                CaseStatus::Crash => c.crashed += 1,
                CaseStatus::Fail => c.failed += 1,
            }
        }
        Kunit {
            counts: c,
            tests,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolchainRecord {
    pub name: String,
    pub versions: std::collections::BTreeMap<String, String>,
    /// Why this toolchain, where the run chose it (`toolchain = "auto"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Patchset {
    /// A hash of the patches' content (stable across rebases that change nothing).
    pub hash: String,
    pub commits: Vec<String>,
    pub head: String,
    /// SHA-256 of each commit's patch (`git format-patch`), in the order of `commits`: what
    /// KCIDB's `patchset_hash` is made of. Empty in results written before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patch_hashes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    pub schema: u32,
    /// An entry id, or `base`.
    pub entry: String,
    pub base: String,
    pub arch: String,
    pub toolchain: ToolchainRecord,
    /// The config variant (`[configs.<name>]`); files from before variants ran `release`.
    #[serde(default = "default_config")]
    pub config: String,
    #[serde(default)]
    pub base_commit: Option<String>,
    #[serde(default)]
    pub patchset: Option<Patchset>,
    pub stages: Vec<StageResult>,
    #[serde(default)]
    pub kunit: Kunit,
    /// The cell's folder, relative to the run folder.
    pub dir: String,
    pub started: String,
    pub duration_s: f64,
    /// One command that re-creates this cell.
    #[serde(default)]
    pub repro: String,
    /// The KUnit filter the cell's boot ran under (`--kunit-filter`), if any: a filtered
    /// cell ran other tests than an unfiltered one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kunit_filter: Option<String>,
    /// The verdict against the bare base (see `health.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// Against the same cell of a baseline run (`--baseline`; see `baseline.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
}

fn default_config() -> String {
    crate::model::matrix::DEFAULT_CONFIG.to_string()
}

/// What names a cell within a run. A result is matched to its planned cell, an entry cell to
/// its base cell, and a report's grid square to its cell by this key alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellKey<'a> {
    /// An entry id, or `base`.
    pub entry: &'a str,
    pub base: &'a str,
    pub arch: &'a str,
    pub toolchain: &'a str,
    pub config: &'a str,
}

impl<'a> CellKey<'a> {
    pub fn is_base(&self) -> bool {
        self.entry == BASE_ENTRY
    }
    /// The base cell an entry cell is compared with: same base, arch, toolchain and config.
    pub fn base_cell(self) -> CellKey<'a> {
        CellKey {
            entry: BASE_ENTRY,
            ..self
        }
    }
}

impl CellResult {
    pub fn key(&self) -> CellKey<'_> {
        CellKey {
            entry: &self.entry,
            base: &self.base,
            arch: &self.arch,
            toolchain: &self.toolchain.name,
            config: &self.config,
        }
    }
    /// A base cell: the bare base, what entry cells are compared with.
    pub fn is_base(&self) -> bool {
        self.key().is_base()
    }
    pub fn stage(&self, s: Stage) -> Option<&StageResult> {
        self.stages.iter().find(|r| r.stage == s)
    }
    /// The first stage that did not pass or skip.
    pub fn first_problem(&self) -> Option<&StageResult> {
        self.stages
            .iter()
            .find(|r| matches!(r.status, Status::Fail | Status::Error))
    }
}

/// What a cell's health says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    /// The code's fault, beyond what the bare base shows.
    Fail,
    /// The harness's, the machine's, the toolchain's, or a source that is not there.
    Error,
    /// A remote did not answer: nothing said about the code.
    Unreachable,
    /// Nothing ran.
    Skip,
    /// Every patch is already in the base: nothing was built.
    #[serde(rename = "in-base")]
    InBase,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
            Verdict::Unreachable => "unreachable",
            Verdict::Skip => "skip",
            Verdict::InBase => "in-base",
        }
    }
}

/// A cell's verdict against its bare base (computed in `health.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub verdict: Verdict,
    /// The first stage that counts against the cell.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stage: Option<Stage>,
    pub summary: String,
    /// Problems the bare base shows too on the same arch and config: not the entry's.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub preexisting: Vec<String>,
}

/// A cell against the same cell (entry, base, arch, toolchain) of the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Fails now, passed then.
    Regressed,
    /// Passes now, failed then.
    Fixed,
    /// Failed then and fails now.
    StillFailing,
    /// Not in the baseline.
    New,
    /// Passes as it did, or neither run could say (an error, an unreachable remote, a skip).
    Unchanged,
    /// The two runs' KUnit filters differ: they ran other tests, so neither a test gone nor
    /// one come says anything.
    OtherFilter,
}

impl Change {
    pub fn name(self) -> &'static str {
        match self {
            Change::Regressed => "regressed",
            Change::Fixed => "fixed",
            Change::StillFailing => "still failing",
            Change::New => "new",
            Change::Unchanged => "unchanged",
            Change::OtherFilter => "not comparable (another KUnit filter)",
        }
    }
}

/// The whole run as written to `<out>/results.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunResults {
    pub schema: u32,
    pub harness_version: String,
    pub started: String,
    #[serde(default)]
    pub interrupted: bool,
    /// How each base resolved (or why it did not).
    #[serde(default)]
    pub bases: Vec<BaseRecord>,
    /// Entries that cannot run, with why.
    #[serde(default)]
    pub skipped_entries: Vec<SkippedEntry>,
    /// What the matrix says of each planned entry (for reports made from results alone).
    #[serde(default)]
    pub entries: Vec<EntryInfo>,
    pub cells: Vec<CellResult>,
}

/// How a base resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaseStatus {
    Resolved,
    /// Its remote did not answer.
    Unreachable,
    /// Its remote answered, but the fetch failed.
    FetchFailed,
}

impl BaseStatus {
    pub fn name(self) -> &'static str {
        match self {
            BaseStatus::Resolved => "resolved",
            BaseStatus::Unreachable => "unreachable",
            BaseStatus::FetchFailed => "fetch-failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaseRecord {
    pub name: String,
    pub status: BaseStatus,
    #[serde(default)]
    pub commit: Option<String>,
    #[serde(default)]
    pub reason: String,
    /// The git remote the commit was fetched from; none for an offline import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EntryInfo {
    pub id: String,
    #[serde(default)]
    pub area: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub authors: Vec<String>,
    pub source_kind: String,
    pub source: String,
    #[serde(default)]
    pub lore: Option<String>,
    #[serde(default)]
    pub base: Option<String>,
    #[serde(default)]
    pub registry_base: String,
    #[serde(default)]
    pub skip_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedEntry {
    pub id: String,
    pub reason: String,
}

/// The most KUnit tests one cell may list (what one console's parse records at most).
const MAX_CELL_TESTS: usize = MAX_TESTS;

impl RunResults {
    /// Check what the types alone cannot, for results that come from elsewhere (in CI, from
    /// jobs that built untrusted patches): a schema this harness reads, known arches, entry
    /// ids of the safe alphabet, at least one stage and none twice, sane durations and KUnit
    /// counts, cell folders inside the run folder. (Statuses are enums: serde refuses an
    /// unknown one.) The error names the cell (`cell 3 (evil.x86_64)`).
    pub fn validate(&self) -> Result<(), String> {
        use crate::model::text::term_safe;
        let readable = OLDEST_SCHEMA..=SCHEMA;
        if !readable.contains(&self.schema) {
            return Err(format!(
                "schema {} is not a schema this harness reads ({OLDEST_SCHEMA} to {SCHEMA})",
                self.schema
            ));
        }
        for (i, c) in self.cells.iter().enumerate() {
            let at = format!("cell {i} ({}.{})", term_safe(&c.entry), term_safe(&c.arch));
            let bad = |what: String| Err(format!("{at}: {what}"));
            if !readable.contains(&c.schema) {
                return bad(format!(
                    "schema {} is not {OLDEST_SCHEMA} to {SCHEMA}",
                    c.schema
                ));
            }
            if !c.is_base() {
                if let Err(why) = crate::model::matrix::check_id(&c.entry) {
                    return bad(format!("the entry id {why}"));
                }
            }
            if !crate::model::arch::Arch::ALL
                .iter()
                .any(|a| a.name() == c.arch)
            {
                return bad("unknown arch".into());
            }
            if let Some(g) = &c.kunit_filter {
                if let Err(why) = crate::model::matrix::check_kunit_filter(g) {
                    return bad(format!("its KUnit filter {why}"));
                }
            }
            if c.stages.is_empty() {
                return bad("no stages".into());
            }
            for (j, s) in c.stages.iter().enumerate() {
                if c.stages[..j].iter().any(|x| x.stage == s.stage) {
                    return bad(format!("stage {} twice", s.stage.name()));
                }
                for (what, t) in [("duration", s.duration_s), ("queued", s.queued_s)] {
                    if !(t.is_finite() && t >= 0.0) {
                        return bad(format!(
                            "stage {}: {what} {t} is not a time",
                            s.stage.name()
                        ));
                    }
                }
                if s.log
                    .as_ref()
                    .is_some_and(|l| l.is_empty() || l.len() > 4096)
                {
                    return bad(format!(
                        "stage {}: a log name of {} bytes",
                        s.stage.name(),
                        s.log.as_ref().map_or(0, |l| l.len())
                    ));
                }
            }
            if !(c.duration_s.is_finite() && c.duration_s >= 0.0) {
                return bad(format!("duration {} is not a time", c.duration_s));
            }
            let dir = std::path::Path::new(&c.dir);
            if dir.is_absolute()
                || dir.components().any(|x| {
                    !matches!(
                        x,
                        std::path::Component::Normal(_) | std::path::Component::CurDir
                    )
                })
            {
                return bad(format!(
                    "the cell folder `{}` is not inside the run folder",
                    term_safe(&c.dir)
                ));
            }
            let k = &c.kunit;
            if k.tests.len() > MAX_CELL_TESTS {
                return bad(format!(
                    "{} KUnit tests, more than {MAX_CELL_TESTS}",
                    k.tests.len()
                ));
            }
            if k.suites.len() > MAX_CELL_TESTS || k.errors.len() > MAX_KUNIT_ERRORS {
                return bad(format!(
                    "{} KUnit suites and {} parse errors, more than {MAX_CELL_TESTS} and \
                     {MAX_KUNIT_ERRORS}",
                    k.suites.len(),
                    k.errors.len()
                ));
            }
            let n = k
                .counts
                .passed
                .checked_add(k.counts.failed)
                .and_then(|x| x.checked_add(k.counts.crashed))
                .and_then(|x| x.checked_add(k.counts.skipped));
            if k.counts.total != k.tests.len() || n != Some(k.counts.total) {
                return bad(format!(
                    "KUnit counts (total {}) do not match its {} tests",
                    k.counts.total,
                    k.tests.len()
                ));
            }
        }
        Ok(())
    }
}

/// Current time as RFC 3339 UTC, without a date crate.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_219_200), "2026-11-21T00:00:00Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
