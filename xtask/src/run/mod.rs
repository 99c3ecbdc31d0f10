//! The run: bases resolved once, then every cell through its stages (fetch → apply →
//! toolchain → config → build → boot → kunit → clippy → rustfmt → rustdoc), results written
//! after each cell so that nothing finished is lost.
//!
//! `scheduler` decides which cells run when, `cell` holds the stage table and the one loop
//! that walks it, `cache` the result cache and `--resume`, `folders` the output folders a
//! cell builds in.

mod cache;
mod cell;
mod events;
mod folders;
mod ladder;
mod scheduler;
mod times;
mod warm;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::model::arch::Arch;
use crate::model::event::{Event, Sink};
use crate::model::matrix::Loaded;
use crate::model::outcome::*;
use crate::model::plan::{self, Cell, Plan};
use crate::sources::fetch::{self, FetchError};
use crate::stages::toolchain::{self, Resolved};
use crate::sys::paths::Cache;
use crate::sys::proc;
use crate::sys::store::Store;

pub struct Opts {
    pub out: PathBuf,
    pub stop_after: Option<Stage>,
    pub jobs: usize,
    pub boot_timeout: Option<u64>,
    /// Recompute cells even when the result cache has them.
    pub force: bool,
    /// Keep the cells an earlier, interrupted run into the same `out` finished.
    pub resume: bool,
    /// Build every cell from nothing in output folders of its own: no base build, config,
    /// clippy folder, rustdoc result or cached result is reused (to check that incremental
    /// cells give the same result).
    pub clean: bool,
    /// The command line that selects this matrix, for reproducer lines.
    pub matrix_arg: String,
    /// `kunit.filter_glob=` on every boot: only the KUnit suites or tests it matches run.
    pub kunit_filter: Option<String>,
    /// A `try` run's own command (quoted): its entry cells' repro line, with the arch.
    pub rerun: Option<String>,
    /// The build cache's folder (`--build-cache`): a cold base cell starts from its archive.
    pub build_cache: Option<PathBuf>,
    /// Save each base cell's build folders there once its build passed
    /// (`--save-build-cache`; only where no untrusted patch has been built in the slot).
    pub save_build_cache: bool,
    /// The matrix's known failures (`expectations.toml`), applied to each cell as it ends.
    pub expect: Option<crate::model::expect::Expectations>,
}

/// What every cell of a run reads: the cache, the object store, the matrix and the options.
struct Env<'a> {
    cache: &'a Cache,
    store: &'a Store,
    m: &'a Loaded,
    opts: &'a Opts,
    /// Why a cell of (base, arch) runs with its toolchain, where the run chose it (`auto`).
    chosen: BTreeMap<(String, Arch), String>,
    /// Where the run's events go.
    watch: events::Watch<'a>,
}

/// Run every cell of the plan; returns the results (also written to `<out>/results.json`).
/// `sink` is told of everything the run does ([`Event`]).
pub fn run(
    cache: &Cache,
    m: &Loaded,
    plan: &Plan,
    opts: &Opts,
    sink: &dyn Sink,
) -> anyhow::Result<RunResults> {
    std::fs::create_dir_all(&opts.out).with_context(|| format!("create {}", opts.out.display()))?;
    if cache::harness_build_id().is_none() {
        sink.event(&Event::NoResultCache);
    }
    let store = Store::open(cache)?;
    let mut results = new_results(m, plan);
    // Toolchains and bases, each resolved once for the whole run; under `auto`, every
    // declared toolchain, to choose from.
    let names: Vec<String> = if plan.toolchains.iter().any(|t| t == plan::AUTO_TOOLCHAIN) {
        m.matrix.toolchains.keys().cloned().collect()
    } else {
        plan.toolchains.clone()
    };
    let mut toolchains: BTreeMap<String, Result<Resolved, String>> = BTreeMap::new();
    for name in &names {
        let t = m
            .matrix
            .toolchains
            .get(name)
            .cloned()
            .unwrap_or_else(toolchain::debian_default);
        toolchains.insert(name.clone(), toolchain::resolve(cache, name, &t));
    }
    let bases = resolve_bases(&store, m, plan, &mut results.bases, sink);
    let (plan, chosen) = &choose_toolchains(cache, &store, plan, &toolchains, &bases, sink);
    if opts.resume {
        if let Some(prev) = cache::resumed(&opts.out) {
            sink.event(&Event::Resumed {
                cells: prev.len(),
                from: &opts.out,
            });
            results.cells = prev;
        }
    }
    write_results(&opts.out, &results)?;
    let env = Env {
        cache,
        store: &store,
        m,
        opts,
        chosen: chosen.clone(),
        watch: events::Watch::new(sink),
    };
    scheduler::run_cells(&env, plan, &toolchains, &bases, results)
}

/// The plan with each `auto` cell's toolchain chosen for its base and arch (see
/// [`toolchain::choose`]), and why. A base that could not be had keeps the first declared
/// toolchain: its cells only record that the base is missing.
fn choose_toolchains(
    cache: &Cache,
    store: &Store,
    plan: &Plan,
    toolchains: &BTreeMap<String, Result<Resolved, String>>,
    bases: &BTreeMap<String, Result<String, FetchError>>,
    sink: &dyn Sink,
) -> (Plan, BTreeMap<(String, Arch), String>) {
    let mut out = plan.clone();
    let mut chosen: BTreeMap<(String, Arch), (String, String)> = BTreeMap::new();
    let usable: Vec<&Resolved> = toolchains
        .values()
        .filter_map(|t| t.as_ref().ok())
        .collect();
    let first = toolchains.keys().next().cloned().unwrap_or_default();
    for c in out
        .cells
        .iter_mut()
        .filter(|c| c.toolchain == plan::AUTO_TOOLCHAIN)
    {
        let key = (c.base.clone(), c.arch);
        if !chosen.contains_key(&key) {
            let script = match bases.get(&c.base) {
                Some(Ok(commit)) => store
                    .show(commit, "scripts/min-tool-version.sh")
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let srcarch =
                crate::sys::paths::qemu_profile(&crate::sys::paths::project_root(), c.arch)
                    .map(|p| p.kernel_arch)
                    .unwrap_or_default();
            let pick = toolchain::choose(&script, &srcarch, &cache.scratch(), &usable)
                .unwrap_or_else(|| {
                    (
                        first.clone(),
                        "auto: no declared toolchain could be resolved".to_string(),
                    )
                });
            sink.event(&Event::ToolchainChosen {
                base: &c.base,
                arch: c.arch,
                why: &pick.1,
            });
            chosen.insert(key.clone(), pick);
        }
        c.toolchain = chosen[&key].0.clone();
    }
    out.toolchains = out.cells.iter().map(|c| c.toolchain.clone()).collect();
    out.toolchains.dedup();
    out.toolchains.sort();
    out.toolchains.dedup();
    (
        out,
        chosen.into_iter().map(|(k, (_, why))| (k, why)).collect(),
    )
}

/// A run's results before any cell: the plan's entries, those it skips, no cells yet.
fn new_results(m: &Loaded, plan: &Plan) -> RunResults {
    RunResults {
        schema: SCHEMA,
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        started: now_rfc3339(),
        interrupted: false,
        bases: Vec::new(),
        expectations: Vec::new(),
        skipped_entries: plan
            .entries
            .iter()
            .filter_map(|e| {
                e.skip_reason.as_ref().map(|r| SkippedEntry {
                    id: e.id.clone(),
                    reason: r.clone(),
                })
            })
            .collect(),
        entries: plan
            .entries
            .iter()
            .filter_map(|p| m.entry(&p.id).map(|e| (p, e)))
            .map(|(p, e)| EntryInfo {
                id: p.id.clone(),
                area: e.area.clone(),
                status: e.status.clone(),
                authors: e.authors.clone(),
                source_kind: p.source.kind.to_string(),
                source: p.source.value.clone(),
                lore: e.lore.clone(),
                base: p.base.clone(),
                registry_base: e.registry_base.clone(),
                skip_reason: p.skip_reason.clone(),
            })
            .collect(),
        cells: Vec::new(),
    }
}

/// Every base of the plan's cells, each once; each also recorded in `records`.
fn resolve_bases(
    store: &Store,
    m: &Loaded,
    plan: &Plan,
    records: &mut Vec<BaseRecord>,
    sink: &dyn Sink,
) -> BTreeMap<String, Result<String, FetchError>> {
    let mut bases = BTreeMap::new();
    for c in &plan.cells {
        if !bases.contains_key(&c.base) {
            let t = Instant::now();
            let r = fetch::resolve_base(store, m, &c.base);
            let (status, commit, reason) = match &r {
                Ok(b) => (BaseStatus::Resolved, Some(b.commit.clone()), String::new()),
                Err(FetchError::Unreachable(w)) => (BaseStatus::Unreachable, None, w.clone()),
                Err(FetchError::Failed(w)) => (BaseStatus::FetchFailed, None, w.clone()),
            };
            let url = r.as_ref().ok().and_then(|b| b.url.clone());
            let record = BaseRecord {
                name: c.base.clone(),
                status,
                commit,
                reason,
                url,
            };
            sink.event(&Event::Base {
                record: &record,
                elapsed: t.elapsed(),
            });
            records.push(record);
            bases.insert(c.base.clone(), r.map(|b| b.commit));
        }
    }
    bases
}

/// The command that runs a cell again, every word quoted for a POSIX shell: names are checked
/// at load, and this holds even for one that was not.
pub fn repro_line(cell: &Cell, matrix_arg: &str, kunit_filter: Option<&str>) -> String {
    let q = |s: &str| proc::shell_quote(s);
    let mut cell_words = cell_words(cell);
    if let Some(g) = kunit_filter {
        cell_words += &format!(" --kunit-filter {}", q(g));
    }
    if cell.is_base() {
        format!(
            "cargo xtask matrix{matrix_arg} --entry base --base {}{cell_words}",
            q(&cell.base),
        )
    } else {
        format!(
            "cargo xtask repro {}{cell_words}{matrix_arg}",
            q(&cell.entry),
        )
    }
}

/// ` --arch A`, and ` --config C` when the cell's is not the default variant.
fn cell_words(cell: &Cell) -> String {
    let mut w = format!(" --arch {}", proc::shell_quote(cell.arch.name()));
    if cell.config != plan::DEFAULT_CONFIG {
        w += &format!(" --config {}", proc::shell_quote(&cell.config));
    }
    w
}

/// A cell's repro line: a `try` run's entry cells run the same `try` again on their arch and
/// config.
fn cell_repro(cell: &Cell, opts: &Opts) -> String {
    match &opts.rerun {
        Some(line) if !cell.is_base() => format!("{line}{}", cell_words(cell)),
        _ => repro_line(cell, &opts.matrix_arg, opts.kunit_filter.as_deref()),
    }
}

pub fn write_results(out: &Path, results: &RunResults) -> anyhow::Result<()> {
    let tmp = out.join("results.json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(results)? + "\n")?;
    std::fs::rename(&tmp, out.join("results.json"))?;
    Ok(())
}
