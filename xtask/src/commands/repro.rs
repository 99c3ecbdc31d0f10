//! `repro`: re-create one cell in a fresh work folder (fresh worktree, fresh output folders,
//! same store, so the same base SHA and patchset), write every command it ran to a
//! standalone `repro.sh`, and show the failing stage's output.

use std::path::Path;
use std::process::Command;

use anyhow::Context;

use crate::model::arch::Arch;
use crate::model::matrix::{ConfigChoice, Loaded};
use crate::model::outcome::CellResult;
use crate::model::plan::{self, Filters, BASE_ENTRY};
use crate::model::text::term_safe;
use crate::run;
use crate::sys::paths::Cache;
use crate::sys::proc;

pub struct Args {
    pub entry: String,
    pub arch: Option<Arch>,
    pub base: Option<String>,
    pub config: Option<ConfigChoice>,
    pub interactive: bool,
    pub kunit_filter: Option<String>,
    pub jobs: usize,
    pub boot_timeout: Option<u64>,
    pub matrix_arg: String,
}

/// Returns true when the cell is healthy (nothing to reproduce).
pub fn repro(cache: &Cache, m: &Loaded, a: &Args) -> anyhow::Result<bool> {
    let arch = a.arch.unwrap_or(m.arches[0]);
    let mut f = Filters {
        entries: vec![glob::Pattern::new(&glob::Pattern::escape(&a.entry))?],
        arches: vec![arch],
        ..Default::default()
    };
    f.base = a.base.clone();
    f.config = a.config.clone();
    let mut p = plan::plan(m, &f);
    // Only the cell itself: a reproducer starts from nothing, not from the base's build.
    p.cells.retain(|c| {
        c.entry == a.entry
            && (a.entry != BASE_ENTRY || a.base.as_ref().is_none_or(|b| *b == c.base))
    });
    p.cells.truncate(1);
    let Some(cell) = p.cells.first().cloned() else {
        anyhow::bail!(
            "no cell {}.{arch} in {} (is the entry runnable on that arch?)",
            a.entry,
            m.path.display()
        );
    };
    let work = cache.root.join("repro").join(cell.name(false));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let mut fresh = cache.clone();
    fresh.slots_at = Some(work.join("slots"));
    eprintln!("repro: {} in {}", cell.name(false), work.display());

    proc::start_recording();
    let opts = run::Opts {
        out: work.join("run"),
        stop_after: None,
        jobs: a.jobs,
        boot_timeout: a.boot_timeout,
        force: true,
        resume: false,
        clean: false,
        matrix_arg: a.matrix_arg.clone(),
        kunit_filter: a.kunit_filter.clone(),
        rerun: None,
        build_cache: None,
        save_build_cache: false,
        // Judged as the run judged it: a known failure is not what is reproduced.
        expect: crate::commands::select::load_expectations(m)?,
    };
    let results = run::run(&fresh, m, &p, &opts, &crate::report::live::Live::new());
    let commands = proc::take_recording();
    let results = results?;
    let script = work.join("repro.sh");
    std::fs::write(&script, script_text(&cell.name(false), &work, &commands))
        .with_context(|| format!("write {}", script.display()))?;
    make_executable(&script);

    let Some(r) = results.cells.first() else {
        anyhow::bail!("the cell did not run")
    };
    let out_dir = opts.out.join(&r.dir);
    show(r, &out_dir);
    println!(
        "\nrepro.sh: {} (every git, make, clang and qemu command of this reproduction, in order)",
        script.display()
    );
    println!("cell folder: {}", out_dir.display());
    if a.interactive {
        interactive(&out_dir)?;
    }
    Ok(r.first_problem().is_none())
}

fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(p) {
        let mut perm = meta.permissions();
        perm.set_mode(0o755);
        let _ = std::fs::set_permissions(p, perm);
    }
}

/// A script that runs the recorded commands again from nothing.
pub fn script_text(name: &str, work: &Path, commands: &[String]) -> String {
    let q = proc::shell_quote(work.join("slots"));
    // The name sits in a comment: a line break in it would end the comment and run the rest.
    let name = crate::model::matrix::shown(name);
    let mut s = format!(
        "#!/usr/bin/env bash\n# Reproduces cell {name}: the exact commands the harness ran, in order.\n# It starts from a fresh work folder; the base comes from the harness's git store.\nset -u\nunset KCONFIG_CONFIG KBUILD_OUTPUT ARCH CROSS_COMPILE LLVM CC RUSTFLAGS KRUSTFLAGS KCFLAGS\ngit --git-dir={} worktree prune 2>/dev/null\nrm -rf {q}\nmkdir -p {q}\n",
        proc::shell_quote(work.parent().and_then(|p| p.parent()).unwrap_or(Path::new(".")).join("store.git"))
    );
    for c in commands {
        s.push_str(c);
        s.push('\n');
    }
    s
}

fn show(r: &CellResult, dir: &Path) {
    println!("{}", term_safe(&crate::report::live::verdict(r)));
    match r.first_problem() {
        Some(p) => {
            println!(
                "\nfailing stage: {} ({:?})\n{}",
                p.stage.name(),
                p.status,
                term_safe(&p.summary)
            );
            for d in p.diagnostics.iter().take(10) {
                println!("  {}", term_safe(&d.render()));
            }
            if let Some(log) = &p.log {
                let text =
                    String::from_utf8_lossy(&std::fs::read(dir.join(log)).unwrap_or_default())
                        .into_owned();
                let lines: Vec<&str> = text.lines().collect();
                println!("\n--- last lines of {log} ---");
                for l in &lines[lines.len().saturating_sub(30)..] {
                    println!("{}", term_safe(l));
                }
            }
            let bad: Vec<_> = r.kunit.tests.iter().filter(|t| t.status.is_bad()).collect();
            for t in bad {
                println!(
                    "{}",
                    term_safe(&format!(
                        "kunit {} {}.{} {}",
                        t.status,
                        t.suite,
                        t.name,
                        t.location.as_deref().unwrap_or("")
                    ))
                );
            }
        }
        None => println!("the cell passes: nothing failed to reproduce"),
    }
}

/// Boot the cell's kernel again with the console on this terminal.
fn interactive(dir: &Path) -> anyhow::Result<()> {
    let cmd = std::fs::read_to_string(dir.join("qemu.cmd"))
        .context("no qemu.cmd: the cell did not boot")?;
    // The init holds instead of rebooting when the command line says `rfl.hold`.
    let cmd = cmd.replacen("panic=-1", "panic=-1 rfl.hold", 1);
    eprintln!(
        "starting QEMU on this terminal; the kernel stays up after its tests (Ctrl-A X quits)"
    );
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {}", cmd.trim()))
        .status()?;
    eprintln!("QEMU exited: {status}");
    Ok(())
}

impl crate::commands::flags::ReproArgs {
    /// Exit 1 when the re-created cell is not healthy.
    pub fn run(self, cache: &Cache) -> anyhow::Result<std::process::ExitCode> {
        use crate::commands::select;
        let m = select::load_matrix(self.matrix.as_deref())?;
        let arch = match &self.arch {
            Some(a) => {
                Some(Arch::parse(a).ok_or_else(|| anyhow::anyhow!("--arch {a}: unknown arch"))?)
            }
            None => None,
        };
        if self.entry != crate::model::plan::BASE_ENTRY && m.entry(&self.entry).is_none() {
            anyhow::bail!(
                "no entry `{}` in {}",
                crate::model::matrix::shown(&self.entry),
                m.path.display()
            );
        }
        // Only a declared (so checked) base name may reach the reproducer's folder names.
        if let Some(b) = self
            .base
            .as_deref()
            .filter(|b| !m.matrix.bases.contains_key(*b))
        {
            anyhow::bail!(
                "--base {}: not declared in {}",
                crate::model::matrix::shown(b),
                m.path.display()
            );
        }
        if let Some(g) = &self.kunit_filter {
            crate::model::matrix::check_kunit_filter(g).map_err(|why| {
                anyhow::anyhow!("--kunit-filter {}: {why}", crate::model::matrix::shown(g))
            })?;
        }
        if self.config == Some(ConfigChoice::All) {
            anyhow::bail!(
                "--config {}: a reproducer re-creates one cell; name its config",
                ConfigChoice::All
            );
        }
        let config = select::config_filter(&m, self.config.as_ref())?;
        crate::sys::signal::install()?;
        let _lock = crate::sys::paths::lock_cache(cache)?;
        let args = Args {
            arch,
            base: self.base,
            config,
            interactive: self.interactive,
            kunit_filter: self.kunit_filter,
            jobs: select::jobs(self.jobs),
            boot_timeout: self.boot_timeout,
            matrix_arg: select::matrix_arg(self.matrix.as_deref()),
            entry: self.entry,
        };
        Ok(if repro(cache, &m, &args)? {
            std::process::ExitCode::SUCCESS
        } else {
            std::process::ExitCode::from(1)
        })
    }
}
