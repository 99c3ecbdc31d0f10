//! A cell's stages: the stage table and the one loop that walks it.
//!
//! Each stage is declared once, in order: its rules (what it needs and when it is skipped,
//! read in order, the first that holds skips it with its reason) and the function that runs
//! it, which times itself. Fetch and apply run once for the cells of one entry on one base
//! ([`prepare`]); the cell's own stages follow on its thread ([`run_cell`]). One loop,
//! [`Ladder::walk`] (`ladder.rs`), decides every skip.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::model::arch::Profile;
use crate::model::event::BuildCacheNote;
use crate::model::matrix::Check;
use crate::model::outcome::*;
use crate::model::plan::Cell;
use crate::run::events::CellEvents;
use crate::run::folders::{self, Folders};
use crate::run::ladder::{End, Ladder, Rule, Step};
use crate::run::{cache, warm, Env};
use crate::sources::fetch::{FetchError, Fetched};
use crate::sources::stage::{self, Applied, BASE_MISSING};
use crate::stages::boot;
use crate::stages::build::Kbuild;
use crate::stages::config;
use crate::stages::ktap;
use crate::stages::rustdoc;
use crate::stages::standin;
use crate::stages::toolchain::Resolved;
use crate::sys::paths::project_root;

const IN_BASE: &str = "the series is already in the base";

/// The stage table. Fetch and apply, once per group of cells:
fn group_stages<'a>() -> [Step<Group<'a>>; 2] {
    use Rule::*;
    [
        Step {
            stage: Stage::Fetch,
            rules: &[],
            early: false,
            run: fetch_stage,
        },
        Step {
            stage: Stage::Apply,
            rules: &[After(Stage::Fetch), Stop(Stage::Apply), Interrupted],
            early: false,
            run: apply_stage,
        },
    ]
}

/// … and each cell's own. The lints need the build, not the boot: they read the source; the
/// objtool check reads what objtool said during the build. They stop together: `--stage
/// clippy` runs all four. Clippy builds in a folder of its own, so it
/// starts beside the boot.
fn cell_stages<'a>() -> [Step<Cx<'a>>; 9] {
    use Rule::*;
    const BUILD_FAILED: &str = "the build did not pass";
    [
        Step {
            stage: Stage::Toolchain,
            rules: &[After(Stage::Apply), Stop(Stage::Toolchain), Interrupted],
            early: false,
            run: toolchain_stage,
        },
        Step {
            stage: Stage::Config,
            rules: &[After(Stage::Toolchain), Stop(Stage::Config), Interrupted],
            early: false,
            run: config_stage,
        },
        Step {
            stage: Stage::Build,
            rules: &[After(Stage::Config), Stop(Stage::Build), Interrupted],
            early: false,
            run: build_stage,
        },
        Step {
            stage: Stage::Boot,
            rules: &[After(Stage::Build), Stop(Stage::Boot), Interrupted],
            early: false,
            run: boot_stage,
        },
        Step {
            stage: Stage::Kunit,
            rules: &[Checked(Check::Kunit), Ran(Stage::Boot)],
            early: false,
            run: kunit_stage,
        },
        Step {
            stage: Stage::Clippy,
            rules: &[
                Stop(Stage::Clippy),
                Checked(Check::Clippy),
                Passed(Stage::Build, BUILD_FAILED),
                Interrupted,
            ],
            early: true,
            run: |cx| cx.kit().kb.clippy(&cx.kit().folders.clippy),
        },
        Step {
            stage: Stage::Rustfmt,
            rules: &[
                Stop(Stage::Clippy),
                Checked(Check::Rustfmt),
                Passed(Stage::Build, BUILD_FAILED),
                Interrupted,
            ],
            early: false,
            run: |cx| cx.kit().kb.rustfmt(),
        },
        Step {
            stage: Stage::Rustdoc,
            rules: &[
                Stop(Stage::Clippy),
                Checked(Check::Rustdoc),
                Passed(Stage::Build, BUILD_FAILED),
                Interrupted,
            ],
            early: false,
            run: rustdoc_stage,
        },
        Step {
            stage: Stage::Objtool,
            rules: &[
                Stop(Stage::Clippy),
                Checked(Check::Objtool),
                Passed(Stage::Build, BUILD_FAILED),
                Interrupted,
            ],
            early: false,
            run: |cx| cx.kit().kb.objtool(),
        },
    ]
}

/// What the cells of one entry on one base share: the fetch and apply stages, run once with
/// the slot's worktree left at the patched tree.
pub(super) struct Prepared {
    stages: Vec<StageResult>,
    /// Where the cells end, if before their own stages.
    end: Option<End>,
    pub base_commit: Option<String>,
    patchset: Option<Patchset>,
    changed: Vec<String>,
    /// A lore series' mail headers, for `publish`.
    series: Option<crate::model::outcome::SeriesMail>,
}

/// The group's side of the table: `cell` is the group's first, `dirs` every cell's folder.
struct Group<'a> {
    env: &'a Env<'a>,
    cell: &'a Cell,
    base: &'a Result<String, FetchError>,
    dirs: &'a [PathBuf],
    src: PathBuf,
    fetched: OnceLock<Fetched>,
    applied: OnceLock<Applied>,
}

/// Fetch and apply for the cells of one entry on one base; `announce` is told of each stage.
pub(super) fn prepare(
    env: &Env,
    cell: &Cell,
    base: &Result<String, FetchError>,
    dirs: &[PathBuf],
    announce: &dyn Fn(Stage),
) -> Prepared {
    let g = Group {
        env,
        cell,
        base,
        dirs,
        src: folders::slot(env.cache, cell).src,
        fetched: OnceLock::new(),
        applied: OnceLock::new(),
    };
    let no_base = base.is_err().then(|| End {
        from: Stage::Apply,
        why: BASE_MISSING.into(),
    });
    let ladder = Ladder {
        stop_after: env.opts.stop_after,
        checks: &env.m.checks_of(&cell.config),
        end: no_base.clone(),
        interrupted: &crate::sys::signal::interrupted,
        announce,
        // The group's stages become each cell's: their events are the group's.
        recorded: &|_| {},
    };
    let mut stages = Vec::new();
    ladder.walk(&group_stages(), &g, &mut stages);
    let applied = g.applied.into_inner();
    // A file link is a check of the base: once applied, nothing is built.
    let file_link = (applied.is_some() && matches!(g.fetched.get(), Some(Fetched::PathCheck(_))))
        .then(|| End {
            from: Stage::Toolchain,
            why: "a file link: nothing to build beyond the base".into(),
        });
    // A series already in its base: nothing of it to build.
    let in_base = stages.iter().any(|s| s.in_base).then(|| End {
        from: Stage::Toolchain,
        why: IN_BASE.into(),
    });
    let Applied { patchset, changed } = applied.unwrap_or_default();
    Prepared {
        stages,
        end: no_base.or(file_link).or(in_base),
        base_commit: base.as_ref().ok().cloned(),
        patchset,
        changed,
        series: match g.fetched.into_inner() {
            Some(Fetched::Series { mail, .. }) => mail.map(|m| *m),
            _ => None,
        },
    }
}

fn fetch_stage(g: &Group) -> StageResult {
    let (r, fetched) = stage::fetch(g.env.store, g.env.m, g.cell, g.base);
    if let Some(f) = fetched {
        let _ = g.fetched.set(f);
    }
    r
}

/// Also puts the slot's worktree at the right commit.
fn apply_stage(g: &Group) -> StageResult {
    let (r, applied) = stage::apply(g.env.store, &g.src, g.base, g.fetched.get(), g.dirs);
    let _ = g.applied.set(applied);
    r
}

/// One cell to run after its group's fetch and apply.
pub(super) struct Job<'a> {
    pub cell: &'a Cell,
    /// Its folder, where its logs go.
    pub dir: &'a Path,
    pub prep: &'a Prepared,
    pub tc: &'a Result<Resolved, String>,
    /// The result of its base cell (same base, arch and toolchain), when there is one.
    pub base_cell: Option<&'a CellResult>,
    /// No cell running beside it builds in the default config's folder of its base, arch and
    /// toolchain: a variant's cold folder may start as a copy of it ([`folders::seed`]).
    pub default_idle: bool,
}

/// The cell's side of the table.
struct Cx<'a> {
    env: &'a Env<'a>,
    job: &'a Job<'a>,
    /// Without a kit, the toolchain stage's result says why, and every later stage needs the
    /// toolchain to have passed.
    kit: Result<Kit<'a>, StageResult>,
    /// The boot's console, for kunit.
    console: OnceLock<String>,
    kunit: OnceLock<Kunit>,
    /// A base cell's build restored from another commit of its base: what it brings.
    moved: Option<&'a warm::Moved>,
}

/// What the make stages use.
struct Kit<'a> {
    kb: Kbuild<'a>,
    folders: Folders,
    own_config: bool,
}

impl<'a> Cx<'a> {
    fn kit(&self) -> &Kit<'a> {
        self.kit
            .as_ref()
            .expect("a stage after the toolchain runs only when the toolchain passed")
    }
}

/// The cell's own stages (after its group's fetch and apply); `events` is told of each that
/// starts and ends.
pub(super) fn run_cell(env: &Env, job: &Job, events: &CellEvents) -> CellResult {
    let (cell, prep, opts) = (job.cell, job.prep, env.opts);
    let mut res = CellResult {
        schema: SCHEMA,
        entry: cell.entry.clone(),
        base: cell.base.clone(),
        arch: cell.arch,
        toolchain: ToolchainRecord {
            name: cell.toolchain.clone(),
            versions: job
                .tc
                .as_ref()
                .map(|t| t.versions.clone())
                .unwrap_or_default(),
            chosen: env.chosen.get(&(cell.base.clone(), cell.arch)).cloned(),
        },
        config: cell.config.clone(),
        base_commit: prep.base_commit.clone(),
        patchset: prep.patchset.clone(),
        stages: Vec::new(),
        kunit: Kunit::default(),
        dir: String::new(),
        started: now_rfc3339(),
        duration_s: 0.0,
        repro: String::new(),
        kunit_filter: opts.kunit_filter.clone(),
        health: None,
        change: None,
        last_known: None,
        series: prep.series.clone(),
        expectations: Vec::new(),
    };
    let mut stages = prep.stages.clone();
    let table = cell_stages();
    let mut ladder = Ladder {
        stop_after: opts.stop_after,
        checks: &env.m.checks_of(&cell.config),
        end: prep.end.clone(),
        interrupted: &crate::sys::signal::interrupted,
        announce: &|s| events.stage(s),
        recorded: &|r| events.stage_finished(r),
    };
    let builds = ladder.why_skip(&table[0], &stages).is_none();
    let sl = folders::slot(env.cache, cell);
    // The build cache: a base cell's cold slot starts from an archive (before the result
    // cache is asked: the archive may bring the cell's own result).
    let warm = match (&opts.build_cache, &prep.base_commit, job.tc) {
        (Some(dir), Some(commit), Ok(tc)) if builds && cell.is_base() && !opts.clean => Some(
            warm::ForCell::start(dir, env, cell, tc, &sl, commit, events),
        ),
        _ => None,
    };
    // The result cache: the same inputs give the same result, so a stored one stands.
    let key = match (&prep.base_commit, job.tc) {
        (Some(base_commit), Ok(tc)) if builds => cache::key(
            env.m,
            cell,
            base_commit,
            prep.patchset.as_ref().map(|p| p.hash.as_str()),
            tc,
            opts,
        ),
        _ => None,
    };
    if let Some(k) = &key {
        if let Some((cached, kunit)) = cache::reuse(env.cache, opts, k, job.dir) {
            cached.iter().for_each(|r| events.stage_finished(r));
            stages.extend(cached);
            res.stages = stages;
            res.kunit = kunit;
            return res;
        }
    }
    if builds && !cell.is_base() {
        folders::entry_builds(&sl);
    }
    if builds && cell.is_base() && !opts.clean && job.default_idle {
        match folders::seed(env.cache, cell, &sl) {
            Ok(Some(elapsed)) => events.build_cache(BuildCacheNote::Seeded {
                from: crate::model::plan::DEFAULT_CONFIG,
                elapsed,
            }),
            Ok(None) => {}
            Err(why) => events.build_cache(BuildCacheNote::Failed { why: &why }),
        }
    }
    let profile = crate::sys::paths::qemu_profile(&project_root(), cell.arch);
    let kit = match &prep.end {
        // Nothing of the cell's own runs: nothing to set up.
        Some(e) => Err(StageResult::skip(Stage::Toolchain, e.why.clone())),
        None => kit(env, job, &sl, &profile, builds).map_err(|failed| {
            let (r, end) = *failed;
            ladder.end = end;
            r
        }),
    };
    let cx = Cx {
        env,
        job,
        kit,
        console: OnceLock::new(),
        kunit: OnceLock::new(),
        moved: warm.as_ref().and_then(warm::ForCell::moved),
    };
    ladder.walk(&table, &cx, &mut stages);
    res.stages = stages;
    res.kunit = cx.kunit.into_inner().unwrap_or_default();
    // Nothing the cell's commands started outlives the cell (each command's end swept what
    // it left; a parent that was still exiting then is looked for once more).
    crate::sys::proc::sweep_orphans(true);
    // The base's folders come back before anything else runs in the slot.
    drop(cx.kit);
    if let Some(k) = &key {
        cache::store(env.cache, opts, k, &res, job.dir);
    }
    if let Some(w) = warm.filter(|_| opts.save_build_cache) {
        w.finish(env, &res, key.as_deref(), events);
    }
    res
}

/// The kit a cell builds with; else the toolchain stage's result, and where the cell ends
/// (boxed: a stage result is large, and the kit is the usual answer).
fn kit<'a>(
    env: &Env,
    job: &Job<'a>,
    sl: &folders::Slot,
    profile: &'a anyhow::Result<Profile>,
    builds: bool,
) -> Result<Kit<'a>, Box<(StageResult, Option<End>)>> {
    let end = |why: &str| {
        Some(End {
            from: Stage::Config,
            why: why.into(),
        })
    };
    let profile = match profile {
        Ok(p) => p,
        Err(e) => {
            let r = StageResult::error(Stage::Toolchain, format!("{e:#}"));
            return Err(Box::new((r, end("no QEMU profile"))));
        }
    };
    let tc = match job.tc {
        Ok(t) => t,
        Err(why) => {
            let r = StageResult::new(
                Stage::Toolchain,
                Status::Fail,
                format!("toolchain {} cannot serve: {why}", job.cell.toolchain),
            )
            .with_fault(Fault::Toolchain);
            return Err(Box::new((r, end("the toolchain cannot serve"))));
        }
    };
    let own_config = folders::own_config(env.m, job.cell, &job.prep.changed);
    let folders = folders::take(sl, env.opts.clean, own_config, builds)
        .map_err(|e| Box::new((StageResult::error(Stage::Toolchain, e), None)))?;
    Ok(Kit {
        kb: Kbuild {
            src: sl.src.clone(),
            out: folders.out.clone(),
            profile,
            tc,
            jobs: env.opts.jobs,
            logs: job.dir.to_path_buf(),
        },
        folders,
        own_config,
    })
}

fn toolchain_stage(cx: &Cx) -> StageResult {
    match &cx.kit {
        Ok(k) => k.kb.toolchain_gate(),
        Err(r) => r.clone(),
    }
}

fn config_stage(cx: &Cx) -> StageResult {
    let (k, job) = (cx.kit(), cx.job);
    let base = job.base_cell.and_then(|b| b.stage(Stage::Config));
    let inputs = config::CellInputs {
        m: cx.env.m,
        cell: job.cell,
        base_commit: job.prep.base_commit.as_deref().unwrap_or_default(),
        changed: &job.prep.changed,
        dir: job.dir,
    };
    let keeps = config::keeps_base_config(job.cell, k.own_config, cx.env.opts.clean, base);
    config::stage(&k.kb, &inputs, keeps)
}

/// The build, once the cache's disk has room for it (else the machine's fault, saying what
/// fills the disk).
fn build_stage(cx: &Cx) -> StageResult {
    if let Err(why) = crate::sys::disk::check(&cx.env.cache.root, crate::sys::disk::build_needs()) {
        return StageResult::error(Stage::Build, why);
    }
    cx.kit().kb.build()
}

fn boot_stage(cx: &Cx) -> StageResult {
    let k = cx.kit();
    let opts = cx.env.opts;
    let (r, console) = boot::run::boot(
        &k.kb,
        cx.job.dir,
        opts.kunit_filter.as_deref(),
        opts.boot_timeout,
    );
    let _ = cx.console.set(console);
    r
}

fn kunit_stage(cx: &Cx) -> StageResult {
    let console = cx.console.get().map_or("", String::as_str);
    let (k, r) = ktap::judge(console, cx.env.opts.kunit_filter.as_deref());
    let _ = cx.kunit.set(k);
    r
}

/// An entry may keep its base's rustdoc result; a base cell whose build was restored from
/// another commit, that commit's.
fn rustdoc_stage(cx: &Cx) -> StageResult {
    let kb = &cx.kit().kb;
    let earlier = match cx.moved {
        Some(m) => rustdoc::Earlier {
            result: m.rustdoc.as_ref(),
            changed: &m.changed,
            config: &|| m.config.clone(),
            whose: format!(
                "the base at {}",
                m.from_commit.get(..12).unwrap_or(&m.from_commit)
            ),
            why: "the commits since change nothing rustdoc reads",
        },
        None => rustdoc::Earlier {
            result: cx.job.base_cell.and_then(|b| b.stage(Stage::Rustdoc)),
            changed: &cx.job.prep.changed,
            config: &|| standin::held_config(&kb.out),
            whose: "the base".into(),
            why: "the patchset changes nothing rustdoc reads",
        },
    };
    rustdoc::stage(kb, earlier, cx.env.opts.clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::jobs;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// Stage functions that return a set status, and can raise the interrupt flag.
    #[derive(Default)]
    struct Fake {
        failing: Option<Stage>,
        interrupt_during: Option<Stage>,
        interrupted: AtomicBool,
        /// The boot waits for clippy to start, and fails if it never does.
        boot_waits_for_clippy: bool,
        clippy_started: AtomicBool,
        /// Clippy holds both of the real jobserver's tokens this long, and the boot takes one
        /// to run 0.1 s, as a QEMU does.
        clippy_holds_the_tokens: Option<Duration>,
        ran: Mutex<Vec<Stage>>,
    }

    /// A stage times itself, as the real ones do.
    fn fake(f: &Fake, stage: Stage) -> StageResult {
        let t = Instant::now();
        let mut r = fake_run(f, stage);
        r.duration_s = t.elapsed().as_secs_f64();
        r
    }

    fn fake_run(f: &Fake, stage: Stage) -> StageResult {
        f.ran.lock().unwrap().push(stage);
        let held = (stage == Stage::Clippy)
            .then_some(f.clippy_holds_the_tokens)
            .flatten()
            .map(|d| (d, [jobs::acquire(true), jobs::acquire(true)]));
        if stage == Stage::Clippy {
            f.clippy_started.store(true, Ordering::SeqCst);
        }
        if let Some((d, tokens)) = held {
            std::thread::sleep(d);
            drop(tokens);
        }
        if stage == Stage::Boot && f.boot_waits_for_clippy {
            let t = Instant::now();
            while !f.clippy_started.load(Ordering::SeqCst) {
                if t.elapsed() > Duration::from_secs(10) {
                    return StageResult::new(stage, Status::Fail, "clippy never started");
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            if f.clippy_holds_the_tokens.is_some() {
                let _token = jobs::acquire(false);
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        if f.interrupt_during == Some(stage) {
            f.interrupted.store(true, Ordering::SeqCst);
        }
        let status = if f.failing == Some(stage) {
            Status::Fail
        } else {
            Status::Pass
        };
        StageResult::new(stage, status, "ran")
    }

    /// The table's own rules, with fake stage functions.
    fn faked<K>(s: &Step<K>) -> Step<Fake> {
        let run: fn(&Fake) -> StageResult = match s.stage {
            Stage::Fetch => |f| fake(f, Stage::Fetch),
            Stage::Apply => |f| fake(f, Stage::Apply),
            Stage::Toolchain => |f| fake(f, Stage::Toolchain),
            Stage::Config => |f| fake(f, Stage::Config),
            Stage::Build => |f| fake(f, Stage::Build),
            Stage::Boot => |f| fake(f, Stage::Boot),
            Stage::Kunit => |f| fake(f, Stage::Kunit),
            Stage::Clippy => |f| fake(f, Stage::Clippy),
            Stage::Rustfmt => |f| fake(f, Stage::Rustfmt),
            Stage::Rustdoc => |f| fake(f, Stage::Rustdoc),
            Stage::Objtool => |f| fake(f, Stage::Objtool),
        };
        Step {
            stage: s.stage,
            rules: s.rules,
            early: s.early,
            run,
        }
    }

    struct Walked {
        stages: Vec<StageResult>,
        announced: Vec<Stage>,
        recorded: Vec<Stage>,
    }

    impl Walked {
        fn said(&self, s: Stage) -> (Status, &str) {
            let r = self.stages.iter().find(|r| r.stage == s).unwrap();
            (r.status, r.summary.as_str())
        }
    }

    /// The group's stages, then the cell's, as `prepare` and `run_cell` walk them.
    fn walk(f: &Fake, stop_after: Option<Stage>, checks: &[Check], end: Option<End>) -> Walked {
        let announced = Mutex::new(Vec::new());
        let interrupted = || f.interrupted.load(Ordering::SeqCst);
        let announce = |s| announced.lock().unwrap().push(s);
        let recorded = Mutex::new(Vec::new());
        let record = |r: &StageResult| recorded.lock().unwrap().push(r.stage);
        let ladder = Ladder {
            stop_after,
            checks,
            end,
            interrupted: &interrupted,
            announce: &announce,
            recorded: &record,
        };
        let mut stages = Vec::new();
        ladder.walk(&group_stages().map(|s| faked(&s)), f, &mut stages);
        ladder.walk(&cell_stages().map(|s| faked(&s)), f, &mut stages);
        Walked {
            stages,
            announced: announced.into_inner().unwrap(),
            recorded: recorded.into_inner().unwrap(),
        }
    }

    const SKIP: Status = Status::Skip;
    const RAN: (Status, &str) = (Status::Pass, "ran");

    #[test]
    fn a_failed_build_skips_boot_and_kunit_and_the_lints_say_the_build_did_not_pass() {
        let f = Fake {
            failing: Some(Stage::Build),
            ..Fake::default()
        };
        let w = walk(&f, None, &Check::ALL, None);
        assert_eq!(w.said(Stage::Build), (Status::Fail, "ran"));
        for s in [Stage::Boot, Stage::Kunit] {
            assert_eq!(w.said(s), (SKIP, "build did not pass"));
        }
        for s in [Stage::Clippy, Stage::Rustfmt, Stage::Rustdoc] {
            assert_eq!(w.said(s), (SKIP, "the build did not pass"));
        }
        assert_eq!(*f.ran.lock().unwrap(), &Stage::ALL[..5]);
    }

    #[test]
    fn a_failed_boot_still_reads_kunit_and_runs_the_lints() {
        let f = Fake {
            failing: Some(Stage::Boot),
            ..Fake::default()
        };
        let w = walk(&f, None, &Check::ALL, None);
        assert_eq!(w.said(Stage::Boot), (Status::Fail, "ran"));
        for s in [Stage::Kunit, Stage::Clippy, Stage::Rustfmt, Stage::Rustdoc] {
            assert_eq!(w.said(s), RAN);
        }
    }

    #[test]
    fn a_failed_fetch_is_named_down_the_ladder_and_the_lints_name_the_build() {
        let f = Fake {
            failing: Some(Stage::Fetch),
            ..Fake::default()
        };
        let w = walk(&f, None, &Check::ALL, None);
        for s in &Stage::ALL[1..7] {
            assert_eq!(w.said(*s), (SKIP, "fetch did not pass"), "{s:?}");
        }
        for s in &Stage::ALL[7..] {
            assert_eq!(w.said(*s), (SKIP, "the build did not pass"), "{s:?}");
        }
        assert_eq!(*f.ran.lock().unwrap(), [Stage::Fetch]);
    }

    #[test]
    fn stopping_after_config_skips_every_later_stage_with_the_stop() {
        let f = Fake::default();
        let w = walk(&f, Some(Stage::Config), &Check::ALL, None);
        for s in &Stage::ALL[4..] {
            assert_eq!(
                w.said(*s),
                (SKIP, "stopped after config (--stage)"),
                "{s:?}"
            );
        }
        assert_eq!(*f.ran.lock().unwrap(), &Stage::ALL[..4]);
    }

    #[test]
    fn stopping_after_boot_still_reads_kunit_and_stops_the_lints() {
        let w = walk(&Fake::default(), Some(Stage::Boot), &Check::ALL, None);
        assert_eq!(w.said(Stage::Kunit), RAN);
        for s in [Stage::Clippy, Stage::Rustfmt, Stage::Rustdoc] {
            assert_eq!(w.said(s), (SKIP, "stopped after boot (--stage)"));
        }
    }

    #[test]
    fn stopping_after_clippy_runs_all_three_lints() {
        let w = walk(&Fake::default(), Some(Stage::Clippy), &Check::ALL, None);
        for s in [Stage::Clippy, Stage::Rustfmt, Stage::Rustdoc] {
            assert_eq!(w.said(s), RAN);
        }
    }

    #[test]
    fn a_check_left_out_of_the_matrix_is_skipped_as_such_even_after_a_failed_build() {
        let f = Fake {
            failing: Some(Stage::Build),
            ..Fake::default()
        };
        let w = walk(&f, None, &[Check::Rustfmt], None);
        for s in [Stage::Kunit, Stage::Clippy, Stage::Rustdoc] {
            assert_eq!(w.said(s), (SKIP, "not in the matrix's checks"));
        }
        assert_eq!(w.said(Stage::Rustfmt), (SKIP, "the build did not pass"));
    }

    #[test]
    fn an_interrupt_during_the_build_starts_no_further_stage() {
        let f = Fake {
            interrupt_during: Some(Stage::Build),
            ..Fake::default()
        };
        let w = walk(&f, None, &Check::ALL, None);
        assert_eq!(w.said(Stage::Build), RAN);
        for s in &Stage::ALL[5..] {
            assert_eq!(w.said(*s), (SKIP, "the run was interrupted"), "{s:?}");
        }
        assert_eq!(*f.ran.lock().unwrap(), &Stage::ALL[..5]);
    }

    #[test]
    fn an_interrupt_during_the_boot_still_reads_kunit_and_records_no_lint() {
        let f = Fake {
            interrupt_during: Some(Stage::Boot),
            boot_waits_for_clippy: true,
            ..Fake::default()
        };
        let w = walk(&f, None, &Check::ALL, None);
        assert_eq!(w.said(Stage::Kunit), RAN);
        // Clippy had started beside the boot: what it found is not recorded.
        assert!(f.ran.lock().unwrap().contains(&Stage::Clippy));
        for s in [Stage::Clippy, Stage::Rustfmt, Stage::Rustdoc] {
            assert_eq!(w.said(s), (SKIP, "the run was interrupted"));
        }
    }

    #[test]
    fn clippy_runs_beside_the_boot_and_is_recorded_in_its_turn() {
        let f = Fake {
            boot_waits_for_clippy: true,
            ..Fake::default()
        };
        let w = walk(&f, None, &Check::ALL, None);
        assert_eq!(w.said(Stage::Boot), RAN);
        assert_eq!(w.said(Stage::Clippy), RAN);
        let order: Vec<Stage> = w.stages.iter().map(|r| r.stage).collect();
        assert_eq!(order, Stage::ALL);
        // Announced once, in its turn, as every stage that runs.
        assert_eq!(w.announced, Stage::ALL);
    }

    /// The boot of a cold run waited for a token while clippy's make held them all: the wait
    /// is recorded as queued, and the boot's duration is the time it ran.
    #[test]
    fn a_boot_that_waits_for_clippys_tokens_records_the_wait_apart_from_its_run_time() {
        let _pool = jobs::exclusive();
        let f = Fake {
            boot_waits_for_clippy: true,
            clippy_holds_the_tokens: Some(Duration::from_secs(1)),
            ..Fake::default()
        };
        let w = walk(&f, None, &Check::ALL, None);
        let took = |s| {
            let r = w.stages.iter().find(|r| r.stage == s).unwrap();
            (r.duration_s, r.queued_s)
        };
        let (boot, boot_queued) = took(Stage::Boot);
        assert!((0.9..2.0).contains(&boot_queued), "{boot_queued}");
        assert!((0.1..0.6).contains(&boot), "{boot}");
        let (clippy, clippy_queued) = took(Stage::Clippy);
        assert!((1.0..2.0).contains(&clippy), "{clippy}");
        assert!(clippy_queued < 0.2, "{clippy_queued}");
    }

    #[test]
    fn clippy_does_not_start_early_when_it_would_be_skipped() {
        let f = Fake::default();
        let w = walk(&f, None, &[Check::Kunit, Check::Rustfmt], None);
        assert_eq!(w.said(Stage::Clippy), (SKIP, "not in the matrix's checks"));
        assert!(!f.ran.lock().unwrap().contains(&Stage::Clippy));
    }

    #[test]
    fn an_ended_cell_skips_every_stage_from_its_end_with_its_reason_whatever_its_checks() {
        let end = End {
            from: Stage::Config,
            why: "the toolchain cannot serve".into(),
        };
        let f = Fake::default();
        let w = walk(&f, None, &[], Some(end));
        for s in &Stage::ALL[3..] {
            assert_eq!(w.said(*s), (SKIP, "the toolchain cannot serve"), "{s:?}");
        }
        assert_eq!(w.announced, &Stage::ALL[..3]);
    }

    #[test]
    fn every_stage_is_recorded_once_in_order_whatever_fails_stops_or_is_left_out() {
        let some = |s: &[Stage]| s.iter().copied().map(Some).collect::<Vec<_>>();
        for failing in [vec![None], some(&Stage::ALL)].concat() {
            for stop_after in [vec![None], some(&Stage::ALL)].concat() {
                for checks in [&Check::ALL[..], &[], &[Check::Kunit]] {
                    let f = Fake {
                        failing,
                        ..Fake::default()
                    };
                    let w = walk(&f, stop_after, checks, None);
                    let order: Vec<Stage> = w.stages.iter().map(|r| r.stage).collect();
                    assert_eq!(order, Stage::ALL, "{failing:?} {stop_after:?} {checks:?}");
                    let ran: Vec<Stage> = w
                        .stages
                        .iter()
                        .filter(|r| r.status != SKIP)
                        .map(|r| r.stage)
                        .collect();
                    assert_eq!(w.announced, ran);
                    // Every stage's end is told once, in order.
                    assert_eq!(w.recorded, Stage::ALL);
                }
            }
        }
    }
}
