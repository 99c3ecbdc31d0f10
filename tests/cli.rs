//! Fast tests of the command line: registry import, plan, and matrix errors. No kernel.

use std::path::{Path, PathBuf};
use std::process::Command;

fn xtask() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("rfl-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_ok(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{cmd:?}: {}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn whole_registry_imports_to_74_planned_entries_and_reimports_identically() {
    let t = TempDir::new("import");
    let out = t.0.join("T.toml");
    let reg = root().join("tests/fixtures/rfl-patch-registry.md");
    run_ok(xtask().arg("import-registry").arg(&reg).arg("--out").arg(&out));
    let first = std::fs::read(&out).unwrap();
    run_ok(xtask().arg("import-registry").arg(&reg).arg("--out").arg(&out));
    assert_eq!(first, std::fs::read(&out).unwrap(), "a second import must be byte-identical");

    let json = run_ok(xtask().args(["plan", "--format", "json", "--matrix"]).arg(&out));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 74);
    let mut ids = std::collections::BTreeSet::new();
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for e in entries {
        assert!(ids.insert(e["id"].as_str().unwrap().to_string()), "duplicate id {}", e["id"]);
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
    assert_eq!(by_id("vfs-puzzlefs")["skip_reason"].as_str().unwrap().contains("puzzlefs_dependencies"), true);
    assert_eq!(by_id("crypto")["base"], "rust-6.5");
    assert_eq!(by_id("drm")["base"], "v6.3-rc1");
    assert_eq!(by_id("phy")["source"]["kind"], "file");
    assert_eq!(by_id("phy")["base"], "v7.2.x");
    assert_eq!(by_id("vfs")["source"]["value"], "20231018122518.128049-1-wedsonaf@gmail.com");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("id = \"drm-nova-nouveau-rewrite\"\n") && text.contains("lore = \"Zfsj0_tb-0-tNrJy@cassiopeiae\""));
}

#[test]
fn shipped_matrix_is_the_import_of_the_registry() {
    // The shipped file must be what the import writes for the registry fixture.
    let t = TempDir::new("shipped");
    let out = t.0.join("m.toml");
    run_ok(xtask().arg("import-registry").arg(root().join("tests/fixtures/rfl-patch-registry.md")).arg("--out").arg(&out));
    let shipped = std::fs::read_to_string(root().join("matrix.toml")).unwrap();
    let fresh = std::fs::read_to_string(&out).unwrap();
    // Import notes name lines of the source file, which differ between the page and the
    // fixture; everything else must be equal.
    let strip = |s: &str| s.lines().filter(|l| !l.starts_with("#   line ")).collect::<Vec<_>>().join("\n");
    assert_eq!(strip(&shipped), strip(&fresh), "matrix.toml is stale: re-run the import");
}

fn matrix_error(text: &str) -> (i32, String) {
    let t = TempDir::new(&format!("err{}", text.len()));
    let p = t.0.join("bad.toml");
    std::fs::write(&p, text).unwrap();
    let o = xtask().args(["plan", "--matrix"]).arg(&p).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!err.contains("panicked"), "{err}");
    (o.status.code().unwrap_or(-1), err.replace(&*p.to_string_lossy(), "bad.toml"))
}

const GOOD: &str = "arches = [\"x86_64\"]\n[bases.b]\nkind = \"tag\"\nurl = \"u\"\nref = \"r\"\n[[entry]]\nid = \"a\"\nsource = { lore = \"m@x\" }\nbase = \"b\"\n";

#[test]
fn bad_matrices_name_file_line_and_column() {
    let (code, err) = matrix_error(&GOOD.replace("ref = \"r\"", "ref = 3"));
    assert_ne!(code, 0);
    assert!(err.starts_with("error: bad.toml:5:7: invalid type: integer `3`, expected a string"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, err) = matrix_error(&GOOD.replace("kind = \"tag\"", "kind = 7"));
    assert_ne!(code, 0);
    assert!(err.starts_with("error: bad.toml:3:8: "), "{err}");

    let (code, err) = matrix_error(&GOOD.replace("x86_64", "sparc64"));
    assert_ne!(code, 0);
    assert_eq!(err.trim(), "error: bad.toml:1:11: unknown arch `sparc64` (known: x86_64, arm64, riscv64, loongarch64)");

    let (code, err) = matrix_error(&format!("{GOOD}[[entry]]\nid = \"a\"\nsource = {{ lore = \"n@x\" }}\n"));
    assert_ne!(code, 0);
    assert_eq!(err.trim(), "error: bad.toml:11:6: duplicate entry id `a`");

    let (code, err) = matrix_error("arches = [\"x86_64\"\n");
    assert_ne!(code, 0);
    assert!(err.starts_with("error: bad.toml:1:"), "{err}");

    let (code, err) = matrix_error(&GOOD.replace("lore", "svn"));
    assert_ne!(code, 0);
    assert!(err.contains("bad.toml:8:") && err.contains("unknown variant `svn`"), "{err}");
}

#[test]
fn plan_filters_and_github_matrix() {
    let m = root().join("matrix.toml");
    let json = run_ok(xtask().args(["plan", "--format", "json", "--entry", "base", "--arch", "all", "--base", "v7.2.x", "--matrix"]).arg(&m));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let cells = v["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 4);
    assert!(cells.iter().all(|c| c["entry"] == "base" && c["base"] == "v7.2.x"));

    let gh = run_ok(xtask().args(["plan", "--format", "github", "--max-jobs", "3", "--matrix"]).arg(&m));
    let v: serde_json::Value = serde_json::from_str(&gh).unwrap();
    let jobs = v["include"].as_array().unwrap();
    assert_eq!(jobs.len(), 3);
    let all = run_ok(xtask().args(["plan", "--format", "json", "--matrix"]).arg(&m));
    let total = serde_json::from_str::<serde_json::Value>(&all).unwrap()["cells"].as_array().unwrap().len() as u64;
    assert_eq!(jobs.iter().map(|j| j["count"].as_u64().unwrap()).sum::<u64>(), total);

    let o = xtask().args(["plan", "--arch", "sparc", "--matrix"]).arg(&m).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--arch sparc: unknown arch"));
}

#[test]
fn a_thousand_entry_matrix_plans_quickly() {
    let t = TempDir::new("big");
    let mut text = String::from("arches = [\"x86_64\", \"arm64\", \"riscv64\", \"loongarch64\"]\n[bases.b]\nkind = \"branch\"\nurl = \"u\"\nref = \"r\"\n");
    for i in 0..1000 {
        text.push_str(&format!("[[entry]]\nid = \"e{i}\"\nsource = {{ github_pr = \"https://github.com/o/r/pull/{i}\" }}\nbase = \"b\"\n"));
    }
    let p = t.0.join("big.toml");
    std::fs::write(&p, text).unwrap();
    let json = run_ok(xtask().args(["plan", "--format", "json", "--matrix"]).arg(&p));
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["cells"].as_array().unwrap().len(), 4004);
    let gh = run_ok(xtask().args(["plan", "--format", "github", "--matrix"]).arg(&p));
    let v: serde_json::Value = serde_json::from_str(&gh).unwrap();
    assert!(v["include"].as_array().unwrap().len() <= 256);
}
