//! The build cache (`--build-cache DIR`): a base cell's build folders (kbuild's output, with
//! rustdoc's, and clippy's folder) and its stored result, kept as one zstd archive per base
//! commit, so that a machine with no build of its own (a CI job) starts from one.
//!
//! An archive is restored into a slot whose output folder does not exist yet, before the base
//! cell looks in the result cache: the one for the same commit (an exact hit, whose stored
//! result then stands), else the newest one for the same base, arch, toolchain, config and
//! build rules (its *shape*). The restored folders' times are then set against the fresh
//! checkout (`times.rs`), from the tree listing saved with the archive: make redoes what the
//! files changed since feed and nothing else.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::model::event::BuildCacheNote;
use crate::model::matrix::Loaded;
use crate::model::outcome::{CellResult, Stage, StageResult, Status};
use crate::model::plan::Cell;
use crate::run::events::CellEvents;
use crate::run::folders::{self, Slot};
use crate::run::times::{fix_times, refresh_index, tree_listing};
use crate::run::Env;
use crate::stages::toolchain::Resolved;
use crate::sys::paths::Cache;
use crate::sys::proc;
use crate::sys::store::Store;

/// Bumped whenever the way the harness builds changes what lands in an output folder (make's
/// arguments, the folders' layout): an archive of other rules is never restored.
const RULES: u32 = 1;

/// How long packing or unpacking one archive may take.
const TAR_DEADLINE: Duration = Duration::from_secs(900);

/// A manifest is a few hundred bytes: anything larger is not one.
const MANIFEST_MAX: u64 = 64 * 1024;

/// A stored cell result, and a .config, are far smaller: a larger file is not read.
const RESULT_MAX: u64 = 16 << 20;
const CONFIG_MAX: u64 = 4 << 20;

/// A kernel tree's listing is about 10 MB.
const LISTING_MAX: u64 = 256 << 20;

/// What is written beside each archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub rules: u32,
    pub base: String,
    pub arch: String,
    pub toolchain: String,
    pub config: String,
    /// The hash of everything but the commit that decides the folders' content.
    pub shape: String,
    pub commit: String,
    /// Seconds since the epoch when it was written: the newest of a shape is restored.
    pub created: u64,
    /// The archive's size.
    pub bytes: u64,
    /// The base cell's result-cache key, when its result is in the archive.
    #[serde(default)]
    pub result_key: Option<String>,
}

/// One cell's place in the build cache.
pub struct Place {
    dir: PathBuf,
    /// `base.arch.toolchain.config`: each a name checked at load.
    label: String,
    shape: String,
    /// The slot's folder that holds `out-base` and `clippy-base`.
    slot_dir: PathBuf,
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub from_commit: String,
    pub exact: bool,
    /// Files of the tree that differ from the archived tree's (given the later time).
    pub changed: usize,
    pub bytes: u64,
    pub elapsed: Duration,
    /// From another commit's archive: what the cell may judge by.
    pub moved: Option<Moved>,
}

/// What a build restored from another commit of the base brings for the base cell's checks.
#[derive(Debug)]
pub struct Moved {
    pub from_commit: String,
    /// The files that differ between that commit's tree and this one's.
    pub changed: Vec<String>,
    /// That commit's base cell's rustdoc result, when the archive holds its result.
    pub rustdoc: Option<StageResult>,
    /// The .config that commit was built with.
    pub config: Option<String>,
}

/// What a save did.
#[derive(Debug)]
pub struct Saved {
    pub bytes: u64,
    pub elapsed: Duration,
}

impl Place {
    /// The place of a base cell in the cache folder `dir`. The shape hashes the build rules,
    /// the toolchain, the config variant and its fragments' text, and the slot's own path
    /// (kbuild writes absolute paths into its command files: another path is another build).
    pub fn new(dir: &Path, m: &Loaded, cell: &Cell, tc: &Resolved, slot_dir: &Path) -> Place {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(RULES.to_le_bytes());
        h.update(cell.base.as_bytes());
        h.update(cell.arch.name().as_bytes());
        crate::run::cache::hash_build_inputs(&mut h, m, cell, tc);
        h.update(slot_dir.as_os_str().as_encoded_bytes());
        let shape: String = h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Place {
            dir: dir.to_path_buf(),
            label: format!(
                "{}.{}.{}.{}",
                cell.base,
                cell.arch.name(),
                cell.toolchain,
                cell.config
            ),
            shape,
            slot_dir: slot_dir.to_path_buf(),
        }
    }

    fn stem(&self, commit: &str) -> String {
        format!("{}.{}.{commit}", self.label, self.shape)
    }

    /// The manifests of this place's shape in the folder, newest first. A file that does not
    /// read as one is left alone.
    fn manifests(&self) -> Vec<(PathBuf, Manifest)> {
        let prefix = format!("{}.{}.", self.label, self.shape);
        let mut found: Vec<(PathBuf, Manifest)> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let commit = name.strip_prefix(&prefix)?.strip_suffix(".json")?;
                if !is_commit(commit) {
                    return None;
                }
                let m: Manifest =
                    serde_json::from_slice(&read_bounded(&e.path(), MANIFEST_MAX)?).ok()?;
                (m.commit == commit && m.shape == self.shape && m.rules == RULES)
                    .then(|| (self.dir.join(format!("{}.tar.zst", self.stem(commit))), m))
            })
            .filter(|(archive, _)| archive.is_file())
            .collect();
        found.sort_by_key(|b| std::cmp::Reverse(b.1.created));
        found
    }
}

/// Hex digits only, of a length in `lens`: what a name from a manifest must be before it
/// names a file or a folder.
fn is_hex(s: &str, lens: std::ops::RangeInclusive<usize>) -> bool {
    lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A result-cache key (a SHA-256 in hex): what a manifest's `result_key` must be.
fn is_result_key(k: &str) -> bool {
    is_hex(k, 64..=64)
}

/// A base cell's side of the build cache, from before its stages to after them.
pub(super) struct ForCell<'a> {
    place: Place,
    commit: &'a str,
    sl: &'a Slot,
    moved: Option<Moved>,
}

impl<'a> ForCell<'a> {
    /// Restore the archive into the cell's slot when the slot is cold (telling `events` what
    /// came of it).
    pub(super) fn start(
        dir: &Path,
        env: &Env,
        cell: &Cell,
        tc: &Resolved,
        sl: &'a Slot,
        commit: &'a str,
        events: &CellEvents,
    ) -> ForCell<'a> {
        let place = Place::new(dir, env.m, cell, tc, &sl.dir);
        let mut moved = None;
        if !sl.dir.join("out-base").exists() {
            // A cold slot: nothing of an entry is in it.
            let _ = std::fs::remove_file(sl.dir.join(folders::ENTRY_BUILT));
            match restore(&place, env.cache, env.store, commit, &sl.src) {
                Ok(Some(r)) => {
                    events.build_cache(BuildCacheNote::Restored {
                        from_commit: &r.from_commit,
                        exact: r.exact,
                        changed: r.changed,
                        bytes: r.bytes,
                        elapsed: r.elapsed,
                    });
                    moved = r.moved;
                }
                Ok(None) => {}
                Err(why) => events.build_cache(BuildCacheNote::Failed { why: &why }),
            }
        }
        ForCell {
            place,
            commit,
            sl,
            moved,
        }
    }

    /// What the build restored from another commit brings, if it came from one.
    pub(super) fn moved(&self) -> Option<&Moved> {
        self.moved.as_ref()
    }

    /// Save the slot's build once the cell passed its build, unless an entry was built there.
    pub(super) fn finish(
        self,
        env: &Env,
        res: &CellResult,
        key: Option<&str>,
        events: &CellEvents,
    ) {
        if !res
            .stage(Stage::Build)
            .is_some_and(|b| b.status == Status::Pass)
        {
            return;
        }
        if self.sl.dir.join(folders::ENTRY_BUILT).exists() {
            events.build_cache(BuildCacheNote::Failed {
                why: "not saved: an entry's patch was built in this slot",
            });
            return;
        }
        match save(&self.place, env.cache, env.store, self.commit, key) {
            Ok(s) => events.build_cache(BuildCacheNote::Saved {
                bytes: s.bytes,
                elapsed: s.elapsed,
            }),
            Err(why) => events.build_cache(BuildCacheNote::Failed { why: &why }),
        }
    }
}

fn is_commit(s: &str) -> bool {
    is_hex(s, 7..=64)
}

/// Restore the archive for `commit` (else the newest of the place's shape) into the slot, when
/// its output folder does not exist; `src` is the slot's worktree, at `commit`. None when
/// there is nothing to restore or the slot has its own build; an error when an archive was
/// there but could not be used (the slot is then left as it was: cold).
pub fn restore(
    place: &Place,
    cache: &Cache,
    store: &Store,
    commit: &str,
    src: &Path,
) -> Result<Option<Restored>, String> {
    let out = place.slot_dir.join("out-base");
    if out.exists() {
        return Ok(None);
    }
    let found = place.manifests();
    let Some((archive, m)) = found
        .iter()
        .find(|(_, m)| m.commit == commit)
        .or_else(|| found.first())
    else {
        return Ok(None);
    };
    let t = Instant::now();
    let staging = place.slot_dir.join("build-cache.restore");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    let done = (|| {
        unpack(archive, &staging)?;
        let old = read_bounded(&staging.join(TREE), LISTING_MAX)
            .ok_or_else(|| format!("{TREE}: not a file of at most {LISTING_MAX} bytes"))?;
        let new = tree_listing(store, commit)?;
        let outs = archived_folders(&staging)?;
        let changed = fix_times(src, &outs, &old, &new)?;
        refresh_index(src)?;
        let count = changed.len();
        let moved = (m.commit != commit).then(|| Moved {
            from_commit: m.commit.clone(),
            rustdoc: earlier_rustdoc(&staging, m),
            config: read_bounded(&staging.join("out-base/.config"), CONFIG_MAX)
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
            changed,
        });
        for from in &outs {
            let to = place.slot_dir.join(from.file_name().unwrap_or_default());
            std::fs::rename(from, to).map_err(|e| format!("{}: {e}", from.display()))?;
        }
        // The base cell's stored result, when the archive's commit is this one (its key
        // names the commit, so another commit's could never be found anyway).
        if let Some(k) = m
            .result_key
            .as_deref()
            .filter(|k| m.commit == commit && is_result_key(k))
        {
            let from = staging.join(k);
            let to = cache.results().join(k);
            let real_dir = std::fs::symlink_metadata(&from).is_ok_and(|m| m.is_dir());
            if real_dir && !to.exists() {
                let _ = std::fs::create_dir_all(cache.results());
                let _ = std::fs::rename(&from, &to);
            }
        }
        Ok((count, moved))
    })();
    let _ = std::fs::remove_dir_all(&staging);
    let (changed, moved) = done.map_err(|e: String| {
        // Half a restore is worse than none: the cell builds cold.
        let _ = std::fs::remove_dir_all(place.slot_dir.join("out-base"));
        let _ = std::fs::remove_dir_all(place.slot_dir.join("clippy-base"));
        format!("restore {}: {e}", archive.display())
    })?;
    Ok(Some(Restored {
        from_commit: m.commit.clone(),
        exact: m.commit == commit,
        changed,
        bytes: m.bytes,
        elapsed: t.elapsed(),
        moved,
    }))
}

/// The build folders an archive unpacked in `staging` holds. A link in the place of one is
/// refused, never followed: their times are set next, and they become the slot's.
fn archived_folders(staging: &Path) -> Result<Vec<PathBuf>, String> {
    let mut outs = Vec::new();
    for f in ["out-base", "clippy-base"] {
        let p = staging.join(f);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => outs.push(p),
            Ok(_) => return Err(format!("{f} in the archive is not a folder")),
            Err(_) => {}
        }
    }
    Ok(outs)
}

/// The rustdoc result of the archive's base cell (unpacked in `staging`), when the archive
/// holds that cell's result for the manifest's commit and it passed or failed.
fn earlier_rustdoc(staging: &Path, m: &Manifest) -> Option<StageResult> {
    let k = m.result_key.as_deref().filter(|k| is_result_key(k))?;
    let dir = staging.join(k);
    if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
        return None;
    }
    let bytes = read_bounded(&dir.join("result.json"), RESULT_MAX)?;
    let r: CellResult = serde_json::from_slice(&bytes).ok()?;
    if r.base_commit.as_deref() != Some(m.commit.as_str()) || r.patchset.is_some() {
        return None;
    }
    r.stage(Stage::Rustdoc)
        .filter(|s| matches!(s.status, Status::Pass | Status::Fail))
        .cloned()
}

/// A file's bytes, if it is a regular file (not a link) of at most `max` bytes.
fn read_bounded(p: &Path, max: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let m = std::fs::symlink_metadata(p).ok()?;
    if !m.is_file() || m.len() > max {
        return None;
    }
    let mut bytes = Vec::new();
    std::fs::File::open(p)
        .ok()?
        .take(max + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    (bytes.len() as u64 <= max).then_some(bytes)
}

/// The tree listing's name inside an archive.
const TREE: &str = "tree.lst";

/// Save the slot's build folders, the tree listing of `commit` and the base cell's stored
/// result (`result_key`, when the result cache has it) as the place's archive for `commit`;
/// older archives of the same shape are removed (one per shape is kept).
pub fn save(
    place: &Place,
    cache: &Cache,
    store: &Store,
    commit: &str,
    result_key: Option<&str>,
) -> Result<Saved, String> {
    let t = Instant::now();
    if !is_commit(commit) {
        return Err(format!("not a commit id: {commit}"));
    }
    std::fs::create_dir_all(&place.dir).map_err(|e| format!("{}: {e}", place.dir.display()))?;
    let staging = place.slot_dir.join("build-cache.save");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    let stem = place.stem(commit);
    let archive = place.dir.join(format!("{stem}.tar.zst"));
    let tmp = place.dir.join(format!("{stem}.tar.zst.tmp"));
    let packed = (|| {
        std::fs::write(staging.join(TREE), tree_listing(store, commit)?)
            .map_err(|e| format!("{TREE}: {e}"))?;
        let mut members: Vec<(PathBuf, Vec<String>)> = vec![
            (
                place.slot_dir.clone(),
                ["out-base", "clippy-base"]
                    .into_iter()
                    .filter(|f| place.slot_dir.join(f).exists())
                    .map(str::to_string)
                    .collect(),
            ),
            (staging.clone(), vec![TREE.to_string()]),
        ];
        let result_key = result_key.filter(|k| cache.results().join(k).is_dir());
        if let Some(k) = result_key {
            members.push((cache.results(), vec![k.to_string()]));
        }
        pack(&tmp, &members)?;
        let bytes = std::fs::metadata(&tmp).map(|m| m.len()).unwrap_or(0);
        std::fs::rename(&tmp, &archive).map_err(|e| format!("{}: {e}", archive.display()))?;
        Ok((bytes, result_key.map(str::to_string)))
    })();
    let _ = std::fs::remove_dir_all(&staging);
    let (bytes, result_key) = packed.inspect_err(|_: &String| {
        let _ = std::fs::remove_file(&tmp);
    })?;
    let (base, rest) = place.label.split_once('.').unwrap_or((&place.label, ""));
    let mut parts = rest.splitn(3, '.');
    let m = Manifest {
        rules: RULES,
        base: base.to_string(),
        arch: parts.next().unwrap_or_default().to_string(),
        toolchain: parts.next().unwrap_or_default().to_string(),
        config: parts.next().unwrap_or_default().to_string(),
        shape: place.shape.clone(),
        commit: commit.to_string(),
        created: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        bytes,
        result_key,
    };
    let manifest = place.dir.join(format!("{stem}.json"));
    std::fs::write(
        &manifest,
        serde_json::to_string_pretty(&m).unwrap_or_default(),
    )
    .map_err(|e| format!("{}: {e}", manifest.display()))?;
    // One archive per shape: the older ones would only fill the cache's budget.
    for (old, om) in place.manifests() {
        if om.commit != commit {
            let _ = std::fs::remove_file(&old);
            let _ = std::fs::remove_file(old.with_extension("").with_extension("json"));
        }
    }
    Ok(Saved {
        bytes,
        elapsed: t.elapsed(),
    })
}

/// `tar` with zstd: the members of each folder, in order, into `archive`.
fn pack(archive: &Path, members: &[(PathBuf, Vec<String>)]) -> Result<(), String> {
    let mut c = Command::new("tar");
    c.arg("--create")
        .arg("--file")
        .arg(archive)
        .args(["--use-compress-program", "zstd -T0 -3 -q"]);
    // Member names are the harness's own (`out-base`, a hex key): none reads as an option.
    for (dir, names) in members {
        c.arg("-C").arg(dir).args(names);
    }
    run_tar(&mut c)
}

/// Unpack `archive` into `into`: never as another owner, never outside `into` (GNU tar drops
/// a member's leading `/` and refuses a `..`).
fn unpack(archive: &Path, into: &Path) -> Result<(), String> {
    let mut c = Command::new("tar");
    c.arg("--extract")
        .arg("--file")
        .arg(archive)
        .args(["--use-compress-program", "zstd -d -q", "--no-same-owner"])
        .arg("-C")
        .arg(into);
    run_tar(&mut c)
}

fn run_tar(c: &mut Command) -> Result<(), String> {
    let o = proc::run_captured(c, Some(TAR_DEADLINE)).map_err(|e| format!("{e:#}"))?;
    if o.outcome.success() {
        Ok(())
    } else {
        Err(format!(
            "`{}`: {} {}",
            proc::display_command(c),
            o.outcome.describe(),
            o.stderr.trim().lines().last().unwrap_or("")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::times::set_mtime;
    use crate::sys::testing::git;

    /// A make over `a.c`, `b.c` and `h.h` (which `b.c` includes), in an output folder of its
    /// own; the objects it made, by name.
    fn make(src: &Path, out: &Path) -> Vec<String> {
        std::fs::create_dir_all(out).unwrap();
        let o = Command::new("make")
            .arg("-s")
            .arg("-C")
            .arg(out)
            .arg("-f")
            .arg(src.join("Makefile"))
            .arg(format!("SRC={}", src.display()))
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("built "))
            .map(str::to_string)
            .collect()
    }

    /// An archived build restored at another path after a fresh checkout of a newer commit:
    /// the file that changed between the two commits (and the object that includes a
    /// changed header) is rebuilt, the unchanged one is not; restored at its own commit,
    /// nothing is.
    #[test]
    fn a_restored_build_redoes_only_what_changed_since_its_commit() {
        let t = tempfile::tempdir().unwrap();
        let up = t.path().join("up");
        std::fs::create_dir_all(&up).unwrap();
        git(&up, &["init", "-q"]);
        std::fs::write(
            up.join("Makefile"),
            "all: a.o b.o\n%.o: $(SRC)/%.c\n\t@cp $< $@ && echo built $@\nb.o: $(SRC)/h.h\n",
        )
        .unwrap();
        for (f, s) in [("a.c", "a1"), ("b.c", "b1"), ("h.h", "h1"), ("c.c", "c1")] {
            std::fs::write(up.join(f), s).unwrap();
        }
        git(&up, &["add", "."]);
        git(&up, &["commit", "-qm", "one"]);
        let one = git(&up, &["rev-parse", "HEAD"]);
        std::fs::write(up.join("h.h"), "h2").unwrap();
        std::fs::write(up.join("c.c"), "c2").unwrap();
        git(&up, &["commit", "-qam", "two"]);
        let two = git(&up, &["rev-parse", "HEAD"]);
        let store = Store {
            git_dir: up.join(".git"),
        };

        // The build of commit one, archived with its tree's listing.
        let slot = t.path().join("slot");
        let src = slot.join("src");
        git(t.path(), &["clone", "-q", up.to_str().unwrap(), "slot/src"]);
        git(&src, &["checkout", "-q", &one]);
        assert_eq!(make(&src, &slot.join("out-base")), ["a.o", "b.o"]);
        let staging = t.path().join("staging");
        std::fs::create_dir_all(&staging).unwrap();
        std::fs::write(staging.join(TREE), tree_listing(&store, &one).unwrap()).unwrap();
        let archive = t.path().join("one.tar.zst");
        pack(
            &archive,
            &[
                (slot.clone(), vec!["out-base".into()]),
                (staging.clone(), vec![TREE.into()]),
            ],
        )
        .unwrap();

        // Another machine: a fresh checkout (every file "now"), the archive unpacked.
        let restore_at = |commit: &str| {
            std::fs::remove_dir_all(&slot).unwrap();
            git(t.path(), &["clone", "-q", up.to_str().unwrap(), "slot/src"]);
            git(&src, &["checkout", "-q", commit]);
            let into = t.path().join("unpacked");
            let _ = std::fs::remove_dir_all(&into);
            std::fs::create_dir_all(&into).unwrap();
            unpack(&archive, &into).unwrap();
            std::fs::rename(into.join("out-base"), slot.join("out-base")).unwrap();
            let old = std::fs::read(into.join(TREE)).unwrap();
            fix_times(
                &src,
                &[slot.join("out-base")],
                &old,
                &tree_listing(&store, commit).unwrap(),
            )
            .unwrap()
        };
        assert_eq!(restore_at(&one), Vec::<String>::new());
        assert_eq!(make(&src, &slot.join("out-base")), Vec::<String>::new());
        // h.h and c.c changed; only b.o depends on one of them.
        assert_eq!(restore_at(&two), ["c.c", "h.h"]);
        let mtime = |f: &str| std::fs::metadata(src.join(f)).unwrap().modified().unwrap();
        let a_time = mtime("a.c");
        // Git's index still holds the times of every file but the changed ones: refreshing it
        // re-reads only those.
        assert_eq!(
            git(&src, &["diff-files", "--name-only"])
                .lines()
                .collect::<Vec<_>>(),
            ["c.c", "h.h"]
        );
        refresh_index(&src).unwrap();
        // The next run puts the worktree at its commit again: git writes no file, since its
        // index still holds each one's time; so make sees the same.
        git(&src, &["checkout", "-q", "--force", "--detach", &two]);
        assert_eq!(a_time, mtime("a.c"));
        assert_eq!(make(&src, &slot.join("out-base")), ["b.o"]);
        assert_eq!(make(&src, &slot.join("out-base")), Vec::<String>::new());
    }

    /// Without the time fixup the same fresh checkout rebuilds everything: what the test above
    /// shows is the fixup's doing.
    #[test]
    fn a_fresh_checkout_alone_looks_newer_than_any_archived_build() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(
            src.join("Makefile"),
            "all: a.o\n%.o: $(SRC)/%.c\n\t@cp $< $@ && echo built $@\n",
        )
        .unwrap();
        std::fs::write(src.join("a.c"), "a").unwrap();
        let out = t.path().join("out");
        assert_eq!(make(&src, &out), ["a.o"]);
        // 2000-01-01: older than any checkout.
        set_mtime(&out.join("a.o"), 946_684_800).unwrap();
        assert_eq!(make(&src, &out), ["a.o"]);
    }

    /// A manifest's result key names a folder only when it is a key: never a path.
    #[test]
    fn a_manifests_result_key_is_a_hex_key_or_nothing() {
        assert!(is_result_key(&"a".repeat(64)));
        for bad in [
            "../../etc",
            "",
            &"a".repeat(63),
            &format!("{}/", "a".repeat(63)),
        ] {
            assert!(!is_result_key(bad), "{bad}");
        }
    }

    /// A moved base's earlier rustdoc result comes only from the archived base cell's own
    /// result for the manifest's commit, and only a pass or a fail; nothing else in the archive
    /// is read as one.
    #[test]
    fn an_earlier_rustdoc_result_is_the_archived_base_cells_own() {
        let t = tempfile::tempdir().unwrap();
        let key = "a".repeat(64);
        let manifest = |result_key: Option<&str>| Manifest {
            rules: RULES,
            base: "b".into(),
            arch: "x86_64".into(),
            toolchain: "t".into(),
            config: "release".into(),
            shape: "s".into(),
            commit: "1234567".into(),
            created: 0,
            bytes: 0,
            result_key: result_key.map(str::to_string),
        };
        let write = |commit: &str, patchset: serde_json::Value, status: &str| {
            std::fs::create_dir_all(t.path().join(&key)).unwrap();
            let r = serde_json::json!({"schema": 2, "entry": "base", "base": "b",
                "arch": "x86_64", "toolchain": {"name": "t", "versions": {}},
                "base_commit": commit, "patchset": patchset, "dir": "cells/c", "started": "",
                "duration_s": 0.0, "stages": [{"stage": "rustdoc", "status": status,
                "duration_s": 40.0, "summary": "no warnings"}]});
            std::fs::write(t.path().join(&key).join("result.json"), r.to_string()).unwrap();
        };
        write("1234567", serde_json::Value::Null, "pass");
        let r = earlier_rustdoc(t.path(), &manifest(Some(&key))).unwrap();
        assert_eq!(
            (r.status, r.summary.as_str()),
            (Status::Pass, "no warnings")
        );
        // No key, or one that is not a key.
        assert!(earlier_rustdoc(t.path(), &manifest(None)).is_none());
        assert!(earlier_rustdoc(t.path(), &manifest(Some("../x"))).is_none());
        // Another commit's result, an entry's, or a skipped stage.
        write("7654321", serde_json::Value::Null, "pass");
        assert!(earlier_rustdoc(t.path(), &manifest(Some(&key))).is_none());
        let p = serde_json::json!({"hash": "x", "commits": ["a"], "head": "a"});
        write("1234567", p, "pass");
        assert!(earlier_rustdoc(t.path(), &manifest(Some(&key))).is_none());
        write("1234567", serde_json::Value::Null, "skip");
        assert!(earlier_rustdoc(t.path(), &manifest(Some(&key))).is_none());
        // A link in its place is not followed.
        let real = t.path().join("real.json");
        std::fs::rename(t.path().join(&key).join("result.json"), &real).unwrap();
        std::os::unix::fs::symlink(&real, t.path().join(&key).join("result.json")).unwrap();
        assert!(read_bounded(&t.path().join(&key).join("result.json"), RESULT_MAX).is_none());
    }

    /// An archive's build folders are taken only as folders: a link in the place of one (to a
    /// folder outside the cache) makes the restore fail, before any time is set through it.
    #[test]
    fn an_archived_build_folder_that_is_a_link_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let staging = t.path().join("staging");
        std::fs::create_dir_all(staging.join("out-base")).unwrap();
        assert_eq!(
            archived_folders(&staging).unwrap(),
            [staging.join("out-base")]
        );
        let outside = t.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, staging.join("clippy-base")).unwrap();
        let e = archived_folders(&staging).unwrap_err();
        assert!(
            e.contains("clippy-base in the archive is not a folder"),
            "{e}"
        );
    }
}
