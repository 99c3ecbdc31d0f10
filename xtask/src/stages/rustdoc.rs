//! What rustdoc reads: the rule by which a patchset that changes none of it keeps its base's
//! rustdoc result. rustdoc documents the crates under `rust/`, built by the Makefiles, with
//! bindings from the headers; a config change reaches it only through options named there.

use std::path::Path;

use crate::model::kconfig::parse_config;
use crate::model::outcome::StageResult;
use crate::stages::build::Kbuild;
use crate::stages::config;
use crate::stages::standin;
use crate::sys::proc;

/// The rustdoc stage: the base's result (`base`) where the patchset changes nothing rustdoc
/// reads (see [`unread`]; never under `--clean`), else `make rustdoc`.
pub fn stage(
    kb: &Kbuild,
    changed: &[String],
    base: Option<&StageResult>,
    clean: bool,
) -> StageResult {
    let reused = base.filter(|_| !clean && unread(&kb.src, &kb.out, changed));
    match reused {
        Some(b) => {
            let mut r = b.clone();
            r.summary = format!(
                "reused from the base (the patchset changes nothing rustdoc reads): {}",
                b.summary
            );
            r.duration_s = 0.0;
            r.log = None;
            r
        }
        None => kb.rustdoc(),
    }
}

/// Can this patchset not change rustdoc's result? Its changed files (`changed`, none of them
/// read by rustdoc) and, when it changes a config input, the options its config moved from the
/// base's (the base's held beside `out` by a stand-in) named nowhere rustdoc reads. A patchset
/// that changes nothing is not judged here.
pub fn unread(src: &Path, out: &Path, changed: &[String]) -> bool {
    let kconfig_moved = || {
        let base = standin::held_config(out)?;
        let own = std::fs::read_to_string(out.join(".config")).ok()?;
        Some(moved_options(&base, &own))
    };
    !changed.is_empty()
        && !changed.iter().any(|f| reads_for_rustdoc(f))
        && (!changed.iter().any(|f| config::is_config_input(f))
            || kconfig_moved().is_some_and(|o| !named_where_rustdoc_reads(src, &o)))
}

/// Does rustdoc read this file? It documents the crates under `rust/` (their Kconfig
/// included), built by the Makefiles, with bindings from the headers. Kconfig files elsewhere
/// are judged by the options they move (see [`unread`]).
pub fn reads_for_rustdoc(f: &str) -> bool {
    // The top Makefile and the arches' (flags, targets) reach rustdoc; a Makefile of samples/
    // or drivers/ builds objects rustdoc never reads.
    let top_make = !f.contains('/') && (f.starts_with("Makefile") || f == "Kbuild");
    f.starts_with("rust/")
        || f.starts_with("scripts/")
        || f.starts_with("include/")
        || f.starts_with("arch/")
        || top_make
}

/// The options whose value differs between two .config texts (set, unset or changed).
fn moved_options(base: &str, own: &str) -> Vec<String> {
    let (a, b) = (parse_config(base), parse_config(own));
    let mut moved: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect();
    moved.sort();
    moved.dedup();
    moved
}

/// Is any of these options named under rust/ or in the headers bindgen reads? A failed search
/// says yes: rustdoc then runs.
fn named_where_rustdoc_reads(src: &Path, options: &[String]) -> bool {
    if options.is_empty() {
        return false;
    }
    let mut c = std::process::Command::new("git");
    c.arg("-C").arg(src).args(["grep", "-q", "-w", "-F"]);
    for o in options {
        c.arg("-e").arg(o);
    }
    c.args(["--", "rust", "include", "arch/*/include"]);
    // `git grep -q` exits 0 on a match, 1 on none; anything else is an error.
    match proc::run_captured(&mut c, Some(std::time::Duration::from_secs(120))) {
        Ok(o) => o.outcome.code() != Some(1),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Options set, unset or changed between two configs are the ones that moved; one that
    /// kept its value did not.
    #[test]
    fn moved_options_are_the_ones_whose_value_changed() {
        let base = "CONFIG_A=y\nCONFIG_B=m\n# CONFIG_C is not set\nCONFIG_D=\"x\"\n";
        let own = "CONFIG_A=y\nCONFIG_B=y\nCONFIG_C=y\nCONFIG_E=m\nCONFIG_D=\"x\"\n";
        assert_eq!(
            moved_options(base, own),
            ["CONFIG_B", "CONFIG_C", "CONFIG_E"]
        );
        assert!(moved_options(base, base).is_empty());
        assert!(reads_for_rustdoc("rust/kernel/Kconfig.test"));
        assert!(
            !reads_for_rustdoc("samples/rust/Kconfig")
                && config::is_kconfig("samples/rust/Kconfig")
        );
        assert!(!reads_for_rustdoc("samples/rust/Makefile"));
        for read in [
            "Makefile",
            "arch/x86/Makefile",
            "scripts/Makefile.build",
            "rust/Makefile",
        ] {
            assert!(reads_for_rustdoc(read), "{read}");
        }
    }
}
