//! What rustdoc reads: the rule by which a patchset that changes none of it keeps its base's
//! rustdoc result (and a base cell restored from another commit's build, that commit's).
//! rustdoc documents the crates under `rust/`, built by the Makefiles, with bindings from the
//! headers; a config change reaches it only through options named there.

use std::path::Path;

use crate::model::kconfig::parse_config;
use crate::model::outcome::StageResult;
use crate::stages::build::Kbuild;
use crate::stages::config;
use crate::sys::proc;

/// A rustdoc result made on another tree, which a cell may keep.
pub struct Earlier<'a> {
    pub result: Option<&'a StageResult>,
    /// The files that differ between that tree and the cell's.
    pub changed: &'a [String],
    /// The .config that result was made with (asked only when a config input changed).
    pub config: &'a dyn Fn() -> Option<String>,
    /// Whose result it is, and why it may stand, for the summary.
    pub whose: String,
    pub why: &'static str,
}

/// The rustdoc stage: the earlier result where the files changed since change nothing rustdoc
/// reads (see [`unread`]; never under `--clean`), else `make rustdoc`. An entry's earlier
/// result is its base's; a base cell's, that of the base's commit its build was restored from.
pub fn stage(kb: &Kbuild, earlier: Earlier, clean: bool) -> StageResult {
    let keep =
        |_: &&StageResult| !clean && unread(&kb.src, &kb.out, earlier.changed, earlier.config);
    match earlier.result.filter(keep) {
        Some(b) => {
            let mut r = b.clone();
            r.summary = format!(
                "reused from {} ({}): {}",
                earlier.whose,
                earlier.why,
                first_made(&b.summary)
            );
            r.duration_s = 0.0;
            r.log = None;
            r
        }
        None => kb.rustdoc(),
    }
}

/// A reused result's summary says where it came from once: what the run that made it said.
fn first_made(summary: &str) -> &str {
    let mut s = summary;
    while let Some(rest) = s.strip_prefix("reused from ") {
        match rest.split_once("): ") {
            Some((_, tail)) => s = tail,
            None => break,
        }
    }
    s
}

/// Can the files `changed` (none of them read by rustdoc) not change rustdoc's result? When
/// one is a config input, the options the config in `out` moved from the earlier one
/// (`earlier_config`) must be named nowhere rustdoc reads. No changed file is not judged here.
pub fn unread(
    src: &Path,
    out: &Path,
    changed: &[String],
    earlier_config: &dyn Fn() -> Option<String>,
) -> bool {
    let kconfig_moved = || {
        let base = earlier_config()?;
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

    /// Files rustdoc never reads, with no config input among them, leave its result as it was;
    /// one it reads, or no change at all, does not; a changed Kconfig is judged by the options
    /// the config moved from the earlier one, and with no earlier config to compare, rustdoc runs.
    #[test]
    fn an_earlier_result_stands_only_where_nothing_rustdoc_reads_changed() {
        let t = tempfile::tempdir().unwrap();
        let (src, out) = (t.path().join("src"), t.path().join("out"));
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join(".config"), "CONFIG_A=y\n").unwrap();
        let same = || Some("CONFIG_A=y\n".to_string());
        let none = || None;
        let c = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(unread(
            &src,
            &out,
            &c(&["kernel/fork.c", "lib/string.c"]),
            &none
        ));
        assert!(!unread(
            &src,
            &out,
            &c(&["kernel/fork.c", "rust/kernel/lib.rs"]),
            &none
        ));
        assert!(!unread(&src, &out, &c(&["include/linux/sched.h"]), &none));
        assert!(!unread(&src, &out, &[], &none));
        assert!(unread(&src, &out, &c(&["drivers/foo/Kconfig"]), &same));
        assert!(!unread(&src, &out, &c(&["drivers/foo/Kconfig"]), &none));
    }

    /// A result reused again says once where it came from.
    #[test]
    fn a_reused_summary_keeps_what_the_run_that_made_it_said() {
        assert_eq!(first_made("no warnings"), "no warnings");
        let once = "reused from the base at 0123456789ab (why): no warnings";
        assert_eq!(first_made(once), "no warnings");
        let twice = format!("reused from the base (the patchset …): {once}");
        assert_eq!(first_made(&twice), "no warnings");
    }
}
