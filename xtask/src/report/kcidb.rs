//! KCIDB v5 (checkouts, builds, tests) as validated by kcidb-io.

use std::io::Write;

use sha2::{Digest, Sha256};

use crate::model::outcome::{
    CaseStatus, CellResult, Fault, Matched, Met, MetOutcome, RunResults, Stage, StageResult, Status,
};
use crate::report::{is_http, Grid};

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

/// A fault of the CI rather than of the code: the harness's or the machine's, or a remote
/// that did not answer.
fn ci_fault(s: &StageResult) -> bool {
    s.status == Status::Error && matches!(s.fault, Some(Fault::Harness | Fault::Remote))
}

/// A stage's status in KCIDB's words. `MISS` is a stage that did not run for the CI's own
/// failure, so nothing is known of the code: one in error for the harness, the machine or an
/// unreachable remote, or one skipped because an earlier stage was (a build that never ran
/// because the remote was unreachable). Any other error is `ERROR`, any other skip `SKIP`.
fn status(c: &CellResult, s: &StageResult) -> &'static str {
    match s.status {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Error if ci_fault(s) => "MISS",
        Status::Error => "ERROR",
        Status::Skip => {
            let cause = c
                .stages
                .iter()
                .take_while(|x| x.stage < s.stage)
                .find(|x| matches!(x.status, Status::Fail | Status::Error));
            if cause.is_some_and(ci_fault) {
                "MISS"
            } else {
                "SKIP"
            }
        }
    }
}

/// Was the checkout's patchset applied: `true` when it applied, `false` when it did not;
/// `None` when no apply was attempted (the series or the base was never fetched, or the apply
/// stage itself erred).
fn valid(c: &CellResult) -> Option<bool> {
    match c.stage(Stage::Apply)?.status {
        Status::Pass => Some(true),
        Status::Fail => Some(false),
        Status::Error | Status::Skip => None,
    }
}

/// KCIDB's `patchset_hash`: SHA-256 over the newline-terminated SHA-256 hex of each patch, in
/// order (`sha256sum *.patch | cut -c-64 | sha256sum`). `None` when nothing was applied (a base
/// cell, a series never fetched) and for results that hold no hash of each patch (written
/// before they did): never an empty or made-up hash.
fn patchset_hash(c: &CellResult) -> Option<String> {
    let p = c.patchset.as_ref()?;
    if p.commits.is_empty() || p.patch_hashes.len() != p.commits.len() {
        return None;
    }
    let mut h = Sha256::new();
    for patch in &p.patch_hashes {
        h.update(patch.as_bytes());
        h.update(b"\n");
    }
    Some(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The build's compiler from the toolchain versions the cell recorded (`rustc 1.96.0 / clang
/// 19.1.7`, or the one of them known); `None` when neither is.
fn compiler(c: &CellResult) -> Option<String> {
    let parts: Vec<String> = ["rustc", "clang"]
        .iter()
        .filter_map(|tool| {
            let v = c.toolchain.versions.get(*tool)?.trim();
            let known = !v.is_empty() && v != "?" && v.chars().all(|c| c.is_ascii_graphic());
            known.then(|| format!("{tool} {v}"))
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join(" / "))
}

/// The https URL of the repository the cell's base was fetched from, when its results say.
fn repository_url<'a>(r: &'a RunResults, c: &CellResult) -> Option<&'a str> {
    let url = r.bases.iter().find(|b| b.name == c.base)?.url.as_deref()?;
    (url.starts_with("https://") && url.chars().all(|c| c.is_ascii_graphic())).then_some(url)
}

/// A stage's log as KCIDB's `log_url`, which must be a URL: a log kept at an http(s) URL. A
/// log in the run folder has no URL that would hold outside this machine.
fn log_url(s: &StageResult) -> Option<&str> {
    s.log
        .as_deref()
        .filter(|l| is_http(l) && l.chars().all(|c| c.is_ascii_graphic()))
}

/// The expectation a test met, if any: KCIDB v5 has no `waived` field on a test (it was
/// dropped for issues and incidents), so a test an expectation forgives carries
/// `misc.waived = true` with the expectation, and each expectation is an issue with
/// incidents on the tests it met (`present`: false for an xpass, whose failure was absent).
fn met_for(c: &CellResult, matched: impl Fn(&Matched) -> bool) -> Option<&Met> {
    c.expectations.iter().find(|m| matched(&m.matched))
}

/// KCIDB text fields may hold no NUL.
fn no_nul(s: &str) -> String {
    s.replace('\0', "\\0")
}

fn waiver(m: &Met) -> serde_json::Value {
    serde_json::json!({
        "waived": m.outcome.forgives(),
        "expectation": no_nul(&m.id),
        "outcome": m.outcome.name(),
        "reason": no_nul(&m.reason),
        "link": no_nul(&m.link),
    })
}

/// Checkouts, builds and tests, as kcidb-io validates them.
pub fn write(g: &Grid, w: &mut dyn Write) -> std::io::Result<()> {
    use serde_json::{json, Value};
    const ORIGIN: &str = "rfl_health";
    let mut checkouts: Vec<Value> = Vec::new();
    let mut builds = Vec::new();
    let mut tests = Vec::new();
    let mut issues: Vec<Value> = Vec::new();
    let mut incidents: Vec<Value> = Vec::new();
    let mut incident = |m: &Met, build_id: &str, test_id: &str| {
        let issue_id = format!("{ORIGIN}:expect-{}", word(&m.id));
        if !issues.iter().any(|i| i["id"] == issue_id.as_str()) {
            let mut issue = json!({
                "id": issue_id, "version": 0, "origin": ORIGIN,
                "comment": no_nul(&format!("{}: {}", m.id, m.reason)),
                "culprit": {"code": true},
                "misc": {"expectation": no_nul(&m.id), "at": no_nul(&m.at), "link": no_nul(&m.link)},
            });
            if is_http(&m.link) && !m.link.chars().any(char::is_whitespace) {
                issue["report_url"] = json!(m.link);
            }
            issues.push(issue);
        }
        incidents.push(json!({
            "id": format!("{test_id}-expect-{}", word(&m.id)),
            "origin": ORIGIN,
            "issue_id": issue_id,
            "issue_version": 0,
            "build_id": build_id,
            "test_id": test_id,
            "present": m.outcome != MetOutcome::Xpass,
        }));
    };
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
            });
            if let Some(v) = valid(c) {
                co["valid"] = json!(v);
            }
            if commit.len() == 40 {
                co["git_commit_hash"] = json!(commit);
            }
            if let Some(h) = patchset_hash(c) {
                co["patchset_hash"] = json!(h);
            }
            if let Some(url) = repository_url(g.results, c) {
                co["git_repository_url"] = json!(url);
            }
            if let Some(t) = ts(&c.started).as_str() {
                co["start_time"] = json!(t);
            }
            checkouts.push(co);
        }
        let build_id = format!(
            "{ORIGIN}:{who}-{}-{}-{}-{}",
            c.arch.name(),
            word(&c.toolchain.name),
            word(&c.config),
            word(&c.started)
        );
        let b = c.stage(Stage::Build);
        let mut build = json!({
            "id": build_id,
            "origin": ORIGIN,
            "checkout_id": checkout_id,
            "architecture": c.arch.name(),
            "config_name": format!("tinyconfig+rfl-{}", word(&c.config)),
            "status": b.map_or("MISS", |b| status(c, b)),
            "duration": b.map_or(0.0, |s| s.duration_s),
        });
        if let Some(compiler) = compiler(c) {
            build["compiler"] = json!(compiler);
        }
        if let Some(t) = ts(&c.started).as_str() {
            build["start_time"] = json!(t);
        }
        if let Some(s) = b {
            let excerpt: String = s.summary.chars().take(16000).collect();
            build["log_excerpt"] = json!(excerpt);
            if let Some(url) = log_url(s) {
                build["log_url"] = json!(url);
            }
        }
        builds.push(build);
        for s in c.stages.iter().filter(|s| s.stage > Stage::Build) {
            let path = format!("rfl.{}", s.stage.name());
            let mut test = json!({
                "id": format!("{build_id}-{}", s.stage.name()),
                "origin": ORIGIN,
                "build_id": build_id,
                "path": path,
                "status": status(c, s),
                "duration": s.duration_s,
                "log_excerpt": s.summary.chars().take(16000).collect::<String>(),
            });
            if let Some(url) = log_url(s) {
                test["log_url"] = json!(url);
            }
            let stage = s.stage;
            if let Some(m) = met_for(c, |x| match x {
                Matched::Stage(st) => *st == stage,
                Matched::Boot(_) => stage == Stage::Boot,
                Matched::Kunit(_) => false,
            }) {
                test["misc"] = waiver(m);
                incident(m, &build_id, test["id"].as_str().unwrap_or_default());
            }
            tests.push(test);
        }
        for (n, t) in c.kunit.tests.iter().enumerate() {
            let case_status = match t.status {
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
            let mut test = json!({
                "id": format!("{build_id}-kunit-{n}"),
                "origin": ORIGIN,
                "build_id": build_id,
                "path": path,
                "status": case_status,
                "log_excerpt": t.summary.chars().take(16000).collect::<String>(),
            });
            let name = format!("{}.{}", t.suite, t.name);
            if let Some(m) = met_for(c, |x| *x == Matched::Kunit(name.clone())) {
                test["misc"] = waiver(m);
                incident(m, &build_id, test["id"].as_str().unwrap_or_default());
            }
            tests.push(test);
        }
    }
    let mut v = json!({ "version": { "major": 5, "minor": 3 }, "checkouts": checkouts, "builds": builds, "tests": tests });
    if !issues.is_empty() {
        v["issues"] = json!(issues);
        v["incidents"] = json!(incidents);
    }
    w.write_all((serde_json::to_string_pretty(&v).expect("json") + "\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_words_keep_only_their_alphabet() {
        assert_eq!(word("rust doctests.kernel"), "rust_doctests_kernel");
    }

    fn cell(patchset: serde_json::Value) -> CellResult {
        serde_json::from_value(serde_json::json!({"schema": 2, "entry": "e", "base": "b",
            "arch": "x86_64", "toolchain": {"name": "t", "versions": {}}, "patchset": patchset,
            "stages": [], "dir": "cells/c", "started": "", "duration_s": 0.0}))
        .unwrap()
    }

    /// The patchset hash is the schema's own recipe: for two patches holding `one` and `two`,
    /// `sha256sum *.patch | cut -c-64 | sha256sum | cut -c-64` gives a50bf38a….
    #[test]
    fn patchset_hash_is_the_sha256_of_each_patch_sha256_line() {
        let p = serde_json::json!({"hash": "x", "commits": ["a", "b"], "head": "b", "patch_hashes": [
            "2c8b08da5ce60398e1f19af0e5dccc744df274b826abe585eaba68c525434806",
            "27dd8ed44a83ff94d557f9fd0412ed5a8cbca69ea04922d88c01184a07300a5a"]});
        assert_eq!(
            patchset_hash(&cell(p)).as_deref(),
            Some("a50bf38ac5895077796ec5aaebcc94163ceb75563de42cf017e749178f4ad333")
        );
        // Nothing applied: no hash at all, never an empty one.
        assert_eq!(patchset_hash(&cell(serde_json::Value::Null)), None);
        let none = serde_json::json!({"hash": "x", "commits": [], "head": "a"});
        assert_eq!(patchset_hash(&cell(none)), None);
        // Results from before each patch was hashed: no hash is made up.
        let old = serde_json::json!({"hash": "x", "commits": ["a"], "head": "a"});
        assert_eq!(patchset_hash(&cell(old)), None);
    }

    /// A cell of the given stages, as (stage, status, fault).
    fn staged(stages: &[(&str, &str, Option<&str>)], versions: serde_json::Value) -> CellResult {
        let stages: Vec<serde_json::Value> = stages
            .iter()
            .map(|(stage, status, fault)| {
                let mut s = serde_json::json!({"stage": stage, "status": status,
                    "duration_s": 1.0, "summary": "s"});
                if let Some(f) = fault {
                    s["fault"] = (*f).into();
                }
                s
            })
            .collect();
        serde_json::from_value(serde_json::json!({"schema": 2, "entry": "e", "base": "b",
            "arch": "x86_64", "toolchain": {"name": "t", "versions": versions},
            "patchset": null, "stages": stages, "dir": "cells/c", "started": "",
            "duration_s": 0.0}))
        .unwrap()
    }

    /// One cell's KCIDB objects: its checkout, its build and its tests.
    fn kcidb_of(c: CellResult) -> serde_json::Value {
        let loaded = crate::report::Loaded {
            results: RunResults {
                schema: 2,
                cells: vec![c],
                ..Default::default()
            },
            dirs: vec![std::path::PathBuf::from(".")],
        };
        let mut out = Vec::new();
        write(&Grid::new(&loaded), &mut out).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    /// `valid` says whether an apply was attempted and applied: true when it applied, false
    /// when it conflicted, absent when the series never got that far (an unreachable remote).
    /// A build that never ran for the harness or an unreachable remote is MISS, not SKIP; a
    /// build skipped after the code failed is SKIP.
    #[test]
    fn a_checkout_is_valid_only_when_an_apply_was_attempted_and_a_build_the_ci_missed_is_miss() {
        let no_versions = serde_json::json!({});
        let unreachable = kcidb_of(staged(
            &[
                ("fetch", "error", Some("remote")),
                ("apply", "skip", None),
                ("build", "skip", None),
                ("boot", "skip", None),
            ],
            no_versions.clone(),
        ));
        let co = &unreachable["checkouts"][0];
        assert!(co.get("valid").is_none(), "{co}");
        assert!(co.get("patchset_hash").is_none(), "{co}");
        assert_eq!(unreachable["builds"][0]["status"], "MISS");
        assert_eq!(unreachable["tests"][0]["status"], "MISS");
        // Nothing recorded of the toolchain: no compiler, never `rustc ?`.
        assert!(unreachable["builds"][0].get("compiler").is_none());

        let conflict = kcidb_of(staged(
            &[
                ("fetch", "pass", None),
                ("apply", "fail", Some("code")),
                ("build", "skip", None),
            ],
            serde_json::json!({"rustc": "1.96.0"}),
        ));
        assert_eq!(conflict["checkouts"][0]["valid"], false);
        assert_eq!(conflict["builds"][0]["status"], "SKIP");
        assert_eq!(conflict["builds"][0]["compiler"], "rustc 1.96.0");

        let harness = kcidb_of(staged(
            &[
                ("fetch", "pass", None),
                ("apply", "pass", None),
                ("toolchain", "error", Some("harness")),
                ("config", "skip", None),
                ("build", "skip", None),
            ],
            serde_json::json!({"rustc": "1.96.0", "clang": "19.1.7"}),
        ));
        assert_eq!(harness["checkouts"][0]["valid"], true);
        assert_eq!(harness["builds"][0]["status"], "MISS");
        assert_eq!(
            harness["builds"][0]["compiler"],
            "rustc 1.96.0 / clang 19.1.7"
        );

        let toolchain = kcidb_of(staged(
            &[
                ("fetch", "pass", None),
                ("apply", "pass", None),
                ("toolchain", "error", Some("toolchain")),
                ("build", "skip", None),
            ],
            no_versions,
        ));
        assert_eq!(toolchain["builds"][0]["status"], "SKIP");
    }
}
