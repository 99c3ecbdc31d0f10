//! A base's build folders copied for a cell: an rsync copy that keeps timestamps (so make
//! there redoes only what changed), a copy at another path with kbuild's saved commands moved
//! to it, `.config` synced only when it differs, and the stand-in:
//! a copy at the base folder's own path for a cell with a config of its own, the base's
//! folder held aside and put back afterwards, or by the next cell after a kill.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

use crate::sys::proc;

/// Copy a build folder to another with rsync, keeping timestamps, so that make there only
/// redoes what changed.
pub fn sync_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    proc::output(
        Command::new("rsync")
            .arg("-a")
            .arg("--delete")
            .arg(format!("{}/", from.display()))
            .arg(format!("{}/", to.display())),
    )?;
    Ok(())
}

/// A build folder copied to another path, so that make there remakes only what the copy's
/// own build needs. Kbuild remakes a target whose command line differs from the one saved in
/// its `.<target>.cmd`, and the Rust commands (`OBJTREE=…`) and objtool's build name the
/// output folder's absolute path: in a plain copy every Rust crate, `core` first, and objtool
/// are remade for nothing but that path. The copy's saved commands and dependency files
/// (`.cmd`, `.d`) name its own path instead. Objects are not touched; a path inside one is
/// only a name in its debug data.
pub fn copy_build_folder(from: &Path, to: &Path) -> anyhow::Result<()> {
    sync_dir(from, to)?;
    // Kbuild records the real path of `O=`.
    let (old, new) = (from.canonicalize()?, to.canonicalize()?);
    relocate_commands(to, old.as_os_str().as_bytes(), new.as_os_str().as_bytes())
        .with_context(|| format!("move the saved commands of {} to its path", to.display()))
}

/// A saved command or dependency file larger than this is not kbuild's, and is left alone.
const MAX_COMMAND_FILE: u64 = 16 << 20;

/// Rewrites `old` to `new` in every `.cmd` and `.d` file under `dir`: regular files only, no
/// symbolic link followed (a build could leave one pointing anywhere), times kept.
fn relocate_commands(dir: &Path, old: &[u8], new: &[u8]) -> anyhow::Result<()> {
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("read {}", d.display()))? {
            let e = e?;
            let kind = e.file_type()?;
            if kind.is_dir() {
                todo.push(e.path());
                continue;
            }
            let name = e.file_name();
            let name = name.as_bytes();
            if !kind.is_file() || !(name.ends_with(b".cmd") || name.ends_with(b".d")) {
                continue;
            }
            let meta = e.metadata()?;
            if meta.len() > MAX_COMMAND_FILE {
                continue;
            }
            let path = e.path();
            let text = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
            if let Some(moved) = replace_path(&text, old, new) {
                let mut f = std::fs::File::create(&path)
                    .with_context(|| format!("write {}", path.display()))?;
                f.write_all(&moved)?;
                f.set_modified(meta.modified()?)?;
            }
        }
    }
    Ok(())
}

/// `text` with every whole path `old` (not the start of a longer name, `out-base.held`)
/// replaced by `new`; None when there is none.
fn replace_path(text: &[u8], old: &[u8], new: &[u8]) -> Option<Vec<u8>> {
    if old.is_empty() {
        return None;
    }
    let name_byte = |b: u8| b.is_ascii_alphanumeric() || b"._-+~".contains(&b);
    let mut out = Vec::with_capacity(text.len());
    let (mut i, mut done) = (0, 0);
    while let Some(at) = text[i..].windows(old.len()).position(|w| w == old) {
        let end = i + at + old.len();
        if text.get(end).is_none_or(|&b| !name_byte(b)) {
            out.extend_from_slice(&text[done..i + at]);
            out.extend_from_slice(new);
            done = end;
        }
        i = end;
    }
    (done > 0).then(|| {
        out.extend_from_slice(&text[done..]);
        out
    })
}

/// Where a base folder waits while a stand-in takes its place (see [`StandIn`]).
pub(crate) fn held_path(live: &Path) -> PathBuf {
    let mut name = live
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".held");
    live.with_file_name(name)
}

/// The base's .config while a stand-in takes its folder's place, or None when no stand-in does.
pub fn held_config(live: &Path) -> Option<String> {
    std::fs::read_to_string(held_path(live).join(".config")).ok()
}

/// Puts a base folder back if a harness killed mid-cell (kill -9, a power cut) left it moved
/// aside: whatever stands at its path is the dead cell's stand-in and goes.
pub fn restore_held(live: &Path) -> anyhow::Result<()> {
    let held = held_path(live);
    if held.is_dir() {
        if live.exists() {
            std::fs::remove_dir_all(live)
                .with_context(|| format!("remove the stand-in {}", live.display()))?;
        }
        std::fs::rename(&held, live)
            .with_context(|| format!("put {} back at {}", held.display(), live.display()))?;
    }
    Ok(())
}

/// A copy of a base's build folders standing at their own paths for one cell with a config of
/// its own. Kbuild records the output folder's absolute path in every Rust command
/// (`OBJTREE=…`), so a copy elsewhere rebuilds every Rust crate; at the same path, make
/// redoes only what the config change and the patchset reach. The base's folders wait beside
/// (`<folder>.held`) and come back when the stand-in is dropped, whatever happened in the
/// cell; a harness killed in between is repaired by [`restore_held`].
pub struct StandIn {
    live: Vec<PathBuf>,
}

impl StandIn {
    pub fn new(folders: &[&Path]) -> anyhow::Result<StandIn> {
        let mut s = StandIn { live: Vec::new() };
        for live in folders {
            restore_held(live)?;
            let held = held_path(live);
            if live.join(".config").is_file() {
                std::fs::rename(live, &held)
                    .with_context(|| format!("move {} aside", live.display()))?;
                s.live.push(live.to_path_buf());
                sync_dir(&held, live).with_context(|| {
                    format!(
                        "copy {} for a cell with a config of its own",
                        held.display()
                    )
                })?;
            } else {
                // Nothing built there yet: the cell builds from nothing, and its folder goes.
                s.live.push(live.to_path_buf());
            }
        }
        Ok(s)
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        for live in &self.live {
            let _ = std::fs::remove_dir_all(live);
            let _ = restore_held(live);
        }
    }
}

/// Copy `.config` only when its content differs, and then with a fresh timestamp, so that
/// make re-syncs the configuration exactly when it changed.
pub fn sync_config(from: &Path, to: &Path) -> anyhow::Result<()> {
    let want = std::fs::read(from.join(".config"))?;
    if std::fs::read(to.join(".config")).ok().as_deref() != Some(want.as_slice()) {
        std::fs::write(to.join(".config"), want)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn set_time(p: &Path, t: SystemTime) {
        let f = std::fs::File::options().write(true).open(p).unwrap();
        f.set_modified(t).unwrap();
    }

    /// A cell with a config of its own works in a copy at the base folder's own path (same
    /// timestamps), and the base's folder is exactly as before once the stand-in goes; a
    /// harness killed in between leaves it aside, and the next cell puts it back.
    #[test]
    fn a_stand_in_leaves_the_base_folder_as_it_was() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_path_buf();
        let (out, clippy) = (d.join("out-base"), d.join("clippy-base"));
        std::fs::create_dir_all(out.join("rust")).unwrap();
        std::fs::write(out.join(".config"), "CONFIG_BASE=y\n").unwrap();
        std::fs::write(out.join("rust/core.o"), "base object").unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        set_time(&out.join("rust/core.o"), old);
        {
            let _s = StandIn::new(&[&out, &clippy]).unwrap();
            // The copy stands at the same path, with the same timestamps (make sees nothing new).
            assert_eq!(
                std::fs::metadata(out.join("rust/core.o"))
                    .unwrap()
                    .modified()
                    .unwrap(),
                old
            );
            assert!(d.join("out-base.held/rust/core.o").is_file());
            std::fs::write(out.join(".config"), "CONFIG_BASE=y\nCONFIG_ENTRY=m\n").unwrap();
            std::fs::write(out.join("rust/core.o"), "entry object").unwrap();
            // No clippy folder yet: the cell builds one from nothing, and it goes afterwards.
            std::fs::create_dir_all(&clippy).unwrap();
            std::fs::write(clippy.join(".config"), "x").unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(out.join(".config")).unwrap(),
            "CONFIG_BASE=y\n"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("rust/core.o")).unwrap(),
            "base object"
        );
        assert!(!d.join("out-base.held").exists() && !clippy.exists());

        // Killed mid-cell: the base's folder aside, a half-built stand-in in its place.
        let s = StandIn::new(&[&out]).unwrap();
        std::fs::write(out.join("rust/core.o"), "half").unwrap();
        std::mem::forget(s);
        assert!(d.join("out-base.held").is_dir());
        restore_held(&out).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join("rust/core.o")).unwrap(),
            "base object"
        );
        assert!(!d.join("out-base.held").exists());
    }

    /// A copy at another path: kbuild's saved commands and dependency files name the copy's
    /// path, with their times kept; objects, longer names that start with the path, and
    /// links out of the folder are left as they were.
    #[test]
    fn a_copy_elsewhere_names_its_own_path_in_the_saved_commands() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().canonicalize().unwrap();
        let (out, clippy) = (d.join("out-base"), d.join("clippy-base"));
        let o = out.display().to_string();
        std::fs::create_dir_all(out.join("rust")).unwrap();
        std::fs::create_dir_all(out.join("tools/objtool")).unwrap();
        let cmd = format!(
            "savedcmd_rust/core.o := OBJTREE={o} rustc -L{o}/rust x\nsource_x := {o}.held/a {o}\n"
        );
        std::fs::write(out.join("rust/.core.o.cmd"), &cmd).unwrap();
        std::fs::write(
            out.join("tools/objtool/.check.o.d"),
            format!("check.o: {o}/tools/a.h\n"),
        )
        .unwrap();
        std::fs::write(out.join("rust/core.o"), format!("\x7fELF {o}")).unwrap();
        let outside = d.join("outside.cmd");
        std::fs::write(&outside, &o).unwrap();
        std::os::unix::fs::symlink(&outside, out.join("link.cmd")).unwrap();
        let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        set_time(&out.join("rust/.core.o.cmd"), old);

        copy_build_folder(&out, &clippy).unwrap();
        let c = clippy.display().to_string();
        let moved = std::fs::read_to_string(clippy.join("rust/.core.o.cmd")).unwrap();
        assert_eq!(
            moved,
            format!("savedcmd_rust/core.o := OBJTREE={c} rustc -L{c}/rust x\nsource_x := {o}.held/a {c}\n")
        );
        let meta = std::fs::metadata(clippy.join("rust/.core.o.cmd")).unwrap();
        assert_eq!(meta.modified().unwrap(), old);
        assert_eq!(
            std::fs::read_to_string(clippy.join("tools/objtool/.check.o.d")).unwrap(),
            format!("check.o: {c}/tools/a.h\n")
        );
        assert_eq!(
            std::fs::read_to_string(clippy.join("rust/core.o")).unwrap(),
            format!("\x7fELF {o}")
        );
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), o);
        // The source folder is untouched.
        assert_eq!(
            std::fs::read_to_string(out.join("rust/.core.o.cmd")).unwrap(),
            cmd
        );
        assert_eq!(replace_path(b"a", b"", b"b"), None);
        assert_eq!(
            replace_path(b"/x/ab /x/a", b"/x/a", b"/y"),
            Some(b"/x/ab /y".to_vec())
        );
    }
}
