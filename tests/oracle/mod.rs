//! The kernel's own kunit_parser.py as an oracle for the harness's KTAP parser and KUnit
//! verdict: `kunit_oracle.py` runs it over console files, [`compare`] holds the harness to
//! its answer. Used by the differential test (tests/ktap.rs) and by the real-console check of
//! the e2e suite.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use xtask::model::outcome::{CaseStatus, Status as StageStatus};
use xtask::stages::ktap::{self, Status, Test};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn store() -> PathBuf {
    std::env::var_os("RFL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/rfl"))
        .join("store.git")
}

/// The newest tagged base in the harness's store, and its kunit tool unpacked into `dir`
/// (`dir/tools/testing/kunit`). Fails, never skips, when setup has not imported one.
pub fn kunit_tool(dir: &Path) -> (String, PathBuf) {
    let o = Command::new("git")
        .arg("--git-dir")
        .arg(store())
        .args(["tag", "--list", "v*", "--sort=-v:refname"])
        .output()
        .unwrap();
    assert!(
        o.status.success() && !o.stdout.is_empty(),
        "no tagged base in {} (run `cargo xtask setup`): {}",
        store().display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let tag = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let o = Command::new("sh")
        .arg("-c")
        .arg("git --git-dir \"$1\" archive \"$2\" tools/testing/kunit | tar -x -C \"$3\"")
        .arg("sh")
        .arg(store())
        .arg(&tag)
        .arg(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (tag, dir.join("tools/testing/kunit"))
}

/// kunit_parser's answer for each console: `{tree, errors, success}` (or `{exception}`).
pub fn ask(kunit: &Path, consoles: &[Vec<u8>], work: &Path) -> Vec<Value> {
    let dir = work.join("consoles");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, s) in consoles.iter().enumerate() {
        std::fs::write(dir.join(format!("{i}.log")), s).unwrap();
    }
    let o = Command::new("python3")
        .arg(root().join("tests/kunit_oracle.py"))
        .arg(kunit)
        .arg(&dir)
        .arg(consoles.len().to_string())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let answers: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), consoles.len());
    answers
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Success => "SUCCESS",
        Status::Failure => "FAILURE",
        Status::Skipped => "SKIPPED",
        Status::Crashed => "TEST_CRASHED",
        Status::NoTests => "NO_TESTS",
        Status::FailureToParse => "FAILURE_TO_PARSE_TESTS",
    }
}

fn tree(t: &Test) -> Value {
    let c = &t.counts;
    json!({
        "name": t.name,
        "status": status_name(t.status),
        "counts": [c.passed, c.failed, c.crashed, c.skipped, c.errors],
        "subtests": t.subtests.iter().map(tree).collect::<Vec<_>>(),
    })
}

fn errors(t: &Test, out: &mut Vec<String>) {
    out.extend(
        t.errors
            .iter()
            .map(|e| e.lines().next().unwrap_or("").to_string()),
    );
    for s in &t.subtests {
        errors(s, out);
    }
}

/// How one console compared.
pub enum Agreement {
    /// Same tree, errors, counts and verdict; kunit.py's verdict.
    Same { success: bool },
    /// A difference the harness makes on purpose: its name in `ktap::DELIBERATE`.
    Deliberate(&'static str),
}

/// A difference the harness makes on purpose in its verdict, by its `ktap::DELIBERATE` name.
fn deliberate(console: &[u8]) -> Option<&'static str> {
    let name = console.is_empty().then_some("no-console")?;
    assert!(
        ktap::DELIBERATE.iter().any(|(n, _)| *n == name),
        "{name} is not in ktap::DELIBERATE"
    );
    Some(name)
}

/// Hold the harness to kunit_parser's answer on one console (kunit.py reads its first KTAP
/// block): per test its name, status and counts; the parse errors (first lines, as a
/// multiset); the harness's cases adding up to kunit_parser's counts; the verdict.
pub fn compare(console: &[u8], want: &Value) -> Result<Agreement, String> {
    if let Some(e) = want.get("exception") {
        return Err(format!("kunit_parser raised {e}"));
    }
    let text = ktap::decode(console);
    let first = ktap::parse_first(&text);
    if tree(&first) != want["tree"] {
        return Err(format!(
            "trees differ\n  ours:   {}\n  theirs: {}",
            tree(&first),
            want["tree"]
        ));
    }
    let mut ours = Vec::new();
    errors(&first, &mut ours);
    let mut theirs: Vec<String> = want["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().lines().next().unwrap_or("").to_string())
        .collect();
    ours.sort();
    theirs.sort();
    if ours != theirs {
        return Err(format!(
            "parse errors differ\n  ours:   {ours:?}\n  theirs: {theirs:?}"
        ));
    }
    let (k, verdict) = ktap::judge_blocks(std::slice::from_ref(&first), text.is_empty(), None);
    let sum = |s: CaseStatus| k.tests.iter().filter(|t| t.status == s).count();
    let mine = json!([
        sum(CaseStatus::Pass),
        sum(CaseStatus::Fail),
        sum(CaseStatus::Crash),
        sum(CaseStatus::Skip)
    ]);
    let c = &want["tree"]["counts"];
    let counts = json!([c[0], c[1], c[2], c[3]]);
    if mine != counts {
        return Err(format!(
            "the cases {mine} do not add up to kunit_parser's counts {counts}: {:?}",
            k.tests
        ));
    }
    let success = want["success"].as_bool().unwrap();
    // kunit.py's success is a pass, its failure a fail; nothing in between.
    let same = if success {
        verdict.status == StageStatus::Pass
    } else {
        verdict.status == StageStatus::Fail
    };
    if !same {
        return match deliberate(console) {
            Some(why) => Ok(Agreement::Deliberate(why)),
            None => Err(format!(
                "kunit.py success: {success}; the harness: {:?} ({})",
                verdict.status, verdict.summary
            )),
        };
    }
    Ok(Agreement::Same { success })
}
