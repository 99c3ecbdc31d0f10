//! Known failures as results record them: each expectation of `expectations.toml` a cell met
//! (`Met`: xfail, xpass, flaky or skip, with the reason and link), and what a run says of the
//! file as a whole (`ExpectNote`: an expired expectation, one that matched nothing).

use serde::{Deserialize, Serialize};

use super::stage::Stage;

/// What an expectation did to one thing of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetOutcome {
    /// Expected to fail, and it failed: it does not count against the cell.
    Xfail,
    /// Expected to fail, and it passed: the expectation is stale, an error that names it.
    Xpass,
    /// Known to fail now and then, and it failed: it does not count.
    Flaky,
    /// Not judged, whatever it did.
    Skip,
}

impl MetOutcome {
    pub fn name(self) -> &'static str {
        match self {
            MetOutcome::Xfail => "xfail",
            MetOutcome::Xpass => "xpass",
            MetOutcome::Flaky => "flaky",
            MetOutcome::Skip => "skipped",
        }
    }
    /// The thing it names does not count against the cell.
    pub fn forgives(self) -> bool {
        !matches!(self, MetOutcome::Xpass)
    }
}

/// The thing of a cell an expectation matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Matched {
    /// A KUnit case, `suite.case`.
    Kunit(String),
    /// A whole stage.
    Stage(Stage),
    /// A boot finding, by its identity (for an xpass: the expectation's glob, as nothing
    /// matched it).
    Boot(String),
}

impl Matched {
    /// The stage the thing belongs to.
    pub fn stage(&self) -> Stage {
        match self {
            Matched::Kunit(_) => Stage::Kunit,
            Matched::Stage(s) => *s,
            Matched::Boot(_) => Stage::Boot,
        }
    }
    pub fn render(&self) -> String {
        match self {
            Matched::Kunit(c) => format!("kunit {c}"),
            Matched::Stage(s) => format!("stage {}", s.name()),
            Matched::Boot(i) => format!("boot {i}"),
        }
    }
}

/// One expectation met by one thing of a cell, as results.json records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Met {
    /// The expectation's id.
    pub id: String,
    /// Where it is written: `expectations.toml:12`.
    pub at: String,
    pub matched: Matched,
    pub outcome: MetOutcome,
    pub reason: String,
    /// A URL or a commit id.
    pub link: String,
}

impl Met {
    /// One line: `xfail kunit s.c (task-doctest, expectations.toml:3: reason; link)`.
    pub fn render(&self) -> String {
        format!(
            "{} {} ({}, {}: {}; {})",
            self.outcome.name(),
            self.matched.render(),
            self.id,
            self.at,
            self.reason,
            self.link
        )
    }
}

/// What a run says of an expectation apart from any cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoteKind {
    /// Past its expiry: not applied, and an error.
    Expired,
    /// A full run where it matched no cell: a warning.
    Unmatched,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectNote {
    pub id: String,
    pub at: String,
    pub kind: NoteKind,
    /// The line a person reads.
    pub text: String,
}

/// At most this many expectations met per cell, and notes per run, in a results file.
pub const MAX_MET: usize = 10_000;

/// What a results file from elsewhere must hold for each met expectation: an id of the safe
/// alphabet, texts of bounded size.
pub fn check_met(m: &Met) -> Result<(), String> {
    crate::model::matrix::check_name(&m.id).map_err(|why| format!("expectation id {why}"))?;
    let text = match &m.matched {
        Matched::Kunit(t) | Matched::Boot(t) => t.len(),
        Matched::Stage(_) => 0,
    };
    for (what, n, max) in [
        ("place", m.at.len(), 4096),
        ("match", text, 4096),
        ("reason", m.reason.len(), 4096),
        ("link", m.link.len(), 2048),
    ] {
        if n > max {
            return Err(format!("expectation {}: a {what} of {n} bytes", m.id));
        }
    }
    Ok(())
}

/// The same for a run's note.
pub fn check_note(n: &ExpectNote) -> Result<(), String> {
    crate::model::matrix::check_name(&n.id).map_err(|why| format!("expectation id {why}"))?;
    if n.at.len() > 4096 || n.text.len() > 8192 {
        return Err(format!("expectation {}: a note too long", n.id));
    }
    Ok(())
}
