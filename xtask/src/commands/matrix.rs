//! `matrix`: run the planned cells, write results.json, print the text report; `execute`,
//! the same for `try`.

use std::path::Path;
use std::process::ExitCode;

use crate::commands::flags::{MatrixArgs, RunFlags};
use crate::commands::select;
use crate::model::baseline;
use crate::model::matrix::{self, ConfigChoice, Loaded};
use crate::model::outcome::{self, Fault, Stage};
use crate::model::plan::{self, Plan};
use crate::model::text::term_safe;
use crate::sys::paths::Cache;
use crate::{report, run};

impl MatrixArgs {
    /// Exit 130 when interrupted, 3 when no entry cell could run (every one is error or
    /// unreachable), 1 when `--fail-on` says the results fail, else 0 (see `execute`).
    pub fn run(self, cache: &Cache) -> anyhow::Result<ExitCode> {
        let m = select::load_matrix(self.sel.matrix.as_deref())?;
        let mut f = select::filters(&m, &self.sel)?;
        if self.cells.is_some() && f.config.is_none() {
            // A selector names its config; the plan offers every one to choose from.
            f.config = Some(ConfigChoice::All);
        }
        let mut p = plan::plan(&m, &f);
        if let Some(spec) = &self.cells {
            keep_cells(&m, &mut p, spec)?;
        }
        let matrix_arg = select::matrix_arg(self.sel.matrix.as_deref());
        // Only a run of everything can say an expectation matched nothing.
        let full =
            self.sel.entries.is_empty() && self.sel.arches.is_empty() && self.cells.is_none();
        let judged = Judged {
            expect: select::load_expectations(&m)?,
            full,
        };
        execute(cache, &m, &p, &self.run, matrix_arg, None, judged)
    }
}

/// The expectations a run is judged by, checked against the matrix as declared (before `try`
/// puts its series in the place of the matrix's entries), and whether the run is one of
/// everything: only such a run can say an expectation matched nothing.
pub struct Judged {
    pub expect: Option<crate::model::expect::Expectations>,
    pub full: bool,
}

/// What `matrix` and `try` share once the cells are planned: the run, results.json (marked
/// against `--baseline`), the text report and the exit code: 130 when interrupted; 3 when a
/// cell hit a harness fault, or when the results hold entry cells and none could run (every one's health is error or unreachable: a
/// harness, toolchain, machine or remote fault); 1 when `--fail-on` says the results fail
/// (`regression` without `--baseline` is `fail`); else 0. A non-zero exit says why on stderr.
/// `rerun` is the command that runs a `try` again (its entry cells' repro line, with the
/// arch).
pub fn execute(
    cache: &Cache,
    m: &Loaded,
    p: &Plan,
    f: &RunFlags,
    matrix_arg: String,
    rerun: Option<String>,
    judged: Judged,
) -> anyhow::Result<ExitCode> {
    let Judged { expect, full } = judged;
    let command = if rerun.is_some() { "try" } else { "matrix" };
    // Read before the run: an unreadable baseline is bad input, found at once.
    let old = match &f.baseline {
        Some(p) => Some(report::load(std::slice::from_ref(p))?),
        None => None,
    };
    let stop_after = match &f.stage {
        Some(s) => Some(Stage::parse(s).ok_or_else(|| {
            anyhow::anyhow!(
                "--stage {s}: unknown stage (one of {})",
                Stage::ALL.map(|s| s.name()).join(", ")
            )
        })?),
        None => None,
    };
    if let Some(g) = &f.kunit_filter {
        matrix::check_kunit_filter(g)
            .map_err(|why| anyhow::anyhow!("--kunit-filter {}: {why}", matrix::shown(g)))?;
    }
    // Absolute: the stages run their tools in the tree, and hand them files of the run folder.
    let out = match &f.out {
        Some(o) => {
            std::path::absolute(o).map_err(|e| anyhow::anyhow!("--out {}: {e}", o.display()))?
        }
        None => cache.runs().join(outcome::now_rfc3339().replace(':', "")),
    };
    if f.save_build_cache && p.cells.iter().any(|c| !c.is_base()) {
        anyhow::bail!(
            "--save-build-cache: the run holds entry cells; a build cache is saved only from a \
             run of base cells alone (--entry base), before any patch is built"
        );
    }
    crate::sys::signal::install()?;
    let _lock = crate::sys::paths::lock_cache(cache)?;
    let opts = run::Opts {
        out: out.clone(),
        stop_after,
        jobs: select::jobs(f.jobs),
        boot_timeout: f.boot_timeout,
        force: f.force,
        resume: f.resume,
        clean: f.clean,
        matrix_arg,
        kunit_filter: f.kunit_filter.clone(),
        rerun,
        build_cache: match &f.build_cache {
            Some(d) => Some(
                std::path::absolute(d)
                    .map_err(|e| anyhow::anyhow!("--build-cache {}: {e}", d.display()))?,
            ),
            None => None,
        },
        save_build_cache: f.save_build_cache,
        expect: expect.clone(),
    };
    let mut results = run::run(cache, m, p, &opts, &report::live::Live::new())?;
    if let Some(x) = &expect {
        // A run stopped early (`--stage`) or filtered (`--kunit-filter`) did not run what an
        // expectation may match: it cannot say one matched nothing.
        let full = full && f.stage.is_none() && f.kunit_filter.is_none() && !results.interrupted;
        results.expectations = x.notes(&results.cells, full);
    }
    if old.is_some() || !results.expectations.is_empty() {
        if let Some(old) = &old {
            baseline::compare(&mut results.cells, &old.results.cells);
        }
        run::write_results(&out, &results)?;
    }
    link_latest(cache, &out);
    let interrupted = results.interrupted;
    let nothing_ran = baseline::nothing_ran(&results.cells);
    let harness_fault = results
        .cells
        .iter()
        .find(|c| c.stages.iter().any(|s| s.fault == Some(Fault::Harness)));
    let harness_fault = harness_fault.map(|c| format!("{}@{}@{}", c.entry, c.base, c.arch));
    let (fail_on, fallback) = baseline::effective(f.fail_on, old.is_some());
    let failure = baseline::failure_with(&results.cells, &results.expectations, fail_on);
    let notes = results.expectations.clone();
    let loaded = report::Loaded::of_run(results, &out);
    let mut stdout = anstream::AutoStream::auto(std::io::stdout());
    report::text::write(&report::Grid::new(&loaded), &mut stdout)?;
    eprintln!("results: {}", out.join("results.json").display());
    if let Some(line) = fallback {
        eprintln!("{line}");
    }
    for n in &notes {
        eprintln!("{}", report::text::note_line(n));
    }
    Ok(if interrupted {
        eprintln!("{command}: interrupted");
        ExitCode::from(130)
    } else if let Some(cell) = harness_fault {
        // The harness's own fault is never data: whatever the other cells said, it is fixed
        // before their verdicts are trusted.
        eprintln!("{command}: a harness fault in cell {}", term_safe(&cell));
        ExitCode::from(3)
    } else if nothing_ran {
        eprintln!("{command}: {}", baseline::NOTHING_RAN);
        ExitCode::from(3)
    } else if let Some(why) = failure {
        eprintln!("{command}: {why}");
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `--cells ENTRY@BASE@ARCH[@CONFIG],…`: exactly these cells of the plan; each must name a
/// declared entry (or `base`) and base. Without a config, a selector takes the default ones.
fn keep_cells(m: &Loaded, p: &mut Plan, spec: &str) -> anyhow::Result<()> {
    let wanted = plan::parse_cell_selectors(spec)
        .map_err(|e| anyhow::anyhow!("--cells: {}", matrix::shown(&e)))?;
    if let Some((e, b, _, _)) = wanted.iter().find(|(e, b, _, _)| {
        !m.matrix.bases.contains_key(b) || *e != plan::BASE_ENTRY && m.entry(e).is_none()
    }) {
        anyhow::bail!(
            "--cells: `{}@{}` names no entry and base of {}",
            matrix::shown(e),
            matrix::shown(b),
            m.path.display()
        );
    }
    let defaults: Vec<String> = m
        .configs()
        .into_iter()
        .filter(|(_, v)| v.default)
        .map(|(n, _)| n)
        .collect();
    p.cells.retain(|c| {
        wanted.iter().any(|(e, b, a, config)| {
            *e == c.entry
                && *b == c.base
                && *a == c.arch
                && config
                    .as_ref()
                    .map_or(defaults.contains(&c.config), |w| *w == c.config)
        })
    });
    p.configs.retain(|c| p.cells.iter().any(|x| x.config == *c));
    Ok(())
}

/// `<cache>/runs/latest` → the newest run folder.
fn link_latest(cache: &Cache, out: &Path) {
    let link = cache.runs().join("latest");
    let _ = std::fs::create_dir_all(cache.runs());
    let _ = std::fs::remove_file(&link);
    let _ = std::os::unix::fs::symlink(out, &link);
}
