//! JUnit XML, written by `quick-junit` (which keeps every count right): a suite per (entry,
//! arch, stage), one case each; a KUnit stage with tests is a suite per KUnit suite instead,
//! one case per test, with a classname that keeps them unique. `<failure>` for the code's
//! failures, `<error>` for faults; the message says why on one line, as every report does.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::model::outcome::{
    Case, CaseStatus, CellResult, Matched, Met, MetOutcome, Stage, StageResult, Status,
};
use crate::model::text::term_safe;
use crate::report::{log_tail, split_location, Cell, Grid, Why};

/// Text from the results as JUnit carries it: every control character but tab and newline
/// as a visible escape (quick-junit would drop them silently), and the two code points XML
/// forbids besides.
fn xml(s: &str) -> String {
    term_safe(s)
        .replace('\u{fffe}', "\\u{fffe}")
        .replace('\u{ffff}', "\\u{ffff}")
}

fn seconds(s: f64) -> Duration {
    Duration::try_from_secs_f64(s).unwrap_or_default()
}

/// `file` and `line` attributes, for CI systems that link a case to its source.
fn locate(case: &mut TestCase, source: Option<(String, Option<u32>)>) {
    if let Some((file, line)) = source {
        case.extra.insert("file".into(), xml(&file).into());
        if let Some(n) = line {
            case.extra.insert("line".into(), n.to_string().into());
        }
    }
}

pub fn write(g: &Grid, w: &mut dyn Write) -> std::io::Result<()> {
    let mut report = Report::new("rfl-health");
    for cell in g.cells() {
        let c = cell.result;
        let who = cell.name().replace(' ', "-");
        // `who.arch[.config]`: the cell, as every report names it.
        let who = super::at(&who, c);
        for s in &c.stages {
            if s.stage == Stage::Kunit && !c.kunit.tests.is_empty() {
                report.add_test_suites(kunit_suites(c, &who));
            } else {
                report.add_test_suite(stage_suite(cell, s, &who));
            }
        }
    }
    report.serialize(w).map_err(std::io::Error::other)
}

/// A thing an expectation met, as JUnit tells it apart from real failures: a forgiven
/// failure (xfail, flaky) or an unjudged thing (skip) is `<skipped>` with the expectation,
/// its reason and link; an xpass is an `<error>` naming the expectation to delete.
fn expected_status(m: &Met) -> TestCaseStatus {
    let text = xml(&m.render());
    if m.outcome == MetOutcome::Xpass {
        let mut st = TestCaseStatus::non_success(NonSuccessKind::Error);
        st.set_message(xml(&format!(
            "xpass: expected to fail, it passed: delete expectation {} ({})",
            m.id, m.at
        )))
        .set_description(text);
        st
    } else {
        let mut st = TestCaseStatus::skipped();
        st.set_message(text);
        st
    }
}

/// A suite of one case: the stage.
fn stage_suite(cell: Cell, s: &StageResult, who: &str) -> TestSuite {
    let c = cell.result;
    // The stage that decided the cell's health says why as the cell does; any other says
    // its own summary.
    let why = if cell.health.stage == Some(s.stage) {
        cell.why()
    } else {
        Why::new(c, Some(s), &s.summary)
    };
    let detail = s
        .diagnostics
        .iter()
        .take(20)
        .map(|d| d.render())
        .collect::<Vec<_>>()
        .join("\n");
    let status = match s.status {
        Status::Pass => TestCaseStatus::success(),
        Status::Skip => {
            let mut st = TestCaseStatus::skipped();
            st.set_message(xml(&s.summary));
            st
        }
        Status::Fail | Status::Error => {
            let kind = if s.status == Status::Fail {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut st = TestCaseStatus::non_success(kind);
            st.set_message(xml(&why.to_string()));
            if !detail.is_empty() {
                st.set_description(xml(&detail));
            }
            st
        }
    };
    let met = c.expectations.iter().find(|m| match &m.matched {
        Matched::Stage(st) => *st == s.stage,
        Matched::Boot(_) => s.stage == Stage::Boot,
        Matched::Kunit(_) => false,
    });
    let status = match met {
        Some(m) if matches!(s.status, Status::Fail | Status::Pass) => expected_status(m),
        _ => status,
    };
    let mut case = TestCase::new(s.stage.name(), status);
    case.set_classname(xml(who)).set_time(seconds(s.duration_s));
    locate(&mut case, why.source());
    if matches!(s.status, Status::Fail | Status::Error) {
        case.set_system_out(xml(&log_tail(cell.run_dir, c, s.log.as_deref(), 40)));
    }
    let mut suite = TestSuite::new(xml(&format!("{who}.{}", s.stage.name())));
    set_timestamp(&mut suite, c);
    suite.set_time(seconds(s.duration_s)).add_test_case(case);
    suite
}

/// A suite per KUnit suite, a case per test.
fn kunit_suites(c: &CellResult, who: &str) -> Vec<TestSuite> {
    let mut by_suite: BTreeMap<&str, Vec<&Case>> = BTreeMap::new();
    for t in &c.kunit.tests {
        by_suite.entry(t.suite.as_str()).or_default().push(t);
    }
    by_suite
        .into_iter()
        .map(|(name, tests)| {
            let mut suite = TestSuite::new(xml(&format!("{who}.kunit.{name}")));
            set_timestamp(&mut suite, c);
            suite.set_time(Duration::ZERO);
            for t in tests {
                let status = match t.status {
                    CaseStatus::Pass => TestCaseStatus::success(),
                    CaseStatus::Skip => {
                        let mut st = TestCaseStatus::skipped();
                        st.set_message(xml(&t.summary));
                        st
                    }
                    CaseStatus::Fail | CaseStatus::Crash => {
                        let (kind, what) = if t.status == CaseStatus::Fail {
                            (NonSuccessKind::Failure, "failed")
                        } else {
                            (NonSuccessKind::Error, "crashed")
                        };
                        let mut st = TestCaseStatus::non_success(kind);
                        st.set_message(xml(&format!("{} {what}", t.name)))
                            .set_description(xml(&t.summary));
                        st
                    }
                };
                let full = Matched::Kunit(format!("{}.{}", t.suite, t.name));
                let status = match c.expectations.iter().find(|m| m.matched == full) {
                    Some(m) => expected_status(m),
                    None => status,
                };
                let mut case = TestCase::new(xml(&t.name), status);
                case.set_classname(xml(&format!("{who}.{name}")))
                    .set_time(Duration::ZERO);
                locate(&mut case, t.location.as_deref().map(split_location));
                suite.add_test_case(case);
            }
            suite
        })
        .collect()
}

/// The cell's start, when it reads as RFC 3339.
fn set_timestamp(suite: &mut TestSuite, c: &CellResult) {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&c.started) {
        suite.set_timestamp(t);
    }
}
