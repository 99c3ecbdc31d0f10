//! The run: bases resolved once, then every cell through its ladder (fetch → apply →
//! toolchain → config → build → boot → kunit → clippy → rustfmt → rustdoc), results written
//! after each cell so that nothing finished is lost.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use crate::model::arch::Profile;
use crate::model::matrix::{Check, Loaded};
use crate::model::outcome::*;
use crate::model::plan::{Cell, Plan};
use crate::sources::fetch::{self, FetchError, Fetched};
use crate::stages::boot;
use crate::stages::build::{self, Kbuild};
use crate::stages::ktap;
use crate::stages::toolchain::{self, Resolved};
use crate::sys::paths::{project_root, Cache};
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
}

/// Run every cell of the plan; returns the results (also written to `<out>/results.json`).
pub fn run(cache: &Cache, m: &Loaded, plan: &Plan, opts: &Opts) -> anyhow::Result<RunResults> {
    std::fs::create_dir_all(&opts.out).with_context(|| format!("create {}", opts.out.display()))?;
    let store = Store::open(cache)?;
    let mut results = RunResults {
        schema: SCHEMA,
        harness_version: env!("CARGO_PKG_VERSION").to_string(),
        started: now_rfc3339(),
        interrupted: false,
        bases: Vec::new(),
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
    };

    // Toolchains and bases, each resolved once for the whole run.
    let mut toolchains: BTreeMap<String, Result<Resolved, String>> = BTreeMap::new();
    for name in &plan.toolchains {
        let t = m
            .matrix
            .toolchains
            .get(name)
            .cloned()
            .unwrap_or_else(toolchain::debian_default);
        toolchains.insert(name.clone(), toolchain::resolve(cache, name, &t));
    }
    let mut bases: BTreeMap<String, Result<String, FetchError>> = BTreeMap::new();
    for c in &plan.cells {
        if !bases.contains_key(&c.base) {
            let t = Instant::now();
            let r = fetch::resolve_base(&store, m, &c.base);
            let (status, commit, reason) = match &r {
                Ok(sha) => (BaseStatus::Resolved, Some(sha.clone()), String::new()),
                Err(FetchError::Unreachable(w)) => (BaseStatus::Unreachable, None, w.clone()),
                Err(FetchError::Failed(w)) => (BaseStatus::FetchFailed, None, w.clone()),
            };
            crate::sys::progress::line(&format!(
                "base {}: {} {}{} ({:.1}s)",
                c.base,
                status.name(),
                commit.clone().unwrap_or_default(),
                reason,
                t.elapsed().as_secs_f64()
            ));
            results.bases.push(BaseRecord {
                name: c.base.clone(),
                status,
                commit,
                reason,
            });
            bases.insert(c.base.clone(), r);
        }
    }
    if opts.resume {
        if let Ok(text) = std::fs::read_to_string(opts.out.join("results.json")) {
            if let Ok(prev) = serde_json::from_str::<RunResults>(&text) {
                crate::sys::progress::line(&format!(
                    "resume: {} finished cells kept from {}",
                    prev.cells.len(),
                    opts.out.display()
                ));
                results.cells = prev.cells;
            }
        }
    }
    write_results(&opts.out, &results)?;

    let many_tc = plan.toolchains.len() > 1;
    crate::sys::jobs::init(opts.jobs)?;
    let is_done = |r: &RunResults, cell: &Cell| r.cells.iter().any(|c| is_result_of(c, cell));
    let todo_total = plan.cells.iter().filter(|c| !is_done(&results, c)).count();
    crate::sys::progress::start_run(todo_total);
    let results = std::sync::Mutex::new(results);
    let lock = || results.lock().unwrap_or_else(|e| e.into_inner());
    // Cells of one entry on one base share the worktree state: the patchset is fetched and
    // applied once, then every arch and toolchain of it runs at the same time, in output
    // folders of their own. The jobserver keeps them to `-j` jobs in all, so one cell's boot
    // or serial link runs while another compiles.
    for group in groups(&plan.cells) {
        if crate::sys::signal::interrupted() {
            lock().interrupted = true;
            break;
        }
        let base = bases
            .get(&group[0].base)
            .expect("every base resolved above");
        let todo: Vec<&Cell> = {
            let r = lock();
            // A base cell needs its base: one that cannot be had is recorded in `bases` only.
            group
                .iter()
                .copied()
                .filter(|c| !(is_done(&r, c) || c.is_base() && base.is_err()))
                .collect()
        };
        if todo.is_empty() {
            continue;
        }
        let title = format!(
            "{} on {} ({})",
            todo[0].entry,
            todo[0].base,
            todo.iter()
                .map(|c| c.name(many_tc))
                .collect::<Vec<_>>()
                .join(", ")
        );
        crate::sys::progress::group_start(&title);
        let dirs: Vec<PathBuf> = todo
            .iter()
            .map(|c| opts.out.join("cells").join(c.name(many_tc)))
            .collect();
        for d in &dirs {
            let _ = std::fs::remove_dir_all(d);
            std::fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
        }
        let t0 = Instant::now();
        let bars: Vec<crate::sys::progress::CellBar> = todo
            .iter()
            .zip(&dirs)
            .map(|(c, d)| crate::sys::progress::cell(&c.name(many_tc), d))
            .collect();
        let prep = prepare(cache, &store, m, todo[0], base, opts, &dirs, &|st| {
            crate::sys::progress::shared_stage(&bars, &title, st)
        });
        std::thread::scope(|s| {
            for ((cell, dir), bar) in todo.iter().zip(&dirs).zip(bars) {
                let (prep, results, toolchains) = (&prep, &results, &toolchains);
                s.spawn(move || {
                    let name = cell.name(many_tc);
                    let tc = toolchains.get(&cell.toolchain).expect("resolved above");
                    let base_cell = {
                        let r = results.lock().unwrap_or_else(|e| e.into_inner());
                        let base = Cell {
                            entry: crate::model::plan::BASE_ENTRY.into(),
                            ..(*cell).clone()
                        };
                        r.cells.iter().find(|b| is_result_of(b, &base)).cloned()
                    };
                    let mut r = run_cell(
                        cache,
                        m,
                        cell,
                        prep,
                        tc,
                        dir,
                        opts,
                        base_cell.as_ref(),
                        &bar,
                    );
                    if crate::sys::signal::interrupted() {
                        // The cell was cut short: its stages say nothing about the code. Keep
                        // what finished before it and say the run was interrupted.
                        bar.finish("interrupted, not recorded");
                        return;
                    }
                    r.dir = format!("cells/{name}");
                    r.duration_s = t0.elapsed().as_secs_f64();
                    r.repro = repro_line(cell, &opts.matrix_arg);
                    let mut all = results.lock().unwrap_or_else(|e| e.into_inner());
                    r.health = Some(crate::model::health::assess(
                        &r,
                        crate::model::health::base_of(&r, &all.cells),
                    ));
                    let said = match &r.health {
                        Some(h) if h.verdict == Verdict::Pass && !h.preexisting.is_empty() => {
                            format!("pass ({} problems are the base's own)", h.preexisting.len())
                        }
                        Some(h) if h.verdict == Verdict::Pass => "pass".to_string(),
                        Some(h) => format!(
                            "{} {}: {}",
                            h.verdict.name().to_uppercase(),
                            h.stage.map_or("", |s| s.name()),
                            h.summary.lines().next().unwrap_or("")
                        ),
                        None => verdict_line(&r),
                    };
                    let written = std::fs::write(
                        dir.join("result.json"),
                        serde_json::to_string_pretty(&r).unwrap_or_default() + "\n",
                    );
                    all.cells.push(r);
                    sort_like_plan(&mut all.cells, &plan.cells);
                    if let Err(e) = written
                        .map_err(anyhow::Error::from)
                        .and_then(|_| write_results(&opts.out, &all))
                    {
                        crate::sys::progress::line(&format!(
                            "cell {name}: could not write its result: {e:#}"
                        ));
                    }
                    drop(all);
                    bar.finish(&format!("{said} ({:.0}s)", t0.elapsed().as_secs_f64()));
                });
            }
        });
        // Leave the slot's worktree at the base for the next entry (an interrupted run leaves
        // it to the next run, which puts it right).
        if !todo[0].is_base() && !crate::sys::signal::interrupted() {
            if let Some(b) = &prep.base_commit {
                let _ = store.worktree_at(&slot(cache, todo[0]).src, b);
            }
        }
        crate::sys::progress::group_end();
        if crate::sys::signal::interrupted() {
            lock().interrupted = true;
            break;
        }
    }
    crate::sys::progress::end_run();
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    if crate::sys::signal::interrupted() {
        results.interrupted = true;
    }
    write_results(&opts.out, &results)?;
    Ok(results)
}

/// Consecutive cells of the plan with the same entry and base.
fn groups(cells: &[Cell]) -> Vec<Vec<&Cell>> {
    let mut out: Vec<Vec<&Cell>> = Vec::new();
    for c in cells {
        match out.last_mut() {
            Some(g) if g[0].entry == c.entry && g[0].base == c.base => g.push(c),
            _ => out.push(vec![c]),
        }
    }
    out
}

/// Is `r` the result of the planned cell `c`?
fn is_result_of(r: &CellResult, c: &Cell) -> bool {
    r.key() == c.key()
}

/// Results in the plan's order, whatever order the cells finished in.
fn sort_like_plan(cells: &mut [CellResult], plan: &[Cell]) {
    cells.sort_by_key(|r| {
        plan.iter()
            .position(|c| is_result_of(r, c))
            .unwrap_or(usize::MAX)
    });
}

/// The command that runs a cell again, every word quoted for a POSIX shell: names are checked
/// at load, and this holds even for one that was not.
pub fn repro_line(cell: &Cell, matrix_arg: &str) -> String {
    let q = |s: &str| proc::shell_quote(s);
    if cell.is_base() {
        format!(
            "cargo xtask matrix{matrix_arg} --entry base --base {} --arch {}",
            q(&cell.base),
            q(cell.arch.name())
        )
    } else {
        format!(
            "cargo xtask repro {} --arch {}{matrix_arg}",
            q(&cell.entry),
            q(cell.arch.name())
        )
    }
}

pub fn verdict_line(r: &CellResult) -> String {
    match r.first_problem() {
        Some(p) => format!(
            "{} {:?}: {}",
            p.stage.name(),
            p.status,
            first_line(&p.summary)
        ),
        None => "pass".into(),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

pub fn write_results(out: &Path, results: &RunResults) -> anyhow::Result<()> {
    let tmp = out.join("results.json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(results)? + "\n")?;
    std::fs::rename(&tmp, out.join("results.json"))?;
    Ok(())
}

/// Folders of a build slot: one worktree per base, output folders per toolchain and arch.
struct Slot {
    src: PathBuf,
    out_base: PathBuf,
    clippy_base: PathBuf,
    /// `--clean`: emptied before each cell.
    out_clean: PathBuf,
    clippy_clean: PathBuf,
}

fn slot(cache: &Cache, cell: &Cell) -> Slot {
    let b = cache.slots().join(&cell.base);
    let a = b.join(&cell.toolchain).join(cell.arch.name());
    Slot {
        src: b.join("src"),
        out_base: a.join("out-base"),
        clippy_base: a.join("clippy-base"),
        out_clean: a.join("out-clean"),
        clippy_clean: a.join("clippy-clean"),
    }
}

/// Pushes stage results and knows when the ladder has stopped.
struct Ladder<'a> {
    stages: Vec<StageResult>,
    stop_after: Option<Stage>,
    blocked: Option<String>,
    /// Told of every stage that starts.
    bar: Option<&'a crate::sys::progress::CellBar>,
}

impl Ladder<'_> {
    fn push(&mut self, r: StageResult) {
        if self.blocked.is_none() && !matches!(r.status, Status::Pass | Status::Skip) {
            self.blocked = Some(format!("{} did not pass", r.stage.name()));
        }
        let stage = r.stage;
        self.stages.push(r);
        if self.blocked.is_none() && self.stop_after == Some(stage) {
            self.blocked = Some(format!("stopped after {} (--stage)", stage.name()));
        }
    }
    /// Should `stage` run? If not, record it as skipped with the reason.
    fn go(&mut self, stage: Stage) -> bool {
        if self.blocked.is_none() && crate::sys::signal::interrupted() {
            self.blocked = Some("the run was interrupted".into());
        }
        match &self.blocked {
            Some(why) => {
                let why = why.clone();
                self.stages.push(StageResult::skip(stage, why));
                false
            }
            None => {
                if let Some(b) = self.bar {
                    b.stage(stage);
                }
                true
            }
        }
    }
    fn skip_rest(&mut self, from: Stage, why: &str) {
        for s in Stage::ALL.iter().filter(|s| **s >= from) {
            if !self.stages.iter().any(|r| r.stage == *s) {
                self.stages.push(StageResult::skip(*s, why));
            }
        }
    }
}

/// What the cells of one entry on one base share: the fetch and apply stages, run once with
/// the slot's worktree left at the patched tree.
struct Prepared {
    stages: Vec<StageResult>,
    blocked: Option<String>,
    base_commit: Option<String>,
    patchset: Option<Patchset>,
    changed: Vec<String>,
}

#[allow(clippy::too_many_arguments)]
fn prepare(
    cache: &Cache,
    store: &Store,
    m: &Loaded,
    cell: &Cell,
    base: &Result<String, FetchError>,
    opts: &Opts,
    dirs: &[PathBuf],
    tell: &dyn Fn(Stage),
) -> Prepared {
    let mut l = Ladder {
        stages: Vec::new(),
        stop_after: opts.stop_after,
        blocked: None,
        bar: None,
    };
    let sl = slot(cache, cell);
    let mut prep = Prepared {
        stages: Vec::new(),
        blocked: None,
        base_commit: base.as_ref().ok().cloned(),
        patchset: None,
        changed: Vec::new(),
    };
    let dir = &dirs[0];

    // fetch
    tell(Stage::Fetch);
    let fetched = if cell.is_base() {
        l.push(StageResult::new(
            Stage::Fetch,
            Status::Pass,
            format!(
                "base {} at {}",
                cell.base,
                base.as_ref().map(String::as_str).unwrap_or("?")
            ),
        ));
        None
    } else {
        let entry = m.entry(&cell.entry).expect("planned entries exist");
        let t = Instant::now();
        let r = match base {
            Err(e) => Err(FetchError::stage(e, Stage::Fetch)),
            Ok(_) => fetch::fetch_source(store, m, &cell.entry, entry.source.get_ref())
                .map_err(|e| e.stage(Stage::Fetch)),
        };
        match r {
            Ok(f) => {
                let what = match &f {
                    Fetched::Commit(c) => format!("fetched {c}"),
                    Fetched::Mbox(files) => format!("{} patch files", files.len()),
                    Fetched::PathCheck(p) => format!("file link: {p}"),
                    Fetched::Series {
                        version,
                        count,
                        base_commit,
                        ..
                    } => format!(
                        "series v{version}, {count} patches{}",
                        base_commit
                            .as_ref()
                            .map(|b| format!(", base-commit {b}"))
                            .unwrap_or_default()
                    ),
                };
                let mut s = StageResult::new(Stage::Fetch, Status::Pass, what);
                s.duration_s = t.elapsed().as_secs_f64();
                l.push(s);
                Some(f)
            }
            Err(mut s) => {
                if let Err(e) = base {
                    s.summary = format!("base {}: {}", cell.base, e.message());
                }
                s.duration_s = t.elapsed().as_secs_f64();
                l.push(s);
                None
            }
        }
    };
    let Ok(base_commit) = base else {
        l.skip_rest(Stage::Apply, "the base could not be fetched");
        prep.stages = l.stages;
        prep.blocked = l.blocked;
        return prep;
    };

    // apply (also puts the slot's worktree at the right commit)
    if l.go(Stage::Apply) {
        tell(Stage::Apply);
        match &fetched {
            None => match store.worktree_at(&sl.src, base_commit) {
                Ok(()) => l.push(StageResult::new(
                    Stage::Apply,
                    Status::Pass,
                    "base cell: nothing to apply",
                )),
                Err(e) => l.push(StageResult::error(Stage::Apply, format!("worktree: {e:#}"))),
            },
            Some(f) => {
                let log = dir.join("apply.log");
                let (r, ps) = fetch::apply(store, &sl.src, base_commit, f, &log);
                if let Some(p) = &ps {
                    prep.changed = fetch::changed_files(&sl.src, base_commit, &p.head);
                }
                for other in &dirs[1..] {
                    let _ = std::fs::copy(&log, other.join("apply.log"));
                }
                prep.patchset = ps;
                let path_check = matches!(f, Fetched::PathCheck(_));
                l.push(r);
                if path_check {
                    l.skip_rest(
                        Stage::Toolchain,
                        "a file link: nothing to build beyond the base",
                    );
                }
            }
        }
    }
    prep.stages = l.stages;
    prep.blocked = l.blocked;
    prep
}

#[allow(clippy::too_many_arguments)]
fn run_cell(
    cache: &Cache,
    m: &Loaded,
    cell: &Cell,
    prep: &Prepared,
    tc: &Result<Resolved, String>,
    dir: &Path,
    opts: &Opts,
    base_cell: Option<&CellResult>,
    bar: &crate::sys::progress::CellBar,
) -> CellResult {
    let mut res = CellResult {
        schema: SCHEMA,
        entry: cell.entry.clone(),
        base: cell.base.clone(),
        arch: cell.arch.name().into(),
        toolchain: ToolchainRecord {
            name: cell.toolchain.clone(),
            versions: tc.as_ref().map(|t| t.versions.clone()).unwrap_or_default(),
        },
        base_commit: prep.base_commit.clone(),
        patchset: prep.patchset.clone(),
        stages: Vec::new(),
        kunit: Kunit::default(),
        dir: String::new(),
        started: now_rfc3339(),
        duration_s: 0.0,
        repro: String::new(),
        health: None,
    };
    let mut l = Ladder {
        stages: prep.stages.clone(),
        stop_after: opts.stop_after,
        blocked: prep.blocked.clone(),
        bar: Some(bar),
    };
    let sl = slot(cache, cell);
    let changed = &prep.changed;
    let Some(base_commit) = prep.base_commit.clone() else {
        res.stages = l.stages;
        return res;
    };
    if l.stages.len() == Stage::ALL.len() {
        res.stages = l.stages;
        return res;
    }

    // The result cache: the same inputs give the same result, so a stored one stands.
    let key = if l.blocked.is_none() {
        tc.as_ref().ok().map(|t| {
            cell_key(
                m,
                cell,
                &base_commit,
                res.patchset.as_ref().map(|p| p.hash.as_str()),
                t,
                opts,
            )
        })
    } else {
        None
    };
    if let (Some(k), false) = (&key, opts.force || opts.clean || opts.stop_after.is_some()) {
        if let Some(hit) = cached(cache, k, dir) {
            for st in hit.stages.into_iter().filter(|s| s.stage > Stage::Apply) {
                let mut st = st;
                st.summary = format!("{} [cached]", st.summary);
                l.stages.push(st);
            }
            res.kunit = hit.kunit;
            res.stages = l.stages;
            return res;
        }
    }
    let profile = match Profile::load(&project_root(), cell.arch) {
        Ok(p) => p,
        Err(e) => {
            l.push(StageResult::error(Stage::Toolchain, format!("{e:#}")));
            l.skip_rest(Stage::Config, "no QEMU profile");
            res.stages = l.stages;
            return res;
        }
    };
    let tc = match tc {
        Ok(t) => t,
        Err(why) => {
            if l.go(Stage::Toolchain) {
                l.push(
                    StageResult::new(
                        Stage::Toolchain,
                        Status::Fail,
                        format!("toolchain {} cannot serve: {why}", cell.toolchain),
                    )
                    .with_fault(Fault::Toolchain),
                );
            }
            l.skip_rest(Stage::Config, "the toolchain cannot serve");
            res.stages = l.stages;
            return res;
        }
    };
    let own_config = !cell.is_base()
        && (changed.iter().any(|f| {
            f.rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with("Kconfig"))
        }) || m.entry(&cell.entry).is_some_and(|e| !e.kconfig.is_empty()));
    // A harness killed during a cell with a config of its own left the base's folders aside.
    for f in [&sl.out_base, &sl.clippy_base] {
        if let Err(e) = build::restore_held(f) {
            l.push(StageResult::error(
                Stage::Build,
                format!("restore the base's build folder: {e:#}"),
            ));
        }
    }
    let (out, clippy_out) = if opts.clean {
        let _ = std::fs::remove_dir_all(&sl.out_clean);
        let _ = std::fs::remove_dir_all(&sl.clippy_clean);
        (&sl.out_clean, &sl.clippy_clean)
    } else {
        // Every entry builds at the base's own folder paths. A plain entry (the base's config)
        // builds in the base's folders themselves: the worktree goes back to the base after
        // every entry, and git rewrites exactly the files that differed, so the next make there
        // (an entry's or the base's own) redoes what those files feed and nothing else. An
        // entry with a config of its own builds in a stand-in copy at the same paths, so the
        // base's folders never see a config change.
        (&sl.out_base, &sl.clippy_base)
    };
    let stand_in = if own_config && !opts.clean && l.blocked.is_none() {
        match build::StandIn::new(&[&sl.out_base, &sl.clippy_base]) {
            Ok(s) => Some(s),
            Err(e) => {
                l.push(StageResult::error(
                    Stage::Build,
                    format!("prepare the entry's build folders: {e:#}"),
                ));
                None
            }
        }
    } else {
        None
    };
    let kb = Kbuild {
        src: sl.src.clone(),
        out: out.clone(),
        profile: &profile,
        tc,
        jobs: opts.jobs,
        logs: dir.to_path_buf(),
    };

    if l.go(Stage::Toolchain) {
        l.push(kb.toolchain_gate());
    }
    if l.go(Stage::Config) {
        let (frags, soft) = fragments(m, cell, &sl.src, &base_commit, changed, dir);
        // An entry that touches no Kconfig and adds no fragment has the base's config, which
        // its output folder already holds (copied from the base's build).
        let same_inputs = !own_config
            && !opts.clean
            && !cell.is_base()
            && base_cell
                .and_then(|b| b.stage(Stage::Config))
                .is_some_and(|c| c.ok())
            && out.join(".config").is_file();
        if same_inputs {
            l.push(StageResult::new(
                Stage::Config,
                Status::Pass,
                "the base's config (the patchset changes no Kconfig and adds no fragment)",
            ));
        } else {
            l.push(kb.configure(&frags, &soft));
        }
    }
    if l.go(Stage::Build) {
        l.push(kb.build());
    }
    let checks = &m.checks;
    // The lints run whatever the boot said: they read the source, not the kernel's behaviour.
    let build_ok = l.stages.iter().any(|s| s.stage == Stage::Build && s.ok());
    let lint_block = if build_ok {
        None
    } else {
        Some("the build did not pass".to_string())
    };
    let stopped = opts.stop_after.is_some_and(|s| s < Stage::Clippy);
    let mut early_clippy: Option<StageResult> = None;
    std::thread::scope(|s| {
        // Clippy builds in a folder of its own, so it runs beside the boot; both hold job
        // tokens, so together they never take more than `-j`.
        let clippy = (build_ok
            && !stopped
            && checks.contains(&Check::Clippy)
            && !crate::sys::signal::interrupted())
        .then(|| s.spawn(|| kb.clippy(clippy_out)));
        if l.go(Stage::Boot) {
            let (boot_r, console) = boot_cell(&kb, &profile, dir, opts);
            let kunit_wanted = checks.contains(&Check::Kunit);
            let blocks = ktap::parse_all(&console);
            l.push(boot_r);
            if kunit_wanted {
                res.kunit = Kunit::from_cases(blocks.iter().flat_map(ktap::cases).collect());
                l.push(kunit_stage(&res.kunit, &console));
            }
        } else if checks.contains(&Check::Kunit) {
            l.go(Stage::Kunit);
        }
        if let Some(h) = clippy {
            if let Some(b) = l.bar {
                b.stage(Stage::Clippy);
            }
            early_clippy = Some(h.join().unwrap_or_else(|_| {
                StageResult::error(Stage::Clippy, "the clippy thread panicked")
            }));
        }
    });
    if !checks.contains(&Check::Kunit) {
        l.stages.push(StageResult::skip(
            Stage::Kunit,
            "not in the matrix's checks",
        ));
    }
    for (stage, check) in [
        (Stage::Clippy, Check::Clippy),
        (Stage::Rustfmt, Check::Rustfmt),
        (Stage::Rustdoc, Check::Rustdoc),
    ] {
        if stopped {
            l.stages.push(StageResult::skip(
                stage,
                format!(
                    "stopped after {} (--stage)",
                    opts.stop_after.map_or("", |s| s.name())
                ),
            ));
        } else if !checks.contains(&check) {
            l.stages
                .push(StageResult::skip(stage, "not in the matrix's checks"));
        } else if let Some(why) = &lint_block {
            l.stages.push(StageResult::skip(stage, why.clone()));
        } else if crate::sys::signal::interrupted() {
            l.stages
                .push(StageResult::skip(stage, "the run was interrupted"));
        } else {
            if let Some(b) = l.bar {
                b.stage(stage);
            }
            l.stages.push(match stage {
                Stage::Clippy => early_clippy.take().unwrap_or_else(|| kb.clippy(clippy_out)),
                Stage::Rustfmt => kb.rustfmt(),
                _ => match base_cell.and_then(|b| b.stage(Stage::Rustdoc)).filter(|_| !opts.clean && !changed.is_empty() && !changed.iter().any(|f| reads_for_rustdoc(f))) {
                    // rustdoc documents the crates under rust/: a patchset that changes
                    // nothing there cannot change its result.
                    Some(b) => {
                        let mut r = b.clone();
                        r.summary = format!("reused from the base (the patchset changes nothing under rust/): {}", b.summary);
                        r.duration_s = 0.0;
                        r.log = None;
                        r
                    }
                    None => kb.rustdoc(),
                },
            });
        }
    }
    res.stages = l.stages;
    // The base's folders come back before anything else runs in the slot.
    drop(stand_in);
    if opts.clean {
        // Nothing reuses a clean build (the next `--clean` empties it first): give the disk back.
        let _ = std::fs::remove_dir_all(&sl.out_clean);
        let _ = std::fs::remove_dir_all(&sl.clippy_clean);
    }
    // Only complete, fault-free ladders are stored: a harness fault may not happen again.
    let complete = opts.stop_after.is_none()
        && !res.stages.iter().any(|s| s.status == Status::Error)
        && !crate::sys::signal::interrupted();
    if let (Some(k), true) = (&key, complete) {
        store_cached(cache, k, &res, dir);
    }
    res
}

/// What identifies a cell's result: harness build, base, patchset, arch, toolchain, config
/// inputs, QEMU profile and checks.
fn cell_key(
    m: &Loaded,
    cell: &Cell,
    base_commit: &str,
    patchset: Option<&str>,
    tc: &Resolved,
    opts: &Opts,
) -> String {
    use sha2::Digest;
    let root = project_root();
    let read = |p: PathBuf| std::fs::read(&p).unwrap_or_default();
    let mut h = sha2::Sha256::new();
    h.update(harness_build_id().as_bytes());
    h.update(base_commit.as_bytes());
    h.update(patchset.unwrap_or("base").as_bytes());
    h.update(cell.arch.name().as_bytes());
    h.update(serde_json::to_vec(&(&tc.paths, &tc.versions, &tc.llvm)).unwrap_or_default());
    h.update(read(root.join("kconfigs/common.config")));
    h.update(read(
        root.join(format!("kconfigs/{}.config", cell.arch.name())),
    ));
    h.update(read(root.join(format!("qemu/{}.toml", cell.arch.name()))));
    if let Some(e) = m.entry(&cell.entry) {
        for k in &e.kconfig {
            h.update(k.as_bytes());
            h.update(read(m.dir().join(k)));
        }
    }
    h.update(format!("{:?}{:?}", m.checks, opts.boot_timeout).as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The running harness binary's hash: any change to the code changes every key.
fn harness_build_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        use sha2::Digest;
        // /proc/self/exe is the running binary even when a rebuild has replaced the file.
        let bytes = std::fs::read("/proc/self/exe")
            .or_else(|_| std::env::current_exe().and_then(std::fs::read))
            .unwrap_or_default();
        let d = sha2::Sha256::digest(&bytes);
        format!(
            "{}-{}",
            env!("CARGO_PKG_VERSION"),
            d.iter()
                .take(12)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        )
    })
}

fn cached(cache: &Cache, key: &str, dir: &Path) -> Option<CellResult> {
    let at = cache.results().join(key);
    let r: CellResult =
        serde_json::from_str(&std::fs::read_to_string(at.join("result.json")).ok()?).ok()?;
    // The logs come along, so the run folder is complete.
    let _ = proc::output(
        std::process::Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", at.display()))
            .arg(dir),
    );
    let _ = std::fs::remove_file(dir.join("result.json"));
    Some(r)
}

fn store_cached(cache: &Cache, key: &str, r: &CellResult, dir: &Path) {
    let at = cache.results().join(key);
    let tmp = cache.results().join(format!("{key}.tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    if std::fs::create_dir_all(&tmp).is_err() {
        return;
    }
    // Logs only: the initramfs and init are rebuilt in seconds and are large.
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_file()) {
                let _ = std::fs::copy(e.path(), tmp.join(e.file_name()));
            }
        }
    }
    if std::fs::write(
        tmp.join("result.json"),
        serde_json::to_string(r).unwrap_or_default(),
    )
    .is_ok()
    {
        let _ = std::fs::remove_dir_all(&at);
        let _ = std::fs::rename(&tmp, &at);
    }
}

/// Does rustdoc read this file? It documents the crates under `rust/`, configured by the
/// Kconfig and built by the Makefiles.
fn reads_for_rustdoc(f: &str) -> bool {
    f.starts_with("rust/")
        || f.starts_with("scripts/")
        || f.rsplit('/')
            .next()
            .is_some_and(|n| n.starts_with("Kconfig") || n == "Makefile" || n == "Kbuild")
        || f.starts_with("include/")
}

/// The fragments for a cell: common, the arch's, the tree's Rust KUnit suites, the entry's
/// own, and (soft) the options the patchset introduces.
fn fragments(
    m: &Loaded,
    cell: &Cell,
    src: &Path,
    base_commit: &str,
    changed: &[String],
    dir: &Path,
) -> (Vec<PathBuf>, BTreeMap<String, String>) {
    let root = project_root();
    let mut frags = vec![
        root.join("kconfigs/common.config"),
        root.join(format!("kconfigs/{}.config", cell.arch.name())),
    ];
    let mut auto = String::from("# Rust KUnit suites found in the tree's own Kconfig\n");
    for o in build::rust_kunit_options(src) {
        auto.push_str(&format!("{o}=y\n"));
    }
    let mut soft = BTreeMap::new();
    if let Some(e) = m.entry(&cell.entry) {
        let mut extra = String::new();
        for k in &e.kconfig {
            if k.starts_with("CONFIG_") {
                extra.push_str(k);
                extra.push('\n');
            } else {
                let p = if Path::new(k).is_absolute() {
                    PathBuf::from(k)
                } else {
                    m.dir().join(k)
                };
                frags.push(p);
            }
        }
        // Options the patchset adds, enabled where their dependencies allow.
        let kconfigs: Vec<(String, String)> = changed
            .iter()
            .filter(|f| {
                f.rsplit('/')
                    .next()
                    .is_some_and(|n| n.starts_with("Kconfig"))
            })
            .map(|f| {
                let before = proc::output(
                    std::process::Command::new("git")
                        .arg("-C")
                        .arg(src)
                        .args(["show", &format!("{base_commit}:{f}")]),
                )
                .unwrap_or_default();
                let after = build::read_tree_text(&src.join(f));
                (before, after)
            })
            .collect();
        for o in build::introduced_options(&kconfigs) {
            let v = if o.contains("SAMPLE") || o.contains("TEST") {
                "m"
            } else {
                "y"
            };
            extra.push_str(&format!("{o}={v}\n"));
            soft.insert(o, v.to_string());
        }
        if !extra.is_empty() {
            let p = dir.join("entry.config");
            let _ = std::fs::write(&p, extra);
            frags.push(p);
        }
    }
    let p = dir.join("kunit-suites.config");
    let _ = std::fs::write(&p, auto);
    frags.insert(2, p);
    (frags, soft)
}

/// Build the init + initramfs, boot, classify; returns the boot stage and the console.
fn boot_cell(kb: &Kbuild, profile: &Profile, dir: &Path, opts: &Opts) -> (StageResult, String) {
    let start = Instant::now();
    let modules = boot::rust_modules(&kb.src, &kb.out);
    let clang = kb
        .tc
        .paths
        .get("clang")
        .cloned()
        .unwrap_or_else(|| "clang".into());
    let initramfs = match boot::make_initramfs(
        &kb.src,
        &kb.out,
        profile,
        &clang,
        &modules,
        &dir.join("initramfs"),
        &dir.join("initramfs.log"),
    ) {
        Ok(p) => p,
        Err(e) => {
            return (
                StageResult::error(Stage::Boot, format!("initramfs: {e}"))
                    .with_log("initramfs.log"),
                String::new(),
            )
        }
    };
    if proc::which(&profile.binary).is_none() {
        return (
            StageResult::error(
                Stage::Boot,
                format!(
                    "{} is not installed (run `cargo xtask setup`)",
                    profile.binary
                ),
            ),
            String::new(),
        );
    }
    let mut cmd = boot::qemu_command(profile, &kb.out, &initramfs, "tcg", "");
    let deadline =
        std::time::Duration::from_secs(opts.boot_timeout.unwrap_or(profile.boot_timeout));
    let console_path = dir.join("console.log");
    let _ = std::fs::write(dir.join("qemu.cmd"), proc::display_command(&cmd) + "\n");
    let end = match boot::run_qemu(&mut cmd, &console_path, deadline) {
        Ok(x) => x,
        Err(e) => {
            return (
                StageResult::error(Stage::Boot, format!("could not run QEMU: {e:#}")),
                String::new(),
            )
        }
    };
    let console = boot::read_console(&console_path);
    let spans = kunit_spans(&console);
    let v = boot::classify_run(&console, &end, &spans);
    let mut r = boot::boot_stage(&v, start.elapsed().as_secs_f64(), "console.log");
    if !modules.is_empty() {
        r.summary.push_str(&format!(
            " [modules: {}]",
            modules
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    (r, console)
}

/// Console line ranges from each KTAP block's first line to its last result line.
fn kunit_spans(console: &str) -> Vec<(usize, usize)> {
    let lines = ktap::split_lines(console);
    let mut spans = Vec::new();
    let mut open: Option<usize> = None;
    let mut last_result = 0;
    for (i, l) in lines.iter().enumerate() {
        let t = l.trim_start();
        let body = t.find("KTAP version").map(|p| &t[p..]);
        if body.is_some_and(|b| b.starts_with("KTAP version")) && open.is_none() {
            open = Some(i);
        }
        if open.is_some()
            && (t.contains("ok ")
                && (t.contains(" ok ") || t.starts_with("ok ") || t.contains("not ok ")))
        {
            last_result = i;
        }
        if let Some(s) = open {
            // A block ends at the init's first marker (boot-time suites are done by then) or at
            // the next block's start.
            if l.contains("RFL-INIT:") {
                spans.push((s, last_result.max(s) + 1));
                open = None;
            }
        }
    }
    if let Some(s) = open {
        spans.push((s, last_result.max(s) + 1));
    }
    spans
}

fn kunit_stage(k: &Kunit, console: &str) -> StageResult {
    let c = &k.counts;
    if c.total == 0 {
        let status = if console.is_empty() {
            Status::Skip
        } else {
            Status::Fail
        };
        return StageResult::new(
            Stage::Kunit,
            status,
            if console.is_empty() {
                "no console"
            } else {
                "no KTAP output found on the console"
            },
        )
        .with_log("console.log");
    }
    let bad: Vec<String> = k
        .tests
        .iter()
        .filter(|t| t.status.is_bad())
        .map(|t| {
            format!(
                "{} {}{}",
                t.status,
                t.name,
                t.location
                    .as_ref()
                    .map(|l| format!(" ({l})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let counts = format!(
        "{} tests: {} passed, {} failed, {} crashed, {} skipped",
        c.total, c.passed, c.failed, c.crashed, c.skipped
    );
    let mut r = if bad.is_empty() {
        StageResult::new(Stage::Kunit, Status::Pass, counts)
    } else {
        let mut r = StageResult::new(
            Stage::Kunit,
            Status::Fail,
            format!(
                "{counts}; {}",
                bad.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
            ),
        );
        r.fault = Some(Fault::Code);
        r
    };
    r.log = Some("console.log".into());
    r
}
