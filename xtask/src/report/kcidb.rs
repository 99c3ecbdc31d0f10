//! KCIDB v5 (checkouts, builds, tests) as validated by kcidb-io.

use std::io::Write;

use crate::model::outcome::{CaseStatus, Stage, Status};
use crate::report::Grid;

/// A KCIDB path component: `[A-Za-z0-9_-]+`.
pub(crate) fn word(s: &str) -> String {
    let w: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if w.is_empty() {
        "_".into()
    } else {
        w
    }
}

fn status(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Error => "ERROR",
        Status::Skip => "SKIP",
    }
}

/// Checkouts, builds and tests, as kcidb-io validates them.
pub fn write(g: &Grid, w: &mut dyn Write) -> std::io::Result<()> {
    use serde_json::{json, Value};
    const ORIGIN: &str = "rfl_health";
    let mut checkouts: Vec<Value> = Vec::new();
    let mut builds = Vec::new();
    let mut tests = Vec::new();
    let ts = |s: &str| {
        if s.is_empty() {
            Value::Null
        } else {
            Value::String(s.to_string())
        }
    };
    for cell in g.cells() {
        let c = cell.result;
        let who = word(&cell.name());
        let commit = c.base_commit.clone().unwrap_or_default();
        let checkout_id = format!(
            "{ORIGIN}:{who}-{}-{}",
            word(&c.base),
            c.patchset
                .as_ref()
                .map_or(commit.clone(), |p| p.hash.clone())
        );
        if !checkouts.iter().any(|x| x["id"] == checkout_id.as_str()) {
            let mut co = json!({
                "id": checkout_id,
                "origin": ORIGIN,
                "tree_name": c.base,
                "valid": c.stage(Stage::Apply).is_some_and(|s| s.status == Status::Pass),
            });
            if commit.len() == 40 {
                co["git_commit_hash"] = json!(commit);
            }
            if let Some(p) = &c.patchset {
                co["patchset_hash"] = json!(p.hash);
            }
            if let Some(t) = ts(&c.started).as_str() {
                co["start_time"] = json!(t);
            }
            checkouts.push(co);
        }
        let build_id = format!(
            "{ORIGIN}:{who}-{}-{}-{}",
            word(&c.arch),
            word(&c.toolchain.name),
            word(&c.started)
        );
        let b = c.stage(Stage::Build);
        let mut build = json!({
            "id": build_id,
            "origin": ORIGIN,
            "checkout_id": checkout_id,
            "architecture": word(&c.arch),
            "compiler": format!("rustc {} / clang {}", c.toolchain.versions.get("rustc").map_or("?", |s| s), c.toolchain.versions.get("clang").map_or("?", |s| s)),
            "config_name": "tinyconfig+rfl",
            "status": b.map_or("MISS", |s| status(s.status)),
            "duration": b.map_or(0.0, |s| s.duration_s),
        });
        if let Some(t) = ts(&c.started).as_str() {
            build["start_time"] = json!(t);
        }
        if let Some(s) = b {
            let excerpt: String = s.summary.chars().take(16000).collect();
            build["log_excerpt"] = json!(excerpt);
        }
        builds.push(build);
        for s in c.stages.iter().filter(|s| s.stage > Stage::Build) {
            let path = format!("rfl.{}", s.stage.name());
            tests.push(json!({
                "id": format!("{build_id}-{}", s.stage.name()),
                "origin": ORIGIN,
                "build_id": build_id,
                "path": path,
                "status": status(s.status),
                "duration": s.duration_s,
                "log_excerpt": s.summary.chars().take(16000).collect::<String>(),
            }));
        }
        for (n, t) in c.kunit.tests.iter().enumerate() {
            let status = match t.status {
                CaseStatus::Pass => "PASS",
                CaseStatus::Skip => "SKIP",
                CaseStatus::Crash => "ERROR",
                CaseStatus::Fail => "FAIL",
            };
            let mut path = String::from("kunit");
            for part in t
                .suite
                .split('.')
                .filter(|p| !p.is_empty())
                .chain(std::iter::once(t.name.as_str()))
            {
                path.push('.');
                path.push_str(&word(part));
            }
            tests.push(json!({
                "id": format!("{build_id}-kunit-{n}"),
                "origin": ORIGIN,
                "build_id": build_id,
                "path": path,
                "status": status,
                "log_excerpt": t.summary.chars().take(16000).collect::<String>(),
            }));
        }
    }
    let v = json!({ "version": { "major": 5, "minor": 3 }, "checkouts": checkouts, "builds": builds, "tests": tests });
    w.write_all((serde_json::to_string_pretty(&v).expect("json") + "\n").as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn path_words_keep_only_their_alphabet() {
        assert_eq!(super::word("rust doctests.kernel"), "rust_doctests_kernel");
    }
}
