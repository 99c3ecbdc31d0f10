//! What changed since an earlier run (`--baseline OLD/results.json`), and the exit code a
//! run's verdicts call for (`--fail-on`). Pure.

pub use crate::model::outcome::Change;
use crate::model::outcome::{CellResult, Health, Verdict};

/// When a run's exit code is 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FailOn {
    /// Never: the exit code says only whether the harness worked.
    Never,
    /// Any entry cell whose health is `fail` (base cells' findings are the base's).
    #[default]
    Fail,
    /// Only a regressed cell (needs `--baseline`).
    Regression,
}

fn verdict_of(h: Option<&Health>) -> Option<Verdict> {
    h.map(|h| h.verdict)
}

/// Each cell's change against `old`.
pub fn compare(cells: &mut [CellResult], old: &[CellResult]) {
    for c in cells.iter_mut() {
        let then = old.iter().find(|o| o.key() == c.key());
        c.change = Some(match then {
            None => Change::New,
            Some(o) if o.kunit_filter != c.kunit_filter => Change::OtherFilter,
            Some(o) => match (verdict_of(o.health.as_ref()), verdict_of(c.health.as_ref())) {
                (Some(Verdict::Pass), Some(Verdict::Fail)) => Change::Regressed,
                (Some(Verdict::Fail), Some(Verdict::Pass)) => Change::Fixed,
                (Some(Verdict::Fail), Some(Verdict::Fail)) => Change::StillFailing,
                _ => Change::Unchanged,
            },
        });
    }
}

/// Should the run exit 1? Only entry cells count: a base's own findings are reported, but
/// they are not the entries'.
pub fn fails(cells: &[CellResult], on: FailOn) -> bool {
    let entries = cells.iter().filter(|c| !c.is_base());
    match on {
        FailOn::Never => false,
        FailOn::Fail => entries
            .map(|c| verdict_of(c.health.as_ref()))
            .any(|v| v == Some(Verdict::Fail)),
        FailOn::Regression => entries
            .into_iter()
            .any(|c| c.change == Some(Change::Regressed)),
    }
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
            }),
            change: None,
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
                Change::Unchanged,
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
        assert!(!fails(&cells, FailOn::Never));
        assert!(
            !fails(&cells, FailOn::Regression),
            "no baseline, no regression"
        );
        cells[2].change = Some(Change::StillFailing);
        assert!(!fails(&cells, FailOn::Regression));
        cells[2].change = Some(Change::Regressed);
        assert!(fails(&cells, FailOn::Regression));
        cells[0].change = Some(Change::Regressed);
        cells[2].change = Some(Change::StillFailing);
        assert!(
            !fails(&cells, FailOn::Regression),
            "the base regressed, not an entry"
        );
    }
}
