//! Kbuild: make in a cell's folders. The toolchain gate, the build, and the make-driven checks
//! (clippy, rustfmt, rustdoc). Spawns make; everything it reads back goes through pure
//! parsers (`checks`, `parse_config`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::model::arch::Profile;
use crate::model::kconfig::parse_config;
use crate::model::outcome::{Diagnostic, Fault, Level, Stage, StageResult, Status};
use crate::stages::checks;
use crate::stages::standin::{copy_build_folder, sync_config};
use crate::stages::toolchain::Resolved;
use crate::sys::proc;
use crate::sys::tree::read_tree_text;

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

    pub(super) fn log(&self, name: &str) -> PathBuf {
        self.logs.join(name)
    }

    /// A make in `out` that was killed (kill -9 of the harness) can leave half-written objects
    /// that look newer than their sources. A marker brackets every make; when a new make finds
    /// it still there, whatever was written after it is removed first, so make redoes it.
    /// Fails when the leftovers cannot be removed or the marker cannot be written: a make
    /// that then ran could leave objects that look done.
    fn begin_make(out: &Path) -> Result<(), String> {
        let marker = out.join(".rfl-make-in-progress");
        if marker.exists() {
            let mut c = Command::new("find");
            c.arg(out)
                .args(["-type", "f", "-newer"])
                .arg(&marker)
                .args(["-not", "-name", ".config", "-delete"]);
            proc::output(&mut c).map_err(|e| {
                format!("remove what a killed make left in {}: {e:#}", out.display())
            })?;
        }
        std::fs::write(&marker, b"").map_err(|e| format!("write {}: {e}", marker.display()))
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

    pub(super) fn src_prefix(&self) -> String {
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

    /// The kernel, its modules and the headers the init is built against.
    pub fn build(&self) -> StageResult {
        let start = Instant::now();
        let mut args: Vec<&str> = vec!["all"];
        args.extend(self.profile.image_targets.iter().map(String::as_str));
        args.push("headers_install");
        let mut cmd = self.make(&self.out, &args);
        if let Err(e) = Self::begin_make(&self.out) {
            return StageResult::error(Stage::Build, e);
        }
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
    /// a copy of the build folder, its saved commands moved to its own path (so that only the
    /// crates clippy checks are remade), and is then kept there, only its config refreshed.
    pub fn clippy(&self, clippy_out: &Path) -> StageResult {
        let start = Instant::now();
        let prepared = if clippy_out.join(".config").is_file() {
            sync_config(&self.out, clippy_out)
        } else {
            copy_build_folder(&self.out, clippy_out)
        };
        if let Err(e) = prepared {
            return StageResult::error(
                Stage::Clippy,
                format!("prepare clippy output folder: {e:#}"),
            );
        }
        let mut cmd = self.make(clippy_out, &["CLIPPY=1", "vmlinux", "modules"]);
        if let Err(e) = Self::begin_make(clippy_out) {
            return StageResult::error(Stage::Clippy, e);
        }
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
        Kbuild::begin_make(&d).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        // The make is killed after writing half an object: the marker stays.
        std::fs::write(d.join("sub/half.o"), b"half").unwrap();
        Kbuild::begin_make(&d).unwrap();
        assert!(d.join("old.o").is_file() && d.join(".config").is_file());
        assert!(
            !d.join("sub/half.o").exists(),
            "a half-written object survived"
        );
        Kbuild::end_make(&d);
        assert!(!d.join(".rfl-make-in-progress").exists());
        // A folder the marker cannot be written in is an error, never a make unguarded.
        assert!(Kbuild::begin_make(&d.join("missing")).is_err());
    }
}
