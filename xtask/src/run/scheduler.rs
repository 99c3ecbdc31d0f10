//! Which cells run when: the plan's cells in groups (one entry on one base, every arch and
//! toolchain of it), base cells first as the plan orders them; a group's fetch and apply run
//! once, then its cells run at the same time on threads of their own, sharing the run's `-j`
//! job tokens. Each finished cell is judged against its base cell and written at once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context;

use crate::model::event::Event;
use crate::model::outcome::*;
use crate::model::plan::{Cell, Plan};
use crate::run::cell::{self, Job};
use crate::run::events::CellEvents;
use crate::run::{cell_repro, folders, write_results, Env};
use crate::sources::fetch::FetchError;
use crate::stages::toolchain::Resolved;

/// Run the plan's cells not in `results` yet; returns the results, also written after each
/// cell.
pub(super) fn run_cells(
    env: &Env,
    plan: &Plan,
    toolchains: &BTreeMap<String, Result<Resolved, String>>,
    bases: &BTreeMap<String, Result<String, FetchError>>,
    results: RunResults,
) -> anyhow::Result<RunResults> {
    crate::sys::jobs::init(env.opts.jobs)?;
    let watch = &env.watch;
    let results = std::thread::scope(|s| {
        let _stop = watch.stopper();
        s.spawn(|| watch.heartbeats());
        run_groups(env, plan, toolchains, bases, results)
    })?;
    write_results(&env.opts.out, &results)?;
    Ok(results)
}

fn run_groups(
    env: &Env,
    plan: &Plan,
    toolchains: &BTreeMap<String, Result<Resolved, String>>,
    bases: &BTreeMap<String, Result<String, FetchError>>,
    results: RunResults,
) -> anyhow::Result<RunResults> {
    let (opts, watch) = (env.opts, &env.watch);
    let many_tc = plan.toolchains.len() > 1;
    let is_done = |r: &RunResults, cell: &Cell| r.cells.iter().any(|c| is_result_of(c, cell));
    let todo_total = plan.cells.iter().filter(|c| !is_done(&results, c)).count();
    watch.emit(&Event::RunStarted { cells: todo_total });
    let results = Mutex::new(results);
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
        let names: Vec<String> = todo.iter().map(|c| c.name(many_tc)).collect();
        watch.emit(&Event::GroupStarted {
            entry: &todo[0].entry,
            base: &todo[0].base,
            cells: &names,
        });
        let dirs: Vec<PathBuf> = names
            .iter()
            .map(|n| opts.out.join("cells").join(n))
            .collect();
        for d in &dirs {
            let _ = std::fs::remove_dir_all(d);
            std::fs::create_dir_all(d).with_context(|| format!("create {}", d.display()))?;
        }
        let t0 = Instant::now();
        let handles: Vec<CellEvents> = names
            .iter()
            .zip(&dirs)
            .map(|(n, d)| watch.cell(n, d))
            .collect();
        let prep = cell::prepare(env, todo[0], base, &dirs, &|stage| {
            watch.emit(&Event::GroupStage(stage))
        });
        std::thread::scope(|s| {
            for ((c, dir), events) in todo.iter().zip(&dirs).zip(handles) {
                let (prep, results) = (&prep, &results);
                let tc = toolchains.get(&c.toolchain).expect("resolved above");
                // Does a cell of this group build in the default config's folder that a
                // variant's cold folder would be copied from?
                let default_idle = !todo.iter().any(|o| {
                    o.config == crate::model::plan::DEFAULT_CONFIG
                        && o.arch == c.arch
                        && o.toolchain == c.toolchain
                });
                s.spawn(move || {
                    let name = c.name(many_tc);
                    let base_cell = {
                        let r = results.lock().unwrap_or_else(|e| e.into_inner());
                        let base = Cell {
                            entry: crate::model::plan::BASE_ENTRY.into(),
                            ..(*c).clone()
                        };
                        r.cells.iter().find(|b| is_result_of(b, &base)).cloned()
                    };
                    let job = Job {
                        cell: c,
                        dir,
                        prep,
                        tc,
                        base_cell: base_cell.as_ref(),
                        default_idle,
                    };
                    let mut r = cell::run_cell(env, &job, &events);
                    if crate::sys::signal::interrupted() {
                        // The cell was cut short: its stages say nothing about the code. Keep
                        // what finished before it and say the run was interrupted.
                        events.interrupted();
                        return;
                    }
                    r.dir = format!("cells/{name}");
                    r.duration_s = t0.elapsed().as_secs_f64();
                    r.repro = cell_repro(c, opts);
                    r.expectations = opts
                        .expect
                        .as_ref()
                        .map(|x| x.apply(&r))
                        .unwrap_or_default();
                    let mut all = results.lock().unwrap_or_else(|e| e.into_inner());
                    r.health = Some(crate::model::health::assess(
                        &r,
                        crate::model::health::base_of(&r, &all.cells),
                    ));
                    let written = std::fs::write(
                        dir.join("result.json"),
                        serde_json::to_string_pretty(&r).unwrap_or_default() + "\n",
                    );
                    all.cells.push(r.clone());
                    sort_like_plan(&mut all.cells, &plan.cells);
                    if let Err(e) = written
                        .map_err(anyhow::Error::from)
                        .and_then(|_| write_results(&opts.out, &all))
                    {
                        events.not_written(&format!("{e:#}"));
                    }
                    drop(all);
                    events.finished(&r, t0.elapsed());
                });
            }
        });
        // Leave the slot's worktree at the base for the next entry (an interrupted run leaves
        // it to the next run, which puts it right).
        if !todo[0].is_base() && !crate::sys::signal::interrupted() {
            if let Some(b) = &prep.base_commit {
                let _ = env
                    .store
                    .worktree_at(&folders::slot(env.cache, todo[0]).src, b);
            }
        }
        watch.emit(&Event::GroupFinished);
        if crate::sys::signal::interrupted() {
            lock().interrupted = true;
            break;
        }
    }
    watch.emit(&Event::RunFinished);
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    if crate::sys::signal::interrupted() {
        results.interrupted = true;
    }
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
