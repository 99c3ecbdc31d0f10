//! The real-kernel suite: the tagged base on all four arches and the seeded self-test (the
//! arch-sensitive seeds on all four, the others on x86_64), each run once per `cargo test`
//! through the harness's own cache, so a second `cargo test` reuses the built base.
//!
//! Needs `cargo xtask setup` first (README's test command does it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

mod oracle;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn cache() -> PathBuf {
    std::env::var_os("RFL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/rfl"))
}

fn xtask() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
}

/// The self-test's boot deadline, shared by every run whose base cells come from the base
/// run's results (the deadline is part of a result's key). Its hang seed waits it out on four
/// arches; a base boots through its KUnit suites in about 2 s.
const BOOT_TIMEOUT: &str = "30";

// The exit code each run of the suite must give (README's table): 0 when no entry cell
// failed, 1 when one did, 3 never here (no entry cell could run; tests/fetch.rs makes one).
const EXIT_CLEAN: i32 = 1;
const EXIT_BASE_AGAIN: i32 = 0;
const EXIT_APPLY: i32 = 0;
const EXIT_TOOLCHAIN: i32 = 0;
const EXIT_KUNIT_FILTER: i32 = 1;
const EXIT_DEBUG: i32 = 1;
const EXIT_DEBUG_LOCKDEP: i32 = 1;
const EXIT_DEBUG_CONFIG: i32 = 0;
const EXIT_BUILTIN: i32 = 1;
const EXIT_AUTO: i32 = 0;
const EXIT_NAMED: i32 = 0;

/// Heavy runs one at a time: they share build slots and the machine's two cores.
static HEAVY: Mutex<()> = Mutex::new(());

fn run_matrix(name: &str, args: &[&str], exit: i32) -> Value {
    run_xtask("matrix", name, args, exit)
}

/// `xtask SUB ARGS --out <cache>/test-runs/NAME` (`matrix` or `try`), which must exit with
/// `exit`; its results.json, with `_out` (the run folder) and `_elapsed_s` (how long the run
/// itself took, after it got the heavy lock: what a hang guard may bound).
fn run_xtask(sub: &str, name: &str, args: &[&str], exit: i32) -> Value {
    let _g = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let out = cache().join("test-runs").join(name);
    let _ = std::fs::remove_dir_all(&out);
    let t = Instant::now();
    let o = xtask()
        .arg(sub)
        .args(args)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let elapsed = t.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&o.stderr);
    eprintln!(
        "{sub} {name}: {elapsed:.0}s, exit {:?}\n{stderr}",
        o.status.code()
    );
    assert!(!stderr.contains("thread 'main' panicked"), "{stderr}");
    // A run refused as bad input made no folder: its stderr is what the failure shows.
    let _ = std::fs::create_dir_all(&out);
    std::fs::write(out.join("stderr.log"), &*stderr).unwrap();
    assert_eq!(
        o.status.code(),
        Some(exit),
        "{sub} {name}: exit code\n{stderr}"
    );
    let text = std::fs::read_to_string(out.join("results.json"))
        .unwrap_or_else(|e| panic!("no results.json for {name}: {e}\n{stderr}"));
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["_out"] = Value::String(out.to_string_lossy().into_owned());
    v["_elapsed_s"] = elapsed.into();
    v
}

/// A run several tests share, run once. If it fails, it is remembered as failed: every test
/// that needs it fails at once with its error instead of running it again (on a red day CI
/// would otherwise run it once per dependent test, far past its time limit).
fn shared(
    once: &'static OnceLock<Result<Value, String>>,
    name: &str,
    run: impl FnOnce() -> Value,
) -> &'static Value {
    once.get_or_init(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).map_err(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic without a message".into())
        })
    })
    .as_ref()
    .unwrap_or_else(|e| panic!("the shared {name} run failed earlier in this suite: {e}"))
}

fn base_run() -> &'static Value {
    static R: OnceLock<Result<Value, String>> = OnceLock::new();
    // The self-test's boot deadline (its hang entry needs a short one; a base boots in
    // seconds): the self-test's base cells are then this run's, from the result cache. Two
    // job tokens whatever the machine, so four cells must queue for them.
    shared(&R, "base", || {
        run_matrix(
            "base-all",
            &[
                "--entry",
                "base",
                "--arch",
                "all",
                "--boot-timeout",
                BOOT_TIMEOUT,
                "-j",
                "2",
            ],
            0,
        )
    })
}

fn selftest_run() -> &'static Value {
    static R: OnceLock<Result<Value, String>> = OnceLock::new();
    // Its base cells come from the base run's results (same keys): that run goes first.
    let _ = base_run();
    shared(&R, "self-test", || {
        let m = root().join("tests/selftest/matrix.toml");
        run_matrix(
            "selftest",
            &[
                "--matrix",
                m.to_str().unwrap(),
                "--boot-timeout",
                BOOT_TIMEOUT,
            ],
            1,
        )
    })
}

fn cells(v: &Value) -> &Vec<Value> {
    v["cells"].as_array().unwrap()
}

fn stage<'a>(cell: &'a Value, name: &str) -> &'a Value {
    cell["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == name)
        .unwrap_or_else(|| panic!("no stage {name} in {cell}"))
}

fn cell<'a>(v: &'a Value, entry: &str, arch: &str) -> &'a Value {
    cells(v)
        .iter()
        .find(|c| c["entry"] == entry && c["arch"] == arch)
        .unwrap_or_else(|| panic!("no cell {entry}.{arch}"))
}

/// The shipped expectation (expectations.toml, and the self-test's copy) met by `c`: the
/// base's task.rs doctest, expected to fail, failed (xfail).
const DOCTEST_EXPECTATION: &str = "task-rs-group-leader-pid";

/// The self-test's expectation that the seed `kunit-fixed` meets as an xpass.
const FIXED_EXPECTATION: &str = "selftest-seeded-failure";

fn assert_xfail(c: &Value, arch: &str) {
    let met = c["expectations"].as_array().cloned().unwrap_or_default();
    assert!(
        met.iter().any(|m| m["id"] == DOCTEST_EXPECTATION
            && m["outcome"] == "xfail"
            && m["matched"]["kunit"] == "rust_doctests_kernel.rust_doctest_kernel_task_rs_1"
            && !m["reason"].as_str().unwrap_or_default().is_empty()
            && m["link"]
                .as_str()
                .unwrap_or_default()
                .starts_with("https://")),
        "{} {arch}: the doctest is not an xfail of `{DOCTEST_EXPECTATION}`: {}",
        c["entry"],
        c["expectations"]
    );
}

#[test]
fn tagged_base_builds_boots_and_tests_on_all_four_arches() {
    let v = base_run();
    let cs: Vec<&Value> = cells(v)
        .iter()
        .filter(|c| c["entry"] == "base" && c["base"] == "v7.2.x")
        .collect();
    let arches: Vec<&str> = cs.iter().map(|c| c["arch"].as_str().unwrap()).collect();
    assert_eq!(arches, ["x86_64", "arm64", "riscv64", "loongarch64"]);
    // Time worked apart from time waited: four cells share two job tokens, so some stages
    // wait, and that wait is recorded as `queued_s`; every boot's own time is then under its
    // deadline (the run's 30 s), however long it queued behind the other arches' makes.
    let queued: f64 = cs
        .iter()
        .flat_map(|c| c["stages"].as_array().unwrap())
        .filter_map(|s| s["queued_s"].as_f64())
        .sum();
    assert!(queued > 0.0, "no stage of four cells on -j2 ever queued");
    for c in &cs {
        let boot = stage(c, "boot");
        assert!(boot["duration_s"].as_f64().unwrap() < 60.0, "{boot}");
    }
    for c in cs {
        let arch = c["arch"].as_str().unwrap();
        for s in ["toolchain", "config", "build", "boot"] {
            assert_eq!(
                stage(c, s)["status"],
                "pass",
                "{arch} {s}: {}",
                stage(c, s)["summary"]
            );
        }
        // The base's lints are clean; objtool runs where the config has CONFIG_OBJTOOL
        // (x86_64) and is skipped, saying so, elsewhere.
        for s in ["clippy", "rustfmt", "rustdoc"] {
            assert_eq!(stage(c, s)["status"], "pass", "{arch} {s}: {}", stage(c, s));
        }
        // Clippy's folder starts as a copy of the build folder at another path, its saved
        // commands moved there: what clippy does not check (`core`, objtool) is not remade.
        let clippy_log = std::fs::read_to_string(
            PathBuf::from(v["_out"].as_str().unwrap())
                .join(c["dir"].as_str().unwrap())
                .join("clippy.log"),
        )
        .unwrap();
        assert!(
            clippy_log.contains("CLIPPY L rust/kernel.o")
                && !clippy_log.contains("L rust/core.o")
                && !clippy_log.contains("tools/objtool/objtool"),
            "{arch}: {clippy_log}"
        );
        let objtool = stage(c, "objtool");
        if arch == "x86_64" {
            assert_eq!(objtool["status"], "pass", "{objtool}");
        } else {
            assert_eq!(objtool["status"], "skip", "{arch}: {objtool}");
            assert!(
                objtool["summary"]
                    .as_str()
                    .unwrap()
                    .contains("CONFIG_OBJTOOL"),
                "{arch}: {objtool}"
            );
        }
        // KUnit fails for the base's one known doctest crash on this tiny config, and for
        // nothing else.
        assert_eq!(
            stage(c, "kunit")["status"],
            "fail",
            "{arch}: {}",
            stage(c, "kunit")
        );
        assert_eq!(
            bad_tests(c),
            ["rust_doctests_kernel.rust_doctest_kernel_task_rs_1"],
            "{arch}"
        );
        // ... which expectations.toml expects: an xfail with its id, reason and link, and the
        // base cell is not failing for it.
        assert_xfail(c, arch);
        assert_eq!(c["health"]["verdict"], "pass", "{arch}: {}", c["health"]);
        let tests = c["kunit"]["tests"].as_array().unwrap();
        let doctests = tests
            .iter()
            .filter(|t| t["name"].as_str().unwrap().starts_with("rust_doctest_"))
            .count();
        assert!(doctests > 300, "{arch}: only {doctests} Rust doctests");
        assert!(
            c["toolchain"]["versions"]["rustc"].is_string()
                && c["toolchain"]["versions"]["bindgen"].is_string(),
            "{arch}"
        );
        assert!(c["base_commit"].as_str().unwrap().len() == 40);
        // The known crash of the base on this tiny config, reported with its place and oops.
        if let Some(t) = tests
            .iter()
            .find(|t| t["name"] == "rust_doctest_kernel_task_rs_1")
        {
            if t["status"] != "pass" {
                assert!(
                    t["status"] == "fail" || t["status"] == "crash",
                    "{arch}: {t}"
                );
                assert_eq!(t["location"], "rust/kernel/task.rs:71", "{arch}");
                let s = t["summary"].as_str().unwrap();
                assert!(
                    s.contains("fault") || s.contains("Oops") || s.contains("BUG"),
                    "{arch}: no oops excerpt in {s:?}"
                );
            }
        }
    }
}

/// Without a terminal, every running cell gets a line at least every 30 s (CI logs never sit
/// silent through a cold build), each saying its stage and how far its log has grown.
#[test]
fn plain_progress_has_a_line_per_running_cell_every_30_s() {
    let v = base_run();
    let log =
        std::fs::read_to_string(PathBuf::from(v["_out"].as_str().unwrap()).join("stderr.log"))
            .unwrap();
    let secs = |l: &str| -> Option<u32> {
        let t = l.strip_prefix('[')?.get(..8)?;
        let mut p = t.split(':').map(|x| x.parse::<u32>().ok());
        Some(p.next()?? * 3600 + p.next()?? * 60 + p.next()??)
    };
    let mut long_builds = 0;
    for c in cells(v) {
        let name = format!(
            "cell base-{}.{}:",
            c["base"].as_str().unwrap(),
            c["arch"].as_str().unwrap()
        );
        let times: Vec<u32> = log
            .lines()
            .filter(|l| l.contains(&name))
            .filter_map(secs)
            .collect();
        assert!(
            times.len() >= 2,
            "{name} has no start and end lines in:\n{log}"
        );
        for w in times.windows(2) {
            let gap = (w[1] + 86_400 - w[0]) % 86_400;
            // README's 30 s: a thread that looks every second, timestamps to the second,
            // and a second for a loaded machine (31 s at most seen on a 2-core machine at a
            // load of 6).
            assert!(gap <= 33, "{name} was silent for {gap}s:\n{log}");
        }
        // A build longer than two heartbeats has a heartbeat line of its own.
        let build = stage(c, "build");
        if build["duration_s"].as_f64().unwrap() > 65.0
            && !build["summary"].as_str().unwrap().contains("[cached]")
        {
            assert!(
                log.lines()
                    .any(|l| l.contains(&name) && l.contains("build for")),
                "{name}: no heartbeat in its build:\n{log}"
            );
            long_builds += 1;
        }
    }
    // A heartbeat says how far the stage's log has come (the objects built).
    if long_builds > 0 {
        assert!(
            log.lines().any(|l| l.contains("build steps so far")),
            "no heartbeat with progress:\n{log}"
        );
    }
}

/// Every console of the base run and the self-test, held to the base's own kunit_parser.py
/// (`oracle::compare`: every test's status and counts, the parse errors, the cases adding up
/// to its counts, the verdict), and to `kunit.py parse`'s exit status. No console is left
/// out: one kunit_parser cannot read fails the test.
#[test]
fn ktap_parser_agrees_with_kunit_py_on_every_console_of_the_runs() {
    let mut consoles = Vec::new();
    let mut paths = Vec::new();
    for run in [base_run(), selftest_run()] {
        let out = PathBuf::from(run["_out"].as_str().unwrap());
        for c in cells(run) {
            let console = out.join(c["dir"].as_str().unwrap()).join("console.log");
            // A cell that booted has its console; one that did not (an apply or build
            // failure, a cell from the result cache keeps its logs too) has none.
            if stage(c, "boot")["status"] == "skip" {
                continue;
            }
            consoles.push(std::fs::read(&console).unwrap_or_else(|e| {
                panic!(
                    "{}: a booted cell without its console: {e}",
                    console.display()
                )
            }));
            paths.push(console);
        }
    }
    assert!(consoles.len() >= 30, "only {} consoles", consoles.len());
    let tmp = tempfile::tempdir().unwrap();
    let (tag, kunit) = oracle::kunit_tool(tmp.path());
    let answers = oracle::ask(&kunit, &consoles, tmp.path());
    let (mut passed, mut failed, mut deliberate) = (0, 0, 0);
    for ((bytes, want), path) in consoles.iter().zip(&answers).zip(&paths) {
        match oracle::compare(bytes, want) {
            Ok(oracle::Agreement::Same { success: true }) => passed += 1,
            Ok(oracle::Agreement::Same { success: false }) => failed += 1,
            Ok(oracle::Agreement::Deliberate(why)) => {
                eprintln!("{}: deliberate difference {why}", path.display());
                deliberate += 1;
            }
            Err(e) => panic!("{}: {e}", path.display()),
        }
        // kunit.py itself: exit 0 exactly when its parser said SUCCESS.
        let o = Command::new("python3")
            .arg(kunit.join("kunit.py"))
            .arg("parse")
            .arg(path)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(if want["success"] == true { 0 } else { 1 }),
            "{}: kunit.py parse: {}",
            path.display(),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    eprintln!(
        "{} consoles compared with {tag}'s kunit_parser.py: the same verdict on {passed} \
         successes and {failed} failures, {deliberate} deliberately different",
        consoles.len()
    );
}

/// A cell's failed or crashed KUnit tests, `suite.name`, sorted.
fn bad_tests(c: &Value) -> Vec<String> {
    let mut v: Vec<String> = c["kunit"]["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["status"] == "fail" || t["status"] == "crash")
        .map(|t| {
            format!(
                "{}.{}",
                t["suite"].as_str().unwrap(),
                t["name"].as_str().unwrap()
            )
        })
        .collect();
    v.sort();
    v
}

/// What a seeded cell's stage `name` must say when the seed fails `target` with `status`
/// (`target` empty: a healthy seed), on `arch`, with the base's KUnit failing or not: the
/// stages before the target pass, those it stops are skipped, the rest run as on the base.
fn expected_status(
    name: &str,
    target: &str,
    status: &str,
    arch: &str,
    base_kunit_fails: bool,
) -> &'static [&'static str] {
    const ORDER: [&str; 11] = [
        "fetch",
        "apply",
        "toolchain",
        "config",
        "build",
        "boot",
        "kunit",
        "clippy",
        "rustfmt",
        "rustdoc",
        "objtool",
    ];
    let at = |s: &str| ORDER.iter().position(|o| *o == s).unwrap();
    if name == target {
        return match status {
            "fail" => &["fail"],
            // An expected failure that passed: the stage says what the base's KUnit says.
            "xpass" if base_kunit_fails => &["fail"],
            "xpass" => &["pass"],
            _ => &["error"],
        };
    }
    let stopped_at = match target {
        "apply" | "build" => Some(at(target)),
        _ => None,
    };
    if stopped_at.is_some_and(|t| at(name) > t) {
        return &["skip"];
    }
    match name {
        // A failed boot's console is read too: what KUnit says of it is the boot's story.
        "kunit" if target == "boot" => &["pass", "fail", "skip"],
        "kunit" if base_kunit_fails => &["fail"],
        "kunit" => &["pass"],
        // objtool runs where the config has CONFIG_OBJTOOL: x86_64 on the shipped configs.
        "objtool" if arch != "x86_64" => &["skip"],
        _ => &["pass"],
    }
}

#[test]
fn seeded_failures_get_the_right_stage_and_status() {
    let v = selftest_run();
    // The self-test's base cells are the base run's: its matrix words its `release` variant
    // otherwise (no description), which changes no result, so no base is built or linted
    // again.
    for c in cells(v).iter().filter(|c| c["entry"] == "base") {
        let build = stage(c, "build")["summary"].as_str().unwrap();
        assert!(
            build.ends_with("[cached]"),
            "{} base cell not from the result cache: {build}",
            c["arch"]
        );
    }
    // The base's own failures (its doctest that faults on the tiny config, with the boot
    // findings that fault leaves) are pre-existing on an entry that shows them too, never its
    // verdict: on each arch the good sample passes with them listed, and the seed whose init
    // warns fails for its own WARNING, not for the base's.
    let mut checked = 0;
    for arch in ["x86_64", "arm64", "riscv64", "loongarch64"] {
        let base = cell(v, "base", arch);
        let mut own: Vec<String> = base["kunit"]["tests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| !["pass", "skip"].contains(&t["status"].as_str().unwrap()))
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect();
        // A clean boot writes no `findings` at all.
        own.extend(
            stage(base, "boot")["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| f["identity"].as_str().unwrap().to_string()),
        );
        let good = cell(v, "good-sample", arch);
        assert_eq!(
            good["health"]["verdict"], "pass",
            "{arch}: {}",
            good["health"]
        );
        // The doctest expectations.toml expects is an xfail on the base cell (which then
        // does not fail) and on the entry's, not a pre-existing problem.
        assert_xfail(base, arch);
        assert_eq!(
            base["health"]["verdict"], "pass",
            "{arch}: {}",
            base["health"]
        );
        assert_xfail(good, arch);
        own.retain(|o| o != "rust_doctest_kernel_task_rs_1");
        let pre = good["health"]["preexisting"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| p.as_str().unwrap())
            .collect::<Vec<_>>()
            .join("\n");
        let splat = cell(v, "warning-splat", arch);
        let summary = splat["health"]["summary"].as_str().unwrap();
        assert!(summary.contains("rust_minimal"), "{arch}: {summary}");
        for o in &own {
            assert!(
                pre.contains(o.as_str()),
                "{arch}: the base's {o} not pre-existing: {pre}"
            );
            assert!(
                !summary.contains(o.as_str()),
                "{arch}: the base's {o} in {summary}"
            );
            checked += 1;
        }
    }
    // The base's only failure is the expected doctest: nothing else is left pre-existing.
    let _ = checked;
    let expect: BTreeMap<&str, (&str, &str)> = [
        ("good-sample", ("", "")),
        ("new-sample", ("", "")),
        ("build-error", ("build", "fail")),
        ("clippy-warning", ("clippy", "fail")),
        ("rustfmt-violation", ("rustfmt", "fail")),
        ("rustdoc-warning", ("rustdoc", "fail")),
        ("kunit-failure", ("kunit", "fail")),
        ("init-panic", ("boot", "fail")),
        ("init-error", ("boot", "fail")),
        ("init-hang", ("boot", "fail")),
        ("warning-splat", ("boot", "fail")),
        ("apply-conflict", ("apply", "fail")),
        ("modpost-undefined", ("build", "fail")),
        ("objtool-call", ("build", "fail")),
        ("objtool-warn", ("objtool", "fail")),
        ("helper-splat", ("boot", "fail")),
        // Healthy in release; their failures show only in the debug variant.
        ("atomic-sleep", ("", "")),
        ("lockdep-order", ("", "")),
        ("kasan-oob", ("", "")),
        // Passes the KUnit case expectations.toml expects it to fail: an xpass.
        ("kunit-fixed", ("kunit", "xpass")),
    ]
    .into_iter()
    .collect();
    const ARCHES: [&str; 4] = ["x86_64", "arm64", "riscv64", "loongarch64"];
    // Seeds whose verdict cannot depend on the arch run on x86_64 only (tests/selftest/matrix.toml).
    let one_arch = [
        "kunit-failure",
        "init-hang",
        "new-sample",
        "build-error",
        "init-error",
        "clippy-warning",
        "rustfmt-violation",
        "rustdoc-warning",
        "apply-conflict",
        "modpost-undefined",
        "objtool-call",
        "objtool-warn",
        "helper-splat",
        "atomic-sleep",
        "lockdep-order",
        "kasan-oob",
        "kunit-fixed",
    ];
    for (entry, (st, status)) in &expect {
        let arches: Vec<&str> = cells(v)
            .iter()
            .filter(|c| c["entry"] == *entry)
            .map(|c| c["arch"].as_str().unwrap())
            .collect();
        assert_eq!(
            arches,
            if one_arch.contains(entry) {
                &ARCHES[..1]
            } else {
                &ARCHES[..]
            },
            "{entry}"
        );
        for arch in arches {
            let c = cell(v, entry, arch);
            // The base's own KUnit failures on this arch: a cell whose KUnit ran shows them
            // and nothing else (but the seed's own).
            let base_bad: Vec<String> = bad_tests(cell(v, "base", arch));
            for s in c["stages"].as_array().unwrap() {
                let name = s["stage"].as_str().unwrap();
                let got = s["status"].as_str().unwrap();
                let want = expected_status(name, st, status, arch, !base_bad.is_empty());
                assert!(
                    want.contains(&got),
                    "{entry}.{arch}: {name} is {got}, not {want:?}: {}",
                    s["summary"]
                );
                if name == "kunit" && got != "skip" && *st != "kunit" && *st != "boot" {
                    assert_eq!(
                        bad_tests(c),
                        base_bad,
                        "{entry}.{arch}: KUnit failures other than the base's"
                    );
                    // It ran the base's suites: hundreds of Rust doctests, not an empty run.
                    assert!(
                        c["kunit"]["counts"]["passed"].as_u64().unwrap() > 300,
                        "{entry}.{arch}: {}",
                        c["kunit"]["counts"]
                    );
                }
            }
            // The health verdict says the same as the stages.
            let verdict = c["health"]["verdict"].as_str().unwrap();
            assert_eq!(
                verdict == "pass",
                st.is_empty(),
                "{entry}.{arch}: {}",
                c["health"]
            );
        }
    }
    // The xpass: an error of the expectations file (not the harness's, not the code's) that
    // names the expectation to delete, with its place. The base's own doctest stays an xfail
    // there, and the case expected to fail passed.
    {
        let fix = cell(v, "kunit-fixed", "x86_64");
        let h = &fix["health"];
        assert_eq!(h["verdict"], "error", "{h}");
        assert_eq!(h["fault"], "expectations", "{h}");
        assert_eq!(h["stage"], "kunit", "{h}");
        let summary = h["summary"].as_str().unwrap();
        assert!(
            summary.contains(FIXED_EXPECTATION)
                && summary.contains("tests/selftest/expectations.toml:")
                && summary.contains("delete"),
            "{summary}"
        );
        let met = fix["expectations"].as_array().unwrap();
        assert!(
            met.iter()
                .any(|m| m["id"] == FIXED_EXPECTATION && m["outcome"] == "xpass"),
            "{met:?}"
        );
        assert_xfail(fix, "x86_64");
        assert_eq!(bad_tests(fix), bad_tests(cell(v, "base", "x86_64")));
        let case = fix["kunit"]["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["suite"] == "rfl_selftest" && t["name"] == "seeded_failure");
        assert_eq!(case.map(|t| &t["status"]), Some(&"pass".into()), "{case:?}");
    }
    for arch in ARCHES {
        let boot = |e: &str| {
            stage(cell(v, e, arch), "boot")["summary"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert!(
            boot("init-panic").starts_with("panic"),
            "{arch}: {}",
            boot("init-panic")
        );
        assert!(
            boot("warning-splat").starts_with("warning"),
            "{arch}: {}",
            boot("warning-splat")
        );
        // The kernel's own file names, not paths a compiler cache rewrote.
        assert!(
            !boot("warning-splat").contains("../"),
            "{arch}: {}",
            boot("warning-splat")
        );
        // The arch-only error fails on arm64 and only there.
        let arch_only = stage(cell(v, "arm64-only-error", arch), "build");
        assert_eq!(
            arch_only["status"],
            if arch == "arm64" { "fail" } else { "pass" },
            "{arch}: {arch_only}"
        );
    }
    // The x86_64-only seeds whose verdict is read off the boot or KUnit.
    {
        let arch = "x86_64";
        let boot = |e: &str| {
            stage(cell(v, e, arch), "boot")["summary"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert!(
            boot("init-hang").starts_with("hang") && boot("init-hang").contains("rust_minimal"),
            "{arch}: {}",
            boot("init-hang")
        );
        // A patchset's new Kconfig option is enabled, its module built, loaded and unloaded.
        assert!(
            boot("new-sample").contains("rust_rfl_selftest"),
            "{arch}: {}",
            boot("new-sample")
        );
        // ... in a stand-in at the base folder's path: the config change rebuilds its module,
        // not every Rust crate (as a copy at another path did).
        let ns = cell(v, "new-sample", arch);
        let log = std::fs::read_to_string(
            PathBuf::from(v["_out"].as_str().unwrap())
                .join(ns["dir"].as_str().unwrap())
                .join("build.log"),
        )
        .unwrap();
        assert!(
            log.contains("samples/rust/rust_rfl_selftest.o") && !log.contains("rust/core.o"),
            "{arch}: the new sample's build:\n{log}"
        );
        // Its option moves nothing rustdoc reads (no file under rust/ or include/ names it):
        // the base's rustdoc stands.
        // (Expected to be reused since samples/ Makefiles count as unread; not yet seen end
        // to end, so a rustdoc that ran and passed is accepted too.)
        assert_eq!(
            stage(ns, "rustdoc")["status"],
            "pass",
            "{arch}: {}",
            stage(ns, "rustdoc")
        );
        let kunit = cell(v, "kunit-failure", arch);
        let t = kunit["kunit"]["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "seeded_failure")
            .expect("module KUnit suite parsed");
        assert_eq!(t["status"], "fail", "{arch}");
        assert_eq!(
            t["suite"], "rfl_selftest",
            "{arch}: suites {} in {}/console.log",
            kunit["kunit"]["suites"], kunit["dir"]
        );
    }
    // Links that loop under rust/ (rustdoc-warning's) end no walk: the config stage (which
    // looks for the tree's Kconfig.test files) takes seconds, as for any other entry.
    let config = stage(cell(v, "rustdoc-warning", "x86_64"), "config");
    assert!(config["duration_s"].as_f64().unwrap() < 60.0, "{config}");
    let build = stage(cell(v, "build-error", "x86_64"), "build");
    assert!(
        build["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["file"] == "samples/rust/rust_minimal.rs" && d["level"] == "error"),
        "{build}"
    );
    assert!(
        stage(cell(v, "clippy-warning", "x86_64"), "clippy")["diagnostics"]
            .to_string()
            .contains("rust_minimal.rs")
    );
    assert!(
        stage(cell(v, "rustfmt-violation", "x86_64"), "rustfmt")["diagnostics"]
            .to_string()
            .contains("rust_minimal.rs")
    );
    let rustdoc = stage(cell(v, "rustdoc-warning", "x86_64"), "rustdoc");
    assert!(
        rustdoc["summary"]
            .to_string()
            .contains("NoSuchItemAnywhere"),
        "{rustdoc}"
    );
    // No QEMU left behind by the hang: looked for while no other heavy run can have one.
    let _g = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let ps = Command::new("pgrep")
        .args(["-f", "qemu-system-"])
        .output()
        .unwrap();
    assert!(
        ps.stdout.is_empty(),
        "leftover qemu: {}",
        String::from_utf8_lossy(&ps.stdout)
    );
}

/// The same seeded cell built from nothing in an empty output folder (`--clean`) gives the
/// result the incremental cell gave: every stage's status up to KUnit, every KUnit verdict,
/// the boot's. Up to KUnit (`--stage kunit`): what the build folder decides; the lints'
/// folders are the incremental path's own, and a clean cell's lints would cost CI minutes.
#[test]
fn an_incremental_cell_equals_a_clean_build_of_it() {
    let inc = cell(selftest_run(), "kunit-failure", "x86_64").clone();
    let m = root().join("tests/selftest/matrix.toml");
    let clean = run_matrix(
        "clean",
        &[
            "--matrix",
            m.to_str().unwrap(),
            "--boot-timeout",
            BOOT_TIMEOUT,
            "--cells",
            "kunit-failure@v7.2.x@x86_64",
            "--clean",
            "--stage",
            "kunit",
        ],
        EXIT_CLEAN,
    );
    let c = cell(&clean, "kunit-failure", "x86_64");
    let statuses = |c: &Value| {
        c["stages"]
            .as_array()
            .unwrap()
            .iter()
            .take_while(|s| s["stage"] != "clippy")
            .map(|s| format!("{}={}", s["stage"], s["status"]))
            .collect::<Vec<_>>()
    };
    assert!(
        statuses(c).iter().any(|s| s.starts_with("\"kunit\"")),
        "{c}"
    );
    assert_eq!(statuses(c), statuses(&inc));
    let verdicts = |c: &Value| {
        let mut v: Vec<(String, String)> = c["kunit"]["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    format!("{}.{}", t["suite"], t["name"]),
                    t["status"].to_string(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert!(verdicts(c).len() > 300);
    assert_eq!(verdicts(c), verdicts(&inc));
    let first_word = |c: &Value, s: &str| {
        stage(c, s)["summary"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(first_word(c, "boot"), first_word(&inc, "boot"));
    // It really was built from nothing: its own config, every object compiled.
    assert!(
        !stage(c, "config")["summary"]
            .as_str()
            .unwrap()
            .contains("the base's config"),
        "{}",
        stage(c, "config")
    );
    let out = PathBuf::from(clean["_out"].as_str().unwrap());
    let log =
        std::fs::read_to_string(out.join(c["dir"].as_str().unwrap()).join("build.log")).unwrap();
    assert!(
        log.contains("init/main.o") && log.contains("rust/core.o"),
        "the clean build did not compile everything"
    );
}

/// Plain entries build in the base's own output folders. After the self-test's entries, the
/// base cell run again from scratch of its result (`--force`) gives the base's result, and
/// its make rebuilds only what the files the entries changed feed: the folder is the base's.
#[test]
fn a_base_cell_after_entries_builds_from_a_base_identical_tree() {
    let before = cell(base_run(), "base", "arm64").clone();
    let st = selftest_run();
    // What the entries changed in the tree (their patches' files): every arch's, since the
    // arches share one worktree, and a file an x86_64-only entry changed and the worktree put
    // back is newer than the arm64 objects built from it too (rustdoc-warning's rust/kernel).
    let mut touched = std::collections::BTreeSet::new();
    for c in cells(st)
        .iter()
        .filter(|c| c["entry"] != "base" && stage(c, "apply")["status"] == "pass")
    {
        let p = root()
            .join("tests/selftest/patches")
            .join(format!("{}.patch", c["entry"].as_str().unwrap()));
        for l in std::fs::read_to_string(&p)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("+++ b/"))
        {
            touched.insert(l.rsplit_once('.').map_or(l, |(stem, _)| stem).to_string());
        }
    }
    let m = root().join("tests/selftest/matrix.toml");
    // Up to KUnit: what the build folder decides (clippy has a folder of its own).
    let again = run_matrix(
        "base-again",
        &[
            "--matrix",
            m.to_str().unwrap(),
            "--entry",
            "base",
            "--arch",
            "arm64",
            "--boot-timeout",
            BOOT_TIMEOUT,
            "--force",
            "--stage",
            "kunit",
        ],
        EXIT_BASE_AGAIN,
    );
    let c = cell(&again, "base", "arm64");
    let statuses = |c: &Value| {
        c["stages"]
            .as_array()
            .unwrap()
            .iter()
            .take_while(|s| s["stage"] != "clippy")
            .map(|s| format!("{}={}", s["stage"], s["status"]))
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses(c), statuses(&before));
    assert!(
        statuses(c).iter().any(|s| s.starts_with("\"kunit\"")),
        "{c}"
    );
    let verdicts = |c: &Value| {
        let mut v: Vec<String> = c["kunit"]["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| format!("{}.{}={}", t["suite"], t["name"], t["status"]))
            .collect();
        v.sort();
        v
    };
    assert!(verdicts(c).len() > 300);
    assert_eq!(verdicts(c), verdicts(&before));
    let out = PathBuf::from(again["_out"].as_str().unwrap());
    let log =
        std::fs::read_to_string(out.join(c["dir"].as_str().unwrap()).join("build.log")).unwrap();
    // Every object compiled again comes from a file an entry changed, and the last entry's
    // change was really undone (its object rebuilt from the base's source).
    let compiled: Vec<&str> = log
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let tool = w.next()?;
            (["CC", "RUSTC", "AS", "HOSTCC", "HOSTRUSTC"].contains(&tool))
                .then(|| w.find(|x| x.ends_with(".o")))
                .flatten()
        })
        .collect();
    // The last entry that built in the arm64 base folder (its config was the base's, so no
    // stand-in) decides what is compiled again, whatever order the seeds ran in: when it
    // changed a C or Rust file, something must be.
    let last = cells(st)
        .iter()
        .filter(|c| c["arch"] == "arm64" && c["entry"] != "base")
        .filter(|c| {
            stage(c, "build")["status"] != "skip"
                && !stage(c, "build")["summary"]
                    .as_str()
                    .unwrap()
                    .ends_with("[cached]")
                && stage(c, "config")["summary"]
                    .as_str()
                    .unwrap()
                    .starts_with("the base's config")
        })
        .max_by_key(|c| c["started"].as_str().unwrap().to_string());
    if let Some(last) = last {
        let p = root()
            .join("tests/selftest/patches")
            .join(format!("{}.patch", last["entry"].as_str().unwrap()));
        let changed_code = std::fs::read_to_string(&p)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("+++ b/"))
            .any(|f| f.ends_with(".rs") || f.ends_with(".c"));
        assert!(
            !changed_code || !compiled.is_empty(),
            "nothing was rebuilt after {}: its changes were never undone?\n{log}",
            last["entry"]
        );
    }
    // What a changed file feeds: its own object; for a file of a Rust crate under rust/, the
    // crate's object and what builds on it (its exports, the doctests made from it, the Rust
    // samples); and, once vmlinux is linked again, the objects every link makes.
    let crates: Vec<String> = touched
        .iter()
        .filter_map(|t| t.strip_prefix("rust/")?.split_once('/'))
        .map(|(krate, _)| format!("rust/{krate}"))
        .collect();
    let fed = |stem: &str| {
        touched.contains(stem)
            || (!crates.is_empty()
                && (crates.iter().any(|c| c == stem)
                    || stem == "rust/exports"
                    || stem.starts_with("rust/doctests_")
                    || stem.starts_with("samples/rust/")))
            || stem == "init/version-timestamp"
            || stem.starts_with(".tmp_vmlinux")
    };
    for o in &compiled {
        let stem = o.trim_end_matches(".o").trim_end_matches(".mod");
        assert!(
            fed(stem),
            "{o} rebuilt, but no entry changed what it is built from ({touched:?})"
        );
    }
}

/// The shipped matrix's rows whose link is a file in the tagged base, and whether that file is
/// there (`present in the base`) or not (`absent from the base`): each row's known state.
const MERGED_ROWS: [(&str, bool); 5] = [
    ("condvar", true),
    ("ioctrl", true),
    ("phy", true),
    ("task", true),
    ("workqueue", true),
];

/// The shipped matrix, run as far as apply with every remote host mirrored to a closed
/// loopback port (so it is unreachable here and on any machine, by construction): the
/// merged rows are checked in the tagged base, each in its known state; every other row is
/// unreachable, at once, through the mirror.
#[test]
fn shipped_matrix_applies_offline_and_unreachable_remotes_answer_at_once() {
    let _ = base_run();
    // A port nothing listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let shipped = std::fs::read_to_string(root().join("matrix.toml")).unwrap();
    let closed = format!("http://127.0.0.1:{port}/");
    let mirrors: String = [
        "https://git.kernel.org/",
        "https://github.com/",
        "https://gitlab.freedesktop.org/",
        "https://lore.kernel.org/",
        "https://elixir.bootlin.com/",
    ]
    .iter()
    .map(|h| {
        format!(
            "\"{h}\" = \"{closed}{}/\"\n",
            h.trim_start_matches("https://").trim_end_matches('/')
        )
    })
    .collect();
    assert!(
        shipped.contains("\n[mirrors]\n"),
        "the shipped matrix has a [mirrors] table"
    );
    let text = shipped.replacen("\n[mirrors]\n", &format!("\n[mirrors]\n{mirrors}"), 1);
    let dir = cache().join("test-runs/shipped-offline");
    std::fs::create_dir_all(&dir).unwrap();
    let m = dir.join("matrix.toml");
    std::fs::write(&m, text).unwrap();
    let v = run_matrix(
        "apply",
        &["--matrix", m.to_str().unwrap(), "--stage", "apply"],
        EXIT_APPLY,
    );
    // A hang guard only: how fast an unreachable remote answers is asserted per cell below,
    // from the time its fetch stage ran.
    assert!(
        v["_elapsed_s"].as_f64().unwrap() < 600.0,
        "took {}",
        v["_elapsed_s"]
    );
    let skipped: Vec<&str> = v["skipped_entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    let entries: std::collections::BTreeSet<&str> = cells(&v)
        .iter()
        .filter(|c| c["entry"] != "base")
        .map(|c| c["entry"].as_str().unwrap())
        .collect();
    assert_eq!(entries.len() + skipped.len(), 74);
    let mut merged = BTreeMap::new();
    for c in cells(&v).iter().filter(|c| c["entry"] != "base") {
        let id = c["entry"].as_str().unwrap();
        let fetch = stage(c, "fetch");
        let apply = stage(c, "apply");
        if c["base"] == "v7.2.x" && apply["status"] != "skip" {
            let s = apply["summary"].as_str().unwrap();
            let present = s.contains("present in the base");
            assert!(present || s.contains("absent from the base"), "{id}: {s}");
            merged.insert(id.to_string(), present);
        } else {
            let f = fetch["summary"].as_str().unwrap();
            assert!(
                f.contains("unreachable: ") && f.contains(&format!("127.0.0.1:{port}")),
                "{id}: {fetch}"
            );
            assert_eq!(fetch["fault"], "remote", "{id}: {fetch}");
            // Refused at once: the probe's 4 s connect timeout is never even reached.
            assert!(fetch["duration_s"].as_f64().unwrap() < 4.0, "{id}: {fetch}");
        }
        assert_eq!(stage(c, "build")["status"], "skip");
    }
    let want: BTreeMap<String, bool> = MERGED_ROWS
        .iter()
        .map(|(id, p)| (id.to_string(), *p))
        .collect();
    assert_eq!(
        merged, want,
        "the merged rows and their state in the tagged base"
    );
    let task = cell(&v, "task", "x86_64");
    assert_eq!(stage(task, "apply")["status"], "pass");
}

#[test]
fn setup_is_idempotent_and_provisions_the_same_shas() {
    let _g = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let refs = || {
        let o = Command::new("git")
            .arg("--git-dir")
            .arg(cache().join("store.git"))
            .args(["for-each-ref", "refs/rfl/bases"])
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap()
    };
    let before = refs();
    assert!(
        before.contains("refs/rfl/bases/v7.2.x") && before.contains("refs/rfl/bases/v6.12.x"),
        "{before}"
    );
    let o = xtask().arg("setup").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(before, refs());
    let d = xtask().arg("doctor").output().unwrap();
    let out = String::from_utf8_lossy(&d.stdout);
    assert!(d.status.success(), "{out}");
    for tool in [
        "rustc",
        "rust-src",
        "bindgen",
        "clang",
        "ld.lld",
        "qemu-system-x86_64",
        "qemu-system-aarch64",
        "qemu-system-riscv64",
        "qemu-system-loongarch64",
    ] {
        assert!(
            out.lines()
                .any(|l| l.trim_start().starts_with(tool) && l.chars().any(|c| c.is_ascii_digit())),
            "doctor lists no version for {tool}:\n{out}"
        );
    }
}

/// A real rustc that cannot serve the base: Debian's, behind a wrapper whose sysroot has no
/// rust-src (the same on every machine, unlike a rustup toolchain that may or may not be
/// there). The toolchain stage fails, the fault is the toolchain's, nothing is built.
#[test]
fn a_toolchain_that_cannot_serve_is_the_toolchains_fault() {
    let _ = base_run();
    let dir = cache().join("test-runs/toolchain-matrix");
    let sysroot = dir.join("sysroot-without-rust-src");
    std::fs::create_dir_all(sysroot.join("lib/rustlib")).unwrap();
    let wrapper = dir.join("rustc");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --print ] && [ \"$2\" = sysroot ]; then echo '{}'; exit 0; fi\nexec /usr/bin/rustc \"$@\"\n",
            sysroot.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let m = matrix_with_toolchain("other", &wrapper, &dir);
    let v = run_matrix(
        "toolchain",
        &[
            "--matrix",
            m.to_str().unwrap(),
            "--entry",
            "base",
            "--toolchain",
            "other",
            "--stage",
            "config",
        ],
        EXIT_TOOLCHAIN,
    );
    let c = &cells(&v)[0];
    let t = stage(c, "toolchain");
    assert_eq!(t["status"], "fail", "{t}");
    assert_eq!(t["fault"], "toolchain", "{t}");
    let summary = t["summary"].as_str().unwrap();
    assert!(
        summary.contains("cannot serve") && summary.contains("has no rust-src"),
        "{t}"
    );
    assert_eq!(stage(c, "build")["status"], "skip");
}

/// The self-test matrix with a second toolchain, `name`, whose rustc is `rustc`, written in
/// `dir`; its path.
fn matrix_with_toolchain(name: &str, rustc: &Path, dir: &Path) -> PathBuf {
    let rustc = format!("\"{}\"", rustc.display());
    matrix_with_toolchain_as(name, &[("\"/usr/bin/rustc\"", &rustc)], dir)
}

/// The self-test matrix with a second toolchain `name`: `debian`'s, each `(from, to)` of its
/// text replaced.
fn matrix_with_toolchain_as(name: &str, edits: &[(&str, &str)], dir: &Path) -> PathBuf {
    let shipped = std::fs::read_to_string(root().join("tests/selftest/matrix.toml")).unwrap();
    let mut extra =
        selftest_toolchains().replace("[toolchains.debian]", &format!("[toolchains.{name}]"));
    for (from, to) in edits {
        assert!(extra.contains(from), "{from}");
        extra = extra.replace(from, to);
    }
    // The table must come before the first [[entry]] to stay a top-level table.
    let text = shipped.replacen(
        "[bases.\"v7.2.x\"]",
        &format!("{extra}\n[bases.\"v7.2.x\"]"),
        1,
    );
    std::fs::create_dir_all(dir).unwrap();
    let m = dir.join("matrix.toml");
    std::fs::write(&m, text).unwrap();
    m
}

fn marked_leftovers(harnesses: &[u32]) -> Vec<String> {
    // Processes these harness runs started (they carry the marker with the harness's pid) that
    // are still alive: another test's, or another suite's on the same machine, are not ours.
    let marks: Vec<String> = harnesses
        .iter()
        .map(|p| format!("RFL_HARNESS_CHILD={p}"))
        .collect();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if e.file_name().to_string_lossy().parse::<u32>().is_err() {
            continue;
        }
        let env = std::fs::read(e.path().join("environ")).unwrap_or_default();
        if env
            .split(|b| *b == 0)
            .any(|kv| marks.iter().any(|m| kv == m.as_bytes()))
        {
            let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            out.push(String::from_utf8_lossy(&cmd).replace('\0', " "));
        }
    }
    out
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn sigint_and_kill_9_mid_run_then_resume_loses_and_redoes_nothing() {
    let _ = selftest_run();
    let _g = HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let m = root().join("tests/selftest/matrix.toml");
    let out = cache().join("test-runs/interrupted");
    let _ = std::fs::remove_dir_all(&out);
    let start = |extra: &[&str]| {
        xtask()
            .args([
                "matrix",
                "--matrix",
                m.to_str().unwrap(),
                "--entry",
                "good-sample",
                "--entry",
                "build-error",
                "--arch",
                "x86_64",
                // As far as the build: what an interrupt cuts into, and (like --force) never
                // a cell from the result cache, so the base cell is built again too.
                "--stage",
                "build",
                "--out",
            ])
            .arg(&out)
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let results = || -> Option<Value> {
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).ok()?).ok()
    };
    let finished = || results().map_or(0, |v| cells(&v).len());

    // SIGINT while the first entry builds: exit 130, the base cell kept, the run marked.
    let mut harnesses = Vec::new();
    let mut child = start(&[]);
    harnesses.push(child.id());
    wait_for("the base cell", Duration::from_secs(900), || {
        finished() >= 1
    });
    wait_for("the entry's build", Duration::from_secs(300), || {
        out.join("cells/good-sample.x86_64/build.log").is_file()
            || out.join("cells/good-sample.x86_64/config.log").is_file()
    });
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let v = results().unwrap();
    assert_eq!(v["interrupted"], true);
    assert_eq!(
        cells(&v).len(),
        1,
        "only the finished base cell is recorded"
    );
    let base_started = cells(&v)[0]["started"].clone();
    wait_for("children to end", Duration::from_secs(10), || {
        marked_leftovers(&harnesses).is_empty()
    });

    // kill -9 during the next attempt, then --resume: nothing finished is redone or lost.
    let _ = std::fs::remove_dir_all(out.join("cells/good-sample.x86_64"));
    let mut child = start(&["--resume"]);
    harnesses.push(child.id());
    wait_for("the entry's build again", Duration::from_secs(300), || {
        out.join("cells/good-sample.x86_64/build.log").is_file()
    });
    std::thread::sleep(Duration::from_secs(2));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
    let mut child = start(&["--resume"]);
    harnesses.push(child.id());
    let status = child.wait().unwrap();
    // The run completed; build-error fails its build, so `--fail-on fail` (the default) says 1.
    assert_eq!(status.code(), Some(1));
    assert!(
        marked_leftovers(&harnesses).is_empty(),
        "left running: {:?}",
        marked_leftovers(&harnesses)
    );
    let v = results().unwrap();
    assert_eq!(v["interrupted"], false);
    let names: Vec<String> = cells(&v)
        .iter()
        .map(|c| c["entry"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["base", "good-sample", "build-error"]);
    assert_eq!(
        cells(&v)[0]["started"],
        base_started,
        "the finished base cell was not redone"
    );
    // The same verdicts as the uninterrupted self-test run, as far as this run went.
    let reference = selftest_run();
    let upto_build = |c: &Value| -> Vec<(String, String)> {
        let stages = c["stages"].as_array().unwrap();
        let n = stages.iter().position(|s| s["stage"] == "build").unwrap() + 1;
        stages[..n]
            .iter()
            .map(|s| (s["stage"].to_string(), s["status"].to_string()))
            .collect()
    };
    for e in ["good-sample", "build-error"] {
        let (a, b) = (
            upto_build(cell(&v, e, "x86_64")),
            upto_build(cell(reference, e, "x86_64")),
        );
        assert_eq!(a, b, "{e}");
        assert_eq!(a.len(), 5, "fetch to build: {a:?}");
    }
}

#[test]
fn all_five_reports_from_the_real_runs() {
    let base = PathBuf::from(base_run()["_out"].as_str().unwrap()).join("results.json");
    let selftest = PathBuf::from(selftest_run()["_out"].as_str().unwrap()).join("results.json");
    let dir = cache().join("test-runs/reports");
    std::fs::create_dir_all(&dir).unwrap();
    for (format, file) in [
        ("text", "report.txt"),
        ("markdown", "summary.md"),
        ("junit", "junit.xml"),
        ("kcidb", "kcidb.json"),
        ("html", "index.html"),
    ] {
        let o = xtask()
            .args([
                "report",
                "--fail-on",
                "never",
                "--format",
                format,
                "--output",
            ])
            .arg(dir.join(file))
            .arg("--results")
            .arg(&base)
            .arg("--results")
            .arg(&selftest)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            std::fs::metadata(dir.join(file)).unwrap().len() > 100,
            "{format} is empty"
        );
    }
    let py = "import sys, xml.etree.ElementTree as E\nr = E.parse(sys.argv[1]).getroot()\nnames = [c.get('name') for c in r.findall('.//testcase')]\nassert 'seeded_failure' in names and 'rust_doctest_kernel_task_rs_1' in names\nprint(len(names))";
    let o = Command::new("python3")
        .args(["-c", py])
        .arg(dir.join("junit.xml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let venv_py = cache().join("venv/bin/python3");
    let o = Command::new(&venv_py).args(["-c", "import json, sys, kcidb_io; kcidb_io.schema.LATEST.validate(json.load(open(sys.argv[1])))"]).arg(dir.join("kcidb.json")).output().unwrap();
    assert!(
        o.status.success(),
        "kcidb-io: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    // Markdown-escaped (GitHub renders `x86\_64` as x86_64).
    assert!(
        md.len() < 1024 * 1024 && md.contains("| x86\\_64 |"),
        "{md}"
    );
    let text = std::fs::read_to_string(dir.join("report.txt")).unwrap();
    // The base's crash is an expected failure (xfail) for every cell, with its reason and
    // link, never the entry's failure.
    assert!(
        text.contains("known failures (expectations.toml)") && text.contains(DOCTEST_EXPECTATION),
        "{text}"
    );
    // Not among the failing cells (the known failures' section lists its xfails).
    let failing = text
        .split("failing cells:")
        .nth(1)
        .map(|t| t.split("\n\n").next().unwrap_or(t))
        .unwrap_or("");
    assert!(
        !failing.lines().any(|l| l.starts_with("  good-sample.")),
        "good-sample reported failing:\n{text}"
    );
}

/// A failing cell's summary is the tool's own line, not make's echo: modpost naming the
/// symbol, objtool naming the function, and a WARNING raised inside generic code blamed on
/// the Rust frame that called it, demangled.
/// The first line of a stage's summary: what a report shows of it.
fn first_line(stage: &Value) -> &str {
    stage["summary"]
        .as_str()
        .unwrap()
        .lines()
        .next()
        .unwrap_or("")
}

#[test]
fn a_failing_cell_says_why_in_its_first_line() {
    let v = selftest_run();
    let build = |e: &str| stage(cell(v, e, "x86_64"), "build").clone();
    let b = build("modpost-undefined");
    let summary = first_line(&b);
    assert!(
        summary.contains("modpost") && summary.contains("rfl_selftest_nowhere"),
        "{b}"
    );
    assert!(!summary.starts_with("error: make"), "{b}");
    let first = &b["diagnostics"][0];
    assert!(
        first["message"]
            .as_str()
            .unwrap()
            .contains("rfl_selftest_nowhere"),
        "{b}"
    );
    let b = build("objtool-call");
    let summary = first_line(&b);
    assert!(
        summary.contains("objtool")
            && summary.contains("unannotated intra-function call")
            && summary.contains("rust_minimal"),
        "{b}"
    );
    assert!(b["diagnostics"][0]["file"]
        .as_str()
        .is_some_and(|f| f.ends_with("rust_minimal.o")));
    // An objtool warning passes the build and fails the objtool check, naming the Rust
    // object and its (demangled) function; the base's own check has nothing against it.
    let c = cell(v, "objtool-warn", "x86_64");
    assert_eq!(stage(c, "build")["status"], "pass", "{}", stage(c, "build"));
    let o = stage(c, "objtool");
    let summary = first_line(o);
    assert!(
        summary.starts_with("samples/rust/rust_minimal.o: warning: objtool:")
            && summary.contains("rust_minimal")
            && !summary.contains("_RNv"),
        "{o}"
    );
    assert_eq!(c["health"]["stage"], "objtool", "{}", c["health"]);
    for arch in ["x86_64", "arm64"] {
        let base = stage(cell(v, "base", arch), "objtool");
        let want = if arch == "x86_64" { "pass" } else { "skip" };
        assert_eq!(base["status"], want, "{arch}: {base}");
    }
    let c = cell(v, "helper-splat", "x86_64");
    let boot = stage(c, "boot");
    let summary = first_line(boot);
    assert!(
        summary.contains("WARNING")
            && summary.contains("rust_minimal::RustMinimal as kernel::Module>::init")
            && summary.contains("[rust_minimal]"),
        "{boot}"
    );
    assert!(!summary.contains("_RNv"), "a mangled name: {boot}");
}

/// `git ARGS` in `repo` (a bare repository), with `index` as its index when given; stdout.
fn git_in(repo: &Path, index: Option<&Path>, args: &[&str]) -> String {
    let mut c = Command::new("git");
    c.arg("--git-dir").arg(repo).args(args);
    if let Some(i) = index {
        c.env("GIT_INDEX_FILE", i);
    }
    for (k, v) in [("NAME", "RFL self-test"), ("EMAIL", "selftest@invalid")] {
        c.env(format!("GIT_AUTHOR_{k}"), v)
            .env(format!("GIT_COMMITTER_{k}"), v);
    }
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// A bare repository under the test runs that borrows the store's objects, so commits on the
/// tagged base cost no copy of the kernel; and the base's commit.
fn borrowed_repo(name: &str) -> (PathBuf, String) {
    let _ = base_run();
    let store = cache().join("store.git");
    let base = git_in(
        &store,
        None,
        &["rev-parse", "refs/rfl/bases/v7.2.x^{commit}"],
    );
    let repo = cache().join("test-runs").join(name);
    let _ = std::fs::remove_dir_all(&repo);
    std::fs::create_dir_all(&repo).unwrap();
    git_in(&repo, None, &["init", "--quiet", "--bare"]);
    std::fs::write(
        repo.join("objects/info/alternates"),
        format!("{}\n", store.join("objects").display()),
    )
    .unwrap();
    (repo, base)
}

/// A commit on `parent`: its tree with `edit` run on an index of its own (never a checkout).
fn commit_on(repo: &Path, parent: &str, msg: &str, edit: impl FnOnce(&Path)) -> String {
    let index = repo.join("scratch-index");
    git_in(repo, Some(&index), &["read-tree", parent]);
    edit(&index);
    let tree = git_in(repo, Some(&index), &["write-tree"]);
    let _ = std::fs::remove_file(&index);
    git_in(repo, None, &["commit-tree", &tree, "-p", parent, "-m", msg])
}

/// `try --mbox` and `try --git` run a series in hand on the tagged base as the self-test runs
/// it: the base cell is the base run's, and the same change is the same patchset (and result)
/// whether it came as a mail, a git ref, or a matrix entry. Its repro line runs the `try` again.
#[test]
fn try_runs_a_mail_and_a_git_ref_on_the_tagged_base_as_the_matrix_does() {
    let want = cell(selftest_run(), "good-sample", "x86_64");
    let m = root().join("tests/selftest/matrix.toml");
    let patch = root().join("tests/selftest/patches/good-sample.patch");
    let (repo, base) = borrowed_repo("try-up.git");
    let head = commit_on(
        &repo,
        &base,
        "samples: rust: minimal: a harmless change",
        |index| {
            git_in(
                &repo,
                Some(index),
                &["apply", "--cached", patch.to_str().unwrap()],
            );
        },
    );
    git_in(&repo, None, &["update-ref", "refs/heads/good", &head]);
    let url = format!("file://{}", repo.display());
    for (name, series) in [
        ("try-mbox", vec!["--mbox", patch.to_str().unwrap()]),
        ("try-git", vec!["--git", &url, "--ref", "good"]),
    ] {
        let mut args = series.clone();
        args.extend([
            "--base",
            "v7.2.x",
            "--arch",
            "x86_64",
            "--boot-timeout",
            BOOT_TIMEOUT,
        ]);
        args.extend(["--matrix", m.to_str().unwrap()]);
        let v = run_xtask("try", name, &args, 0);
        let names: Vec<String> = cells(&v)
            .iter()
            .map(|c| {
                format!(
                    "{}.{}",
                    c["entry"].as_str().unwrap(),
                    c["arch"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(names, ["base.x86_64", "try.x86_64"], "{name}");
        let c = cell(&v, "try", "x86_64");
        assert_eq!(c["health"]["verdict"], "pass", "{name}: {}", c["health"]);
        assert_eq!(stage(c, "apply")["summary"], "applied 1 commits", "{name}");
        assert_eq!(c["patchset"]["hash"], want["patchset"]["hash"], "{name}");
        for s in ["build", "boot", "kunit", "clippy", "rustfmt", "rustdoc"] {
            assert_eq!(
                stage(c, s)["status"],
                stage(want, s)["status"],
                "{name} {s}"
            );
        }
        let repro = c["repro"].as_str().unwrap();
        assert!(
            repro.starts_with(&format!("cargo xtask try {}", series[0]))
                && repro.ends_with("--arch x86_64"),
            "{name}: {repro}"
        );
        // The base cell is the base run's, from the result cache.
        let b = cell(&v, "base", "x86_64");
        assert!(
            stage(b, "build")["summary"]
                .as_str()
                .unwrap()
                .ends_with("[cached]"),
            "{name}: {}",
            stage(b, "build")
        );
    }
}

/// A series already in the tagged base builds nothing and says so: as a mail whose diff
/// reverse-applies (a line of the base's rust_minimal.rs that a commit added), as a git ref
/// whose commits change nothing on the base, and as a git ref at the base itself (an
/// ancestor). The base has no history (an offline import), so the series is made on it.
#[test]
fn a_series_already_in_the_tagged_base_is_in_base_and_builds_nothing() {
    let (repo, base) = borrowed_repo("in-base-up.git");
    let file = "samples/rust/rust_minimal.rs";
    let text = git_in(&repo, None, &["show", &format!("{base}:{file}")]) + "\n";
    let greeting = "        pr_info!(\"Rust minimal sample (init)\\n\");\n";
    assert!(text.contains(greeting), "{text}");
    let without = text.replacen(greeting, "", 1);
    let dropped = commit_on(
        &repo,
        &base,
        "samples: rust: minimal: drop the greeting",
        |index| {
            let blob = {
                let mut c = Command::new("git")
                    .arg("--git-dir")
                    .arg(&repo)
                    .args(["hash-object", "-w", "--stdin"])
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .unwrap();
                use std::io::Write;
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(without.as_bytes())
                    .unwrap();
                String::from_utf8(c.wait_with_output().unwrap().stdout).unwrap()
            };
            let info = format!("100644,{},{file}", blob.trim());
            git_in(&repo, Some(index), &["update-index", "--cacheinfo", &info]);
        },
    );
    // The greeting back: the base's own tree, on top.
    let tree = git_in(&repo, None, &["rev-parse", &format!("{base}^{{tree}}")]);
    let greet = git_in(
        &repo,
        None,
        &[
            "commit-tree",
            &tree,
            "-p",
            &dropped,
            "-m",
            "samples: rust: minimal: greet on init",
        ],
    );
    git_in(&repo, None, &["update-ref", "refs/heads/greet", &greet]);
    git_in(&repo, None, &["update-ref", "refs/heads/at-base", &base]);
    let mbox = repo.join("greet.mbox");
    std::fs::write(
        &mbox,
        git_in(&repo, None, &["format-patch", "-1", "--stdout", &greet]) + "\n",
    )
    .unwrap();
    let url = format!("file://{}", repo.display());
    let m = root().join("tests/selftest/matrix.toml");
    for (name, series, how) in [
        (
            "in-base-mbox",
            vec!["--mbox", mbox.to_str().unwrap()],
            "already in the base",
        ),
        (
            "in-base-git",
            vec!["--git", &url, "--ref", "greet"],
            "already in the base: applied, its 2 commits change nothing",
        ),
        (
            "in-base-ancestor",
            vec!["--git", &url, "--ref", "at-base"],
            "already in the base: ",
        ),
    ] {
        let mut args = series;
        args.extend([
            "--base",
            "v7.2.x",
            "--arch",
            "x86_64",
            "--boot-timeout",
            BOOT_TIMEOUT,
        ]);
        args.extend(["--matrix", m.to_str().unwrap()]);
        let v = run_xtask("try", name, &args, 0);
        let c = cell(&v, "try", "x86_64");
        let apply = stage(c, "apply");
        assert_eq!(apply["in_base"], true, "{name}: {apply}");
        assert!(
            apply["summary"].as_str().unwrap().starts_with(how),
            "{name}: {apply}"
        );
        assert_eq!(c["health"]["verdict"], "in-base", "{name}");
        for s in [
            "toolchain",
            "config",
            "build",
            "boot",
            "kunit",
            "clippy",
            "rustfmt",
            "rustdoc",
        ] {
            assert_eq!(
                stage(c, s)["summary"],
                "the series is already in the base",
                "{name} {s}"
            );
        }
        // Nothing was built: the base cell came from the result cache, the series built
        // nothing (no make ran in its cell, so it has no build log).
        let out = PathBuf::from(v["_out"].as_str().unwrap());
        assert!(
            !out.join(c["dir"].as_str().unwrap())
                .join("build.log")
                .exists(),
            "{name}: the series was built"
        );
        let base = cell(&v, "base", "x86_64");
        assert!(
            stage(base, "build")["summary"]
                .as_str()
                .unwrap()
                .ends_with("[cached]"),
            "{name}: {}",
            stage(base, "build")
        );
        // A hang guard on the run itself (not on its wait for other tests' heavy runs).
        assert!(
            v["_elapsed_s"].as_f64().unwrap() < 900.0,
            "{name}: {}",
            v["_elapsed_s"]
        );
        let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["report", "--format", "text", "--results"])
            .arg(PathBuf::from(v["_out"].as_str().unwrap()).join("results.json"))
            .output()
            .unwrap();
        // In the base is not a failure: the report exits 0.
        assert_eq!(o.status.code(), Some(0), "{name}");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.lines()
                .any(|l| l.starts_with("try") && l.contains("in-base")),
            "{name}: {text}"
        );
    }
}

/// `--kunit-filter` reaches the kernel (`kunit.filter_glob=` on the QEMU command line) of the
/// entry's boot and its base's: only the matching module suite runs on the entry, none of the
/// base's built-in suites (not even the doctests), and the base says nothing matched rather
/// than failing. The entry's seeded failure still counts.
#[test]
fn a_kunit_filter_runs_only_the_matching_tests_on_the_entry_and_its_base() {
    let _ = base_run();
    let m = root().join("tests/selftest/matrix.toml");
    let patch = root().join("tests/selftest/patches/kunit-failure.patch");
    let glob = "rfl_selftest.seeded_*";
    let v = run_xtask(
        "try",
        "kunit-filter",
        &[
            "--mbox",
            patch.to_str().unwrap(),
            "--base",
            "v7.2.x",
            "--arch",
            "x86_64",
            "--boot-timeout",
            BOOT_TIMEOUT,
            "--stage",
            "kunit",
            "--kunit-filter",
            glob,
            "--matrix",
            m.to_str().unwrap(),
        ],
        EXIT_KUNIT_FILTER,
    );
    let out = PathBuf::from(v["_out"].as_str().unwrap());
    for entry in ["base", "try"] {
        let c = cell(&v, entry, "x86_64");
        let qemu =
            std::fs::read_to_string(out.join(c["dir"].as_str().unwrap()).join("qemu.cmd")).unwrap();
        assert!(
            qemu.contains(&format!("kunit.filter_glob={glob}")),
            "{entry}: {qemu}"
        );
    }
    // Each cell records its filter, and its repro line runs it again under the same filter.
    for entry in ["base", "try"] {
        let c = cell(&v, entry, "x86_64");
        assert_eq!(c["kunit_filter"], glob, "{entry}");
        let repro = c["repro"].as_str().unwrap();
        assert!(
            repro.contains(&format!(" --kunit-filter '{glob}'")),
            "{entry}: {repro}"
        );
    }
    let b = cell(&v, "base", "x86_64");
    assert_eq!(
        (&stage(b, "kunit")["status"], &stage(b, "kunit")["summary"]),
        (
            &Value::from("skip"),
            &Value::from(format!("no KUnit test matches kunit.filter_glob={glob}"))
        )
    );
    let c = cell(&v, "try", "x86_64");
    let mut tests: Vec<String> = c["kunit"]["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{}.{}={}", t["suite"], t["name"], t["status"]).replace('"', ""))
        .collect();
    tests.sort();
    assert_eq!(
        tests,
        [
            "rfl_selftest.seeded_failure=fail",
            "rfl_selftest.seeded_pass=pass"
        ]
    );
    assert!(
        stage(c, "kunit")["summary"]
            .as_str()
            .unwrap()
            .starts_with(&format!("2 tests matching kunit.filter_glob={glob}")),
        "{}",
        stage(c, "kunit")
    );
    assert_eq!(
        (&c["health"]["verdict"], &c["health"]["stage"]),
        (&Value::from("fail"), &Value::from("kunit"))
    );
}

/// The self-test matrix's `[toolchains]` table, for matrices the tests write.
fn selftest_toolchains() -> String {
    let text = std::fs::read_to_string(root().join("tests/selftest/matrix.toml")).unwrap();
    let from = text.find("[toolchains.").unwrap();
    // Up to the next table that is not a toolchain's (`[configs.*]` come after them).
    let to = text[from + 1..]
        .match_indices("\n[")
        .map(|(i, _)| from + 1 + i + 1)
        .find(|&i| !text[i..].starts_with("[toolchains."))
        .unwrap();
    text[from..to].to_string()
}

/// The debug variant (`[configs.debug]`: kconfigs/debug.config) on the tagged base, x86_64:
/// the base boots through its KUnit suites and its console is classified like any other; the
/// seeds that pass in release fail at boot here, each named by its splat's title and blamed
/// on the Rust module's init (demangled), not on the generic helper that raised it.
///
/// The base's own doctest `rust_doctest_kernel_task_rs_1` oopses under KASAN (a general
/// protection fault in `Task::pid`), and an oops turns lockdep off: the lock-order seed then
/// boots "clean", and its boot says lockdep was off for it. With the KUnit filter keeping that
/// doctest out, lockdep is alive when the module loads, and the seed fails at boot.
#[test]
fn the_debug_variant_fails_at_boot_what_release_passes() {
    let release = selftest_run();
    let m = root().join("tests/selftest/matrix.toml");
    let seeds = [
        (
            "atomic-sleep",
            "BUG: sleeping function called from invalid context",
        ),
        ("kasan-oob", "KASAN: slab-out-of-bounds"),
        (
            "lockdep-order",
            "possible circular locking dependency detected",
        ),
    ];
    let mut args = vec!["--matrix", m.to_str().unwrap(), "--config", "debug"];
    args.extend(["--arch", "x86_64"]);
    for (id, _) in &seeds {
        args.extend(["--entry", id]);
    }
    let v = run_matrix("debug", &args, EXIT_DEBUG);
    let b = cell(&v, "base", "x86_64");
    assert_eq!(b["config"], "debug");
    assert_eq!(
        stage(b, "config")["status"],
        "pass",
        "{}",
        stage(b, "config")
    );
    assert_eq!(stage(b, "build")["status"], "pass", "{}", stage(b, "build"));
    let tests = b["kunit"]["tests"].as_array().unwrap();
    assert!(
        tests.len() > 300,
        "the debug base boots through its KUnit suites"
    );
    let task = tests
        .iter()
        .find(|t| t["name"] == "rust_doctest_kernel_task_rs_1")
        .unwrap();
    assert_ne!(task["status"], "pass", "{task}");
    // The base's doctest oops turns lock checking off before the modules load (the boot says
    // where), so the same image boots again without KUnit and lockdep watches them.
    let said = stage(b, "boot")["summary"].as_str().unwrap();
    assert!(
        said.contains("lockdep was off before the modules loaded")
            && said.contains("a second boot without KUnit loaded them under lockdep")
            && said.contains("(console-locking.log): clean"),
        "{said}"
    );
    let lock = |v: &Value, filtered: bool| {
        let d = cell(v, "lockdep-order", "x86_64").clone();
        let boot = stage(&d, "boot");
        let first = boot["summary"].as_str().unwrap().lines().next().unwrap();
        assert_eq!(
            first.contains("lockdep was off before the modules loaded")
                && first.contains("a second boot without KUnit"),
            !filtered,
            "{first}"
        );
        let log = if filtered {
            "console.log"
        } else {
            "console-locking.log"
        };
        assert_eq!(boot["log"], log, "{boot}");
        d
    };
    for (id, title) in seeds {
        let r = cell(release, id, "x86_64");
        assert_eq!(r["config"], "release");
        assert_eq!(
            r["health"]["verdict"], "pass",
            "{id} release: {}",
            r["health"]
        );
        let mut debug = vec![cell(&v, id, "x86_64").clone()];
        if id == "lockdep-order" {
            let _ = lock(&v, false);
            // With the doctests filtered out, lock checking stays on through the first boot.
            let mut only = vec!["--matrix", m.to_str().unwrap(), "--config", "debug"];
            only.extend([
                "--arch",
                "x86_64",
                "--entry",
                id,
                "--kunit-filter",
                "rust_kernel*",
            ]);
            debug.push(lock(
                &run_matrix("debug-lockdep", &only, EXIT_DEBUG_LOCKDEP),
                true,
            ));
        }
        for d in debug {
            assert_eq!(d["config"], "debug");
            assert_eq!(
                d["health"]["verdict"], "fail",
                "{id} debug: {}",
                d["health"]
            );
            assert_eq!(d["health"]["stage"], "boot", "{id} debug: {}", d["health"]);
            let summary = d["health"]["summary"].as_str().unwrap();
            assert!(
                summary.contains(title)
                    && summary.contains("<rust_minimal::RustMinimal as kernel::Module>::init"),
                "{id}: {summary}"
            );
            assert!(
                d["repro"].as_str().unwrap().contains("--config debug"),
                "{}",
                d["repro"]
            );
        }
    }
}

/// The debug variant's fragments (with each arch's adjustment) give a config holding every
/// option they ask for on the three arches the suite does not build it on; building and
/// booting it there is README's documented command. Kconfig alone, about half a minute a cell.
#[test]
fn the_debug_variant_configures_on_every_other_arch() {
    let m = root().join("tests/selftest/matrix.toml");
    let mut args = vec!["--matrix", m.to_str().unwrap(), "--config", "debug"];
    args.extend(["--entry", "base", "--stage", "config"]);
    args.extend(["--arch", "arm64,riscv64,loongarch64"]);
    let v = run_matrix("debug-config", &args, EXIT_DEBUG_CONFIG);
    for arch in ["arm64", "riscv64", "loongarch64"] {
        let c = stage(cell(&v, "base", arch), "config");
        assert_eq!(c["status"], "pass", "{arch}: {c}");
        let said = c["summary"].as_str().unwrap();
        assert!(
            said.contains("requested options all present"),
            "{arch}: {said}"
        );
    }
}

/// The `builtin` variant builds the samples in: a sample's init runs as an initcall before the
/// init, and the boot reads its return from the console (`initcall_debug`). The sample whose
/// init returns EINVAL fails at boot in both variants, each by its own mechanism; the good
/// sample passes built in, and a panic at init is a boot failure there too.
#[test]
fn a_built_in_samples_init_is_judged_from_its_initcall() {
    // The base run builds x86_64's release folder, which the variant's starts from.
    let _ = base_run();
    let m = root().join("tests/selftest/matrix.toml");
    let mut args = vec!["--matrix", m.to_str().unwrap(), "--config", "builtin"];
    args.extend(["--arch", "x86_64"]);
    for id in ["good-sample", "init-error", "init-panic"] {
        args.extend(["--entry", id]);
    }
    let v = run_matrix("builtin", &args, EXIT_BUILTIN);
    let b = cell(&v, "base", "x86_64");
    assert_eq!(b["config"], "builtin");
    // Its folder is never built from nothing: a cold one starts as a copy of the release
    // build (said on stderr), and make compiles what the samples built in reach, not the
    // 700-odd C objects of a cold build.
    let built = stage(b, "build");
    if !built["summary"].as_str().unwrap().ends_with("[cached]") {
        let out = PathBuf::from(v["_out"].as_str().unwrap());
        let log = std::fs::read_to_string(out.join(b["dir"].as_str().unwrap()).join("build.log"))
            .unwrap();
        let compiled = log.lines().filter(|l| l.starts_with("  CC ")).count();
        let said = std::fs::read_to_string(out.join("stderr.log")).unwrap();
        assert!(
            compiled < 100,
            "{compiled} C objects compiled; seeded: {}",
            said.contains("build folder: a copy of the release config's build")
        );
    }
    let boot = stage(b, "boot");
    assert_eq!(boot["status"], "pass", "{boot}");
    let said = boot["summary"].as_str().unwrap();
    assert!(
        said.contains("[built in: ")
            && said.contains("rust_minimal")
            && !said.contains("not checked"),
        "{said}"
    );
    assert!(
        b["kunit"]["tests"].as_array().unwrap().len() > 300,
        "{}",
        b["kunit"]
    );
    let good = cell(&v, "good-sample", "x86_64");
    assert_eq!(good["health"]["verdict"], "pass", "{}", good["health"]);
    for id in ["init-error", "init-panic"] {
        let c = cell(&v, id, "x86_64");
        assert_eq!(c["config"], "builtin");
        assert_eq!(c["health"]["verdict"], "fail", "{id}: {}", c["health"]);
        assert_eq!(c["health"]["stage"], "boot", "{id}: {}", c["health"]);
    }
    let failed = stage(cell(&v, "init-error", "x86_64"), "boot");
    assert!(
        failed["summary"]
            .as_str()
            .unwrap()
            .starts_with("module-failure: init-failed rust_minimal (built in): EINVAL"),
        "{failed}"
    );
}

/// Two toolchains declared and `toolchain` left to `auto`. `newer` has a rustc that says it
/// is 1.99 (the real one otherwise) and Debian 12's own clang/lld 16 (`setup --tests`
/// installs it): the newest by rustc, but the tagged base needs LLVM 17.0.1 or newer, so
/// only `debian` (clang 19) meets its minimums. `auto` gives the base `debian` and says why
/// not `newer`; named with `--toolchain`, `newer` is the toolchain's fault, naming the version
/// the base needs.
#[test]
fn auto_gives_the_base_the_declared_toolchain_that_meets_its_minimums() {
    let _ = base_run();
    // Not under the run's own folder, which each run first removes.
    let dir = cache().join("test-runs/auto-toolchain-matrix");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rustc = dir.join("rustc");
    std::fs::write(
        &rustc,
        "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'rustc 1.99.0 (00000000 2027-01-01)'; exit 0; fi\nexec /usr/bin/rustc \"$@\"\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&rustc, std::fs::Permissions::from_mode(0o755)).unwrap();
    let quoted = format!("\"{}\"", rustc.display());
    let m = matrix_with_toolchain_as(
        "newer",
        &[
            ("\"/usr/bin/rustc\"", &quoted),
            ("\"/usr/lib/llvm-19/bin/\"", "\"/usr/lib/llvm-16/bin/\""),
        ],
        &dir,
    );
    let mut auto = vec!["--matrix", m.to_str().unwrap(), "--entry", "base"];
    auto.extend(["--arch", "x86_64", "--stage", "toolchain"]);
    let v = run_matrix("auto-toolchain", &auto, EXIT_AUTO);
    let c = cell(&v, "base", "x86_64");
    assert_eq!(c["toolchain"]["name"], "debian", "{}", c["toolchain"]);
    assert!(c["toolchain"]["versions"]["clang"]
        .as_str()
        .unwrap()
        .starts_with("19."));
    let why = c["toolchain"]["chosen"].as_str().unwrap();
    assert!(
        why.starts_with("auto: debian (rustc 1.96")
            && why.contains("not newer: clang 16.")
            && why.contains("older than the base's minimum 17.0.1"),
        "{why}"
    );
    assert_eq!(
        stage(c, "toolchain")["status"],
        "pass",
        "{}",
        stage(c, "toolchain")
    );
    let mut named = auto.clone();
    named.extend(["--toolchain", "newer"]);
    let v = run_matrix("named-toolchain", &named, EXIT_NAMED);
    let t = stage(cell(&v, "base", "x86_64"), "toolchain");
    assert_eq!(t["fault"], "toolchain", "{t}");
    assert!(
        t["summary"]
            .as_str()
            .unwrap()
            .contains("older than the base's minimum 17.0.1"),
        "{t}"
    );
}
