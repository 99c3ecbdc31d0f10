//! One cell's result: `CellResult` with its toolchain and patchset records, the `CellKey` that
//! names a cell within a run, its `Health` (a `Verdict` against the bare base) and its
//! `Change` against a baseline.

use serde::{Deserialize, Serialize};

use crate::model::arch::Arch;
use crate::model::matrix::BASE_ENTRY;

use super::kunit::Kunit;
use super::met::Met;
use super::stage::{Fault, Stage, StageResult, Status};

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
    pub arch: Arch,
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
    /// The cell's last known state (pass, fail or in-base), when it was written against a
    /// baseline: its own verdict when that is known, else the baseline cell's (see
    /// `baseline.rs`). Carries a cell's state across runs that could not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_known: Option<Verdict>,
    /// A lore series' mail headers (where a reply goes, its author and lists, each patch's
    /// message-id), recorded at fetch time for `publish`; absent for other sources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<super::series::SeriesMail>,
    /// The expectations of `expectations.toml` this cell met (xfail, xpass, flaky, skip),
    /// each with what it matched; absent in files written before them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expectations: Vec<Met>,
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
    pub arch: Arch,
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
            arch: self.arch,
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
    /// A verdict that says something of the code: pass, fail or in-base. An error, an
    /// unreachable remote or a skip says nothing (`None`).
    pub fn known(self) -> Option<Verdict> {
        match self {
            Verdict::Pass | Verdict::Fail | Verdict::InBase => Some(self),
            Verdict::Error | Verdict::Unreachable | Verdict::Skip => None,
        }
    }
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
    /// Whose fault an `error` is, when it is not a stage's: `expectations` for an expected
    /// failure that passed (the expectations file is stale, not the harness or the code).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fault: Option<Fault>,
}

/// A cell against the same cell (entry, base, arch, toolchain) of the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Fails now and was not known to fail then (it passed, was in the base, or its state
    /// was unknown), or errs now where it last passed.
    Regressed,
    /// Passes now, last known to fail.
    Fixed,
    /// Fails now, last known to fail.
    StillFailing,
    /// Not in the baseline.
    New,
    /// Passes as it did, or this run could not say (an error, an unreachable remote, a skip).
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
