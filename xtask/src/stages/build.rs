//! Kbuild: the toolchain gate, config merge + check, the build, and the make-driven checks
//! (clippy, rustfmt, rustdoc). Spawns make; everything it reads back goes through pure
//! parsers (`checks`, `parse_config`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::model::arch::Profile;
use crate::model::outcome::{Diagnostic, Fault, Level, Stage, StageResult, Status};
use crate::stages::checks;
use crate::stages::config::{dropped_options, parse_config, read_tree_text};
use crate::stages::standin::{sync_config, sync_dir};
use crate::stages::toolchain::Resolved;
use crate::sys::proc;

/// Everything a make invocation needs for one (tree, output folder, arch, toolchain).
pub struct Kbuild<'a> {
    pub src: PathBuf,
    pub out: PathBuf,
    pub profile: &'a Profile,
    pub tc: &'a Resolved,
    pub jobs: usize,
    /// The cell's folder, where logs go.
    pub logs: PathBuf,
}

/// Fixed build identity, so that ccache and reproducible builds see the same inputs.
pub const BUILD_ENV: [(&str, &str); 3] = [
    ("KBUILD_BUILD_TIMESTAMP", "Thu Jan  1 00:00:00 UTC 2026"),
    ("KBUILD_BUILD_USER", "rfl"),
    ("KBUILD_BUILD_HOST", "rfl-harness"),
];

impl Kbuild<'_> {
    /// `make -C src O=out ARCH=… LLVM=… RUSTC=… … <args>`
    pub fn make(&self, out: &Path, args: &[&str]) -> Command {
        let mut c = Command::new("make");
        c.arg("-C")
            .arg(&self.src)
            .arg(format!("O={}", out.display()));
        c.arg(format!("ARCH={}", self.profile.kernel_arch));
        c.args(self.tc.make_vars());
        crate::sys::jobs::make_client(&mut c, self.jobs);
        c.args(args);
        for (k, v) in BUILD_ENV {
            c.env(k, v);
        }
        for (k, v) in self.tc.ccache.iter().flat_map(|cc| cc.env()) {
            c.env(k, v);
        }
        // Nothing from the user's environment may change what is built.
        for k in [
            "KCONFIG_CONFIG",
            "KBUILD_OUTPUT",
            "ARCH",
            "CROSS_COMPILE",
            "LLVM",
            "CC",
            "RUSTFLAGS",
            "KRUSTFLAGS",
            "KCFLAGS",
        ] {
            c.env_remove(k);
        }
        c
    }

    fn log(&self, name: &str) -> PathBuf {
        self.logs.join(name)
    }

    /// A make in `out` that was killed (kill -9 of the harness) can leave half-written objects
    /// that look newer than their sources. A marker brackets every make; when a new make finds
    /// it still there, whatever was written after it is removed first, so make redoes it.
    fn begin_make(out: &Path) {
        let marker = out.join(".rfl-make-in-progress");
        if marker.exists() {
            let mut c = Command::new("find");
            c.arg(out)
                .args(["-type", "f", "-newer"])
                .arg(&marker)
                .args(["-not", "-name", ".config", "-delete"]);
            let _ = proc::output(&mut c);
        }
        let _ = std::fs::write(&marker, b"");
    }

    fn end_make(out: &Path) {
        if !crate::sys::signal::interrupted() {
            let _ = std::fs::remove_file(out.join(".rfl-make-in-progress"));
        }
    }

    fn run(
        &self,
        stage: Stage,
        cmd: &mut Command,
        log: &str,
        deadline: Duration,
    ) -> Result<(proc::Outcome, String, StageResult), StageResult> {
        let path = self.log(log);
        let _ = std::fs::remove_file(&path);
        let start = Instant::now();
        let _token = crate::sys::jobs::acquire(true);
        match proc::run_logged(cmd, &path, Some(deadline)) {
            Ok(o) => {
                let text = std::fs::read(&path)
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let mut r = StageResult::new(
                    stage,
                    if o.success() {
                        Status::Pass
                    } else {
                        Status::Fail
                    },
                    "",
                );
                r.duration_s = start.elapsed().as_secs_f64();
                r.log = Some(log.to_string());
                Ok((o, text, r))
            }
            Err(e) => {
                Err(StageResult::error(stage, format!("could not run make: {e:#}")).with_log(log))
            }
        }
    }

    fn src_prefix(&self) -> String {
        format!("{}/", self.src.display())
    }

    /// The base's own minimums, then `make rustavailable`. A failure is the toolchain's.
    pub fn toolchain_gate(&self) -> StageResult {
        let start = Instant::now();
        let script = self.src.join("scripts/min-tool-version.sh");
        let problems = if script.is_file() {
            self.tc
                .check_minimums_at(&script, &self.profile.kernel_arch)
        } else {
            Vec::new()
        };
        if !problems.is_empty() {
            let mut r = StageResult::new(Stage::Toolchain, Status::Fail, problems.join("; "))
                .with_fault(Fault::Toolchain);
            r.duration_s = start.elapsed().as_secs_f64();
            return r;
        }
        let _ = std::fs::create_dir_all(&self.out);
        let mut cmd = self.make(&self.out, &["rustavailable"]);
        match self.run(
            Stage::Toolchain,
            &mut cmd,
            Stage::Toolchain.log_name(),
            Duration::from_secs(300),
        ) {
            Ok((o, text, mut r)) => {
                r.duration_s = start.elapsed().as_secs_f64();
                if o.success() {
                    r.summary = format!(
                        "{} meets the base's minimums; Rust is available",
                        self.tc.name
                    );
                } else {
                    r.fault = Some(Fault::Toolchain);
                    r.diagnostics = checks::build_diagnostics(&text, &self.src_prefix());
                    let why = r
                        .diagnostics
                        .iter()
                        .find(|d| d.level == Level::Error)
                        .map_or_else(|| tail_summary(&text), |d| d.message.clone());
                    r.summary = format!("make rustavailable failed: {why}");
                }
                r
            }
            Err(r) => r,
        }
    }

    /// tinyconfig + fragments with merge_config.sh, olddefconfig, then every requested
    /// option checked in the final .config.
    pub fn configure(&self, fragments: &[PathBuf], soft: &BTreeMap<String, String>) -> StageResult {
        let start = Instant::now();
        let _ = std::fs::create_dir_all(&self.out);
        let log = Stage::Config.log_name();
        let _ = std::fs::remove_file(self.log(log));
        let (tiny, tiny_fragments) = self.tinyconfig_steps();
        let mut steps = vec![tiny];
        steps.push({
            let mut c = Command::new("sh");
            c.current_dir(&self.src)
                .arg("scripts/kconfig/merge_config.sh")
                .arg("-m")
                .arg("-O")
                .arg(&self.out)
                .arg(self.out.join(".config"));
            c.args(&tiny_fragments);
            c.args(fragments);
            c
        });
        steps.push(self.make(&self.out, &["olddefconfig"]));
        for mut cmd in steps {
            let _token = crate::sys::jobs::acquire(true);
            match proc::run_logged(&mut cmd, &self.log(log), Some(Duration::from_secs(600))) {
                Ok(o) if o.success() => {}
                Ok(o) => {
                    // Kconfig says why it stopped (a .config line, a Kconfig file, the
                    // toolchain it probes); the exit status alone says nothing.
                    let text = std::fs::read(self.log(log))
                        .map(|b| String::from_utf8_lossy(&b).into_owned())
                        .unwrap_or_default();
                    let diagnostics = checks::tool_diagnostics(&text, &self.src_prefix());
                    let why = checks::cause(&diagnostics)
                        .filter(|_| !o.timed_out)
                        .unwrap_or_else(|| o.describe());
                    let mut r = StageResult::new(
                        Stage::Config,
                        Status::Fail,
                        format!("`{}` failed: {why}", proc::display_command(&cmd)),
                    )
                    .with_log(log);
                    r.diagnostics = diagnostics;
                    r.duration_s = start.elapsed().as_secs_f64();
                    return r;
                }
                Err(e) => return StageResult::error(Stage::Config, format!("{e:#}")).with_log(log),
            }
        }
        let final_cfg =
            parse_config(&std::fs::read_to_string(self.out.join(".config")).unwrap_or_default());
        let mut requested = BTreeMap::new();
        for f in fragments {
            requested.extend(parse_config(
                &std::fs::read_to_string(f).unwrap_or_default(),
            ));
        }
        let dropped = dropped_options(&requested, &final_cfg, soft);
        let mut r = if dropped.is_empty() {
            StageResult::new(
                Stage::Config,
                Status::Pass,
                format!("{} requested options all present", requested.len()),
            )
        } else {
            let mut r = StageResult::new(
                Stage::Config,
                Status::Fail,
                format!("Kconfig dropped: {}", dropped.join(", ")),
            );
            r.fault = Some(Fault::Code);
            r
        };
        let soft_missing: Vec<&String> = soft
            .keys()
            .filter(|k| !requested.contains_key(*k) && final_cfg.get(*k).is_none_or(|v| v == "n"))
            .collect();
        if !soft_missing.is_empty() {
            r.summary.push_str(&format!(
                "; not enabled (dependencies unmet): {}",
                soft_missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        r.duration_s = start.elapsed().as_secs_f64();
        r.with_log(log)
    }

    /// `make tinyconfig` is three Kconfig runs (allnoconfig, then tiny.config merged and
    /// olddefconfig'd), and each run spends about 4 s probing the toolchain. Where the tree
    /// has `tiny-base.config`, its allnoconfig step is run alone, and tiny.config (the
    /// kernel's, then the arch's) is returned to be merged with the matrix's fragments before
    /// the one olddefconfig: the same .config on all four arches (compared on 7.2), two
    /// Kconfig runs fewer.
    fn tinyconfig_steps(&self) -> (Command, Vec<PathBuf>) {
        let base = self.src.join("kernel/configs/tiny-base.config");
        if !base.is_file() {
            return (self.make(&self.out, &["tinyconfig"]), Vec::new());
        }
        let mut c = self.make(&self.out, &["allnoconfig"]);
        c.env("KCONFIG_ALLCONFIG", base);
        let tiny = [
            self.src.join("kernel/configs/tiny.config"),
            self.src
                .join("arch")
                .join(&self.profile.kernel_arch)
                .join("configs/tiny.config"),
        ];
        (c, tiny.into_iter().filter(|p| p.is_file()).collect())
    }

    /// The kernel, its modules and the headers the init is built against.
    pub fn build(&self) -> StageResult {
        let start = Instant::now();
        let mut args: Vec<&str> = vec!["all"];
        args.extend(self.profile.image_targets.iter().map(String::as_str));
        args.push("headers_install");
        let mut cmd = self.make(&self.out, &args);
        Self::begin_make(&self.out);
        let ran = self.run(
            Stage::Build,
            &mut cmd,
            Stage::Build.log_name(),
            Duration::from_secs(3 * 3600),
        );
        Self::end_make(&self.out);
        match ran {
            Ok((o, text, mut r)) => {
                r.duration_s = start.elapsed().as_secs_f64();
                r.diagnostics = checks::build_diagnostics(&text, &self.src_prefix());
                if o.success() {
                    let warnings = r
                        .diagnostics
                        .iter()
                        .filter(|d| d.level == Level::Warning)
                        .count();
                    r.summary = if warnings == 0 {
                        "built".into()
                    } else {
                        format!("built with {warnings} warnings")
                    };
                    if !self.out.join(&self.profile.image).is_file() {
                        r.status = Status::Fail;
                        r.summary = format!("make succeeded but {} is missing", self.profile.image);
                    }
                } else if o.timed_out {
                    r.status = Status::Error;
                    r.fault = Some(Fault::Harness);
                    r.summary = format!("build {}", o.describe());
                } else {
                    r.fault = Some(if looks_like_machine_fault(&text) {
                        Fault::Harness
                    } else {
                        Fault::Code
                    });
                    if r.fault == Some(Fault::Harness) {
                        r.status = Status::Error;
                    }
                    r.summary =
                        checks::cause(&r.diagnostics).unwrap_or_else(|| tail_summary(&text));
                }
                r
            }
            Err(r) => r,
        }
    }

    /// objtool's findings on the Rust objects this build compiled. objtool runs inside the
    /// build on every object, where the arch has it (CONFIG_OBJTOOL); without `--werror` most
    /// findings are warnings the build passes with, and this check is where they fail.
    pub fn objtool(&self) -> StageResult {
        let start = Instant::now();
        let cfg = parse_config(&read_tree_text(&self.out.join(".config")));
        if cfg.get("CONFIG_OBJTOOL").map(String::as_str) != Some("y") {
            return StageResult::new(
                Stage::Objtool,
                Status::Skip,
                format!(
                    "objtool does not run on {} (CONFIG_OBJTOOL is not set)",
                    self.profile.kernel_arch
                ),
            );
        }
        let text = read_tree_text(&self.log(Stage::Objtool.log_name()));
        let found: Vec<Diagnostic> = checks::build_diagnostics(&text, &self.src_prefix())
            .into_iter()
            .filter(|d| d.message.starts_with("objtool: "))
            .filter(|d| d.file.as_deref().is_some_and(|f| self.is_rust_object(f)))
            .collect();
        let mut r = match found.first() {
            None => StageResult::new(
                Stage::Objtool,
                Status::Pass,
                "objtool found nothing in the Rust objects this build compiled",
            ),
            Some(first) => {
                let mut r = StageResult::new(Stage::Objtool, Status::Fail, first.render());
                r.fault = Some(Fault::Code);
                r
            }
        };
        r.diagnostics = found;
        r.duration_s = start.elapsed().as_secs_f64();
        r.with_log(Stage::Objtool.log_name())
    }

    /// An object built from Rust: anything under rust/, or an object beside its `.rs` source.
    fn is_rust_object(&self, object: &str) -> bool {
        object.starts_with("rust/")
            || object
                .strip_suffix(".o")
                .is_some_and(|stem| self.src.join(format!("{stem}.rs")).is_file())
    }

    /// `CLIPPY=1` in an output folder of its own (it recompiles every Rust object, and the
    /// objects it leaves must not be mistaken for the real build's). The folder starts once as
    /// a copy of the build folder and is then kept at the same path, only its config refreshed.
    pub fn clippy(&self, clippy_out: &Path) -> StageResult {
        let start = Instant::now();
        let prepared = if clippy_out.join(".config").is_file() {
            sync_config(&self.out, clippy_out)
        } else {
            sync_dir(&self.out, clippy_out)
        };
        if let Err(e) = prepared {
            return StageResult::error(
                Stage::Clippy,
                format!("prepare clippy output folder: {e:#}"),
            );
        }
        let mut cmd = self.make(clippy_out, &["CLIPPY=1", "vmlinux", "modules"]);
        Self::begin_make(clippy_out);
        let ran = self.run(
            Stage::Clippy,
            &mut cmd,
            Stage::Clippy.log_name(),
            Duration::from_secs(3600),
        );
        Self::end_make(clippy_out);
        match ran {
            Ok((o, text, mut r)) => {
                r.duration_s = start.elapsed().as_secs_f64();
                r.diagnostics = checks::rust_diagnostics(&text, &self.src_prefix());
                lint_verdict(&mut r, &o, &text, "clippy");
                r
            }
            Err(r) => r,
        }
    }

    pub fn rustfmt(&self) -> StageResult {
        let start = Instant::now();
        let mut cmd = self.make(&self.out, &["rustfmtcheck"]);
        match self.run(
            Stage::Rustfmt,
            &mut cmd,
            Stage::Rustfmt.log_name(),
            Duration::from_secs(600),
        ) {
            Ok((o, text, mut r)) => {
                r.duration_s = start.elapsed().as_secs_f64();
                r.diagnostics = checks::rustfmt_diagnostics(&text, &self.src_prefix());
                if o.success() && r.diagnostics.is_empty() {
                    r.summary = "formatted".into();
                } else {
                    r.status = Status::Fail;
                    r.fault = Some(Fault::Code);
                    r.summary = if r.diagnostics.is_empty() {
                        tail_summary(&text)
                    } else {
                        format!(
                            "{} files need rustfmt: {}",
                            r.diagnostics.len(),
                            checks::summarise(&r.diagnostics, 3)
                        )
                    };
                }
                r
            }
            Err(r) => r,
        }
    }

    pub fn rustdoc(&self) -> StageResult {
        let start = Instant::now();
        let mut cmd = self.make(&self.out, &["rustdoc"]);
        match self.run(
            Stage::Rustdoc,
            &mut cmd,
            Stage::Rustdoc.log_name(),
            Duration::from_secs(1800),
        ) {
            Ok((o, text, mut r)) => {
                r.duration_s = start.elapsed().as_secs_f64();
                r.diagnostics = checks::rust_diagnostics(&text, &self.src_prefix());
                lint_verdict(&mut r, &o, &text, "rustdoc");
                r
            }
            Err(r) => r,
        }
    }
}

fn lint_verdict(r: &mut StageResult, o: &proc::Outcome, text: &str, what: &str) {
    let n = r.diagnostics.len();
    if o.success() && n == 0 {
        r.status = Status::Pass;
        r.summary = format!("{what}: no warnings");
    } else if o.timed_out {
        r.status = Status::Error;
        r.fault = Some(Fault::Harness);
        r.summary = format!("{what} {}", o.describe());
    } else {
        r.status = Status::Fail;
        r.fault = Some(Fault::Code);
        r.summary = if n == 0 {
            format!("{what} failed: {}", tail_summary(text))
        } else {
            format!(
                "{n} {what} diagnostics: {}",
                checks::summarise(&r.diagnostics, 3)
            )
        };
    }
}

/// A disk-full or killed compiler is the machine's fault, not the patch's.
fn looks_like_machine_fault(log: &str) -> bool {
    [
        "No space left on device",
        "Killed signal terminated program",
        "Cannot allocate memory",
        "signal: 9, SIGKILL",
    ]
    .iter()
    .any(|k| log.contains(k))
}

fn tail_summary(log: &str) -> String {
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(3)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interrupted_make_leaves_nothing_that_looks_done() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_path_buf();
        std::fs::create_dir_all(d.join("sub")).unwrap();
        std::fs::write(d.join("old.o"), b"done").unwrap();
        std::fs::write(d.join(".config"), b"CONFIG_X=y").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        Kbuild::begin_make(&d);
        std::thread::sleep(std::time::Duration::from_millis(20));
        // The make is killed after writing half an object: the marker stays.
        std::fs::write(d.join("sub/half.o"), b"half").unwrap();
        Kbuild::begin_make(&d);
        assert!(d.join("old.o").is_file() && d.join(".config").is_file());
        assert!(
            !d.join("sub/half.o").exists(),
            "a half-written object survived"
        );
        Kbuild::end_make(&d);
        assert!(!d.join(".rfl-make-in-progress").exists());
    }
}
