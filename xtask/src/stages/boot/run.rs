//! The boot stage's orchestration: the init and initramfs of a built kernel, QEMU under a
//! deadline (twice when lock checking was lost before the modules loaded), the console's
//! verdict as the stage's result, and what it says of built-in and loadable modules.

use std::path::Path;
use std::time::Instant;

use crate::model::arch::Profile;
use crate::model::outcome::{BootKind, Fault, Stage, StageResult, Status};
use crate::stages::boot::console::{
    builtin_inits, classify_run, lockdep_lost_before_modules, BootVerdict, BUILTIN_APPEND,
};
use crate::stages::boot::initramfs::{builtin_rust_modules, make_initramfs, rust_modules};
use crate::stages::boot::marker::MARK;
use crate::stages::boot::qemu::{qemu_command, read_console, run_qemu};
use crate::stages::build::Kbuild;
use crate::sys::proc;

/// The boot stage of a cell built in `kb`: build the init and initramfs, boot under QEMU with
/// the KUnit filter (if any) on the command line, classify; a second boot without KUnit when an
/// earlier oops turned lockdep off before the modules loaded. Returns the stage and the console.
pub fn boot(
    kb: &Kbuild,
    dir: &Path,
    kunit_filter: Option<&str>,
    boot_timeout: Option<u64>,
) -> (StageResult, String) {
    let profile = kb.profile;
    let start = Instant::now();
    let modules = rust_modules(&kb.src, &kb.out);
    let builtin = builtin_rust_modules(&kb.out);
    let clang = kb
        .tc
        .paths
        .get("clang")
        .cloned()
        .unwrap_or_else(|| "clang".into());
    let initramfs = match make_initramfs(
        &kb.src,
        &kb.out,
        profile,
        &clang,
        &modules,
        &builtin,
        &dir.join("initramfs"),
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
    let mut append: Vec<String> = kunit_filter
        .iter()
        .map(|g| format!("kunit.filter_glob={g}"))
        .collect();
    if !builtin.is_empty() {
        append.push(BUILTIN_APPEND.to_string());
    }
    let deadline = std::time::Duration::from_secs(boot_timeout.unwrap_or(profile.boot_timeout));
    let qemu = Qemu {
        profile,
        out: &kb.out,
        initramfs: &initramfs,
        deadline,
        dir,
    };
    let console_log = Stage::Boot.log_name();
    let (v, console) = match qemu.boot(&append, "qemu.cmd", console_log) {
        Ok(x) => x,
        Err(e) => {
            return (
                StageResult::error(Stage::Boot, format!("could not run QEMU: {e:#}")),
                String::new(),
            )
        }
    };
    let mut r = boot_stage(&v, start.elapsed().as_secs_f64(), console_log);
    if !builtin.is_empty() {
        let said = builtin_inits(&console);
        let unseen: Vec<&str> = builtin
            .iter()
            .filter(|b| !said.iter().any(|(n, ret)| n == *b && ret.is_some()))
            .map(String::as_str)
            .collect();
        r.summary
            .push_str(&format!(" [built in: {}]", builtin.join(", ")));
        if !unseen.is_empty() && v.kind == BootKind::Clean {
            // No initcall line for it: its init was not checked, whatever the boot says.
            r.summary.push_str(&format!(
                "; no initcall return on the console for {}: their init was not checked",
                unseen.join(", ")
            ));
        }
    }
    if !modules.is_empty() {
        let names = modules
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        r.summary.push_str(&format!(" [modules: {names}]"));
        let proves_locking = crate::model::kconfig::parse_config(
            &crate::sys::tree::read_tree_text(&kb.out.join(".config")),
        )
        .get("CONFIG_PROVE_LOCKING")
        .is_some_and(|v| v == "y");
        if let Some(line) = lockdep_lost_before_modules(&console).filter(|_| proves_locking) {
            let mut note = format!(
                "lockdep was off before the modules loaded (stopped at console.log:{line})"
            );
            // A pass whose lock checking an earlier oops turned off (a KUnit test of the
            // base's, say) checked no lock: the same image boots again without KUnit, so
            // lockdep watches the modules load and unload.
            let second = (r.status == Status::Pass)
                .then(|| {
                    let mut append = append.clone();
                    append.push("kunit.enable=0".to_string());
                    qemu.boot(&append, "qemu-locking.cmd", LOCKING_CONSOLE).ok()
                })
                .flatten()
                .filter(|(v2, _)| v2.kind != BootKind::QemuError);
            match second {
                Some((v2, console2)) if lockdep_lost_before_modules(&console2).is_none() => {
                    note.push_str(&format!(
                        "; a second boot without KUnit loaded them under lockdep ({LOCKING_CONSOLE})"
                    ));
                    if v2.status != Status::Pass {
                        let mut f = boot_stage(&v2, 0.0, LOCKING_CONSOLE);
                        f.findings
                            .extend(r.findings.drain(..).filter(|x| !v2.findings.contains(x)));
                        f.summary = format!("{} [modules: {names}]", f.summary);
                        r = f;
                    } else {
                        note.push_str(": clean");
                    }
                }
                _ => note.push_str(": their locking was not checked"),
            }
            // Said on the first line, which every report shows.
            let (first, rest) = r.summary.split_once('\n').unwrap_or((&r.summary, ""));
            r.summary = format!(
                "{first}; {note}{}{rest}",
                if rest.is_empty() { "" } else { "\n" }
            );
        }
        r.duration_s = start.elapsed().as_secs_f64();
    }
    (r, console)
}

/// The console of the boot that checks the modules' locking without KUnit.
const LOCKING_CONSOLE: &str = "console-locking.log";

/// The boot stage for a console and how QEMU ended.
pub fn boot_stage(verdict: &BootVerdict, duration: f64, log: &str) -> StageResult {
    let mut r = StageResult::new(
        Stage::Boot,
        verdict.status,
        format!("{}: {}", verdict.kind.name(), verdict.summary),
    );
    r.duration_s = duration;
    r.log = Some(log.to_string());
    r.findings = verdict.findings.clone();
    if verdict.status != Status::Pass {
        let qemu = verdict.kind == BootKind::QemuError;
        r.fault = Some(if qemu { Fault::Harness } else { Fault::Code });
        if qemu {
            r.status = Status::Error;
        }
    }
    r
}

/// One kernel image, its initramfs and deadline: each boot of them writes its QEMU command
/// and console into the cell's folder under the names given.
struct Qemu<'a> {
    profile: &'a Profile,
    /// The build's output folder (the kernel image is under it).
    out: &'a Path,
    initramfs: &'a Path,
    deadline: std::time::Duration,
    dir: &'a Path,
}

impl Qemu<'_> {
    /// Boot with `append` on the kernel command line; the console's verdict and text.
    fn boot(
        &self,
        append: &[String],
        cmd_file: &str,
        console_file: &str,
    ) -> anyhow::Result<(BootVerdict, String)> {
        let mut cmd = qemu_command(
            self.profile,
            self.out,
            self.initramfs,
            "tcg",
            &append.join(" "),
        );
        let path = self.dir.join(console_file);
        let _ = std::fs::write(self.dir.join(cmd_file), proc::display_command(&cmd) + "\n");
        let end = run_qemu(&mut cmd, &path, self.deadline)?;
        let console = read_console(&path);
        let v = classify_run(
            &console,
            &end,
            &crate::stages::ktap::kunit_spans(&console, MARK),
        );
        Ok((v, console))
    }
}
