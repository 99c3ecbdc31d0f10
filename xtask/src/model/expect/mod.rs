//! Known failures (`expectations.toml` beside `matrix.toml`): what each expectation matches,
//! its expected outcome, reason, link and expiry; which of a cell's things it meets (`apply`),
//! and what a run says of the file (`notes`: expired, matched nothing). Pure: the text is
//! parsed in `parse.rs`, the file read by `commands/select.rs`, and "today" is given.

mod parse;

pub use parse::{parse, parse_all, Known};

use serde::Deserialize;

use crate::model::arch::Arch;
use crate::model::outcome::{
    CaseStatus, CellResult, ExpectNote, Matched, Met, MetOutcome, NoteKind, Stage, Status,
};

/// The file's name, beside the matrix file.
pub const FILE_NAME: &str = "expectations.toml";

/// The largest expectations file read.
pub const MAX_BYTES: u64 = 1 << 20;

/// What an expectation expects of the things it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expected {
    /// It fails, every time: a failure is `xfail`, a pass `xpass` (an error).
    Fail,
    /// It fails now and then: a failure is `flaky`, a pass is fine.
    Flaky,
    /// It is not judged, whatever it does.
    Skip,
}

/// The kind of thing an expectation matches.
#[derive(Debug, Clone)]
pub enum Target {
    /// KUnit cases, by a `suite.case` glob.
    Kunit(glob::Pattern),
    /// A whole stage.
    Stage(Stage),
    /// Boot findings, by an identity glob.
    Boot(glob::Pattern),
}

/// A calendar day, `YYYY-MM-DD`; ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

impl Date {
    /// `YYYY-MM-DD` (also the date part of an RFC 3339 time), a day that exists.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u16> {
            let t = &s[r];
            t.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| t.parse().ok())?
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days).contains(&day).then_some(Date {
            year,
            month: month as u8,
            day: day as u8,
        })
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// One `[[expect]]` table, checked.
#[derive(Debug, Clone)]
pub struct Expectation {
    pub id: String,
    /// `file:line` of its table, as errors and results name it.
    pub at: String,
    pub entry: glob::Pattern,
    pub target: Target,
    /// None: every arch.
    pub arches: Option<Vec<Arch>>,
    pub toolchain: Option<String>,
    pub config: Option<String>,
    pub base: Option<String>,
    pub outcome: Expected,
    pub reason: String,
    pub link: String,
    pub added: Date,
    pub expires: Date,
    /// `file:line:col` of its `expires` value, where lint says it expired.
    pub expires_at: String,
}

impl Expectation {
    /// Does this expectation speak of `cell` (its entry, arch, toolchain, config, base)?
    pub fn covers(&self, cell: &CellResult) -> bool {
        let opt = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        self.entry.matches(&cell.entry)
            && self.arches.as_ref().is_none_or(|a| a.contains(&cell.arch))
            && opt(&self.toolchain, &cell.toolchain.name)
            && opt(&self.config, &cell.config)
            && opt(&self.base, &cell.base)
    }

    /// The things of `cell` this expectation meets, and whether it matched anything at all
    /// (a thing that ran, whatever it did: what "matched nothing" counts).
    pub fn meet(&self, cell: &CellResult) -> (Vec<Met>, bool) {
        if !self.covers(cell) {
            return (Vec::new(), false);
        }
        let met = |matched: Matched, outcome: MetOutcome| Met {
            id: self.id.clone(),
            at: self.at.clone(),
            matched,
            outcome,
            reason: self.reason.clone(),
            link: self.link.clone(),
        };
        // What a thing that ran did: failed (true) or passed (false).
        let judge = |matched: Matched, failed: bool| -> Option<Met> {
            match (self.outcome, failed) {
                (Expected::Fail, true) => Some(met(matched, MetOutcome::Xfail)),
                (Expected::Fail, false) => Some(met(matched, MetOutcome::Xpass)),
                (Expected::Flaky, true) => Some(met(matched, MetOutcome::Flaky)),
                (Expected::Flaky, false) => None,
                (Expected::Skip, _) => Some(met(matched, MetOutcome::Skip)),
            }
        };
        let ran = |s: Stage| {
            cell.stage(s)
                .filter(|r| matches!(r.status, Status::Pass | Status::Fail))
        };
        let mut out = Vec::new();
        let mut matched = false;
        match &self.target {
            Target::Kunit(glob) => {
                if ran(Stage::Kunit).is_some() {
                    for t in &cell.kunit.tests {
                        let name = format!("{}.{}", t.suite, t.name);
                        // A skipped case neither passed nor failed.
                        if !glob.matches(&name) || t.status == CaseStatus::Skip {
                            continue;
                        }
                        matched = true;
                        out.extend(judge(Matched::Kunit(name), t.status.is_bad()));
                    }
                }
            }
            Target::Stage(s) => {
                if let Some(r) = ran(*s) {
                    matched = true;
                    out.extend(judge(Matched::Stage(*s), r.status == Status::Fail));
                }
            }
            Target::Boot(glob) => {
                if let Some(r) = ran(Stage::Boot) {
                    matched = true;
                    let mut seen = false;
                    for f in r.findings.iter().filter(|f| glob.matches(&f.identity)) {
                        seen = true;
                        out.extend(judge(Matched::Boot(f.identity.clone()), true));
                    }
                    if !seen {
                        out.extend(judge(Matched::Boot(glob.as_str().to_string()), false));
                    }
                }
            }
        }
        (out, matched)
    }
}

/// A loaded expectations file, with the day its expiries are read against.
#[derive(Debug, Clone)]
pub struct Expectations {
    /// The file as errors name it.
    pub file: String,
    pub list: Vec<Expectation>,
    pub today: Date,
}

impl Expectations {
    /// Past its expiry (`expires` before today): not applied.
    pub fn expired(&self, e: &Expectation) -> bool {
        e.expires < self.today
    }

    /// The expectations `cell` meets, in the file's order (expired ones are not applied).
    pub fn apply(&self, cell: &CellResult) -> Vec<Met> {
        self.list
            .iter()
            .filter(|e| !self.expired(e))
            .flat_map(|e| e.meet(cell).0)
            .collect()
    }

    /// What a run says of the file: each expired expectation (an error), and, when the run
    /// was `full` (no narrowing by entry, arch or cell), each active one that matched nothing
    /// in `cells` (a warning).
    pub fn notes(&self, cells: &[CellResult], full: bool) -> Vec<ExpectNote> {
        let mut out = Vec::new();
        for e in &self.list {
            if self.expired(e) {
                out.push(ExpectNote {
                    id: e.id.clone(),
                    at: e.at.clone(),
                    kind: NoteKind::Expired,
                    text: format!(
                        "expectation `{}` ({}) expired on {}: it is not applied; delete it or \
                         renew it with a new reason",
                        e.id, e.at, e.expires
                    ),
                });
            } else if full && !cells.iter().any(|c| e.meet(c).1) {
                out.push(ExpectNote {
                    id: e.id.clone(),
                    at: e.at.clone(),
                    kind: NoteKind::Unmatched,
                    text: format!(
                        "expectation `{}` ({}) matched nothing in this run",
                        e.id, e.at
                    ),
                });
            }
        }
        out
    }
}

/// Why the run's expectations fail it (an expired one, a stale one that passed), as stderr
/// says it; `None` when nothing does.
pub fn failure(notes: &[ExpectNote], cells: &[CellResult]) -> Option<String> {
    let expired = notes.iter().filter(|n| n.kind == NoteKind::Expired).count();
    let xpass = cells
        .iter()
        .flat_map(|c| &c.expectations)
        .filter(|m| m.outcome == MetOutcome::Xpass)
        .count();
    let mut why = Vec::new();
    if expired > 0 {
        why.push(format!(
            "{expired} expired expectation{}",
            if expired == 1 { "" } else { "s" }
        ));
    }
    if xpass > 0 {
        why.push(format!(
            "{xpass} unexpected pass{} (xpass)",
            if xpass == 1 { "" } else { "es" }
        ));
    }
    (!why.is_empty()).then(|| why.join(", "))
}

#[cfg(test)]
mod tests;
