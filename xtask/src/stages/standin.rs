//! A base's build folders copied for a cell: an rsync copy that keeps timestamps (so make
//! there redoes only what changed), `.config` synced only when it differs, and the stand-in:
//! a copy at the base folder's own path for a cell with a config of its own, the base's
//! folder held aside and put back afterwards, or by the next cell after a kill.

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

/// Where a base folder waits while a stand-in takes its place (see [`StandIn`]).
fn held_path(live: &Path) -> PathBuf {
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
    use std::time::Duration;

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
        std::fs::File::options()
            .write(true)
            .open(out.join("rust/core.o"))
            .unwrap()
            .set_modified(old)
            .unwrap();
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
}
