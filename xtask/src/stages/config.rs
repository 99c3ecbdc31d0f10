//! The config stage and its inputs: which files of the tree it reads ([`is_config_input`]), the
//! fragments it merges for a cell ([`fragments`]: the project's, the variant's, the tree's
//! Rust KUnit suites, the entry's own and the options its patchset introduces), the walk for
//! the tree's Kconfig files, and the merge itself (`Kbuild::configure`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::process::Command;
use std::time::{Duration, Instant};

use crate::model::kconfig::{dropped_options, parse_config};
use crate::model::matrix::{Loaded, Modules};
use crate::model::outcome::{Fault, Stage, StageResult, Status};
use crate::model::plan::Cell;
use crate::stages::build::Kbuild;
use crate::stages::checks;
use crate::sys::proc;
use crate::sys::tree::read_tree_text;

/// Config symbols of the tree's Rust KUnit suites: every `config` in `rust/**/Kconfig.test`,
/// and every `config` under `rust/` or `samples/rust/` whose dependencies name KUNIT.
pub fn rust_kunit_options(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    collect_kconfigs(&src.join("rust"), &mut files);
    let mut out = Vec::new();
    for f in files {
        let text = read_tree_text(&f);
        let is_test_file = f
            .file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with(".test"));
        for sym in kconfig_symbols(&text, |block| is_test_file || block.contains("KUNIT")) {
            if !out.contains(&sym) {
                out.push(sym);
            }
        }
    }
    out
}

/// How deep under `rust/` the Kconfig walk goes, and how many folder entries it looks at in
/// all: the kernel's own `rust/` is a few levels deep and holds a few hundred entries, so a
/// tree past these bounds is a patch's doing and the walk stops rather than follow it.
const KCONFIG_WALK_DEPTH: usize = 16;

const KCONFIG_WALK_ENTRIES: usize = 100_000;

/// The Kconfig files under `dir`, sorted, found without following symbolic links (a patch may
/// add `rust/a -> .`), within the depth and entry bounds above, and given up on interrupt.
fn collect_kconfigs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut budget = KCONFIG_WALK_ENTRIES;
    // `rust/` itself may be a link a patch made: only a real folder is walked.
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_dir()) {
        walk_kconfigs(dir, 0, &mut budget, out);
    }
}

fn walk_kconfigs(dir: &Path, depth: usize, budget: &mut usize, out: &mut Vec<PathBuf>) {
    if depth > KCONFIG_WALK_DEPTH || crate::sys::signal::interrupted() {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries = Vec::new();
    for e in rd {
        if *budget == 0 || crate::sys::signal::interrupted() {
            return;
        }
        *budget -= 1;
        // DirEntry::file_type does not follow links: a link is neither a folder nor a file.
        if let Ok((path, ft)) = e.and_then(|e| Ok((e.path(), e.file_type()?))) {
            entries.push((path, ft));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (p, ft) in entries {
        if ft.is_dir() {
            walk_kconfigs(&p, depth + 1, budget, out);
        } else if ft.is_file() && is_kconfig(&p.to_string_lossy()) {
            out.push(p);
        }
    }
}

/// `config`/`menuconfig` symbols of a Kconfig text whose block satisfies `keep`.
pub fn kconfig_symbols(text: &str, keep: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<(String, String)> = None;
    let mut flush = |cur: &mut Option<(String, String)>| {
        if let Some((name, block)) = cur.take() {
            if keep(&block) {
                out.push(format!("CONFIG_{name}"));
            }
        }
    };
    for l in text.lines() {
        let t = l.trim();
        let sym = t
            .strip_prefix("config ")
            .or_else(|| t.strip_prefix("menuconfig "));
        if let Some(s) = sym {
            flush(&mut cur);
            cur = Some((s.trim().to_string(), String::new()));
        } else if t.starts_with("endif")
            || t.starts_with("endmenu")
            || t.starts_with("menu ")
            || t.starts_with("if ")
            || t.starts_with("source ")
        {
            flush(&mut cur);
        } else if let Some((_, block)) = cur.as_mut() {
            block.push_str(t);
            block.push('\n');
        }
    }
    flush(&mut cur);
    out
}

/// New `config` symbols a patchset introduces: in the entry's tree's Kconfig files that the
/// patchset changed, symbols not present in the base's versions of those files; each with
/// the value it is asked for by its type: a tristate is built as a module (`m`, so the init
/// loads and unloads it), anything else is enabled (`y`).
pub fn introduced_options(changed_kconfigs: &[(String, String)]) -> Vec<(String, &'static str)> {
    let tristate = |block: &str| {
        block
            .lines()
            .any(|l| l.starts_with("tristate") || l.starts_with("def_tristate"))
    };
    let mut out: Vec<(String, &'static str)> = Vec::new();
    for (before, after) in changed_kconfigs {
        let old = kconfig_symbols(before, |_| true);
        let modules = kconfig_symbols(after, tristate);
        for s in kconfig_symbols(after, |_| true) {
            if !old.contains(&s) && !out.iter().any(|(o, _)| *o == s) {
                let v = if modules.contains(&s) { "m" } else { "y" };
                out.push((s, v));
            }
        }
    }
    out
}

/// Does the config stage read this file of the tree (a path relative to its top)? `make
/// tinyconfig` and the fragments' merge read every Kconfig file, the fragments under
/// `kernel/configs/` and `arch/*/configs/` (tiny.config, a variant's tree fragments), the
/// top and arch Makefiles, and the scripts Kconfig runs (`scripts/kconfig/`, `merge_config.sh`,
/// `Kconfig.include` and the tool-version scripts it calls). This one rule decides whether an
/// entry has the base's config; the patchset's hash keys its cells' results.
pub fn is_config_input(f: &str) -> bool {
    let name = f.rsplit('/').next().unwrap_or(f);
    if is_kconfig(f) {
        return true;
    }
    let arch_file = |rest: &str| {
        f.strip_prefix("arch/")
            .and_then(|a| a.split_once('/'))
            .is_some_and(|(_, r)| r == rest || r.starts_with(&format!("{rest}/")))
    };
    f.starts_with("scripts/")
        || f.starts_with("kernel/configs/")
        || arch_file("configs")
        || arch_file("Makefile")
        || (!f.contains('/') && (name.starts_with("Makefile") || name == "Kbuild"))
}

/// The project's fragments a cell's config merges, in order: the common one, its arch's, then
/// its variant's (see [`variant_fragments`]). The config stage merges these and the result
/// cache hashes them: one list.
pub fn project_fragments(
    variant: &crate::model::matrix::ConfigVariant,
    arch: crate::model::arch::Arch,
) -> Vec<PathBuf> {
    let dir = crate::sys::paths::project_root().join("kconfigs");
    let mut v = vec![
        dir.join("common.config"),
        dir.join(format!("{}.config", arch.name())),
    ];
    v.extend(variant_fragments(variant, arch));
    v
}

/// A variant's project fragments, each followed by its arch's adjustment
/// (`kconfigs/<name>.<arch>.config`) where there is one.
pub fn variant_fragments(
    variant: &crate::model::matrix::ConfigVariant,
    arch: crate::model::arch::Arch,
) -> Vec<PathBuf> {
    let dir = crate::sys::paths::project_root().join("kconfigs");
    variant
        .fragments
        .iter()
        .flat_map(|f| {
            let own = dir.join(format!("{f}.{}.config", arch.name()));
            [
                Some(dir.join(format!("{f}.config"))),
                own.is_file().then_some(own),
            ]
        })
        .flatten()
        .collect()
}

/// The fragments for a cell: common, the arch's, the config variant's (the tree's own, then
/// the project's), the tree's Rust KUnit suites, the entry's own, and (soft) the options the
/// patchset introduces and those of the tree's fragments; last, for a `builtin` variant,
/// every module option of those turned to `y`.
pub fn fragments(
    m: &Loaded,
    cell: &Cell,
    src: &Path,
    base_commit: &str,
    changed: &[String],
    dir: &Path,
) -> Result<(Vec<PathBuf>, BTreeMap<String, String>), String> {
    let variant = m.config(&cell.config);
    let mut project = project_fragments(&variant, cell.arch);
    let ours = project.split_off(2);
    let mut frags = project;
    let mut soft = BTreeMap::new();
    for t in &variant.tree_fragments {
        let p = src.join("kernel/configs").join(t);
        soft.extend(parse_config(&read_tree_text(&p)));
        frags.push(p);
    }
    frags.extend(ours);
    let suites_at = frags.len();
    let mut auto = String::from("# Rust KUnit suites found in the tree's own Kconfig\n");
    for o in rust_kunit_options(src) {
        auto.push_str(&format!("{o}=y\n"));
    }
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
            .filter(|f| is_kconfig(f))
            .map(|f| {
                Ok((
                    base_text(src, base_commit, f)?,
                    read_tree_text(&src.join(f)),
                ))
            })
            .collect::<Result<_, String>>()?;
        for (o, v) in introduced_options(&kconfigs) {
            extra.push_str(&format!("{o}={v}\n"));
            soft.insert(o, v.to_string());
        }
        if !extra.is_empty() {
            let p = dir.join("entry.config");
            write(&p, &extra)?;
            frags.push(p);
        }
    }
    let p = dir.join("kunit-suites.config");
    write(&p, &auto)?;
    frags.insert(suites_at, p);
    if variant.modules == Modules::Builtin {
        let p = dir.join("builtin.config");
        write(&p, &builtin_fragment(&frags))?;
        for v in soft.values_mut().filter(|v| *v == "m") {
            *v = "y".into();
        }
        frags.push(p);
    }
    Ok((frags, soft))
}

/// A fragment of the cell's own, written into its folder: a failed write is the harness's.
fn write(p: &Path, text: &str) -> Result<(), String> {
    std::fs::write(p, text).map_err(|e| format!("write {}: {e}", p.display()))
}

/// A file's text at the base commit: empty when the base has no such file (the patchset adds
/// it); any other failure to read it is an error, never an empty Kconfig.
fn base_text(src: &Path, base_commit: &str, f: &str) -> Result<String, String> {
    let git = |args: &[&str]| {
        let mut c = std::process::Command::new("git");
        c.arg("-C")
            .arg(src)
            .env("GIT_LITERAL_PATHSPECS", "1")
            .args(args);
        c
    };
    let listed = proc::output(&mut git(&["ls-tree", "--name-only", base_commit, "--", f]))
        .map_err(|e| format!("{e:#}"))?;
    if listed.trim().is_empty() {
        return Ok(String::new());
    }
    proc::output(&mut git(&["show", &format!("{base_commit}:{f}")])).map_err(|e| format!("{e:#}"))
}

/// Every option the fragments set to `m`, set to `y`: the samples and test modules built in.
fn builtin_fragment(frags: &[PathBuf]) -> String {
    let mut out = String::from("# The config variant builds its modules in\n");
    let mut seen = std::collections::BTreeSet::new();
    for f in frags {
        for (k, v) in parse_config(&read_tree_text(f)) {
            if v == "m" && seen.insert(k.clone()) {
                out.push_str(&format!("{k}=y\n"));
            }
        }
    }
    out
}

/// Is this path a Kconfig file (`Kconfig`, `Kconfig.test`, …) by its name?
pub fn is_kconfig(f: &str) -> bool {
    f.rsplit('/')
        .next()
        .is_some_and(|n| n.starts_with("Kconfig"))
}

impl Kbuild<'_> {
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
        // What was asked and what came out: an unreadable one is the harness's fault, never
        // an empty config (every option "dropped") or an empty request (nothing checked).
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|e| {
                StageResult::error(Stage::Config, format!("read {}: {e}", p.display()))
                    .with_log(log)
            })
        };
        let final_cfg = match read(&self.out.join(".config")) {
            Ok(t) => parse_config(&t),
            Err(r) => return r,
        };
        let mut requested = BTreeMap::new();
        for f in fragments {
            match read(f) {
                Ok(t) => requested.extend(parse_config(&t)),
                Err(r) => return r,
            }
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
}

/// The config stage of a cell: the base's config where nothing the config reads changed
/// (`keeps_base`, see [`keeps_base_config`]), else the fragments merged ([`Kbuild::configure`]).
pub fn stage(kb: &Kbuild, cell: &CellInputs, keeps_base: bool) -> StageResult {
    // The fragments are written into the cell's folder either way: they are what it asked.
    let (frags, soft) = match fragments(
        cell.m,
        cell.cell,
        &kb.src,
        cell.base_commit,
        cell.changed,
        cell.dir,
    ) {
        Ok(f) => f,
        Err(e) => return StageResult::error(Stage::Config, e),
    };
    if keeps_base && kb.out.join(".config").is_file() {
        return StageResult::new(
            Stage::Config,
            Status::Pass,
            "the base's config (the patchset changes no file the config reads and adds no fragment)",
        );
    }
    kb.configure(&frags, &soft)
}

/// What the config stage of a cell reads besides its tree.
pub struct CellInputs<'a> {
    pub m: &'a Loaded,
    pub cell: &'a Cell,
    pub base_commit: &'a str,
    /// The files its patchset changes.
    pub changed: &'a [String],
    /// Its folder, where the fragments it merges are written.
    pub dir: &'a Path,
}

/// An entry cell whose patchset changes no file the config stage reads and adds no fragment
/// (`own_config` false) has its base's config, which its output folder already holds (copied
/// from the base's build) once the base's config stage passed. Never under `--clean`.
pub fn keeps_base_config(
    cell: &Cell,
    own_config: bool,
    clean: bool,
    base: Option<&StageResult>,
) -> bool {
    !own_config && !clean && !cell.is_base() && base.is_some_and(|c| c.ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Kconfig's text at the base: empty for a file the patchset adds, the text for one the
    /// base has, and an error (never an empty Kconfig) when the base cannot be read.
    #[test]
    fn a_files_base_text_is_empty_only_when_the_base_has_no_such_file() {
        let t = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let o = std::process::Command::new("git")
                .arg("-C")
                .arg(t.path())
                .args(["-c", "user.name=t", "-c", "user.email=t@invalid"])
                .args(args)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8(o.stdout).unwrap()
        };
        git(&["init", "-q"]);
        std::fs::create_dir_all(t.path().join("samples")).unwrap();
        std::fs::write(t.path().join("samples/Kconfig"), "config A\n\tbool\n").unwrap();
        git(&["add", "."]);
        git(&["commit", "-qm", "base"]);
        let base = git(&["rev-parse", "HEAD"]).trim().to_string();
        assert_eq!(
            base_text(t.path(), &base, "samples/Kconfig").unwrap(),
            "config A\n\tbool\n"
        );
        assert_eq!(
            base_text(t.path(), &base, "samples/Kconfig.new").unwrap(),
            ""
        );
        assert!(base_text(t.path(), &"0".repeat(40), "samples/Kconfig").is_err());
    }

    /// Every file the config stage reads is a config input: a patch to tiny.config, an
    /// arch's tiny.config, a variant's tree fragment or merge_config.sh gives the entry a
    /// config of its own, as a Kconfig file does; a source file does not.
    #[test]
    fn every_file_the_config_reads_is_a_config_input() {
        for f in [
            "kernel/configs/tiny.config",
            "kernel/configs/debug.config",
            "arch/x86/configs/tiny.config",
            "arch/riscv/configs/64-bit.config",
            "scripts/kconfig/merge_config.sh",
            "scripts/Kconfig.include",
            "scripts/rustc-version.sh",
            "init/Kconfig",
            "samples/rust/Kconfig",
            "rust/kernel/Kconfig.test",
            "Makefile",
            "arch/arm64/Makefile",
            "Kconfig",
        ] {
            assert!(is_config_input(f), "{f}");
        }
        for f in [
            "samples/rust/rust_minimal.rs",
            "samples/rust/Makefile",
            "rust/kernel/lib.rs",
            "include/linux/sched.h",
            "arch/x86/kernel/setup.c",
            "Documentation/configs.rst",
            "tools/testing/kunit/configs/all_tests.config",
        ] {
            assert!(!is_config_input(f), "{f}");
        }
    }

    #[test]
    fn kconfig_symbols_found() {
        let text = "menuconfig RUST_KUNIT_TESTS\n\tbool \"x\"\n\tdepends on KUNIT && RUST\nif RUST_KUNIT_TESTS\nconfig A_TEST\n\tbool \"a\"\nconfig B\n\tbool \"b\"\n\tdepends on PCI\nendif\n";
        assert_eq!(
            kconfig_symbols(text, |b| b.contains("KUNIT")),
            vec!["CONFIG_RUST_KUNIT_TESTS"]
        );
        assert_eq!(
            kconfig_symbols(text, |_| true),
            vec!["CONFIG_RUST_KUNIT_TESTS", "CONFIG_A_TEST", "CONFIG_B"]
        );
        let intro = introduced_options(&[(
            "config A\n".into(),
            "config A\nconfig SAMPLE_NEW\n\ttristate \"n\"\n".into(),
        )]);
        assert_eq!(intro, [("CONFIG_SAMPLE_NEW".to_string(), "m")]);
        // The value follows the type, not the name: a bool named TEST is enabled, a tristate
        // of any name is a module.
        let intro = introduced_options(&[(
            String::new(),
            "config RUST_X_TEST\n\tbool \"t\"\nconfig RUST_DRIVER\n\tdef_tristate m\n".into(),
        )]);
        assert_eq!(
            intro,
            [
                ("CONFIG_RUST_X_TEST".to_string(), "y"),
                ("CONFIG_RUST_DRIVER".to_string(), "m")
            ]
        );
    }

    /// A patch that adds looping links under `rust/` (`a -> .`, `b -> ..`) and a link to a
    /// Kconfig file: the walk ends at once and finds only the real file.
    #[test]
    fn kconfig_walk_does_not_follow_looping_links() {
        use std::os::unix::fs::symlink;
        let src = tempfile::tempdir().unwrap();
        let rust = src.path().join("rust");
        std::fs::create_dir_all(rust.join("kernel")).unwrap();
        std::fs::write(
            rust.join("kernel/Kconfig.test"),
            "config RUST_LOOP_TEST\n\ttristate \"t\"\n",
        )
        .unwrap();
        symlink(".", rust.join("a")).unwrap();
        symlink("..", rust.join("b")).unwrap();
        symlink("..", rust.join("kernel/up")).unwrap();
        symlink("kernel/Kconfig.test", rust.join("Kconfig.link")).unwrap();
        symlink("/dev/zero", rust.join("Kconfig.zero")).unwrap();
        let t = std::time::Instant::now();
        let mut files = Vec::new();
        collect_kconfigs(&rust, &mut files);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "the walk took {:?}",
            t.elapsed()
        );
        assert_eq!(files, vec![rust.join("kernel/Kconfig.test")]);
        assert_eq!(
            rust_kunit_options(src.path()),
            vec!["CONFIG_RUST_LOOP_TEST".to_string()]
        );
        // A changed Kconfig the patch made a link to `/dev/zero` reads as nothing, at once.
        assert_eq!(read_tree_text(&rust.join("Kconfig.zero")), "");
        assert!(read_tree_text(&rust.join("kernel/Kconfig.test")).contains("RUST_LOOP_TEST"));
    }

    /// `rust/` itself a link (to `/`, say) is not walked; a folder deeper than the bound is not
    /// entered.
    #[test]
    fn kconfig_walk_is_bounded() {
        let src = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/", src.path().join("rust")).unwrap();
        assert!(rust_kunit_options(src.path()).is_empty());
        let src = tempfile::tempdir().unwrap();
        let mut deep = src.path().join("rust");
        for _ in 0..=KCONFIG_WALK_DEPTH {
            deep.push("d");
        }
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(
            deep.join("Kconfig"),
            "config TOO_DEEP\n\tdepends on KUNIT\n",
        )
        .unwrap();
        std::fs::write(
            src.path().join("rust/Kconfig"),
            "config SHALLOW\n\tdepends on KUNIT\n",
        )
        .unwrap();
        assert_eq!(
            rust_kunit_options(src.path()),
            vec!["CONFIG_SHALLOW".to_string()]
        );
        // One level less is still found.
        let mut files = Vec::new();
        collect_kconfigs(&src.path().join("rust/d"), &mut files);
        assert_eq!(files, vec![deep.join("Kconfig")]);
    }

    /// A `builtin` variant turns every module option of the fragments into a built-in one,
    /// once each, and leaves the others alone.
    #[test]
    fn a_builtin_variant_builds_every_fragment_module_in() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.config");
        let b = dir.path().join("b.config");
        std::fs::write(
            &a,
            "CONFIG_RUST=y\nCONFIG_SAMPLE_RUST_MINIMAL=m\n# CONFIG_X is not set\n",
        )
        .unwrap();
        std::fs::write(&b, "CONFIG_SAMPLE_RUST_MINIMAL=m\nCONFIG_RFL_TEST=m\n").unwrap();
        let text = builtin_fragment(&[a, b]);
        let set: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(set, ["CONFIG_SAMPLE_RUST_MINIMAL=y", "CONFIG_RFL_TEST=y"]);
    }
}
