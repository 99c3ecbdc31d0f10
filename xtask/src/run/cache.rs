//! The result cache (`<cache>/results/<key>/`): a finished cell's result and logs under the
//! SHA-256 of everything that determines it, so that the same inputs give the stored result
//! without a build. `--force`, `--clean` and `--stage` never reuse one; only a complete,
//! fault-free cell is stored. And `--resume`: the cells an interrupted run already finished.

use std::path::{Path, PathBuf};

use crate::model::matrix::Loaded;
use crate::model::outcome::*;
use crate::model::plan::Cell;
use crate::run::Opts;
use crate::stages::toolchain::Resolved;
use crate::sys::paths::{project_root, Cache};
use crate::sys::proc;

/// The cells an earlier, interrupted run into `out` finished (`--resume`).
pub(super) fn resumed(out: &Path) -> Option<Vec<CellResult>> {
    let text = std::fs::read_to_string(out.join("results.json")).ok()?;
    let prev = serde_json::from_str::<RunResults>(&text).ok()?;
    Some(prev.cells)
}

/// What identifies a cell's result: harness build, base, patchset, arch, toolchain, config
/// inputs, QEMU profile, checks and the KUnit filter. None when the harness cannot read its own
/// binary: a key that did not depend on the harness would hand one build's results to another,
/// so nothing is reused or stored then.
pub(super) fn key(
    m: &Loaded,
    cell: &Cell,
    base_commit: &str,
    patchset: Option<&str>,
    tc: &Resolved,
    opts: &Opts,
) -> Option<String> {
    use sha2::Digest;
    let harness = harness_build_id()?;
    let root = project_root();
    let read = |p: PathBuf| std::fs::read(&p).unwrap_or_default();
    let mut h = sha2::Sha256::new();
    h.update(harness.as_bytes());
    h.update(base_commit.as_bytes());
    h.update(patchset.unwrap_or("base").as_bytes());
    h.update(cell.arch.name().as_bytes());
    h.update(read(root.join(format!("qemu/{}.toml", cell.arch.name()))));
    hash_build_inputs(&mut h, m, cell, tc);
    if let Some(e) = m.entry(&cell.entry) {
        for k in &e.kconfig {
            h.update(k.as_bytes());
            h.update(read(m.dir().join(k)));
        }
    }
    h.update(format!("{:?}{:?}", m.checks_of(&cell.config), opts.boot_timeout).as_bytes());
    // A filtered boot runs other tests: its result is another's (an unfiltered key is as it
    // was).
    if let Some(g) = &opts.kunit_filter {
        h.update(format!("kunit.filter_glob={g}").as_bytes());
    }
    Some(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// What a build folder's content depends on besides the tree: the toolchain (paths and
/// versions), and the config variant: its name (a folder), what it builds, and its fragments'
/// text. Not its description or whether it runs by default: they change no build, and a matrix
/// that words them otherwise shares the results (the checks are hashed by [`key`]).
pub(super) fn hash_build_inputs(h: &mut sha2::Sha256, m: &Loaded, cell: &Cell, tc: &Resolved) {
    use sha2::Digest;
    h.update(serde_json::to_vec(&(&tc.paths, &tc.versions, &tc.llvm)).unwrap_or_default());
    let variant = m.config(&cell.config);
    h.update(
        serde_json::to_vec(&(
            &cell.config,
            &variant.fragments,
            &variant.tree_fragments,
            &variant.modules,
        ))
        .unwrap_or_default(),
    );
    for f in crate::stages::config::project_fragments(&variant, cell.arch) {
        h.update(std::fs::read(f).unwrap_or_default());
    }
}

/// The running harness binary's hash: any change to the code changes every key.
pub(super) fn harness_build_id() -> Option<&'static str> {
    static ID: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        use sha2::Digest;
        // /proc/self/exe is the running binary even when a rebuild has replaced the file.
        let bytes = match std::fs::read("/proc/self/exe")
            .or_else(|_| std::env::current_exe().and_then(std::fs::read))
        {
            Ok(b) if !b.is_empty() => b,
            _ => return None,
        };
        let d = sha2::Sha256::digest(&bytes);
        Some(format!(
            "{}-{}",
            env!("CARGO_PKG_VERSION"),
            d.iter()
                .take(12)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ))
    })
    .as_deref()
}

/// A stored result for `key`, its logs copied into `dir`: the stages after apply (marked
/// `[cached]`) and the KUnit cases. None under `--force`, `--clean` or `--stage`.
pub(super) fn reuse(
    cache: &Cache,
    opts: &Opts,
    key: &str,
    dir: &Path,
) -> Option<(Vec<StageResult>, Kunit)> {
    if opts.force || opts.clean || opts.stop_after.is_some() {
        return None;
    }
    let hit = cached(cache, key, dir)?;
    let stages = hit
        .stages
        .into_iter()
        .filter(|s| s.stage > Stage::Apply)
        .map(|mut s| {
            s.summary = format!("{} [cached]", s.summary);
            s
        })
        .collect();
    Some((stages, hit.kunit))
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

/// Store `r` under `key` if it is complete and fault-free: a harness fault may not happen
/// again, and a `--stage` run or an interrupted one stopped short.
pub(super) fn store(cache: &Cache, opts: &Opts, key: &str, r: &CellResult, dir: &Path) {
    let complete = opts.stop_after.is_none()
        && !r.stages.iter().any(|s| s.status == Status::Error)
        && !crate::sys::signal::interrupted();
    if !complete {
        return;
    }
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
