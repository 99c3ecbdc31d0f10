//! The output folders a cell builds in. Every cell of a (base, toolchain, arch) builds at the
//! same paths, `out-base` and `clippy-base`: a plain entry in the base's folders themselves,
//! an entry with a config of its own in a stand-in copy at those paths (the base's folders
//! wait aside), and a `--clean` cell in `out-clean`/`clippy-clean`, emptied before and after.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::model::matrix::Loaded;
use crate::model::plan::{Cell, DEFAULT_CONFIG};
use crate::stages::standin;
use crate::sys::paths::Cache;

/// Folders of a build slot: one worktree per base, output folders per toolchain, arch and
/// config variant (`<arch>` for the default one, `<arch>.<config>` for the others).
pub(super) struct Slot {
    pub src: PathBuf,
    /// The folder of this (toolchain, arch, config) that holds the output folders.
    pub dir: PathBuf,
    out_base: PathBuf,
    clippy_base: PathBuf,
    /// `--clean`: emptied before each cell.
    out_clean: PathBuf,
    clippy_clean: PathBuf,
}

pub(super) fn slot(cache: &Cache, cell: &Cell) -> Slot {
    let b = cache.slots().join(&cell.base);
    let a = if cell.config == crate::model::plan::DEFAULT_CONFIG {
        b.join(&cell.toolchain).join(cell.arch.name())
    } else {
        b.join(&cell.toolchain)
            .join(format!("{}.{}", cell.arch.name(), cell.config))
    };
    Slot {
        src: b.join("src"),
        dir: a.clone(),
        out_base: a.join("out-base"),
        clippy_base: a.join("clippy-base"),
        out_clean: a.join("out-clean"),
        clippy_clean: a.join("clippy-clean"),
    }
}

/// The mark a slot's folder gets once an entry cell built there.
pub(super) const ENTRY_BUILT: &str = "entry-built";

/// A slot's folders are about to see an untrusted patch's build: never saved from again
/// until they are built from nothing.
pub(super) fn entry_builds(sl: &Slot) {
    let _ = std::fs::create_dir_all(&sl.dir);
    let _ = std::fs::write(sl.dir.join(ENTRY_BUILT), "");
}

/// A config variant's cold folder starts as a copy of the default config's build of the same
/// base, toolchain and arch, when there is one: kbuild records each object's command and the
/// options it reads, so make there redoes what the config change reaches (a few objects and
/// the Rust crates for samples built in; every object for a variant that changes compiler
/// flags, KASAN's) instead of everything. The caller makes sure nothing builds in that folder
/// meanwhile. Its time when copied; None when there is nothing to copy (the default config,
/// a folder already there, no build to copy, or one a killed cell left aside); an error
/// when the copy failed (its remains are removed: the cell builds from nothing).
pub(super) fn seed(cache: &Cache, cell: &Cell, sl: &Slot) -> Result<Option<Duration>, String> {
    if cell.config == DEFAULT_CONFIG || sl.out_base.exists() {
        return Ok(None);
    }
    let from = slot(
        cache,
        &Cell {
            config: DEFAULT_CONFIG.into(),
            ..cell.clone()
        },
    );
    if !from.out_base.join(".config").is_file() || standin::held_config(&from.out_base).is_some() {
        return Ok(None);
    }
    let t = Instant::now();
    if let Err(e) = standin::copy_build_folder(&from.out_base, &sl.out_base) {
        let _ = std::fs::remove_dir_all(&sl.out_base);
        return Err(format!(
            "copy {} as this config's build folder: {e:#}",
            from.out_base.display()
        ));
    }
    // An entry's build there makes this one no base-only build either (never archived).
    if from.dir.join(ENTRY_BUILT).exists() {
        entry_builds(sl);
    }
    Ok(Some(t.elapsed()))
}

/// Has the entry a config of its own: a file the config stage reads changed
/// ([`crate::stages::config::is_config_input`]), or a fragment of its own?
pub(super) fn own_config(m: &Loaded, cell: &Cell, changed: &[String]) -> bool {
    !cell.is_base()
        && (changed
            .iter()
            .any(|f| crate::stages::config::is_config_input(f))
            || m.entry(&cell.entry).is_some_and(|e| !e.kconfig.is_empty()))
}

/// The build and clippy folders of one cell, held while it runs: a stand-in puts the base's
/// folders back when this is dropped, and a `--clean` cell's folders are removed.
pub(super) struct Folders {
    pub out: PathBuf,
    pub clippy: PathBuf,
    _stand_in: Option<standin::StandIn>,
    /// `--clean`: the folders to give back to the disk.
    clean: bool,
}

/// The folders a cell builds in. `builds`: the cell will build (a stand-in is only made
/// then, it costs a copy). An error says what could not be done with the folders.
pub(super) fn take(
    sl: &Slot,
    clean: bool,
    own_config: bool,
    builds: bool,
) -> Result<Folders, String> {
    // A harness killed during a cell with a config of its own left the base's folders aside.
    let restored = [&sl.out_base, &sl.clippy_base].map(|f| {
        standin::restore_held(f).map_err(|e| format!("restore the base's build folder: {e:#}"))
    });
    if clean {
        let _ = std::fs::remove_dir_all(&sl.out_clean);
        let _ = std::fs::remove_dir_all(&sl.clippy_clean);
    }
    restored.into_iter().collect::<Result<Vec<()>, String>>()?;
    if clean {
        return Ok(Folders {
            out: sl.out_clean.clone(),
            clippy: sl.clippy_clean.clone(),
            _stand_in: None,
            clean: true,
        });
    }
    // Every entry builds at the base's own folder paths. A plain entry (the base's config)
    // builds in the base's folders themselves: the worktree goes back to the base after
    // every entry, and git rewrites exactly the files that differed, so the next make there
    // (an entry's or the base's own) redoes what those files feed and nothing else. An
    // entry with a config of its own builds in a stand-in copy at the same paths, so the
    // base's folders never see a config change.
    let stand_in = if own_config && builds {
        Some(
            standin::StandIn::new(&[&sl.out_base, &sl.clippy_base])
                .map_err(|e| format!("prepare the entry's build folders: {e:#}"))?,
        )
    } else {
        None
    };
    Ok(Folders {
        out: sl.out_base.clone(),
        clippy: sl.clippy_base.clone(),
        _stand_in: stand_in,
        clean: false,
    })
}

impl Drop for Folders {
    fn drop(&mut self) {
        if self.clean {
            // Nothing reuses a clean build (the next `--clean` empties it first): give the
            // disk back.
            let _ = std::fs::remove_dir_all(&self.out);
            let _ = std::fs::remove_dir_all(&self.clippy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::arch::Arch;

    /// A variant's cold folder is copied from the default config's build, its saved commands
    /// moved to its own path, and marked as an entry's when the default's folder is; never for
    /// the default config itself, over a folder already there, from nothing, or from a folder a
    /// killed cell left aside.
    #[test]
    fn a_variants_cold_folder_starts_from_the_default_configs_build() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache {
            root: tmp.path().canonicalize().unwrap(),
            slots_at: None,
            ccache_at: None,
            results_at: None,
        };
        let cell = |config: &str| Cell {
            entry: crate::model::plan::BASE_ENTRY.into(),
            base: "v7.2.x".into(),
            arch: Arch::Arm64,
            toolchain: "debian".into(),
            config: config.into(),
        };
        let (release, builtin) = (cell(DEFAULT_CONFIG), cell("builtin"));
        let (from, to) = (slot(&cache, &release), slot(&cache, &builtin));
        assert_eq!(seed(&cache, &builtin, &to), Ok(None), "nothing to copy");
        std::fs::create_dir_all(from.out_base.join("rust")).unwrap();
        std::fs::write(from.out_base.join(".config"), "CONFIG_X=m\n").unwrap();
        let saved =
            |o: &std::path::Path| format!("savedcmd_rust/kernel.o := OBJTREE={}\n", o.display());
        std::fs::write(
            from.out_base.join("rust/.kernel.o.cmd"),
            saved(&from.out_base),
        )
        .unwrap();
        assert_eq!(
            seed(&cache, &release, &from),
            Ok(None),
            "the default config"
        );

        std::fs::create_dir_all(standin::held_path(&from.out_base)).unwrap();
        std::fs::write(standin::held_path(&from.out_base).join(".config"), "").unwrap();
        assert_eq!(
            seed(&cache, &builtin, &to),
            Ok(None),
            "a killed cell's stand-in"
        );
        std::fs::remove_dir_all(standin::held_path(&from.out_base)).unwrap();

        entry_builds(&from);
        assert!(seed(&cache, &builtin, &to).unwrap().is_some());
        assert_eq!(
            std::fs::read_to_string(to.out_base.join("rust/.kernel.o.cmd")).unwrap(),
            saved(&to.out_base)
        );
        assert_eq!(
            std::fs::read_to_string(to.out_base.join(".config")).unwrap(),
            "CONFIG_X=m\n"
        );
        assert!(to.dir.join(ENTRY_BUILT).exists());
        std::fs::write(to.out_base.join(".config"), "CONFIG_X=y\n").unwrap();
        assert_eq!(
            seed(&cache, &builtin, &to),
            Ok(None),
            "a folder already there"
        );
        assert_eq!(
            std::fs::read_to_string(to.out_base.join(".config")).unwrap(),
            "CONFIG_X=y\n"
        );
    }

    /// A patch to a fragment `make tinyconfig` merges, not only to a Kconfig file, gives the
    /// entry a config of its own; a source file does not; a base cell never has one.
    #[test]
    fn a_change_to_any_config_input_gives_the_entry_its_own_config() {
        let root = crate::sys::paths::project_root();
        let m =
            crate::commands::select::load_file(&root.join("tests/selftest/matrix.toml")).unwrap();
        let cell = |entry: &str| Cell {
            entry: entry.into(),
            base: "v7.2.x".into(),
            arch: Arch::X86_64,
            toolchain: "debian".into(),
            config: "release".into(),
        };
        let own = |entry: &str, f: &str| own_config(&m, &cell(entry), &[f.to_string()]);
        for f in [
            "kernel/configs/tiny.config",
            "arch/x86/configs/tiny.config",
            "scripts/kconfig/merge_config.sh",
            "samples/rust/Kconfig",
        ] {
            assert!(own("good-sample", f), "{f}");
            assert!(!own("base", f), "{f}");
        }
        assert!(!own("good-sample", "samples/rust/rust_minimal.rs"));
    }
}
