//! Fast tests of the command line: registry import, plan, and matrix errors. No kernel.

use std::path::{Path, PathBuf};
use std::process::Command;

fn xtask() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

mod common;
use common::TempDir;

fn run_ok(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn whole_registry_imports_to_74_planned_entries_and_reimports_identically() {
    let t = TempDir::new("import");
    let out = t.0.join("T.toml");
    let reg = root().join("tests/fixtures/rfl-patch-registry.md");
    run_ok(
        xtask()
            .arg("import-registry")
            .arg(&reg)
            .arg("--out")
            .arg(&out),
    );
    let first = std::fs::read(&out).unwrap();
    run_ok(
        xtask()
            .arg("import-registry")
            .arg(&reg)
            .arg("--out")
            .arg(&out),
    );
    assert_eq!(
        first,
        std::fs::read(&out).unwrap(),
        "a second import must be byte-identical"
    );

    let json = run_ok(
        xtask()
            .args(["plan", "--format", "json", "--matrix"])
            .arg(&out),
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 74);
    let mut ids = std::collections::BTreeSet::new();
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for e in entries {
        assert!(
            ids.insert(e["id"].as_str().unwrap().to_string()),
            "duplicate id {}",
            e["id"]
        );
        let kind = e["source"]["kind"].as_str().unwrap().to_string();
        *kinds.entry(kind).or_default() += 1;
        // Each entry has a base or says why it cannot run.
        assert!(e["base"].is_string() || e["skip_reason"].is_string(), "{e}");
    }
    let count = |k: &str| kinds.get(k).copied().unwrap_or(0);
    // Every link form of the registry, counted by hand from the table.
    assert_eq!(count("github_pr"), 22, "{kinds:?}");
    assert_eq!(count("pr_commit"), 2, "{kinds:?}");
    assert_eq!(count("branch"), 11, "{kinds:?}");
    assert_eq!(count("commit"), 4, "{kinds:?}");
    assert_eq!(count("file"), 7, "{kinds:?}");
    assert_eq!(count("gitlab"), 1, "{kinds:?}");
    assert_eq!(count("lore"), 25, "{kinds:?}");
    assert_eq!(count("unpublished"), 1, "{kinds:?}");
    assert_eq!(count("none"), 1, "{kinds:?}");
    let by_id = |id: &str| entries.iter().find(|e| e["id"] == id).unwrap().clone();
    assert!(by_id("vfs-puzzlefs")["skip_reason"]
        .as_str()
        .unwrap()
        .contains("puzzlefs_dependencies"));
    assert_eq!(by_id("crypto")["base"], "rust-6.5");
    assert_eq!(by_id("drm")["base"], "v6.3-rc1");
    assert_eq!(by_id("phy")["source"]["kind"], "file");
    assert_eq!(by_id("phy")["base"], "v7.2.x");
    assert_eq!(
        by_id("vfs")["source"]["value"],
        "20231018122518.128049-1-wedsonaf@gmail.com"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(
        text.contains("id = \"drm-nova-nouveau-rewrite\"\n")
            && text.contains("lore = \"Zfsj0_tb-0-tNrJy@cassiopeiae\"")
    );
}

#[test]
fn shipped_matrix_is_the_import_of_the_registry() {
    // The shipped file must be what the import writes for the registry fixture.
    let t = TempDir::new("shipped");
    let out = t.0.join("m.toml");
    run_ok(
        xtask()
            .arg("import-registry")
            .arg(root().join("tests/fixtures/rfl-patch-registry.md"))
            .arg("--out")
            .arg(&out),
    );
    let shipped = std::fs::read_to_string(root().join("matrix.toml")).unwrap();
    let fresh = std::fs::read_to_string(&out).unwrap();
    // Import notes name lines of the source file, which differ between the page and the
    // fixture; everything else must be equal.
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("#   line "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(&shipped),
        strip(&fresh),
        "matrix.toml is stale: re-run the import"
    );
}

fn matrix_error(text: &str) -> (i32, String) {
    let t = TempDir::new(&format!("err{}", text.len()));
    let p = t.0.join("bad.toml");
    std::fs::write(&p, text).unwrap();
    let o = xtask().args(["plan", "--matrix"]).arg(&p).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!err.contains("thread 'main' panicked"), "{err}");
    (
        o.status.code().unwrap_or(-1),
        err.replace(&*p.to_string_lossy(), "bad.toml"),
    )
}

const GOOD: &str = "arches = [\"x86_64\"]\n[bases.b]\nkind = \"tag\"\nurl = \"u\"\nref = \"r\"\n[[entry]]\nid = \"a\"\nsource = { lore = \"m@x\" }\nbase = \"b\"\n";

#[test]
fn bad_matrices_name_file_line_and_column() {
    let (code, err) = matrix_error(&GOOD.replace("ref = \"r\"", "ref = 3"));
    assert_ne!(code, 0);
    assert!(
        err.starts_with("error: bad.toml:5:7: invalid type: integer `3`, expected a string"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, err) = matrix_error(&GOOD.replace("kind = \"tag\"", "kind = 7"));
    assert_ne!(code, 0);
    assert!(err.starts_with("error: bad.toml:3:8: "), "{err}");

    let (code, err) = matrix_error(&GOOD.replace("x86_64", "sparc64"));
    assert_ne!(code, 0);
    assert_eq!(
        err.trim(),
        "error: bad.toml:1:11: unknown arch `sparc64` (known: x86_64, arm64, riscv64, loongarch64)"
    );

    let (code, err) = matrix_error(&format!(
        "{GOOD}[[entry]]\nid = \"a\"\nsource = {{ lore = \"n@x\" }}\n"
    ));
    assert_ne!(code, 0);
    assert_eq!(err.trim(), "error: bad.toml:11:6: duplicate entry id `a`");

    let (code, err) = matrix_error("arches = [\"x86_64\"\n");
    assert_ne!(code, 0);
    assert!(err.starts_with("error: bad.toml:1:"), "{err}");

    let (code, err) = matrix_error(&GOOD.replace("lore", "svn"));
    assert_ne!(code, 0);
    assert!(
        err.contains("bad.toml:8:") && err.contains("unknown variant `svn`"),
        "{err}"
    );
}

const TOOLCHAIN: &str =
    "rustc = \"r\"\nrustdoc = \"r\"\nclippy_driver = \"c\"\nrustfmt = \"f\"\nbindgen = \"b\"\n";

/// Names that become folders, refs and shell words, and URLs handed to git: a hostile one is
/// refused when the matrix loads, at its place in the file, with exit code 2.
#[test]
fn hostile_names_and_urls_are_refused_at_load_with_their_place() {
    let cases = [
        (GOOD.replace("[bases.b]", &format!("[toolchains.\"t/../../../victim\"]\n{TOOLCHAIN}[bases.b]")), "bad.toml:2:13: toolchain name `t/../../../victim` may hold only"),
        (GOOD.replace("[bases.b]", "[bases.\"b/../../x\"]").replace("base = \"b\"", "base = \"b/../../x\""), "bad.toml:2:8: base name `b/../../x` may hold only"),
        (GOOD.replace("[bases.b]", "[bases.\"b;touch x\"]").replace("base = \"b\"", "base = \"b;touch x\""), "bad.toml:2:8: base name `b;touch x` may hold only"),
        (
            GOOD.replace("[bases.b]", "[mirrors]\n\"https://github.com/\" = \"--upload-pack=touch /tmp/x\"\n[bases.b]"),
            "bad.toml:3:25: mirror `https://github.com/` = `--upload-pack=touch /tmp/x`: the replacement starts with `-`",
        ),
        (GOOD.replace("url = \"u\"", "url = \"--upload-pack=touch /tmp/x\""), "bad.toml:4:7: base `b`: url `--upload-pack=touch /tmp/x` starts with `-`"),
        (GOOD.replace("url = \"u\"", "url = \"ext::sh -c touch% /tmp/x\""), "bad.toml:4:7: base `b`: url `ext::sh -c touch% /tmp/x` uses git's"),
        (GOOD.replace("ref = \"r\"", "ref = \"--upload-pack=x\""), "bad.toml:5:7: base `b`: ref `--upload-pack=x` may not start with `-`"),
        (GOOD.replace("{ lore = \"m@x\" }", "{ github_pr = \"--upload-pack=x\" }"), "bad.toml:8:10: entry `a`: github_pr `--upload-pack=x` starts with `-`"),
    ];
    for (text, want) in cases {
        let (code, err) = matrix_error(&text);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.starts_with(&format!("error: {want}")),
            "want {want}\ngot {err}"
        );
    }
}

/// A toolchain named to climb out of the run folder, and names on the command line that are
/// not declared: refused before anything is created or removed.
#[test]
fn hostile_names_remove_nothing_outside_the_cache() {
    let t = TempDir::new("victim");
    let victim = t.0.join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("keep"), "precious").unwrap();
    // Two toolchains, so that the toolchain's name is part of each cell's folder name:
    // <out>/cells/base-b.x86_64.<toolchain> leads to <t>/victim.
    let text = GOOD.replace(
        "[bases.b]",
        &format!(
            "[toolchains.d]\n{TOOLCHAIN}[toolchains.\"t/../../../victim\"]\n{TOOLCHAIN}[bases.b]"
        ),
    );
    let m = t.0.join("m.toml");
    std::fs::write(&m, text).unwrap();
    let run = |args: &[&str], matrix: &Path| {
        let o = xtask()
            .args(args)
            .arg("--matrix")
            .arg(matrix)
            .arg("--cache")
            .arg(t.0.join("cache"))
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, err) = run(
        &[
            "matrix",
            "--stage",
            "fetch",
            "--out",
            t.0.join("out").to_str().unwrap(),
        ],
        &m,
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("m.toml:8:13: toolchain name `t/../../../victim`"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(victim.join("keep")).unwrap(),
        "precious"
    );
    assert!(!t.0.join("out").exists() && !t.0.join("cache").exists());

    // On the command line: names that are not declared (or match nothing) are bad input.
    let good = t.0.join("good.toml");
    std::fs::write(&good, GOOD).unwrap();
    for (args, want) in [
        (
            &["repro", "a", "--base", "../../victim"][..],
            "--base ../../victim: not declared",
        ),
        (&["repro", "../../victim"], "no entry `../../victim`"),
        (
            &["plan", "--base", "../../victim"],
            "--base ../../victim: not declared",
        ),
        (
            &["plan", "--toolchain", "../victim"],
            "--toolchain ../victim: not declared",
        ),
        (
            &["plan", "--entry", "../*"],
            "--entry ../*: matches no entry",
        ),
        (
            &["matrix", "--cells", "a@../../victim@x86_64"],
            "--cells: `a@../../victim` names no entry and base",
        ),
    ] {
        let (code, err) = run(args, &good);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert_eq!(
        std::fs::read_to_string(victim.join("keep")).unwrap(),
        "precious"
    );
    assert!(!t.0.join("cache").join("repro").exists());
}

/// `try` names its series one way only, and every value of it is checked as a matrix's would
/// be: a hostile URL, ref, message-id, mbox, base or KUnit filter is bad input (exit 2), said
/// with the flag, before the cache or the run folder exists.
#[test]
fn try_refuses_a_missing_series_and_hostile_values_before_anything_runs() {
    let t = TempDir::new("try-args");
    let good = t.0.join("good.toml");
    std::fs::write(&good, GOOD).unwrap();
    std::fs::write(t.0.join("notes.txt"), "not a patch\n").unwrap();
    let notes = t.0.join("notes.txt");
    let notes = notes.to_str().unwrap();
    let out = t.0.join("out");
    let cases: [(&[&str], &str); 17] = [
        (&[], "the following required arguments were not provided"),
        (&["--mbox", notes, "--lore", "a@b"], "cannot be used with"),
        (&["--git", "file:///r"], "--ref <REF>"),
        (&["--ref", "main"], "--git <URL>"),
        (
            &["--git=--upload-pack=touch x", "--ref", "main"],
            "--git --upload-pack=touch x: starts with `-`",
        ),
        (
            &["--git", "ext::sh -c touch% x", "--ref", "main"],
            "--git ext::sh -c touch% x: uses git's",
        ),
        (
            &["--git", "ssh://h/r", "--ref", "main"],
            "uses transport `ssh`",
        ),
        (
            &["--git", "file:///r", "--ref=--upload-pack=x"],
            "--ref --upload-pack=x: may not start with `-`",
        ),
        (
            &["--git", "file:///r", "--ref", "main x"],
            "--ref main x: may hold only",
        ),
        (&["--git", "file:///r", "--ref", "v7.*"], "is a pattern"),
        (
            &["--lore", "a b@c"],
            "--lore a b@c: may hold only printable ASCII",
        ),
        (
            &["--lore", "https://lore.kernel.org/all/a@b/"],
            "is not a message-id",
        ),
        (&["--lore=-x@y"], "may not start with `-`"),
        (&["--mbox", notes], "is not an mbox or patch file"),
        (
            &["--mbox", "/no/such/file"],
            "--mbox /no/such/file: No such file",
        ),
        (
            &["--lore", "a@b", "--kunit-filter", "a b"],
            "--kunit-filter a b: may hold only",
        ),
        (
            &["--lore", "a@b", "--kunit-filter=-x"],
            "may not start with `-` or `.`",
        ),
    ];
    for (args, want) in cases {
        let mut c = xtask();
        c.arg("try").args(args);
        if !args.is_empty() && !args.iter().any(|a| a.starts_with("--base")) {
            c.args(["--base", "b"]);
        }
        let o = c
            .arg("--matrix")
            .arg(&good)
            .arg("--cache")
            .arg(t.0.join("cache"))
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: want {want}\n{err}");
    }
    // The base is the matrix's to declare.
    let o = xtask()
        .args(["try", "--lore", "a@b", "--base", "../../victim", "--matrix"])
        .arg(&good)
        .arg("--cache")
        .arg(t.0.join("cache"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--base ../../victim: not declared"), "{err}");
    // `matrix` checks its KUnit filter the same way.
    let o = xtask()
        .args(["matrix", "--kunit-filter", "x;reboot", "--matrix"])
        .arg(&good)
        .arg("--cache")
        .arg(t.0.join("cache"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--kunit-filter x;reboot: may hold only"),
        "{err}"
    );
    assert!(!t.0.join("cache").exists() && !out.exists());
}

/// Every word of a repro line comes back whole from a POSIX shell, whatever the names hold,
/// and nothing in them runs; a repro.sh's comment cannot be broken out of.
#[test]
fn repro_lines_quote_every_word() {
    use xtask::model::arch::Arch;
    use xtask::model::plan::Cell;
    let t = TempDir::new("quote");
    let hostile = "a'b; rm -rf / $(touch pwned) `touch pwned2` \"x\" \\ *";
    let words = |line: &str| {
        let o = Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s\\n' {line}"))
            .current_dir(&t.0)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let cell = Cell {
        entry: hostile.into(),
        base: "b".into(),
        arch: Arch::Arm64,
        toolchain: "d".into(),
        config: "release".into(),
    };
    let line = xtask::run::repro_line(&cell, " --matrix 'my matrix.toml'", None);
    assert_eq!(
        words(&line),
        [
            "cargo",
            "xtask",
            "repro",
            hostile,
            "--arch",
            "arm64",
            "--matrix",
            "my matrix.toml"
        ]
    );
    // A cell run under a KUnit filter is reproduced under it.
    let line = xtask::run::repro_line(&cell, "", Some("rust_*.t'x"));
    assert_eq!(
        words(&line),
        [
            "cargo",
            "xtask",
            "repro",
            hostile,
            "--arch",
            "arm64",
            "--kunit-filter",
            "rust_*.t'x"
        ]
    );
    let cell = Cell {
        entry: "base".into(),
        base: hostile.into(),
        arch: Arch::X86_64,
        toolchain: "d".into(),
        config: "debug".into(),
    };
    let line = xtask::run::repro_line(&cell, "", Some("s"));
    assert_eq!(
        words(&line),
        [
            "cargo",
            "xtask",
            "matrix",
            "--entry",
            "base",
            "--base",
            hostile,
            "--arch",
            "x86_64",
            "--config",
            "debug",
            "--kunit-filter",
            "s"
        ]
    );
    assert!(!t.0.join("pwned").exists() && !t.0.join("pwned2").exists());
    let script =
        xtask::commands::repro::script_text("x\ntouch /nothing\n", &t.0.join("repro/cell"), &[]);
    assert!(script.lines().all(|l| !l.starts_with("touch")), "{script}");
    assert!(
        script.contains("# Reproduces cell x\\ntouch /nothing\\n: "),
        "{script}"
    );
}

#[test]
fn plan_filters_and_github_matrix() {
    let m = root().join("matrix.toml");
    let json = run_ok(
        xtask()
            .args([
                "plan", "--format", "json", "--entry", "base", "--arch", "all", "--base", "v7.2.x",
                "--matrix",
            ])
            .arg(&m),
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 4);
    assert!(cells
        .iter()
        .all(|c| c["entry"] == "base" && c["base"] == "v7.2.x"));

    let gh = run_ok(
        xtask()
            .args(["plan", "--format", "github", "--max-jobs", "3", "--matrix"])
            .arg(&m),
    );
    let v: serde_json::Value = serde_json::from_str(&gh).unwrap();
    let jobs = v["include"].as_array().unwrap();
    assert_eq!(jobs.len(), 3);
    let all = run_ok(
        xtask()
            .args(["plan", "--format", "json", "--matrix"])
            .arg(&m),
    );
    let total = serde_json::from_str::<serde_json::Value>(&all).unwrap()["cells"]
        .as_array()
        .unwrap()
        .len() as u64;
    assert_eq!(
        jobs.iter()
            .map(|j| j["count"].as_u64().unwrap())
            .sum::<u64>(),
        total
    );

    let o = xtask()
        .args(["plan", "--arch", "sparc", "--matrix"])
        .arg(&m)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--arch sparc: unknown arch"));
}

/// A thousand entries plan into every cell, and the GitHub matrix stays under Actions' cap of
/// 256 jobs. The plan's speed is a benchmark figure (BENCHMARKS.md, `cargo xtask bench`); the
/// bound here is a hang guard a thousand times over it.
#[test]
fn a_thousand_entry_matrix_plans_every_cell_and_fits_a_github_matrix() {
    let t = TempDir::new("big");
    let mut text = String::from("arches = [\"x86_64\", \"arm64\", \"riscv64\", \"loongarch64\"]\n[bases.b]\nkind = \"branch\"\nurl = \"u\"\nref = \"r\"\n");
    for i in 0..1000 {
        text.push_str(&format!("[[entry]]\nid = \"e{i}\"\nsource = {{ github_pr = \"https://github.com/o/r/pull/{i}\" }}\nbase = \"b\"\n"));
    }
    let p = t.0.join("big.toml");
    std::fs::write(&p, text).unwrap();
    let started = std::time::Instant::now();
    let json = run_ok(
        xtask()
            .args(["plan", "--format", "json", "--matrix"])
            .arg(&p),
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "planning hung: {:?}",
        started.elapsed()
    );
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["cells"].as_array().unwrap().len(), 4004);
    let gh = run_ok(
        xtask()
            .args(["plan", "--format", "github", "--matrix"])
            .arg(&p),
    );
    let v: serde_json::Value = serde_json::from_str(&gh).unwrap();
    assert!(v["include"].as_array().unwrap().len() <= 256);
}

// ---------------------------------------------------------------------------------------------
// Reports from a results file whose logs and names carry hostile text.

fn venv_bin(name: &str) -> PathBuf {
    let cache = std::env::var_os("RFL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/rfl"));
    let p = cache.join("venv/bin").join(name);
    assert!(
        p.is_file(),
        "{} missing: run `cargo xtask setup --tests`",
        p.display()
    );
    p
}

fn hostile_results(dir: &Path) -> PathBuf {
    let evil = "\u{1b}[31mred\u{1b}[0m \u{7}bell \u{1b}]0;pwned\u{7}\u{1b}[2J \u{202e}rtl ]]> <script>alert(1)</script> | `tick` ::error::x ::set-env name=A::1 ::add-mask::s";
    let cell_dir = dir.join("cells/evil.x86_64");
    std::fs::create_dir_all(&cell_dir).unwrap();
    std::fs::write(cell_dir.join("build.log"), format!("line one\n{evil}\n")).unwrap();
    std::fs::write(cell_dir.join("console.log"), format!("{evil}\n")).unwrap();
    let stage = |name: &str, status: &str, summary: &str| {
        serde_json::json!({"stage": name, "status": status, "duration_s": 1.5, "summary": summary, "log": if name == "clippy" { "build.log" } else { "console.log" },
            "diagnostics": if status == "fail" { serde_json::json!([{"file": "samples/rust/x.rs", "line": 3, "level": "error", "message": evil}]) } else { serde_json::json!([]) }})
    };
    let cell = |entry: &str, base_fail: bool| {
        serde_json::json!({
            "schema": 1, "entry": entry, "base": "v7.2.x", "arch": "x86_64",
            "toolchain": {"name": "debian", "versions": {"rustc": "1.96.0", "clang": "19.1.7"}},
            "base_commit": "b3d74e9c57112729485147659f52e9fc9e222bc7",
            "patchset": if entry == "base" { serde_json::Value::Null } else { serde_json::json!({"hash": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", "commits": ["a"], "head": "a"}) },
            "stages": [stage("fetch", "pass", "ok"), stage("apply", "pass", "ok"), stage("build", "pass", "built"), stage("boot", "pass", "clean: x"), stage("kunit", "fail", "1 failed"), stage("clippy", if base_fail { "pass" } else { "fail" }, evil)],
            "kunit": {"counts": {"total": 2, "passed": 1, "failed": 1, "crashed": 0, "skipped": 0},
                "tests": [{"suite": "rust_doctests_kernel", "name": "rust_doctest_kernel_task_rs_1", "status": "fail", "location": "rust/kernel/task.rs:71", "summary": evil},
                          {"suite": "s<x>", "name": "ok|test", "status": "pass"}]},
            "dir": "cells/evil.x86_64", "started": "2026-11-21T00:00:00Z", "duration_s": 3.0, "repro": format!("cargo xtask repro {entry} --arch x86_64")
        })
    };
    let results = serde_json::json!({
        "schema": 1, "harness_version": "0.1.0", "started": "2026-11-21T00:00:00Z", "interrupted": false,
        "bases": [{"name": "v7.2.x", "status": "resolved", "commit": "b3d74e9c57112729485147659f52e9fc9e222bc7", "reason": ""}],
        "skipped_entries": [{"id": "later", "reason": evil}],
        "entries": [{"id": "evil", "area": "a|b <b>", "status": "review", "authors": ["`x`"], "source_kind": "lore", "source": "m@x", "base": "v7.2.x", "registry_base": ""}],
        "cells": [cell("base", true), cell("evil", false)]
    });
    let p = dir.join("results.json");
    std::fs::write(&p, serde_json::to_string_pretty(&results).unwrap()).unwrap();
    p
}

/// `report --fail-on never --format FORMAT --results RESULTS`.
fn report_cmd(results: &Path, format: &str) -> Command {
    let mut c = xtask();
    c.args([
        "report",
        "--fail-on",
        "never",
        "--format",
        format,
        "--results",
    ])
    .arg(results);
    c
}

fn report(results: &Path, format: &str) -> String {
    run_ok(&mut report_cmd(results, format))
}

#[test]
fn reports_survive_hostile_text() {
    let t = TempDir::new("reports");
    let results = hostile_results(&t.0);

    let text = report(&results, "text");
    assert!(text.contains("FAIL clippy"), "{text}");
    assert!(!text.contains("\u{1b}[32m"), "no colour off a terminal");
    // The patch's escape sequences are shown, never acted on: no ESC, BEL or bidi override.
    assert!(!text.contains(['\u{1b}', '\u{7}', '\u{202e}']), "{text:?}");
    assert!(
        text.contains("\\x1b]0;pwned\\x07\\x1b[2J \\u{202e}rtl"),
        "{text}"
    );
    // The base's own doctest failure is pre-existing, never the entry's.
    assert!(text.contains("base's own"), "{text}");

    let junit = t.0.join("junit.xml");
    run_ok(
        xtask()
            .args([
                "report",
                "--fail-on",
                "never",
                "--format",
                "junit",
                "--output",
            ])
            .arg(&junit)
            .arg("--results")
            .arg(&results),
    );
    let py = "import sys, xml.etree.ElementTree as E\nr = E.parse(sys.argv[1]).getroot()\ncases = r.findall('.//testcase')\nassert all(c.get('time') is not None for c in cases)\nprint(len(cases), len(r.findall('.//failure')), len(r.findall('.//error')))";
    let o = Command::new("python3")
        .args(["-c", py])
        .arg(&junit)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "strict XML parser refused the JUnit: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let counts = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert!(counts.starts_with("14 "), "{counts}");

    let md = report(&results, "markdown");
    assert!(!md.contains("<script>") && !md.contains("a|b"), "{md}");
    assert!(md.contains("a\\|b &lt;b&gt;"), "{md}");

    let html = t.0.join("index.html");
    run_ok(
        xtask()
            .args([
                "report",
                "--fail-on",
                "never",
                "--format",
                "html",
                "--output",
            ])
            .arg(&html)
            .arg("--results")
            .arg(&results),
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("<script>alert"), "unescaped script in HTML");
    assert!(
        page.contains("href=\"./cells/evil.x86_64/build.log\""),
        "cell links to its logs"
    );

    let gh = report(&results, "github");
    let token_line = gh
        .lines()
        .find(|l| l.starts_with("::stop-commands::"))
        .expect("stop-commands");
    let token = token_line.trim_start_matches("::stop-commands::");
    let (before, after) = gh.split_once(token_line).unwrap();
    // The entry's failure is an error; the base's own (its KUnit test) only a notice, after.
    let lines: Vec<&str> = before.lines().collect();
    assert_eq!(lines.len(), 2, "{before}");
    assert!(
        lines[0].starts_with("::error title=evil.x86_64%3A FAIL clippy::"),
        "{before}"
    );
    assert!(
        lines[1].starts_with("::notice title=base v7.2.x.x86_64%3A FAIL kunit::"),
        "{before}"
    );
    // `samples/rust/x.rs` is a kernel path, no file of this repository: no `file=`.
    assert!(
        !before.contains("::set-env name=A::1\n") && !before.contains("file="),
        "{before}"
    );
    // GitHub's log viewer renders terminal escapes: annotations show them, never act on them.
    assert!(
        !gh.contains(['\u{1b}', '\u{7}', '\u{202e}']) && before.contains("\\x1b]0;pwned"),
        "{gh:?}"
    );
    assert!(
        after.contains(&format!("::{token}::")),
        "stop-commands closed"
    );
}

/// `hostile_results` with `edit` applied to its JSON before it is written back.
fn edited_results(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let p = hostile_results(dir);
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    p
}

/// A failing cell's line gives the time its stage ran, and the time it waited for a job
/// token when that is a second or more; a file without `queued_s` reads as no wait.
#[test]
fn a_failing_cells_line_gives_its_stages_run_time_and_a_notable_wait() {
    let t = TempDir::new("queued");
    let text = report(&hostile_results(&t.0), "text");
    assert!(
        text.contains("  evil.x86_64: FAIL clippy in 1.5 s — "),
        "{text}"
    );
    let results = edited_results(&t.0, |v| {
        v["cells"][1]["stages"][5]["duration_s"] = 2.25.into();
        v["cells"][1]["stages"][5]["queued_s"] = 985.4.into();
    });
    let text = report(&results, "text");
    assert!(
        text.contains("  evil.x86_64: FAIL clippy in 2.2 s (+985 s queued) — "),
        "{text}"
    );
}

/// Logs named by a results file are read only inside its run folder, only as regular files,
/// and only their last MiB: `/etc/passwd`, a path or a link out of the folder, `/dev/zero`
/// and `javascript:` get neither their content in JUnit nor a link in HTML.
#[test]
fn reports_keep_logs_inside_the_run_folder() {
    let t = TempDir::new("hostile-logs");
    let cell_dir = t.0.join("cells/evil.x86_64");
    let results = edited_results(&t.0, |v| {
        let logs = [
            ("fetch", "/etc/passwd"),
            ("apply", "../../../../../../../../etc/passwd"),
            ("build", "passwd-link"),
            ("boot", "/dev/zero"),
            ("clippy", "javascript:alert(1)"),
        ];
        for s in v["cells"][1]["stages"].as_array_mut().unwrap() {
            if let Some((_, log)) = logs.iter().find(|(n, _)| s["stage"] == *n) {
                s["status"] = "fail".into();
                s["log"] = (*log).into();
            }
        }
        let stages = v["cells"][1]["stages"].as_array_mut().unwrap();
        stages.push(serde_json::json!({"stage": "rustfmt", "status": "fail", "duration_s": 1.0, "summary": "x", "log": "zero-link"}));
        stages.push(serde_json::json!({"stage": "rustdoc", "status": "fail", "duration_s": 1.0, "summary": "x", "log": "https://example.org/rustdoc.log"}));
        // A big log: only its end is read.
        v["cells"][0]["stages"][5]["status"] = "fail".into();
        v["cells"][0]["stages"][5]["log"] = "big.log".into();
    });
    std::os::unix::fs::symlink("/etc/passwd", cell_dir.join("passwd-link")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", cell_dir.join("zero-link")).unwrap();
    let mut big = "early line\n".repeat(300_000);
    big.push_str("the last line of the big log\n");
    std::fs::write(cell_dir.join("big.log"), big).unwrap();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let first_passwd_line = passwd.lines().next().unwrap();

    let started = std::time::Instant::now();
    let junit = report(&results, "junit");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert!(junit.len() < 256 * 1024, "JUnit of {} bytes", junit.len());
    assert!(
        !junit.contains(first_passwd_line),
        "/etc/passwd leaked into JUnit"
    );
    assert_eq!(
        junit.matches("is not a file inside the run folder").count(),
        6,
        "{junit}"
    );
    assert!(
        junit.contains("the last line of the big log") && junit.matches("early line").count() == 39,
        "the big log's last 40 lines"
    );

    let html = t.0.join("index.html");
    run_ok(
        xtask()
            .args([
                "report",
                "--fail-on",
                "never",
                "--format",
                "html",
                "--output",
            ])
            .arg(&html)
            .arg("--results")
            .arg(&results),
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("javascript:"), "{page}");
    let hrefs: Vec<&str> = page
        .split("href=\"")
        .skip(1)
        .map(|h| h.split('"').next().unwrap())
        .collect();
    assert!(
        hrefs.contains(&"./cells/evil.x86_64/big.log")
            && hrefs.contains(&"https://example.org/rustdoc.log"),
        "{hrefs:?}"
    );
    for h in &hrefs {
        assert!(
            (h.starts_with("./cells/") && !h.contains("..")) || h.starts_with("https://"),
            "link out of the run folder: {h}"
        );
        assert!(
            !h.contains("passwd") && !h.contains("zero"),
            "link to a refused log: {h}"
        );
    }
}

/// A results file that breaks the schema is refused with the file named, and the cell or the
/// line, not a panic: no stages (the JUnit writer's subtraction overflowed), an unknown arch
/// (it went unescaped into the Markdown header; refused as the file is read, so named by its
/// line), counts that do not add up, a folder out of the run.
#[test]
fn a_results_file_that_breaks_the_schema_is_refused_by_name() {
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit, &str); 10] = [
        (
            "no-stages",
            |v| v["cells"][1]["stages"] = serde_json::json!([]),
            "cell 1 (evil.x86_64): no stages",
        ),
        (
            "arch",
            |v| v["cells"][1]["arch"] = "x86_64 | <script>\u{1b}[2J".into(),
            "unknown arch `x86_64 | <script>\\x1b[2J` (known: x86_64, arm64, riscv64, loongarch64)",
        ),
        (
            "counts",
            |v| v["cells"][0]["kunit"]["counts"]["total"] = 7.into(),
            "cell 0 (base.x86_64): KUnit counts (total 7) do not match its 2 tests",
        ),
        (
            "parse-errors",
            |v| {
                v["cells"][0]["kunit"]["errors"] =
                    serde_json::json!(vec!["Test: x: missing expected subtest!"; 51])
            },
            "cell 0 (base.x86_64): 0 KUnit suites and 51 parse errors, more than 100000 and 50",
        ),
        (
            "dir",
            |v| v["cells"][1]["dir"] = "../../etc".into(),
            "cell 1 (evil.x86_64): the cell folder `../../etc` is not inside the run folder",
        ),
        (
            "twice",
            |v| v["cells"][1]["stages"][1]["stage"] = "fetch".into(),
            "cell 1 (evil.x86_64): stage fetch twice",
        ),
        (
            "queued",
            |v| v["cells"][1]["stages"][3]["queued_s"] = (-1.0).into(),
            "cell 1 (evil.x86_64): stage boot: queued -1 is not a time",
        ),
        (
            "toolchain",
            |v| v["cells"][1]["toolchain"]["name"] = "../../x".into(),
            "cell 1 (evil.x86_64): the toolchain name `../../x` may not start with `.` or `-`",
        ),
        (
            "config",
            |v| v["cells"][1]["config"] = "a b".into(),
            "cell 1 (evil.x86_64): the config name `a b` may hold only ASCII letters",
        ),
        (
            "base",
            |v| v["bases"][0]["name"] = "-x".into(),
            "the base name `-x` may not start with `.` or `-`",
        ),
    ];
    for (tag, edit, want) in cases {
        let t = TempDir::new(&format!("bad-results-{tag}"));
        let results = edited_results(&t.0, edit);
        for format in ["junit", "markdown", "text", "html"] {
            let o = report_cmd(&results, format).output().unwrap();
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(
                !o.status.success() && !stderr.contains("panicked"),
                "{tag} {format}: {stderr}"
            );
            // The file, then the cell the check names, or (for what serde refuses as it reads)
            // the line and column.
            assert!(
                stderr.contains(&format!("error: {}:", results.display())) && stderr.contains(want),
                "{tag} {format}: {stderr}"
            );
            assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
        }
    }
}

/// A results file is uploaded by a job that built strangers' code: what the report job prints
/// about it is one line per error, so a status or an entry id holding a line break and a
/// workflow command (`::error`, `::stop-commands::`) never reaches the runner as a command.
#[test]
fn a_results_files_text_never_begins_a_line_of_reports_errors() {
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 3] = [
        ("status", |v| {
            v["cells"][1]["stages"][2]["status"] =
                "pass\n::error::owned\r\n::stop-commands::x".into()
        }),
        ("entry", |v| {
            v["cells"][1]["entry"] = "evil\n::error file=a::owned\u{2028}::warning::w".into();
            v["cells"][1]["stages"] = serde_json::json!([]);
        }),
        ("arch", |v| {
            v["cells"][1]["arch"] = "x86_64\n::add-mask::x".into()
        }),
    ];
    for (tag, edit) in cases {
        let t = TempDir::new(&format!("cmd-results-{tag}"));
        let results = edited_results(&t.0, edit);
        for format in ["text", "github"] {
            let o = report_cmd(&results, format).output().unwrap();
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{tag} {format}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{tag} {format}: {stderr}");
            assert!(stderr.starts_with("error: "), "{tag} {format}: {stderr}");
            assert!(stderr.contains("\\n::"), "{tag} {format}: {stderr}");
            for out in [&o.stdout[..], &o.stderr[..]] {
                let out = String::from_utf8_lossy(out);
                assert!(
                    !out.split(['\n', '\r', '\u{2028}', '\u{85}'])
                        .any(|l| l.starts_with("::")),
                    "{tag} {format}: {out}"
                );
            }
        }
    }
}

/// KCIDB output validates with kcidb-io: the hostile results (schema 1, no patch hashes) and
/// the report fixture (a harness fault as MISS, patchset hashes, the base's repository).
#[test]
fn kcidb_output_validates_against_the_schema() {
    let t = TempDir::new("kcidb");
    let fixture = t.0.join("fixture");
    copy_dir(&root().join("tests/fixtures/report"), &fixture);
    // An entry whose remote did not answer: never fetched, so never applied or built.
    let offline_dir = t.0.join("offline");
    std::fs::create_dir_all(&offline_dir).unwrap();
    let offline = edited_results(&offline_dir, |v| {
        let skip = |stage: &str| serde_json::json!({"stage": stage, "status": "skip", "duration_s": 0.0, "summary": "fetch did not pass"});
        v["cells"][1]["stages"] = serde_json::json!([
            {"stage": "fetch", "status": "error", "duration_s": 0.1, "summary": "unreachable: x", "fault": "remote"},
            skip("apply"), skip("toolchain"), skip("config"), skip("build"), skip("boot")]);
        v["cells"][1]["patchset"] = serde_json::Value::Null;
        v["cells"][1]["toolchain"]["versions"] = serde_json::json!({});
        v["cells"][1]["kunit"] = serde_json::json!({"counts": {"total": 0, "passed": 0, "failed": 0, "crashed": 0, "skipped": 0}, "tests": []});
    });
    let kcidb = report(&offline, "kcidb");
    let v: serde_json::Value = serde_json::from_str(&kcidb).unwrap();
    let checkout = v["checkouts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"].as_str().unwrap().contains(":evil-"))
        .unwrap();
    assert!(
        checkout.get("valid").is_none() && checkout.get("patchset_hash").is_none(),
        "{checkout}"
    );
    let build = v["builds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"].as_str().unwrap().contains(":evil-"))
        .unwrap();
    assert_eq!(build["status"], "MISS", "{build}");
    assert!(build.get("compiler").is_none(), "{build}");
    assert!(!kcidb.contains("rustc ?") && !kcidb.contains("\"patchset_hash\": \"\""));
    for results in [hostile_results(&t.0), fixture.join("results.json"), offline] {
        let out = t.0.join("kcidb.json");
        run_ok(
            xtask()
                .args([
                    "report",
                    "--fail-on",
                    "never",
                    "--format",
                    "kcidb",
                    "--output",
                ])
                .arg(&out)
                .arg("--results")
                .arg(&results),
        );
        let py = "import json, sys, kcidb_io\nd = json.load(open(sys.argv[1]))\nkcidb_io.schema.LATEST.validate(d)\nprint(len(d['builds']), len(d['tests']))";
        let o = Command::new(venv_bin("python3"))
            .args(["-c", py])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "kcidb-io on {}: {}",
            results.display(),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

const WORKFLOW: &str = ".github/workflows/rfl-health.yml";

#[test]
fn workflow_validates_against_the_github_schema() {
    let o = Command::new(venv_bin("check-jsonschema"))
        .args(["--builtin-schema", "vendor.github-workflows"])
        .arg(root().join(WORKFLOW))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let wf = std::fs::read_to_string(root().join(WORKFLOW)).unwrap();
    assert!(!wf.contains("pull_request_target:"));
    assert!(wf.contains("permissions:\n  contents: read"));
    assert!(
        wf.contains("run: ci/plan.sh")
            && wf.contains("if: always()")
            && wf.contains("run: ci/report.sh all")
    );
    let plan = std::fs::read_to_string(root().join("ci/plan.sh")).unwrap();
    assert!(
        plan.contains("args=(--format github)") && plan.contains("cargo xtask plan \"${args[@]}\""),
        "{plan}"
    );
    let report = std::fs::read_to_string(root().join("ci/report.sh")).unwrap();
    assert!(
        report.contains("cargo xtask report \"${args[@]}\""),
        "{report}"
    );
}

#[test]
fn workflow_has_no_zizmor_findings() {
    let o = Command::new(venv_bin("zizmor"))
        .args(["--offline", "--no-progress"])
        .arg(root().join(WORKFLOW))
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.success(),
        "zizmor exit {:?}:\n{out}",
        o.status.code()
    );
    assert!(out.contains("No findings to report"), "{out}");
}

/// Every step's `run:` script in the workflow as (line number, text): the value after `run:`
/// and the lines indented deeper than the key.
fn workflow_run_scripts(wf: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = wf.lines().collect();
    let mut scripts = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let body = line.trim_start().trim_start_matches("- ");
        let Some(value) = body.strip_prefix("run:") else {
            continue;
        };
        // A step's script always has a value (its text, or `|` before a block); the job named
        // `run` and `defaults: run:` hold a mapping instead.
        if value.trim().is_empty() {
            continue;
        }
        let indent = line.len() - body.len();
        let mut text = value.trim().to_string();
        for next in &lines[i + 1..] {
            if !next.trim().is_empty() && next.len() - next.trim_start().len() <= indent {
                break;
            }
            text.push('\n');
            text.push_str(next);
        }
        scripts.push((i + 1, text));
    }
    scripts
}

#[test]
fn workflow_passes_values_through_env_and_pins_actions() {
    let wf = std::fs::read_to_string(root().join(WORKFLOW)).unwrap();
    let scripts = workflow_run_scripts(&wf);
    assert!(
        scripts.iter().any(|(_, s)| s == "ci/run-cells.sh entries"),
        "the run: scripts were not found: {scripts:?}"
    );
    // A `${{ }}` inside a script is pasted into the shell text before bash parses it, so a
    // base name like `a";touch x;"` would run as code: values come in through env: only.
    for (line, text) in &scripts {
        assert!(
            !text.contains("${{"),
            "{WORKFLOW}:{line}: a run: script expands ${{{{ }}}}:\n{text}"
        );
    }
    for (i, line) in wf.lines().enumerate() {
        let Some(uses) = line
            .trim_start()
            .trim_start_matches("- ")
            .strip_prefix("uses:")
        else {
            continue;
        };
        let (action, comment) = uses.split_once('#').unwrap_or((uses, ""));
        let sha = action.trim().rsplit_once('@').map_or("", |(_, r)| r);
        assert!(
            sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
            "{WORKFLOW}:{}: not pinned to a commit: {line}",
            i + 1
        );
        assert!(
            comment.trim().starts_with('v'),
            "{WORKFLOW}:{}: the pinned version is not named: {line}",
            i + 1
        );
    }
}

#[test]
fn workflow_hands_a_hostile_cell_list_to_the_harness_as_one_argument() {
    let wf = std::fs::read_to_string(root().join(WORKFLOW)).unwrap();
    assert!(
        wf.contains("CELLS: ${{ matrix.cells }}"),
        "the cells must reach the job's script through env:"
    );
    let scripts = workflow_run_scripts(&wf);
    for step in ["ci/run-cells.sh base", "ci/run-cells.sh entries"] {
        assert!(
            scripts.iter().any(|(_, s)| s == step),
            "no step runs `{step}`: {scripts:?}"
        );
    }
    // The steps' script, with a `cargo` that prints its arguments.
    let t = TempDir::new("wf-cells");
    let bin = t.0.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let shim = bin.join("cargo");
    std::fs::write(&shim, "#!/bin/sh\nprintf '%s\\0' \"$@\"\n").unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let marker = t.0.join("pwned");
    let hostile = format!(
        "e@b\";touch {m};\"@x86_64,$(touch {m}) `touch {m}` ' * ?",
        m = marker.display()
    );
    for (what, tail) in [
        ("base", &["--entry", "base", "--out", "results-base"]),
        ("entries", &["--out", "results", "", ""]),
    ] {
        let o = Command::new("bash")
            .arg(root().join("ci/run-cells.sh"))
            .arg(what)
            .env("CELLS", &hostile)
            .env("CCACHE_DIR", t.0.join("ccache"))
            .env_remove("RFL_MATRIX")
            .env_remove("RFL_STAGE")
            .env(
                "PATH",
                format!(
                    "{}:{}",
                    bin.display(),
                    std::env::var("PATH").unwrap_or_default()
                ),
            )
            .current_dir(&t.0)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let args: Vec<String> = String::from_utf8(o.stdout)
            .unwrap()
            .split_terminator('\0')
            .map(str::to_string)
            .collect();
        let mut want = vec![
            "xtask",
            "matrix",
            "--cells",
            hostile.as_str(),
            "--fail-on",
            "never",
        ];
        want.extend(tail.iter().filter(|a| !a.is_empty()));
        assert_eq!(args, want);
    }
    assert!(!marker.exists(), "the cell list ran as shell code");
}

#[test]
fn report_script_reads_every_job_folder_whatever_its_name() {
    let t = TempDir::new("ci-report");
    // A `cargo` that runs the harness built for this test, so no second build starts.
    let bin = t.0.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let shim = bin.join("cargo");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\n[ \"$1\" = xtask ] || exit 97\nshift\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_xtask")
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script = root().join("ci/report.sh");
    let summary = t.0.join("summary.md");
    let run = |dir: &str| {
        Command::new("bash")
            .arg(&script)
            .arg(dir)
            .current_dir(&t.0)
            .env("PATH", &path)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_OUTPUT", t.0.join("output"))
            .output()
            .unwrap()
    };

    // No job wrote results: a clear failure, not a report of nothing.
    std::fs::create_dir_all(t.0.join("none/results-0-x86_64")).unwrap();
    let o = run("none");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no results.json under none"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );

    // Folder names with spaces, globs and command substitutions stay one path each.
    let marker = t.0.join("pwned");
    let first = t.0.join("all/results-0 x86 $(touch pwned) `touch pwned` *");
    let second = t.0.join("all/results-1-[a]?");
    std::fs::create_dir_all(&first).unwrap();
    std::fs::create_dir_all(&second).unwrap();
    hostile_results(&first);
    let arm = std::fs::read_to_string(hostile_results(&second))
        .unwrap()
        .replace("x86_64", "arm64");
    std::fs::write(second.join("results.json"), arm).unwrap();
    std::fs::rename(
        second.join("cells/evil.x86_64"),
        second.join("cells/evil.arm64"),
    )
    .unwrap();
    let o = run("all");
    // No baseline yet: the step does its work and exits 0; the failing entry cells are the
    // verdict (`--fail-on fail`, never silently green), said on stderr and handed to the
    // job's last step.
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "{}{stderr}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(
        stderr.contains("report: 2 failing entry cells (--fail-on fail)\n"),
        "{stderr}"
    );
    assert!(!marker.exists(), "a folder name ran as shell code");
    let junit = std::fs::read_to_string(t.0.join("junit.xml")).unwrap();
    assert!(
        junit.contains("x86_64") && junit.contains("arm64"),
        "both jobs' cells: {junit}"
    );
    assert!(t.0.join("kcidb.json").is_file() && t.0.join("all/index.html").is_file());
    assert!(std::fs::read_to_string(&summary).unwrap().contains("arm64"));
    // No baseline: the failing entry is the verdict, given to the job's last step.
    let output = std::fs::read_to_string(t.0.join("output")).unwrap();
    assert!(
        output.contains("next=written\n") && output.ends_with("verdict=1\n"),
        "{output}"
    );
}

#[test]
fn html_report_renders_its_grid_in_chromium() {
    let t = TempDir::new("html");
    let results = hostile_results(&t.0);
    let html = t.0.join("index.html");
    run_ok(
        xtask()
            .args([
                "report",
                "--fail-on",
                "never",
                "--format",
                "html",
                "--output",
            ])
            .arg(&html)
            .arg("--results")
            .arg(&results),
    );
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("chromium: run `cargo xtask setup --tests`");
    let profile = t.0.join("profile");
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
    ];
    let png = t.0.join("shot.png");
    let o = Command::new(chromium)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg("--window-size=1200,600")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 5000,
        "screenshot of {} bytes",
        bytes.len()
    );
    let dom = Command::new(chromium)
        .args(flags)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("<table id=\"grid\">") && dom.matches("<tr>").count() >= 3,
        "{dom}"
    );
    // Keep the picture for a person to look at.
    let keep = root().join("target/rfl-report-screenshot.png");
    let _ = std::fs::copy(&png, keep);
}

/// `--fail-on` decides exit 1, and `--baseline` marks each cell against an earlier run: the
/// text and Markdown reports open with the regressed cells, and the JSON records the change.
#[test]
fn exit_codes_follow_fail_on_and_regressions_are_named_first() {
    let t = TempDir::new("baseline");
    // Now: the entry's clippy fails where the base's passes (its health is fail).
    let now = hostile_results(&t.0);
    // Then: the same cell passed.
    let old_dir = t.0.join("old");
    std::fs::create_dir_all(&old_dir).unwrap();
    let old = edited_results(&old_dir, |v| {
        v["cells"][1]["stages"][5]["status"] = "pass".into();
        v["cells"][1]["stages"][5]["diagnostics"] = serde_json::json!([]);
    });
    let code = |args: &[&str]| {
        let o = xtask()
            .arg("report")
            .args(args)
            .arg("--results")
            .arg(&now)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!err.contains("panicked"), "{err}");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            err,
        )
    };
    let (c, _, err) = code(&[]);
    assert_eq!(c, Some(1), "a failing entry fails by default");
    assert_eq!(err, "report: 1 failing entry cell (--fail-on fail)\n");
    let (c, _, err) = code(&["--fail-on", "never"]);
    assert_eq!((c, err.as_str()), (Some(0), ""));
    // No baseline: never silently green, but failing on any failing entry cell, and said so.
    let (c, _, err) = code(&["--fail-on", "regression"]);
    assert_eq!(c, Some(1), "{err}");
    assert_eq!(
        err,
        "no baseline: failing on any failing entry cell instead of regressions\n\
         report: 1 failing entry cell (--fail-on fail)\n"
    );
    let base = old.to_str().unwrap();
    let (c, text, err) = code(&["--fail-on", "regression", "--baseline", base]);
    assert_eq!(c, Some(1), "{err}");
    assert_eq!(err, "report: 1 regressed cell (--fail-on regression)\n");
    assert!(
        text.starts_with("Regressions:\n  evil.x86_64 (debian): clippy — "),
        "{text}"
    );
    // The base cell fails its KUnit test in both runs.
    assert!(text.contains("0 fixed, 1 still failing, 0 new"), "{text}");
    let (_, md, _) = code(&[
        "--format",
        "markdown",
        "--fail-on",
        "never",
        "--baseline",
        base,
    ]);
    let regressions = md
        .split("### Regressions")
        .nth(1)
        .expect("a Regressions section");
    assert!(
        regressions.contains("- evil.x86\\_64 (debian): clippy"),
        "{md}"
    );
    let (_, json, _) = code(&["--format", "json", "--fail-on", "never", "--baseline", base]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["cells"][1]["change"], "regressed");
    assert_eq!(v["cells"][0]["change"], "still-failing");
    // Each cell's last known state: its own verdict, known here.
    assert_eq!(v["cells"][1]["last_known"], "fail");
    assert_eq!(v["cells"][0]["last_known"], "fail");
    // Written as a baseline, an unreachable night carries the state on: the entry passed in
    // `old`; unreachable now, it stays `pass`, and a failure the night after is a regression.
    let unreachable_dir = t.0.join("unreachable");
    std::fs::create_dir_all(&unreachable_dir).unwrap();
    let unreachable = edited_results(&unreachable_dir, |v| {
        v["cells"][1]["stages"] = serde_json::json!([{"stage": "fetch", "status": "error",
            "duration_s": 0.1, "summary": "unreachable: x", "fault": "remote"}]);
        v["cells"][1]["kunit"] = serde_json::json!({"counts": {"total": 0, "passed": 0, "failed": 0, "crashed": 0, "skipped": 0}, "tests": []});
    });
    let carried = unreachable_dir.join("carried.json");
    run_ok(
        xtask()
            .args(["report", "--fail-on", "regression", "--format", "json"])
            .arg("--output")
            .arg(&carried)
            .arg("--results")
            .arg(&unreachable)
            .args(["--baseline", base]),
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&carried).unwrap()).unwrap();
    assert_eq!(v["cells"][1]["health"]["verdict"], "unreachable");
    assert_eq!(v["cells"][1]["change"], "unchanged");
    assert_eq!(v["cells"][1]["last_known"], "pass");
    let (c, text, _) = code(&[
        "--fail-on",
        "regression",
        "--baseline",
        carried.to_str().unwrap(),
    ]);
    assert_eq!(c, Some(1));
    assert!(
        text.starts_with("Regressions:\n  evil.x86_64 (debian): clippy — "),
        "{text}"
    );
    // The same results as their own baseline: nothing regressed.
    let (c, text, _) = code(&[
        "--fail-on",
        "regression",
        "--baseline",
        now.to_str().unwrap(),
    ]);
    assert_eq!(c, Some(0));
    assert!(
        text.contains("none since the baseline") && text.contains("2 still failing"),
        "{text}"
    );
    // A baseline that cannot be read is bad input (2), named.
    let (c, _, err) = code(&["--baseline", "/nonexistent/results.json"]);
    assert_eq!(c, Some(2));
    assert!(err.contains("/nonexistent/results.json"), "{err}");
}

/// `from` copied into `to`, folders and files.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Every report format from one fixed results file (`tests/fixtures/report`: a base cell, a
/// regression with hostile text, a build error, a harness fault, an entry that cannot run)
/// is what its snapshot shows. The GitHub format's stop token, random on every run, is masked.
#[test]
fn every_report_format_matches_its_snapshot() {
    let t = TempDir::new("snapshots");
    copy_dir(&root().join("tests/fixtures/report"), &t.0);
    let results = t.0.join("results.json");
    for format in [
        "text", "markdown", "junit", "kcidb", "html", "github", "json",
    ] {
        let out = t.0.join(format!("report.{format}"));
        run_ok(
            xtask()
                .args(["report", "--fail-on", "never", "--format", format])
                .arg("--output")
                .arg(&out)
                .arg("--results")
                .arg(&results),
        );
        let mut text = std::fs::read_to_string(&out).unwrap();
        if format == "github" {
            let token = text
                .lines()
                .find_map(|l| l.strip_prefix("::stop-commands::"))
                .expect("a stop-commands line")
                .to_string();
            assert_eq!(token.len(), 32, "{token}");
            text = text.replace(&token, "<random token>");
        }
        insta::assert_snapshot!(format!("report_{format}"), text);
    }
}

/// A cell says why it fails on one line, the same in the text report, the Markdown footnote,
/// the JUnit message and the GitHub annotation: the first diagnostic, then the log and the
/// line it was read from.
#[test]
fn every_report_gives_a_failing_cell_the_same_first_line() {
    let t = TempDir::new("first-line");
    copy_dir(&root().join("tests/fixtures/report"), &t.0);
    let results = t.0.join("results.json");
    let why = "drivers/x.c:12: error: use of undeclared identifier 'y' (+1 more) — cells/build-error.x86_64/build.log:4";
    let text = report(&results, "text");
    assert!(
        text.contains(&format!(
            "  build-error.x86_64: FAIL build in 1.5 s — {why}\n"
        )),
        "{text}"
    );
    let md = report(&results, "markdown");
    assert!(
        md.contains("FAIL build[^3] |")
            && md.contains("\n[^3]: build-error.x86\\_64: drivers/x.c:12: error: use of undeclared identifier 'y' (+1 more) — cells/build-error.x86\\_64/build.log:4\n"),
        "{md}"
    );
    let junit = report(&results, "junit");
    assert!(
        junit.contains(&format!(
            "<failure message=\"{}\">",
            why.replace('\'', "&apos;")
        )),
        "{junit}"
    );
    assert!(
        junit.contains("file=\"drivers/x.c\" line=\"12\""),
        "{junit}"
    );
    let gh = report(&results, "github");
    assert!(
        gh.lines().any(
            |l| l.starts_with("::error title=build-error.x86_64%3A new (FAIL build)::")
                && l.contains(&format!("::{why}%0Areproduce: "))
        ),
        "{gh}"
    );
}

/// The text report's colours follow `--color`, NO_COLOR and CLICOLOR_FORCE (through
/// anstream); a pipe gets none by default.
#[test]
fn text_report_colours_follow_color_no_color_and_clicolor_force() {
    let t = TempDir::new("colour");
    copy_dir(&root().join("tests/fixtures/report"), &t.0);
    let results = t.0.join("results.json");
    let coloured = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = xtask();
        cmd.env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE")
            .env_remove("CLICOLOR")
            .args(["report", "--fail-on", "never"])
            .args(args)
            .arg("--results")
            .arg(&results);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let text = run_ok(&mut cmd);
        assert!(text.contains("FAIL build"), "{text}");
        text.contains("\u{1b}[31m")
    };
    assert!(!coloured(&[], &[]), "a pipe gets no colour");
    assert!(coloured(&["--color", "always"], &[]));
    assert!(coloured(&[], &[("CLICOLOR_FORCE", "1")]));
    assert!(!coloured(
        &[],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]
    ));
    assert!(!coloured(&["--color", "never"], &[("CLICOLOR_FORCE", "1")]));
    // Only the text report is coloured.
    let mut md = xtask();
    md.args([
        "--color",
        "always",
        "report",
        "--fail-on",
        "never",
        "--format",
        "markdown",
    ])
    .arg("--results")
    .arg(&results);
    assert!(!run_ok(&mut md).contains('\u{1b}'));
}

/// Every argument of every subcommand (flags and positionals) says what it is for in its
/// help: the command tree clap builds from `Flags` is walked, so a flag added without a doc
/// comment fails here.
#[test]
fn every_argument_of_every_subcommand_has_help() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, seen: &mut usize, missing: &mut Vec<String>) {
        for a in cmd.get_arguments() {
            *seen += 1;
            let help = a.get_help().or(a.get_long_help()).map(|h| h.to_string());
            if help.is_none_or(|h| h.trim().is_empty()) {
                let name = a
                    .get_long()
                    .map(|l| format!("--{l}"))
                    .unwrap_or_else(|| a.get_id().to_string());
                missing.push(format!("{path} {name}"));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), seen, missing);
        }
    }
    let (mut seen, mut missing) = (0, Vec::new());
    let cmd = xtask::commands::Flags::command();
    walk(&cmd, "cargo xtask", &mut seen, &mut missing);
    assert!(seen > 60, "only {seen} arguments walked");
    assert!(missing.is_empty(), "without help:\n{}", missing.join("\n"));
    // And as a person sees it: each subcommand's --help, every option with its text.
    for sub in cmd.get_subcommands() {
        let help = run_ok(
            xtask()
                .env("NO_COLOR", "1")
                .args([sub.get_name(), "--help"]),
        );
        assert!(help.contains("Options:"), "{}: {help}", sub.get_name());
    }
}

/// The command line's help, as a person reads it.
#[test]
fn help_matches_its_snapshot() {
    for (name, args) in [
        ("help", &["--help"][..]),
        ("report_help", &["report", "--help"][..]),
    ] {
        let help = run_ok(xtask().env("NO_COLOR", "1").args(args));
        insta::assert_snapshot!(name, help);
    }
}

/// The shipped matrix's config variants in the plan: `release` by default, `debug` on request,
/// both with `all`, each with its own base cell; an undeclared one is bad input.
#[test]
fn plan_shows_the_config_dimension() {
    let plan = |config: &[&str]| {
        run_ok(
            xtask()
                .args([
                    "plan", "--entry", "base", "--arch", "x86_64", "--base", "v7.2.x",
                ])
                .args(config),
        )
    };
    let default = plan(&[]);
    assert!(
        default.starts_with("1 cells; config release\n"),
        "{default}"
    );
    let debug = plan(&["--config", "debug"]);
    assert!(
        debug.contains("base-v7.2.x.x86_64.debug") && debug.contains("config debug"),
        "{debug}"
    );
    let all = plan(&["--config", "all"]);
    assert!(all.starts_with("2 cells; config debug, release\n"), "{all}");
    let o = xtask().args(["plan", "--config", "nope"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--config nope: not declared in")
            && err.contains("(declared: debug, release, all)"),
        "{err}"
    );
}

/// An expectation as results.json records it.
fn met(id: &str, outcome: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "at": "expectations.toml:3", "outcome": outcome,
        "matched": {"kunit": "rust_doctests_kernel.rust_doctest_kernel_task_rs_1"},
        "reason": "faults on the tiny config", "link": "https://git.kernel.org/x#n71"})
}

/// The fixture with the base's doctest an xfail on the base cell, and on the entry either an
/// xfail too (`fixed` false) or, the entry having fixed it, an xpass; the entry's clippy
/// passes, so the expectations alone decide.
fn expected_results(dir: &Path, fixed: bool) -> PathBuf {
    edited_results(dir, |v| {
        v["cells"][0]["expectations"] = serde_json::json!([met("task-doctest", "xfail")]);
        let e = &mut v["cells"][1];
        e["stages"][5]["status"] = "pass".into();
        e["stages"][5]["diagnostics"] = serde_json::json!([]);
        if fixed {
            e["kunit"]["tests"][0]["status"] = "pass".into();
            e["kunit"]["counts"] = serde_json::json!({"total": 2, "passed": 2, "failed": 0, "crashed": 0, "skipped": 0});
            e["stages"][4]["status"] = "pass".into();
            e["expectations"] = serde_json::json!([met("task-doctest", "xpass")]);
        } else {
            e["expectations"] = serde_json::json!([met("task-doctest", "xfail")]);
        }
    })
}

/// Known failures in every report, apart from real ones with their reason and link: an xfail
/// counts against nothing (exit 0, the base cell passes); an xpass is an error of the
/// expectations file that `--fail-on fail` and `regression` count (exit 1, never 3) and
/// `never` does not; KCIDB stays valid, with the waived test and the expectation's issue.
#[test]
fn known_failures_are_reported_apart_and_an_xpass_fails_the_results() {
    let t = TempDir::new("expect");
    let xfail_dir = t.0.join("xfail");
    let xpass_dir = t.0.join("xpass");
    std::fs::create_dir_all(&xfail_dir).unwrap();
    std::fs::create_dir_all(&xpass_dir).unwrap();
    let xfail = expected_results(&xfail_dir, false);
    let xpass = expected_results(&xpass_dir, true);
    let code = |results: &Path, fail_on: &str| {
        let o = xtask()
            .args([
                "report",
                "--format",
                "text",
                "--fail-on",
                fail_on,
                "--results",
            ])
            .arg(results)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (c, text, err) = code(&xfail, "fail");
    assert_eq!(c, Some(0), "{text}\n{err}");
    assert!(
        text.contains("known failures (expectations.toml)")
            && text.contains("xfail kunit rust_doctests_kernel.rust_doctest_kernel_task_rs_1 (task-doctest, expectations.toml:3: faults on the tiny config; https://git.kernel.org/x#n71)")
            && text.contains("pass (1 xfail)")
            && !text.contains("failing cells"),
        "{text}"
    );
    for on in ["fail", "regression"] {
        let (c, text, err) = code(&xpass, on);
        assert_eq!(c, Some(1), "--fail-on {on}: {text}\n{err}");
        assert!(err.contains("1 unexpected pass (xpass)"), "{err}");
        assert!(
            text.contains("XPASS") && text.contains("delete it"),
            "{text}"
        );
    }
    assert_eq!(code(&xpass, "never").0, Some(0));
    let junit = report(&xpass, "junit");
    assert!(
        junit.contains("<skipped message=\"xfail kunit rust_doctests_kernel.rust_doctest_kernel_task_rs_1 (task-doctest")
            && junit.contains("<error message=\"xpass: expected to fail, it passed: delete expectation task-doctest (expectations.toml:3)"),
        "{junit}"
    );
    let md = report(&xpass, "markdown");
    assert!(
        md.contains("### Known failures (expectations.toml)"),
        "{md}"
    );
    let html = report(&xpass, "html");
    assert!(
        html.contains("<h2>Known failures (expectations.toml)</h2>")
            && html.contains("<a href=\"https://git.kernel.org/x#n71\">"),
        "{html}"
    );
    let github = report(&xfail, "github");
    assert!(
        github.contains("::notice title=known failures::2 expected failures"),
        "{github}"
    );
    let kcidb = report(&xpass, "kcidb");
    let v: serde_json::Value = serde_json::from_str(&kcidb).unwrap();
    let waived: Vec<&serde_json::Value> = v["tests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["misc"]["waived"] == true)
        .collect();
    assert_eq!(waived.len(), 1, "the base's xfail only: {kcidb}");
    assert_eq!(v["issues"][0]["report_url"], "https://git.kernel.org/x#n71");
    let presence: Vec<&serde_json::Value> = v["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["present"])
        .collect();
    assert_eq!(presence, [true, false], "{kcidb}");
    let file = t.0.join("kcidb.json");
    std::fs::write(&file, &kcidb).unwrap();
    let o = Command::new(venv_bin("python3"))
        .args(["-c", "import json, sys, kcidb_io; kcidb_io.schema.LATEST.validate(json.load(open(sys.argv[1])))"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "kcidb-io: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A hostile expectation id in a results file is refused by name.
    let evil_dir = t.0.join("evil");
    std::fs::create_dir_all(&evil_dir).unwrap();
    let evil = edited_results(&evil_dir, |v| {
        v["cells"][1]["expectations"] = serde_json::json!([met("../x\n::error::y", "xfail")]);
    });
    let o = report_cmd(&evil, "text").output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cell 1 (evil.x86_64): expectation id"),
        "{err}"
    );
}

/// An expired expectation is not applied and is an error naming it (a run of no cell, so no
/// kernel: the run still says it and exits 1), and `expectations lint` names it at its place;
/// lint also finds a missing link and an unknown arch, each at file:line:col, and exits 2 on
/// a file it cannot read.
#[test]
fn an_expired_expectation_is_an_error_and_lint_finds_each_problem_at_its_place() {
    let t = TempDir::new("expired");
    let dir = &t.0;
    std::fs::write(
        dir.join("matrix.toml"),
        GOOD.replace("id = \"a\"\n", "id = \"a\"\narches = [\"x86_64\"]\n"),
    )
    .unwrap();
    let expect = "[[expect]]\nid = \"old\"\nstage = \"build\"\noutcome = \"fail\"\nreason = \"r\"\nlink = \"0123abcd\"\nadded = 2026-01-01\nexpires = 2026-02-01\n";
    std::fs::write(dir.join("expectations.toml"), expect).unwrap();
    let lint = |today: &str| {
        let o = xtask()
            .env("RFL_TODAY", today)
            .args(["expectations", "lint", "--matrix"])
            .arg(dir.join("matrix.toml"))
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).replace(&*dir.to_string_lossy(), "D"),
        )
    };
    let (c, out) = lint("2026-01-15");
    assert_eq!(c, Some(0), "{out}");
    let (c, out) = lint("2026-02-02");
    assert_eq!(c, Some(1), "{out}");
    assert!(
        out.starts_with("D/expectations.toml:8:11: expectation `old` expired on 2026-02-01"),
        "{out}"
    );
    // A run (of no cell: the entry runs on x86_64 only) says it and exits 1, not 3.
    let o = xtask()
        .env("RFL_TODAY", "2026-02-02")
        .arg("--cache")
        .arg(dir.join("cache"))
        .args(["matrix", "--arch", "arm64", "--matrix"])
        .arg(dir.join("matrix.toml"))
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: expectation `old`") && err.contains("expired on 2026-02-01"),
        "{err}"
    );
    assert!(
        err.contains("matrix: 1 expired expectation (--fail-on fail)"),
        "{err}"
    );
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/results.json")).unwrap())
            .unwrap();
    assert_eq!(results["expectations"][0]["kind"], "expired", "{results}");
    // The report of those results says it too.
    let o = xtask()
        .args(["report", "--format", "text", "--results"])
        .arg(dir.join("out/results.json"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    // A missing link and an unknown arch, each at its place; the run refuses the file.
    let bad = "[[expect]]\nid = \"x\"\nkunit = \"a.b\"\narch = [\"x86_64\", \"sparc\"]\noutcome = \"fail\"\nreason = \"r\"\nadded = 2026-01-01\nexpires = 2027-01-01\n";
    std::fs::write(dir.join("expectations.toml"), bad).unwrap();
    let (c, out) = lint("2026-01-15");
    assert_eq!(c, Some(1), "{out}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "D/expectations.toml:4:19: expectation `x`: unknown arch `sparc` (known: x86_64, arm64, riscv64, loongarch64)",
            "D/expectations.toml:1:1: expectation `x`: `link` is missing (it is required)",
        ]
    );
    let o = xtask()
        .args(["plan", "--matrix"])
        .arg(dir.join("matrix.toml"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).replace(&*dir.to_string_lossy(), "D");
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.starts_with("error: D/expectations.toml:4:19: expectation `x`: unknown arch `sparc`"),
        "{err}"
    );
    // Unreadable: exit 2.
    std::fs::remove_file(dir.join("expectations.toml")).unwrap();
    assert_eq!(lint("2026-01-15").0, Some(2));
}

/// The shipped expectations (the project's and the self-test's) are clean against their
/// matrices.
#[test]
fn shipped_expectations_lint_clean() {
    for m in ["matrix.toml", "tests/selftest/matrix.toml"] {
        let out = run_ok(
            xtask()
                .env("RFL_TODAY", "2026-12-07")
                .args(["expectations", "lint", "--matrix"])
                .arg(root().join(m)),
        );
        assert!(out.ends_with(": clean\n"), "{m}: {out}");
    }
}
