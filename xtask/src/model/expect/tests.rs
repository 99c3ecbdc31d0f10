use std::path::Path;

use super::*;
use crate::model::health::assess;
use crate::model::outcome::*;

const DOCTEST: &str = "rust_doctest_kernel_task_rs_1";

fn known() -> Known {
    Known {
        entries: vec!["e".into(), "fix".into()],
        bases: vec!["v7.2.x".into()],
        configs: vec!["release".into(), "debug".into()],
        toolchains: vec!["debian".into()],
    }
}

fn day(s: &str) -> Date {
    Date::parse(s).unwrap()
}

const ONE: &str = r#"
[[expect]]
id = "task-doctest"
base = "v7.2.x"
kunit = "rust_doctests_kernel.rust_doctest_kernel_task_rs_1"
arch = ["x86_64", "arm64"]
outcome = "fail"
reason = "faults on the tiny config"
link = "https://git.kernel.org/x"
added = 2026-12-06
expires = 2027-06-06
"#;

fn load(text: &str, today: &str) -> Expectations {
    parse(Path::new("expectations.toml"), text, &known(), day(today)).unwrap()
}

fn errors(text: &str) -> Vec<String> {
    parse(Path::new("x.toml"), text, &known(), day("2027-01-01"))
        .unwrap_err()
        .iter()
        .map(|e| e.to_string())
        .collect()
}

/// A cell of `entry` whose KUnit ran the doctest with `status`, and one other test that passed.
fn cell(entry: &str, status: CaseStatus) -> CellResult {
    let case = |name: &str, status| Case {
        suite: "rust_doctests_kernel".into(),
        name: name.into(),
        status,
        location: None,
        summary: String::new(),
    };
    let tests = vec![case(DOCTEST, status), case("other", CaseStatus::Pass)];
    let kunit_status = if status.is_bad() {
        Status::Fail
    } else {
        Status::Pass
    };
    CellResult {
        schema: SCHEMA,
        entry: entry.into(),
        base: "v7.2.x".into(),
        arch: crate::model::arch::Arch::X86_64,
        toolchain: ToolchainRecord {
            name: "debian".into(),
            ..Default::default()
        },
        config: "release".into(),
        base_commit: None,
        patchset: None,
        stages: vec![
            StageResult::new(Stage::Build, Status::Pass, "built"),
            StageResult::new(Stage::Boot, Status::Pass, "clean"),
            StageResult::new(Stage::Kunit, kunit_status, "kunit"),
        ],
        kunit: Kunit::from_cases(tests),
        dir: String::new(),
        started: String::new(),
        duration_s: 0.0,
        repro: String::new(),
        kunit_filter: None,
        health: None,
        change: None,
        last_known: None,
        expectations: Vec::new(),
        series: None,
    }
}

fn judged(x: &Expectations, mut c: CellResult, base: Option<&CellResult>) -> CellResult {
    c.expectations = x.apply(&c);
    c.health = Some(assess(&c, base));
    c
}

#[test]
fn a_known_failure_is_an_xfail_and_its_base_cell_passes() {
    let x = load(ONE, "2026-12-07");
    let base = judged(&x, cell("base", CaseStatus::Fail), None);
    let h = base.health.clone().unwrap();
    assert_eq!(h.verdict, Verdict::Pass, "{h:?}");
    assert!(h.summary.contains("xfail kunit"), "{}", h.summary);
    assert_eq!(base.expectations.len(), 1);
    let m = &base.expectations[0];
    assert_eq!(
        (m.id.as_str(), m.outcome, m.at.as_str()),
        ("task-doctest", MetOutcome::Xfail, "expectations.toml:2")
    );
    assert_eq!(
        m.matched,
        Matched::Kunit(format!("rust_doctests_kernel.{DOCTEST}"))
    );
    // On the entry it is an xfail too, not a pre-existing problem.
    let e = judged(&x, cell("e", CaseStatus::Fail), Some(&base));
    let h = e.health.unwrap();
    assert_eq!(h.verdict, Verdict::Pass);
    assert!(h.preexisting.is_empty(), "{h:?}");
    // Without the file, the base fails and the entry's is the base's own.
    let base = judged(
        &load("", "2026-12-07"),
        cell("base", CaseStatus::Fail),
        None,
    );
    assert_eq!(base.health.as_ref().unwrap().verdict, Verdict::Fail);
    assert!(base.expectations.is_empty());
}

#[test]
fn an_expected_failure_that_passes_is_an_error_of_the_file_naming_it() {
    let x = load(ONE, "2026-12-07");
    let c = judged(&x, cell("fix", CaseStatus::Pass), None);
    let h = c.health.unwrap();
    assert_eq!(
        (h.verdict, h.fault, h.stage),
        (
            Verdict::Error,
            Some(Fault::Expectations),
            Some(Stage::Kunit)
        )
    );
    assert!(
        h.summary.contains("task-doctest") && h.summary.contains("expectations.toml:2"),
        "{}",
        h.summary
    );
    assert_eq!(c.expectations[0].outcome, MetOutcome::Xpass);
    // A real failure beside it is still the cell's verdict.
    let mut both = cell("fix", CaseStatus::Pass);
    both.kunit.tests[1].status = CaseStatus::Fail;
    both.stages[2].status = Status::Fail;
    let both = judged(&x, both, None);
    assert_eq!(both.health.unwrap().verdict, Verdict::Fail);
}

#[test]
fn flaky_forgives_a_failure_and_a_pass_and_skip_judges_nothing() {
    let flaky = ONE.replace("outcome = \"fail\"", "outcome = \"flaky\"");
    let x = load(&flaky, "2026-12-07");
    let c = judged(&x, cell("e", CaseStatus::Fail), None);
    assert_eq!(c.health.unwrap().verdict, Verdict::Pass);
    assert_eq!(c.expectations[0].outcome, MetOutcome::Flaky);
    let c = judged(&x, cell("e", CaseStatus::Pass), None);
    assert_eq!(c.health.unwrap().verdict, Verdict::Pass);
    assert!(c.expectations.is_empty());
    let skip = ONE.replace("outcome = \"fail\"", "outcome = \"skip\"");
    let x = load(&skip, "2026-12-07");
    for s in [CaseStatus::Fail, CaseStatus::Pass, CaseStatus::Crash] {
        let c = judged(&x, cell("e", s), None);
        assert_eq!(c.health.unwrap().verdict, Verdict::Pass, "{s}");
        assert_eq!(c.expectations[0].outcome, MetOutcome::Skip);
    }
}

#[test]
fn an_expectation_matches_only_its_cells_and_a_stage_or_a_boot_finding() {
    let x = load(ONE, "2026-12-07");
    let mut other_arch = cell("e", CaseStatus::Fail);
    other_arch.arch = crate::model::arch::Arch::Riscv64;
    assert!(x.apply(&other_arch).is_empty());
    let mut debug = cell("e", CaseStatus::Fail);
    debug.config = "debug".into();
    assert_eq!(x.apply(&debug).len(), 1, "no config given: every config");
    // A KUnit stage that did not run says nothing.
    let mut not_run = cell("e", CaseStatus::Pass);
    not_run.stages[2] = StageResult::skip(Stage::Kunit, "the boot did not run");
    assert!(x.apply(&not_run).is_empty());
    let stage = r#"
[[expect]]
id = "clippy-known"
entry = "e"
stage = "clippy"
outcome = "fail"
reason = "r"
link = "0123456789abcdef"
added = "2026-01-01"
expires = "2027-01-01"

[[expect]]
id = "boot-warn"
boot = "kernel/x.c:*"
outcome = "fail"
reason = "r"
link = "https://example.org/w"
added = 2026-01-01
expires = 2027-01-01
"#;
    let x = load(stage, "2026-06-01");
    let mut c = cell("e", CaseStatus::Pass);
    c.stages
        .push(StageResult::new(Stage::Clippy, Status::Fail, "warnings"));
    let mut boot = StageResult::new(Stage::Boot, Status::Fail, "warning: kernel/x.c:10");
    boot.findings = vec![BootFinding {
        kind: BootKind::Warning,
        identity: "kernel/x.c:10".into(),
        module: None,
    }];
    c.stages[1] = boot;
    let c = judged(&x, c, None);
    let h = c.health.unwrap();
    assert_eq!(h.verdict, Verdict::Pass, "{h:?}");
    let outcomes: Vec<_> = c.expectations.iter().map(|m| m.outcome).collect();
    assert_eq!(outcomes, [MetOutcome::Xfail, MetOutcome::Xfail]);
    // A boot without the finding: the boot expectation is an xpass.
    let clean = judged(&x, cell("fix", CaseStatus::Pass), None);
    assert_eq!(clean.health.unwrap().verdict, Verdict::Error);
}

#[test]
fn an_expired_expectation_is_not_applied_and_is_an_error() {
    let x = load(ONE, "2027-06-07");
    let c = judged(&x, cell("base", CaseStatus::Fail), None);
    assert_eq!(c.health.as_ref().unwrap().verdict, Verdict::Fail);
    let notes = x.notes(std::slice::from_ref(&c), true);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, NoteKind::Expired);
    assert!(notes[0].text.contains("task-doctest"), "{}", notes[0].text);
    let why = failure(&notes, &[c]).unwrap();
    assert_eq!(why, "1 expired expectation");
    // Its last day still applies.
    let x = load(ONE, "2027-06-06");
    assert!(x.notes(&[], false).is_empty());
}

#[test]
fn one_that_matched_nothing_is_a_warning_only_in_a_full_run() {
    let x = load(ONE, "2026-12-07");
    let mut elsewhere = cell("e", CaseStatus::Fail);
    elsewhere.arch = crate::model::arch::Arch::Loongarch64;
    let notes = x.notes(std::slice::from_ref(&elsewhere), true);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].kind, NoteKind::Unmatched);
    assert!(x.notes(std::slice::from_ref(&elsewhere), false).is_empty());
    assert!(
        failure(&notes, &[elsewhere]).is_none(),
        "a warning, not an error"
    );
}

#[test]
fn the_baseline_and_fail_on_count_neither_xfail_nor_flaky() {
    use crate::model::baseline::{self, FailOn};
    let x = load(ONE, "2026-12-07");
    let base = judged(&x, cell("base", CaseStatus::Fail), None);
    let e = judged(&x, cell("e", CaseStatus::Fail), Some(&base));
    let cells = vec![base.clone(), e];
    for on in [FailOn::Fail, FailOn::Regression] {
        assert_eq!(baseline::failure_with(&cells, &[], on), None);
    }
    assert_eq!(baseline::known_state(&cells[1]), Some(Verdict::Pass));
    // An xpass fails under every mode that counts failures, and is never "nothing ran".
    let fix = judged(&x, cell("fix", CaseStatus::Pass), Some(&base));
    let cells = vec![base, fix];
    assert!(!baseline::nothing_ran(&cells));
    for on in [FailOn::Fail, FailOn::Regression] {
        let why = baseline::failure_with(&cells, &[], on).unwrap();
        assert!(why.contains("1 unexpected pass (xpass)"), "{why}");
    }
    assert_eq!(baseline::failure_with(&cells, &[], FailOn::Never), None);
}

#[test]
fn every_problem_is_said_at_its_place() {
    let bad = r#"
[[expect]]
id = "a b"
kunit = "x.y"
stage = "build"
arch = ["sparc"]
outcome = "fail"
reason = ""
link = "ftp://x"
added = "2026-13-01"
expires = 2026-01-01
colour = "red"
"#;
    let e = errors(bad);
    assert_eq!(e.len(), 1, "an unknown key stops the parse: {e:?}");
    assert!(
        e[0].starts_with("x.toml:12:1: unknown field `colour`"),
        "{e:?}"
    );
    let bad = bad.replace("colour = \"red\"\n", "");
    let e = errors(&bad).join("\n");
    for want in [
        "x.toml:3:6: id `a b` may hold only",
        "x.toml:2:1: expectation: needs exactly one of `kunit`",
        "x.toml:6:9: expectation: unknown arch `sparc`",
        "x.toml:8:10: expectation: `reason` is empty",
        "x.toml:9:8: expectation: link `ftp://x` is neither",
        "x.toml:10:9: expectation: `added` `2026-13-01` is not a day",
    ] {
        assert!(e.contains(want), "{want}\nnot in:\n{e}");
    }
    let missing = ONE.replace("link = \"https://git.kernel.org/x\"\n", "");
    assert_eq!(
        errors(&missing),
        ["x.toml:2:1: expectation `task-doctest`: `link` is missing (it is required)"]
    );
    let names = ONE
        .replace(
            "base = \"v7.2.x\"",
            "base = \"v9\"\nconfig = \"huge\"\nentry = \"nope*\"",
        )
        .replace("2027-06-06", "2026-01-01");
    let e = errors(&names).join("\n");
    for want in [
        "the matrix has no base `v9`",
        "the matrix has no config `huge`",
        "entry `nope*` matches no entry",
        "expires on 2026-01-01, not after it was added (2026-12-06)",
    ] {
        assert!(e.contains(want), "{want}\nnot in:\n{e}");
    }
    let twice = format!("{ONE}{ONE}");
    assert!(errors(&twice)[0].contains("id `task-doctest` is used twice"));
    let outcome = ONE.replace("\"fail\"", "\"sometimes\"");
    assert!(errors(&outcome)[0].contains("unknown variant `sometimes`"));
}

#[test]
fn links_and_days() {
    for ok in [
        "https://lore.kernel.org/r/x@y",
        "http://a.b",
        "abcdef0",
        "0123456789abcdef0123456789abcdef01234567",
    ] {
        assert_eq!(parse::check_link(ok), Ok(()), "{ok}");
    }
    for bad in [
        "abc",
        "https://",
        "https:// x",
        "file:///etc",
        "g123456",
        "-rf",
    ] {
        assert!(parse::check_link(bad).is_err(), "{bad}");
    }
    // A link of 2048 bytes is one; a byte more is not.
    let at = |n: usize| format!("https://{}", "a".repeat(n - "https://".len()));
    assert!(parse::check_link(&at(2048)).is_ok());
    assert!(parse::check_link(&at(2049)).is_err());
    assert!(Date::parse("2028-02-29").is_some());
    // Leap years: every fourth, but not a century's unless it is a fourth century's.
    assert!(Date::parse("2000-02-29").is_some());
    assert!(Date::parse("2024-02-29").is_some());
    assert!(Date::parse("2100-02-29").is_none());
    assert!(Date::parse("2026-02-29").is_none());
    assert!(Date::parse("2026-02-28").is_some());
    assert!(Date::parse("2027-02-29").is_none());
    assert!(Date::parse("2027-1-01").is_none());
    // Ten characters, but not the dashes where they belong, or not digits between them.
    for bad in [
        "2027/01/01",
        "2027-01/01",
        "2027/01-01",
        "20270-1-01",
        "2027-0a-01",
        "2027-13-01",
        "2027-04-31",
        "2027-00-10",
    ] {
        assert!(Date::parse(bad).is_none(), "{bad}");
    }
    assert!(day("2027-01-01") > day("2026-12-31"));
    assert_eq!(day("2026-12-06").to_string(), "2026-12-06");
}

#[test]
fn met_records_read_back_and_are_checked_on_load() {
    let x = load(ONE, "2026-12-07");
    let c = judged(&x, cell("base", CaseStatus::Fail), None);
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["expectations"][0]["outcome"], "xfail");
    assert_eq!(
        json["expectations"][0]["matched"]["kunit"],
        format!("rust_doctests_kernel.{DOCTEST}")
    );
    let back: CellResult = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, c);
    // An older cell without the field reads as none.
    let mut old = json;
    old.as_object_mut().unwrap().remove("expectations");
    let back: CellResult = serde_json::from_value(old).unwrap();
    assert!(back.expectations.is_empty());
    let mut evil = c.expectations[0].clone();
    evil.id = "../x".into();
    assert!(check_met(&evil).is_err());
    evil.id = "ok".into();
    evil.reason = "x".repeat(5000);
    assert!(check_met(&evil).is_err());
}

/// A KUnit stage that failed with no failing case is not hidden by an expectation that
/// skips a case that passed.
#[test]
fn a_skip_of_a_passing_case_hides_no_kunit_failure_without_a_case() {
    let skip = ONE.replace("outcome = \"fail\"", "outcome = \"skip\"");
    let x = load(&skip, "2026-12-07");
    let mut c = cell("e", CaseStatus::Pass);
    c.stages[2].status = Status::Fail;
    c.stages[2].summary = "suite rust_doctests_kernel failed".into();
    let c = judged(&x, c, None);
    assert_eq!(c.expectations[0].outcome, MetOutcome::Skip);
    let h = c.health.unwrap();
    assert_eq!(
        (h.verdict, h.summary.as_str()),
        (Verdict::Fail, "suite rust_doctests_kernel failed")
    );
}

/// Lint sees the sound expectations beside the others' problems, so an expired one is named
/// even in a file with errors.
#[test]
fn the_sound_expectations_are_kept_beside_the_others_problems() {
    let mixed = format!("{ONE}\n[[expect]]\nid = \"bad\"\nstage = \"nope\"\noutcome = \"fail\"\nreason = \"r\"\nlink = \"0123abc\"\nadded = 2026-01-01\nexpires = 2027-01-01\n");
    let (x, errors) = parse_all(Path::new("x.toml"), &mixed, &known(), day("2027-07-01"));
    assert_eq!(
        errors.len(),
        1,
        "{:?}",
        errors.iter().map(|e| e.to_string()).collect::<Vec<_>>()
    );
    assert!(errors[0].to_string().contains("unknown stage `nope`"));
    assert_eq!(x.list.len(), 1);
    assert!(x.expired(&x.list[0]));
    assert_eq!(x.list[0].expires_at, "x.toml:11:11");
}

/// A reason of 2048 bytes is one; a byte more is an error at its place.
#[test]
fn a_reason_is_at_most_2048_bytes() {
    let with = |n: usize| ONE.replace("faults on the tiny config", &"r".repeat(n));
    let x = load(&with(2048), "2026-12-07");
    assert_eq!(x.list.len(), 1);
    let e = errors(&with(2049));
    assert!(
        e.iter().any(|m| m.contains("longer than 2048 bytes")),
        "{e:?}"
    );
}
