//! Health of a cell against its bare base (the differential), and of an entry over its
//! arches. Pure: results in, verdicts out.

use crate::model::outcome::{CellResult, Health, Stage, Status};

fn bad(s: &str) -> bool {
    s == "fail" || s == "crash"
}

/// Compare a cell with its base cell (same base, arch, toolchain). A base cell is assessed
/// alone: its failures are the base's findings.
pub fn assess(cell: &CellResult, base: Option<&CellResult>) -> Health {
    let mut pre = Vec::new();
    for s in &cell.stages {
        match s.status {
            Status::Pass | Status::Skip => continue,
            Status::Error => {
                let verdict = if s.summary.contains("unreachable") {
                    "unreachable"
                } else {
                    "error"
                };
                return Health {
                    verdict: verdict.into(),
                    stage: Some(s.stage),
                    summary: s.summary.clone(),
                    preexisting: pre,
                };
            }
            Status::Fail => {}
        }
        let b = base.and_then(|b| b.stage(s.stage));
        let new: Vec<String> = match (s.stage, b) {
            (Stage::Kunit, Some(_)) => {
                let base_bad: Vec<(&str, &str)> = base
                    .map(|b| {
                        b.kunit
                            .tests
                            .iter()
                            .filter(|t| bad(&t.status))
                            .map(|t| (t.suite.as_str(), t.name.as_str()))
                            .collect()
                    })
                    .unwrap_or_default();
                let mut new = Vec::new();
                for t in cell.kunit.tests.iter().filter(|t| bad(&t.status)) {
                    if base_bad.contains(&(t.suite.as_str(), t.name.as_str())) {
                        pre.push(format!("kunit {} {}", t.status, t.name));
                    } else {
                        new.push(format!(
                            "{} {}{}",
                            t.status,
                            t.name,
                            t.location
                                .as_ref()
                                .map(|l| format!(" ({l})"))
                                .unwrap_or_default()
                        ));
                    }
                }
                new
            }
            (Stage::Boot, Some(bs))
                if bs.status == Status::Fail && kind(&bs.summary) == kind(&s.summary) =>
            {
                pre.push(format!("boot {}", kind(&s.summary)));
                Vec::new()
            }
            (Stage::Clippy | Stage::Rustdoc | Stage::Rustfmt, Some(bs))
                if !s.diagnostics.is_empty() =>
            {
                let mut new = Vec::new();
                for d in &s.diagnostics {
                    let same = bs
                        .diagnostics
                        .iter()
                        .any(|x| x.file == d.file && x.message == d.message && x.level == d.level);
                    if same {
                        pre.push(format!("{} {}", s.stage.name(), d.render()));
                    } else {
                        new.push(d.render());
                    }
                }
                new
            }
            _ => vec![s.summary.clone()],
        };
        if !new.is_empty() {
            let summary = if s.stage == Stage::Kunit {
                new.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
            } else {
                s.summary.clone()
            };
            return Health {
                verdict: "fail".into(),
                stage: Some(s.stage),
                summary,
                preexisting: pre,
            };
        }
    }
    let all_skipped = cell
        .stages
        .iter()
        .all(|s| s.status == Status::Skip || s.stage == Stage::Fetch || s.stage == Stage::Apply);
    let verdict = if all_skipped
        && cell
            .stages
            .iter()
            .any(|s| s.stage == Stage::Apply && s.status == Status::Skip)
    {
        "skip"
    } else {
        "pass"
    };
    let summary = match (verdict, pre.len()) {
        ("skip", _) => "nothing ran".to_string(),
        (_, 0) => "healthy".to_string(),
        (_, n) => format!("healthy; {n} problems are the base's own"),
    };
    Health {
        verdict: verdict.into(),
        stage: None,
        summary,
        preexisting: pre,
    }
}

fn kind(summary: &str) -> &str {
    summary.split(':').next().unwrap_or("")
}

/// The base cell an entry cell is compared with.
pub fn base_of<'a>(cell: &CellResult, cells: &'a [CellResult]) -> Option<&'a CellResult> {
    if cell.entry == crate::model::plan::BASE_ENTRY {
        return None;
    }
    cells.iter().find(|b| {
        b.entry == crate::model::plan::BASE_ENTRY
            && b.base == cell.base
            && b.arch == cell.arch
            && b.toolchain.name == cell.toolchain.name
    })
}

/// Worst first: what an entry's overall verdict is when its arches disagree.
pub fn rank(verdict: &str) -> u8 {
    match verdict {
        "fail" => 5,
        "error" => 4,
        "unreachable" => 3,
        "pass" => 1,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::Case;
    use crate::model::outcome::*;

    fn cell(entry: &str, kunit: &[(&str, &str)], boot: Option<&str>) -> CellResult {
        let mut stages = vec![StageResult::new(Stage::Build, Status::Pass, "built")];
        stages.push(match boot {
            Some(s) => StageResult::new(Stage::Boot, Status::Fail, s),
            None => StageResult::new(Stage::Boot, Status::Pass, "clean: ok"),
        });
        let tests: Vec<Case> = kunit
            .iter()
            .map(|(n, s)| Case {
                suite: "s".into(),
                name: n.to_string(),
                status: s.to_string(),
                location: None,
                summary: String::new(),
            })
            .collect();
        let any_bad = tests.iter().any(|t| t.status != "pass");
        stages.push(StageResult::new(
            Stage::Kunit,
            if any_bad { Status::Fail } else { Status::Pass },
            "",
        ));
        CellResult {
            schema: 1,
            entry: entry.into(),
            base: "b".into(),
            arch: "x86_64".into(),
            toolchain: ToolchainRecord::default(),
            base_commit: None,
            patchset: None,
            stages,
            kunit: Kunit::from_cases(tests),
            dir: String::new(),
            started: String::new(),
            duration_s: 0.0,
            repro: String::new(),
            health: None,
        }
    }

    #[test]
    fn base_failures_are_preexisting() {
        let base = cell("base", &[("t1", "fail"), ("t2", "pass")], None);
        let e = cell("e", &[("t1", "fail"), ("t2", "pass")], None);
        let h = assess(&e, Some(&base));
        assert_eq!(h.verdict, "pass");
        assert_eq!(h.preexisting, vec!["kunit fail t1".to_string()]);
        let e = cell("e", &[("t1", "fail"), ("t2", "crash")], None);
        let h = assess(&e, Some(&base));
        assert_eq!((h.verdict.as_str(), h.stage), ("fail", Some(Stage::Kunit)));
        assert_eq!(h.summary, "crash t2");
        // Without a base, every failure counts.
        assert_eq!(
            assess(&cell("e", &[("t1", "fail")], None), None).verdict,
            "fail"
        );
    }

    #[test]
    fn same_boot_failure_kind_is_preexisting_a_new_one_is_not() {
        let base = cell("base", &[], Some("warning: WARNING at x"));
        assert_eq!(
            assess(&cell("e", &[], Some("warning: WARNING at y")), Some(&base)).verdict,
            "pass"
        );
        assert_eq!(
            assess(&cell("e", &[], Some("panic: Kernel panic")), Some(&base)).stage,
            Some(Stage::Boot)
        );
    }
}
