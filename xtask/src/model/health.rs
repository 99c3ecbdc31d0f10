//! Health of a cell against its bare base (the differential), and of an entry over its
//! arches. Pure: results in, verdicts out.

use crate::model::outcome::{
    CellResult, Fault, Health, Matched, MetOutcome, Stage, StageResult, Status, Verdict,
};

/// Compare a cell with its base cell (same base, arch, toolchain). A base cell is assessed
/// alone: its failures are the base's findings. The expectations the cell met
/// (`cell.expectations`, see `model/expect`) are applied first: a failing thing an
/// expectation forgives (xfail, flaky, skip) does not count, and an expected failure that
/// passed (xpass) makes the cell an `error` of the expectations file when nothing else fails.
pub fn assess(cell: &CellResult, base: Option<&CellResult>) -> Health {
    // Nothing was built: there is nothing to compare.
    if let Some(s) = cell.stages.iter().find(|s| s.in_base) {
        return Health {
            verdict: Verdict::InBase,
            stage: Some(s.stage),
            summary: s.summary.clone(),
            preexisting: Vec::new(),
            fault: None,
        };
    }
    let forgiven = |m: &Matched| {
        cell.expectations
            .iter()
            .any(|x| x.outcome.forgives() && x.matched == *m)
    };
    let mut pre = Vec::new();
    for s in &cell.stages {
        match s.status {
            Status::Pass | Status::Skip => continue,
            Status::Error => {
                let verdict = if s.fault == Some(Fault::Remote) {
                    Verdict::Unreachable
                } else {
                    Verdict::Error
                };
                return Health {
                    verdict,
                    stage: Some(s.stage),
                    summary: s.summary.clone(),
                    preexisting: pre,
                    fault: None,
                };
            }
            Status::Fail => {}
        }
        if forgiven(&Matched::Stage(s.stage)) {
            continue;
        }
        // Some of this stage's things are expected to fail: judge the others.
        let has_met = cell
            .expectations
            .iter()
            .any(|m| m.outcome.forgives() && m.matched.stage() == s.stage);
        let seen = pre.len();
        let new: Vec<String> = match (s.stage, base, base.and_then(|b| b.stage(s.stage))) {
            (Stage::Kunit, _, _) if has_met => unexpected_kunit_failures(cell, base, &mut pre),
            (Stage::Boot, _, bs) if has_met && !s.findings.is_empty() => {
                let left: Vec<_> = s
                    .findings
                    .iter()
                    .filter(|f| !forgiven(&Matched::Boot(f.identity.clone())))
                    .collect();
                match bs {
                    Some(bs) => {
                        let mut rest = s.clone();
                        rest.findings = left.into_iter().cloned().collect();
                        new_boot_findings(&rest, bs, &mut pre)
                    }
                    None => left.iter().map(|f| f.render()).collect(),
                }
            }
            (Stage::Kunit, Some(b), Some(_)) => unexpected_kunit_failures(cell, Some(b), &mut pre),
            (Stage::Boot, _, Some(bs)) if !s.findings.is_empty() => {
                new_boot_findings(s, bs, &mut pre)
            }
            (Stage::Clippy | Stage::Rustdoc | Stage::Rustfmt | Stage::Objtool, _, Some(bs))
                if !s.diagnostics.is_empty() =>
            {
                new_diagnostics(s, bs, &mut pre)
            }
            _ => vec![s.summary.clone()],
        };
        if !new.is_empty() {
            // KUnit's summary names only the new failures; a boot's, when the base shares some
            // of its findings (its own summary may describe one of those).
            let summary = if s.stage == Stage::Kunit {
                new.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
            } else if s.stage == Stage::Boot && pre.len() > seen {
                new.join("; ")
            } else {
                s.summary.clone()
            };
            return Health {
                verdict: Verdict::Fail,
                stage: Some(s.stage),
                summary,
                preexisting: pre,
                fault: None,
            };
        }
    }
    // Nothing failed that counts, but an expected failure passed: the expectation is stale.
    if let Some(m) = cell
        .expectations
        .iter()
        .find(|m| m.outcome == MetOutcome::Xpass)
    {
        return Health {
            verdict: Verdict::Error,
            stage: Some(m.matched.stage()),
            summary: format!(
                "xpass: {} passed, but expectation `{}` ({}) says it fails: delete it",
                m.matched.render(),
                m.id,
                m.at
            ),
            preexisting: pre,
            fault: Some(Fault::Expectations),
        };
    }
    // Nothing ran: apply was skipped (so was everything after it); fetch may have passed.
    let all_skipped = cell
        .stages
        .iter()
        .all(|s| s.status == Status::Skip || s.stage == Stage::Fetch);
    let verdict = if all_skipped
        && cell
            .stages
            .iter()
            .any(|s| s.stage == Stage::Apply && s.status == Status::Skip)
    {
        Verdict::Skip
    } else {
        Verdict::Pass
    };
    let mut summary = match (verdict, pre.len()) {
        (Verdict::Skip, _) => "nothing ran".to_string(),
        (_, 0) => "healthy".to_string(),
        (_, n) => format!("healthy; {n} problems are the base's own"),
    };
    let known: Vec<String> = cell
        .expectations
        .iter()
        .filter(|m| matches!(m.outcome, MetOutcome::Xfail | MetOutcome::Flaky))
        .map(|m| format!("{} {}", m.outcome.name(), m.matched.render()))
        .collect();
    if verdict == Verdict::Pass && !known.is_empty() {
        summary = format!("{summary}; expected: {}", known.join(", "));
    }
    Health {
        verdict,
        stage: None,
        summary,
        preexisting: pre,
        fault: None,
    }
}

/// The cell's failed or crashed KUnit tests that no expectation forgives and that do not fail
/// on the base (when there is one); those the base shares go to `pre`.
fn unexpected_kunit_failures(
    cell: &CellResult,
    base: Option<&CellResult>,
    pre: &mut Vec<String>,
) -> Vec<String> {
    let forgiven = |name: String| {
        cell.expectations
            .iter()
            .any(|m| m.outcome.forgives() && m.matched == Matched::Kunit(name.clone()))
    };
    let base_bad = |suite: &str, name: &str| {
        base.is_some_and(|b| {
            b.kunit
                .tests
                .iter()
                .any(|t| t.status.is_bad() && t.suite == suite && t.name == name)
        })
    };
    let mut new = Vec::new();
    for t in cell.kunit.tests.iter().filter(|t| t.status.is_bad()) {
        if forgiven(format!("{}.{}", t.suite, t.name)) {
            continue;
        }
        if base_bad(&t.suite, &t.name) {
            pre.push(format!("kunit {} {}", t.status, t.name));
        } else {
            new.push(t.describe());
        }
    }
    // Failed with no failing case at all (no KTAP, 0 tests run): no expectation of a case
    // covers that; it is the base's only when the base's failed the same way.
    let no_bad_case = |r: &CellResult| !r.kunit.tests.iter().any(|t| t.status.is_bad());
    let failed_without_a_case = |r: &CellResult| {
        r.stage(Stage::Kunit)
            .is_some_and(|s| s.status == Status::Fail && no_bad_case(r))
    };
    if failed_without_a_case(cell) {
        let summary = cell
            .stage(Stage::Kunit)
            .map(|s| s.summary.clone())
            .unwrap_or_default();
        if base.is_some_and(failed_without_a_case) {
            pre.push(format!("kunit: {summary}"));
        } else {
            new.push(summary);
        }
    }
    new
}

/// The boot's findings the base's boot does not show (same kind, identity and module); the
/// others go to `pre`. A WARNING elsewhere than the base's is new.
fn new_boot_findings(s: &StageResult, base: &StageResult, pre: &mut Vec<String>) -> Vec<String> {
    let mut new = Vec::new();
    for f in &s.findings {
        if base.findings.contains(f) {
            pre.push(format!("boot {}", f.render()));
        } else {
            new.push(f.render());
        }
    }
    new
}

/// The lint diagnostics the base does not show too (same file, message and level).
fn new_diagnostics(s: &StageResult, base: &StageResult, pre: &mut Vec<String>) -> Vec<String> {
    let mut new = Vec::new();
    for d in &s.diagnostics {
        let same = base.diagnostics.iter().any(|x| {
            x.file == d.file && same_message(&x.message, &d.message) && x.level == d.level
        });
        if same {
            pre.push(format!("{} {}", s.stage.name(), d.render()));
        } else {
            new.push(d.render());
        }
    }
    new
}

/// Two findings' messages say the same: equal once code offsets (`sym+0x1f`, which move when
/// anything before them in the object changes) are left out.
fn same_message(a: &str, b: &str) -> bool {
    fn without_offsets(m: &str) -> String {
        let mut out = String::with_capacity(m.len());
        let mut rest = m;
        while let Some(i) = rest.find("+0x") {
            out.push_str(&rest[..i]);
            rest = rest[i + 3..].trim_start_matches(|c: char| c.is_ascii_hexdigit());
        }
        out.push_str(rest);
        out
    }
    a == b || without_offsets(a) == without_offsets(b)
}

/// The base cell an entry cell is compared with (see [`CellKey::base_cell`]).
///
/// [`CellKey::base_cell`]: crate::model::outcome::CellKey::base_cell
pub fn base_of<'a>(cell: &CellResult, cells: &'a [CellResult]) -> Option<&'a CellResult> {
    if cell.is_base() {
        return None;
    }
    let want = cell.key().base_cell();
    cells.iter().find(|b| b.key() == want)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::*;

    fn warning(at: &str, module: Option<&str>) -> BootFinding {
        BootFinding {
            kind: BootKind::Warning,
            identity: at.into(),
            module: module.map(str::to_string),
        }
    }

    fn cell(entry: &str, kunit: &[(&str, CaseStatus)], boot: &[BootFinding]) -> CellResult {
        let mut stages = vec![StageResult::new(Stage::Build, Status::Pass, "built")];
        stages.push(match boot.first() {
            Some(f) => {
                let mut s = StageResult::new(Stage::Boot, Status::Fail, f.render());
                s.findings = boot.to_vec();
                s
            }
            None => StageResult::new(Stage::Boot, Status::Pass, "clean: ok"),
        });
        let tests: Vec<Case> = kunit
            .iter()
            .map(|(n, s)| Case {
                suite: "s".into(),
                name: n.to_string(),
                status: *s,
                location: None,
                summary: String::new(),
            })
            .collect();
        let any_bad = tests.iter().any(|t| t.status != CaseStatus::Pass);
        stages.push(StageResult::new(
            Stage::Kunit,
            if any_bad { Status::Fail } else { Status::Pass },
            "",
        ));
        CellResult {
            schema: SCHEMA,
            entry: entry.into(),
            base: "b".into(),
            arch: crate::model::arch::Arch::X86_64,
            toolchain: ToolchainRecord::default(),
            config: "release".into(),
            base_commit: None,
            patchset: None,
            stages,
            kunit: Kunit::from_cases(tests),
            dir: String::new(),
            started: String::new(),
            duration_s: 0.0,
            repro: String::new(),
            kunit_filter: None,
            health: None,
            change: None,
            last_known: None,
            series: None,
            expectations: Vec::new(),
        }
    }

    /// A KUnit stage that failed without a failing test (no KTAP, 0 tests run, every test
    /// skipped) was a pass when the base's KUnit had a failure: now it is the entry's, unless
    /// the base's failed the same way.
    #[test]
    fn a_kunit_failure_without_a_failing_test_is_not_lost() {
        use CaseStatus::*;
        let mut silent = cell("e", &[], &[]);
        let k = silent
            .stages
            .iter_mut()
            .find(|s| s.stage == Stage::Kunit)
            .unwrap();
        k.status = Status::Fail;
        k.summary = "no KTAP output on the console".into();
        let base = cell("base", &[("t1", Fail), ("t2", Pass)], &[]);
        let h = assess(&silent, Some(&base));
        assert_eq!((h.verdict, h.stage), (Verdict::Fail, Some(Stage::Kunit)));
        assert_eq!(h.summary, "no KTAP output on the console");
        let mut silent_base = silent.clone();
        silent_base.entry = "base".into();
        let h = assess(&silent, Some(&silent_base));
        assert_eq!(h.verdict, Verdict::Pass);
        assert_eq!(h.preexisting, ["kunit: no KTAP output on the console"]);
    }

    fn diag(file: &str, message: &str) -> Diagnostic {
        Diagnostic {
            file: Some(file.into()),
            line: Some(1),
            col: None,
            level: crate::model::outcome::Level::Warning,
            message: message.into(),
            log_line: None,
        }
    }

    /// `cell` with `stage` set to `status`, its summary and diagnostics.
    fn with_stage(
        mut c: CellResult,
        stage: Stage,
        status: Status,
        summary: &str,
        d: &[Diagnostic],
    ) -> CellResult {
        c.stages.retain(|s| s.stage != stage);
        let mut r = StageResult::new(stage, status, summary);
        r.diagnostics = d.to_vec();
        c.stages.push(r);
        c
    }

    /// A lint is compared diagnostic by diagnostic: the base's own are pre-existing, a new one
    /// fails the entry, and a lint that failed with no diagnostic to compare (the tool itself
    /// broke) fails it with its summary, whatever the base's lint said.
    #[test]
    fn lint_failures_are_compared_with_the_bases_by_diagnostic() {
        let old = diag("rust/kernel/a.rs", "unused import");
        let fresh = diag("samples/rust/b.rs", "needless return");
        let base = with_stage(
            cell("base", &[], &[]),
            Stage::Clippy,
            Status::Fail,
            "clippy: 1 warning",
            std::slice::from_ref(&old),
        );
        let e = with_stage(
            cell("e", &[], &[]),
            Stage::Clippy,
            Status::Fail,
            "clippy: 1 warning",
            std::slice::from_ref(&old),
        );
        let h = assess(&e, Some(&base));
        assert_eq!(h.verdict, Verdict::Pass, "{h:?}");
        assert_eq!(h.preexisting, [format!("clippy {}", old.render())]);
        let e = with_stage(
            cell("e", &[], &[]),
            Stage::Clippy,
            Status::Fail,
            "clippy: 2 warnings",
            &[old.clone(), fresh.clone()],
        );
        let h = assess(&e, Some(&base));
        assert_eq!((h.verdict, h.stage), (Verdict::Fail, Some(Stage::Clippy)));
        assert_eq!(h.summary, "clippy: 2 warnings");
        let broke = with_stage(
            cell("e", &[], &[]),
            Stage::Clippy,
            Status::Fail,
            "clippy-driver crashed",
            &[],
        );
        for b in [
            &base,
            &with_stage(
                cell("base", &[], &[]),
                Stage::Clippy,
                Status::Pass,
                "clean",
                &[],
            ),
        ] {
            let h = assess(&broke, Some(b));
            assert_eq!(
                (h.verdict, h.summary.as_str()),
                (Verdict::Fail, "clippy-driver crashed")
            );
        }
    }

    /// A failed boot with no finding to compare (its kernel never printed one) is the entry's,
    /// even beside a base whose boot passed; with findings, a summary that names only the new
    /// ones when the base shares some, its own otherwise.
    #[test]
    fn a_failed_boot_is_judged_by_its_findings_or_else_its_summary() {
        let base = cell("base", &[], &[]);
        let mut e = cell("e", &[], &[]);
        let b = e
            .stages
            .iter_mut()
            .find(|s| s.stage == Stage::Boot)
            .unwrap();
        b.status = Status::Fail;
        b.summary = "qemu: could not load the kernel".into();
        let h = assess(&e, Some(&base));
        assert_eq!(
            (h.verdict, h.summary.as_str()),
            (Verdict::Fail, "qemu: could not load the kernel")
        );
        let shared = warning("base_fn+0x1/0x2", None);
        let own = warning("rust_minimal_init+0x3/0x4", Some("rust_minimal"));
        let base = cell("base", &[], std::slice::from_ref(&shared));
        let h = assess(&cell("e", &[], &[shared.clone(), own.clone()]), Some(&base));
        assert_eq!(
            (h.verdict, h.summary.clone()),
            (Verdict::Fail, own.render())
        );
        let other = warning("rust_minimal_exit+0x5/0x6", Some("rust_minimal"));
        let h = assess(
            &cell("e", &[], &[own.clone(), other]),
            Some(&cell("base", &[], &[])),
        );
        assert_eq!(
            h.summary,
            own.render(),
            "its own summary: the first finding's"
        );
    }

    /// A cell that stopped before it built (its apply skipped: nothing fetched, `--stage
    /// fetch`) ran nothing; one that applied and stopped there (`--stage apply`) is healthy as
    /// far as it went; one whose later stages ran is judged on them.
    #[test]
    fn a_cell_that_ran_nothing_is_a_skip_and_one_that_applied_is_a_pass() {
        let stages = |apply: Status| {
            let mut c = cell("e", &[], &[]);
            c.stages = vec![
                StageResult::new(Stage::Fetch, Status::Pass, "fetched"),
                StageResult::new(Stage::Apply, apply, "applied"),
                StageResult::skip(Stage::Build, "stopped"),
            ];
            c
        };
        let h = assess(&stages(Status::Skip), None);
        assert_eq!(
            (h.verdict, h.summary.as_str()),
            (Verdict::Skip, "nothing ran")
        );
        let h = assess(&stages(Status::Pass), None);
        assert_eq!((h.verdict, h.summary.as_str()), (Verdict::Pass, "healthy"));
        let mut ran = stages(Status::Pass);
        ran.stages
            .push(StageResult::new(Stage::Boot, Status::Pass, "clean"));
        assert_eq!(assess(&ran, None).verdict, Verdict::Pass);
        ran.stages[2] = StageResult::new(Stage::Build, Status::Pass, "built");
        assert_eq!(assess(&ran, None).verdict, Verdict::Pass);
    }

    #[test]
    fn base_failures_are_preexisting() {
        use CaseStatus::*;
        let base = cell("base", &[("t1", Fail), ("t2", Pass)], &[]);
        let e = cell("e", &[("t1", Fail), ("t2", Pass)], &[]);
        let h = assess(&e, Some(&base));
        assert_eq!(h.verdict, Verdict::Pass);
        assert_eq!(h.preexisting, vec!["kunit fail t1".to_string()]);
        let e = cell("e", &[("t1", Fail), ("t2", Crash)], &[]);
        let h = assess(&e, Some(&base));
        assert_eq!((h.verdict, h.stage), (Verdict::Fail, Some(Stage::Kunit)));
        assert_eq!(h.summary, "crash t2");
        // Without a base, every failure counts.
        assert_eq!(
            assess(&cell("e", &[("t1", Fail)], &[]), None).verdict,
            Verdict::Fail
        );
    }

    /// Real bases carry WARNINGs of their own: the base's WARNING is not the entry's, but a
    /// WARNING anywhere else, or the same one from another module, is.
    #[test]
    fn the_bases_own_boot_warning_is_preexisting_a_warning_elsewhere_is_not() {
        let base = cell("base", &[], &[warning("kernel/x.c:10", None)]);
        let h = assess(
            &cell("e", &[], &[warning("kernel/x.c:10", None)]),
            Some(&base),
        );
        assert_eq!(h.verdict, Verdict::Pass);
        assert_eq!(h.preexisting, ["boot warning: kernel/x.c:10"]);
        for other in [
            warning("kernel/y.c:20", None),
            warning("kernel/x.c:10", Some("rust_minimal")),
        ] {
            let h = assess(&cell("e", &[], std::slice::from_ref(&other)), Some(&base));
            assert_eq!((h.verdict, h.stage), (Verdict::Fail, Some(Stage::Boot)));
            assert_eq!(h.summary, other.render());
        }
        // Both the base's WARNING and a new one: the new one counts, and the summary names it,
        // not the base's that the console showed first.
        let both = cell(
            "e",
            &[],
            &[
                warning("kernel/x.c:10", None),
                warning("kernel/y.c:20", None),
            ],
        );
        let h = assess(&both, Some(&base));
        assert_eq!(h.verdict, Verdict::Fail);
        assert_eq!(h.summary, "warning: kernel/y.c:20");
        assert_eq!(h.preexisting, ["boot warning: kernel/x.c:10"]);
        let panic = BootFinding {
            kind: BootKind::Panic,
            identity: "kernel/x.c:10".into(),
            module: None,
        };
        assert_eq!(
            assess(&cell("e", &[], &[panic]), Some(&base)).stage,
            Some(Stage::Boot)
        );
    }

    /// `unreachable` is what the stage's fault says, whatever its text.
    #[test]
    fn a_remote_that_did_not_answer_is_unreachable_a_missing_source_an_error() {
        let mut e = cell("e", &[], &[]);
        e.stages[0] = StageResult::new(Stage::Fetch, Status::Error, "fetch failed: x")
            .with_fault(Fault::Remote);
        assert_eq!(assess(&e, None).verdict, Verdict::Unreachable);
        e.stages[0] = StageResult::new(Stage::Fetch, Status::Error, "unreachable: x")
            .with_fault(Fault::Source);
        assert_eq!(assess(&e, None).verdict, Verdict::Error);
    }

    /// A series already in its base built nothing: its verdict says so, not `pass` or `skip`,
    /// and it reads back from results.json as `in-base`.
    #[test]
    fn a_series_already_in_its_base_is_in_base_and_reads_back_as_such() {
        let mut e = cell("e", &[], &[]);
        e.stages = vec![
            StageResult::new(Stage::Fetch, Status::Pass, "2 patch files"),
            StageResult::already_in_base("already in the base (commits 0123456789ab)"),
            StageResult::skip(Stage::Toolchain, "the series is already in the base"),
        ];
        let h = assess(&e, Some(&cell("base", &[], &[])));
        assert_eq!((h.verdict, h.stage), (Verdict::InBase, Some(Stage::Apply)));
        assert_eq!(h.summary, "already in the base (commits 0123456789ab)");
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json["verdict"], "in-base");
        assert_eq!(serde_json::from_value::<Health>(json).unwrap(), h);
        let apply = serde_json::to_value(&e.stages[1]).unwrap();
        assert_eq!(apply["in_base"], true);
        // Any other stage says nothing of it.
        assert!(serde_json::to_value(&e.stages[0])
            .unwrap()
            .get("in_base")
            .is_none());
    }

    #[test]
    fn an_entry_is_compared_with_the_base_cell_of_its_own_toolchain() {
        let mut base_a = cell("base", &[], &[]);
        base_a.toolchain.name = "a".into();
        let mut base_b = base_a.clone();
        base_b.toolchain.name = "b".into();
        let mut e = cell("e", &[], &[]);
        e.toolchain.name = "b".into();
        let cells = [base_a, base_b, e.clone()];
        assert_eq!(base_of(&e, &cells).map(|b| b.key()), Some(cells[1].key()));
        assert!(base_of(&cells[0], &cells).is_none());
    }

    /// An objtool finding the base has (its offset moved with the code before it) is the
    /// base's; another one on the same object is the entry's.
    #[test]
    fn objtool_findings_the_base_has_are_preexisting_wherever_their_offset_moved() {
        let finding = |msg: &str| Diagnostic {
            file: Some("rust/kernel.o".into()),
            line: None,
            col: None,
            level: crate::model::outcome::Level::Warning,
            message: msg.into(),
            log_line: None,
        };
        let with = |msgs: &[&str]| {
            let mut s = StageResult::new(Stage::Objtool, Status::Fail, "x");
            s.diagnostics = msgs.iter().map(|m| finding(m)).collect();
            s
        };
        let base = with(&["objtool: kernel::a+0x1f: unreachable instruction"]);
        let mut pre = Vec::new();
        let new = new_diagnostics(
            &with(&[
                "objtool: kernel::a+0x2b: unreachable instruction",
                "objtool: kernel::b+0x4: unreachable instruction",
            ]),
            &base,
            &mut pre,
        );
        assert_eq!(pre.len(), 1, "{pre:?}");
        assert_eq!(
            new,
            ["rust/kernel.o: warning: objtool: kernel::b+0x4: unreachable instruction"]
        );
    }

    /// "Nothing ran" needs the apply stage's own skip and every later stage skipped: a results
    /// file from elsewhere whose apply was skipped but whose build passed, or that records no
    /// apply at all, is judged by the stages it has.
    #[test]
    fn nothing_ran_needs_the_applys_skip_and_every_later_stage_skipped() {
        let mut c = cell("e", &[], &[]);
        let skip = |st: Stage| StageResult::skip(st, "fetch did not pass");
        let fetched = StageResult::new(Stage::Fetch, Status::Pass, "fetched");
        c.stages = vec![fetched.clone(), skip(Stage::Apply), skip(Stage::Build)];
        assert_eq!(assess(&c, None).verdict, Verdict::Skip);
        c.stages = vec![
            fetched.clone(),
            skip(Stage::Apply),
            StageResult::new(Stage::Build, Status::Pass, "built"),
        ];
        assert_eq!(assess(&c, None).verdict, Verdict::Pass);
        c.stages = vec![fetched, skip(Stage::Toolchain), skip(Stage::Build)];
        assert_eq!(assess(&c, None).verdict, Verdict::Pass);
    }
}
