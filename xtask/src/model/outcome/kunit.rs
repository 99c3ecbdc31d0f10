//! A cell's KUnit results: each case and how it ended, each suite's counts, the parse errors,
//! and the bounds on how many of them one console may yield.

use serde::{Deserialize, Serialize};

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
