//! What changed since an earlier run (`--baseline OLD/results.json`), and the exit code a
//! run's verdicts call for (`--fail-on`). Pure.

pub use crate::model::outcome::Change;
use crate::model::outcome::{CellResult, ExpectNote, Fault, Health, Verdict};

/// When a run's exit code is 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FailOn {
    /// Never: the exit code says only whether the harness worked.
    Never,
    /// Any entry cell whose health is `fail` (base cells' findings are the base's).
    #[default]
    Fail,
    /// Only a regressed entry cell (with `--baseline`; without one, as `fail`).
    Regression,
}

impl FailOn {
    /// The flag's value, as `--fail-on` spells it.
    pub fn name(self) -> String {
        use clap::ValueEnum;
        self.to_possible_value()
            .map(|v| v.get_name().to_string())
            .unwrap_or_default()
    }
}

/// What a run or a report says on stderr when `--fail-on regression` has no baseline to
/// compare with.
pub const NO_BASELINE: &str =
    "no baseline: failing on any failing entry cell instead of regressions";

/// `--fail-on` as it applies: `regression` without a baseline is `fail`, never silently
/// green; the line to say so on stderr when it falls back.
pub fn effective(on: FailOn, has_baseline: bool) -> (FailOn, Option<&'static str>) {
    match on {
        FailOn::Regression if !has_baseline => (FailOn::Fail, Some(NO_BASELINE)),
        _ => (on, None),
    }
}

/// A cell's known state: its verdict when that says something of the code (pass, fail,
/// in-base), else the last known state it carries from its own baseline.
pub fn known_state(c: &CellResult) -> Option<Verdict> {
    c.health
        .as_ref()
        .and_then(|h| h.verdict.known())
        .or(c.last_known.and_then(Verdict::known))
}

/// A cell now (`now`) against its baseline cell's known state (`then`).
fn classify(now: Option<Verdict>, then: Option<Verdict>) -> Change {
    use Verdict::*;
    match (now, then) {
        (Some(Fail), Some(Fail)) => Change::StillFailing,
        // Not known to fail then: it passed, was in the base, or no run since could say.
        (Some(Fail), _) => Change::Regressed,
        // A harness, toolchain or machine fault where the cell last passed.
        (Some(Error), Some(Pass)) => Change::Regressed,
        (Some(Pass), Some(Fail)) => Change::Fixed,
        // Unreachable or skipped now says nothing: never a regression.
        _ => Change::Unchanged,
    }
}

/// Each cell's change against the same cell of `old` (base cells too), and its last known
/// state: its own verdict when known, else the baseline cell's known state, so a state is
/// carried across runs that could not say (an unreachable remote). A baseline cell under
/// another KUnit filter ran other tests: `other-filter`, and its state is not carried.
pub fn compare(cells: &mut [CellResult], old: &[CellResult]) {
    for c in cells.iter_mut() {
        let now = c.health.as_ref().map(|h| h.verdict);
        let then = old.iter().find(|o| o.key() == c.key());
        let (change, carried) = match then {
            None => (Change::New, None),
            Some(o) if o.kunit_filter != c.kunit_filter => (Change::OtherFilter, None),
            Some(o) => {
                let known = known_state(o);
                (classify(now, known), known)
            }
        };
        c.change = Some(change);
        c.last_known = now.and_then(Verdict::known).or(carried);
    }
}

/// Why the results fail under `on`, as `report` says it on stderr (`2 regressed cells
/// (--fail-on regression)`); `None` when they do not. Only entry cells count: a base's own
/// findings (and its own regressions) are reported, but they are not the entries'.
pub fn failure(cells: &[CellResult], on: FailOn) -> Option<String> {
    failure_with(cells, &[], on)
}

/// [`failure`], and the expectations file's own errors (`notes`: an expired expectation; a
/// cell's xpass): under `fail` and `regression` they fail the results too, base cells' xpass
/// included, as the file is wrong whichever cell shows it. An xfail or flaky thing never
/// counts: its cell passes.
pub fn failure_with(cells: &[CellResult], notes: &[ExpectNote], on: FailOn) -> Option<String> {
    let own = failure_of_cells(cells, on);
    let file = match on {
        FailOn::Never => None,
        FailOn::Fail | FailOn::Regression => crate::model::expect::failure(notes, cells),
    };
    match (own, file) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b.map(|b| format!("{b} (--fail-on {})", on.name()))),
    }
}

fn failure_of_cells(cells: &[CellResult], on: FailOn) -> Option<String> {
    let entries = cells.iter().filter(|c| !c.is_base());
    let (n, what) = match on {
        FailOn::Never => return None,
        FailOn::Fail => (
            entries
                .filter(|c| verdict_of(c.health.as_ref()) == Some(Verdict::Fail))
                .count(),
            "failing entry",
        ),
        FailOn::Regression => (
            entries
                .filter(|c| c.change == Some(Change::Regressed))
                .count(),
            "regressed",
        ),
    };
    let cells = if n == 1 { "cell" } else { "cells" };
    (n > 0).then(|| format!("{n} {what} {cells} (--fail-on {})", on.name()))
}

/// Should the run exit 1?
pub fn fails(cells: &[CellResult], on: FailOn) -> bool {
    failure(cells, on).is_some()
}

/// What a run says on stderr when it exits 3.
pub const NOTHING_RAN: &str =
    "no entry cell could run: every one is error or unreachable (a harness, toolchain, machine or remote fault)";

/// Nothing could run (a run's exit 3): the results hold entry cells and every one is `error`
/// or `unreachable`, a harness, toolchain, machine or remote fault; no entry cell said
/// anything of its code. A run with no entry cell (`--entry base`) never is.
pub fn nothing_ran(cells: &[CellResult]) -> bool {
    let mut entries = cells.iter().filter(|c| !c.is_base()).peekable();
    entries.peek().is_some()
        && entries.all(|c| {
            // An xpass is the expectations file's error, not the harness's or the machine's.
            let files = c
                .health
                .as_ref()
                .is_some_and(|h| h.fault == Some(Fault::Expectations));
            !files
                && matches!(
                    verdict_of(c.health.as_ref()),
                    Some(Verdict::Error | Verdict::Unreachable)
                )
        })
}

fn verdict_of(h: Option<&Health>) -> Option<Verdict> {
    h.map(|h| h.verdict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::arch::Arch;
    use crate::model::outcome::{Kunit, ToolchainRecord};

    fn cell(entry: &str, arch: Arch, verdict: Option<Verdict>) -> CellResult {
        CellResult {
            schema: crate::model::outcome::SCHEMA,
            entry: entry.into(),
            base: "b".into(),
            arch,
            toolchain: ToolchainRecord {
                name: "debian".into(),
                versions: Default::default(),
                chosen: None,
            },
            config: "release".into(),
            base_commit: None,
            patchset: None,
            stages: Vec::new(),
            kunit: Kunit::default(),
            dir: String::new(),
            started: String::new(),
            duration_s: 0.0,
            repro: String::new(),
            kunit_filter: None,
            health: verdict.map(|verdict| Health {
                verdict,
                stage: None,
                summary: String::new(),
                preexisting: Vec::new(),
                fault: None,
            }),
            change: None,
            last_known: None,
            series: None,
            expectations: Vec::new(),
        }
    }

    #[test]
    fn each_cell_is_classed_against_the_same_cell_of_the_baseline() {
        use Verdict::*;
        let old = [
            cell("a", Arch::X86_64, Some(Pass)),
            cell("b", Arch::X86_64, Some(Fail)),
            cell("c", Arch::X86_64, Some(Fail)),
            cell("d", Arch::X86_64, Some(Pass)),
            cell("e", Arch::X86_64, Some(Error)),
            // The same entry on another arch is another cell.
            cell("f", Arch::Arm64, Some(Pass)),
        ];
        let mut now = [
            cell("a", Arch::X86_64, Some(Fail)),
            cell("b", Arch::X86_64, Some(Pass)),
            cell("c", Arch::X86_64, Some(Fail)),
            cell("d", Arch::X86_64, Some(Pass)),
            cell("e", Arch::X86_64, Some(Fail)),
            cell("f", Arch::X86_64, Some(Fail)),
        ];
        compare(&mut now, &old);
        let got: Vec<Change> = now.iter().map(|c| c.change.unwrap()).collect();
        assert_eq!(
            got,
            [
                Change::Regressed,
                Change::Fixed,
                Change::StillFailing,
                Change::Unchanged,
                // Its state was unknown then: a failure now is a regression.
                Change::Regressed,
                Change::New
            ]
        );
        // A run under another KUnit filter ran other tests: not comparable, not fixed.
        let mut filtered = [cell("b", Arch::X86_64, Some(Pass))];
        filtered[0].kunit_filter = Some("rust_kernel_*".into());
        compare(&mut filtered, &old);
        assert_eq!(filtered[0].change, Some(Change::OtherFilter));
        assert!(!fails(&filtered, FailOn::Regression));
        // Another toolchain is another cell too.
        let mut other = [cell("a", Arch::X86_64, Some(Fail))];
        other[0].toolchain.name = "llvm20".into();
        compare(&mut other, &old);
        assert_eq!(other[0].change, Some(Change::New));
    }

    /// Every pair of a verdict then (its known state) and a verdict now: fail after anything
    /// but a known failure is a regression, and so is an error after a pass; unreachable or
    /// skipped now never is.
    #[test]
    fn every_verdict_pair_has_its_change() {
        use Change::*;
        use Verdict::*;
        let all = [Pass, Fail, Error, Unreachable, Skip, InBase];
        for then in all {
            for now in all {
                let mut cells = [cell("a", Arch::X86_64, Some(now))];
                compare(&mut cells, &[cell("a", Arch::X86_64, Some(then))]);
                let want = match (then, now) {
                    (Fail, Fail) => StillFailing,
                    (_, Fail) => Regressed,
                    (Pass, Error) => Regressed,
                    (Fail, Pass) => Fixed,
                    _ => Unchanged,
                };
                assert_eq!(cells[0].change, Some(want), "{then:?} then, {now:?} now");
                assert_eq!(
                    fails(&cells, FailOn::Regression),
                    want == Regressed,
                    "{then:?} then, {now:?} now"
                );
            }
        }
    }

    /// The last known state rides through nights that could not say: pass, then two
    /// unreachable nights, then fail is a regression; fail, unreachable, fail is still
    /// failing; and the state each night writes is the one carried.
    #[test]
    fn the_last_known_state_is_carried_across_unreachable_runs() {
        use Verdict::*;
        let night = |verdicts: &[Verdict]| -> Vec<CellResult> {
            let mut old: Option<CellResult> = None;
            let mut out = Vec::new();
            for v in verdicts {
                let mut now = [cell("a", Arch::X86_64, Some(*v))];
                if let Some(o) = &old {
                    compare(&mut now, std::slice::from_ref(o));
                }
                old = Some(now[0].clone());
                out.push(now[0].clone());
            }
            out
        };
        let runs = night(&[Pass, Unreachable, Unreachable, Fail]);
        assert_eq!(runs[1].last_known, Some(Pass));
        assert_eq!(runs[2].last_known, Some(Pass));
        assert_eq!(runs[2].change, Some(Change::Unchanged));
        assert_eq!(runs[3].change, Some(Change::Regressed));
        assert_eq!(runs[3].last_known, Some(Fail));
        let runs = night(&[Fail, Unreachable, Error, Fail]);
        assert_eq!(runs[3].change, Some(Change::StillFailing));
        let runs = night(&[Fail, Skip, Pass]);
        assert_eq!(runs[2].change, Some(Change::Fixed));
        // Unreachable, then fail, with nothing known before: a regression.
        let runs = night(&[Unreachable, Fail]);
        assert_eq!(runs[0].last_known, None);
        assert_eq!(runs[1].change, Some(Change::Regressed));
        // An error after a pass carried through an unreachable night is a regression.
        let runs = night(&[Pass, Unreachable, Error]);
        assert_eq!(runs[2].change, Some(Change::Regressed));
        assert_eq!(runs[2].last_known, Some(Pass));
        // In-base then, fail now: a regression.
        let runs = night(&[InBase, Unreachable, Fail]);
        assert_eq!(runs[1].last_known, Some(InBase));
        assert_eq!(runs[2].change, Some(Change::Regressed));
        // A new cell records only its own state; under another filter nothing is carried.
        let mut new = [cell("b", Arch::X86_64, Some(Unreachable))];
        compare(&mut new, &[]);
        assert_eq!(
            (new[0].change, new[0].last_known),
            (Some(Change::New), None)
        );
        let mut filtered = [cell("a", Arch::X86_64, Some(Unreachable))];
        filtered[0].kunit_filter = Some("x".into());
        compare(&mut filtered, &[cell("a", Arch::X86_64, Some(Pass))]);
        assert_eq!(filtered[0].last_known, None);
        // Written and read back, the field is there; a cell compared with nothing has none.
        let json = serde_json::to_value(&runs[1]).unwrap();
        assert_eq!(json["last_known"], "in-base");
        let plain = serde_json::to_value(cell("a", Arch::X86_64, Some(Pass))).unwrap();
        assert!(plain.get("last_known").is_none());
    }

    #[test]
    fn exit_codes_follow_fail_on_and_ignore_the_bases_own_findings() {
        use Verdict::*;
        let mut cells = vec![
            cell("base", Arch::X86_64, Some(Fail)),
            cell("a", Arch::X86_64, Some(Pass)),
        ];
        assert!(
            !fails(&cells, FailOn::Fail),
            "a base's finding is not the entries'"
        );
        cells.push(cell("b", Arch::X86_64, Some(Fail)));
        assert!(fails(&cells, FailOn::Fail));
        assert_eq!(
            failure(&cells, FailOn::Fail).as_deref(),
            Some("1 failing entry cell (--fail-on fail)")
        );
        assert!(!fails(&cells, FailOn::Never));
        assert!(
            !fails(&cells, FailOn::Regression),
            "no change recorded, no regression"
        );
        cells[2].change = Some(Change::StillFailing);
        assert!(!fails(&cells, FailOn::Regression));
        cells[2].change = Some(Change::Regressed);
        cells[1].change = Some(Change::Regressed);
        assert_eq!(
            failure(&cells, FailOn::Regression).as_deref(),
            Some("2 regressed cells (--fail-on regression)")
        );
        cells[1].change = None;
        cells[0].change = Some(Change::Regressed);
        cells[2].change = Some(Change::StillFailing);
        assert!(
            !fails(&cells, FailOn::Regression),
            "the base regressed, not an entry"
        );
    }

    /// `--fail-on regression` without a baseline fails on any failing entry cell, and says so.
    #[test]
    fn regression_without_a_baseline_falls_back_to_fail() {
        assert_eq!(
            effective(FailOn::Regression, false),
            (FailOn::Fail, Some(NO_BASELINE))
        );
        assert_eq!(
            effective(FailOn::Regression, true),
            (FailOn::Regression, None)
        );
        assert_eq!(effective(FailOn::Never, false), (FailOn::Never, None));
        assert_eq!(effective(FailOn::Fail, false), (FailOn::Fail, None));
        let cells = [cell("a", Arch::X86_64, Some(Verdict::Fail))];
        let (on, _) = effective(FailOn::Regression, false);
        assert!(fails(&cells, on));
    }

    /// Exit 3 when no entry cell could say anything: every one in error or unreachable. One
    /// that passes, fails or is skipped keeps the usual exit; bases alone never count.
    #[test]
    fn nothing_ran_when_every_entry_cell_is_error_or_unreachable() {
        use Verdict::*;
        let of = |vs: &[(&str, Verdict)]| -> Vec<CellResult> {
            vs.iter()
                .map(|(e, v)| cell(e, Arch::X86_64, Some(*v)))
                .collect()
        };
        assert!(nothing_ran(&of(&[
            ("base", Pass),
            ("a", Unreachable),
            ("b", Error)
        ])));
        assert!(nothing_ran(&of(&[("base", Error), ("a", Error)])));
        assert!(!nothing_ran(&of(&[("a", Unreachable), ("b", Pass)])));
        assert!(!nothing_ran(&of(&[("a", Unreachable), ("b", Fail)])));
        assert!(!nothing_ran(&of(&[("a", Skip)])));
        assert!(!nothing_ran(&of(&[("base", Error)])));
        assert!(!nothing_ran(&[]));
    }
}
