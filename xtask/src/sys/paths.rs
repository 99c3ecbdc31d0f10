//! Where things live: the project root, the cache folder and what goes in it.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::model::arch::{Arch, Profile};

/// The repository root (the folder holding the workspace `Cargo.toml`).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace root")
        .to_path_buf()
}

/// The cache folder: `--cache`, else `$RFL_CACHE`, else `target/rfl` in the project.
#[derive(Debug, Clone)]
pub struct Cache {
    pub root: PathBuf,
    /// Build slots somewhere else than `<root>/slots` (a reproducer's fresh folder).
    pub slots_at: Option<PathBuf>,
    /// A ccache folder of its own (the benchmark's cold cells start with an empty one).
    pub ccache_at: Option<PathBuf>,
    /// A result cache of its own (the benchmark's, which starts empty).
    pub results_at: Option<PathBuf>,
}

impl Cache {
    pub fn new(flag: Option<&Path>) -> Cache {
        let root = match (flag, std::env::var_os("RFL_CACHE")) {
            (Some(p), _) => p.to_path_buf(),
            (None, Some(p)) if !p.is_empty() => PathBuf::from(p),
            _ => project_root().join("target").join("rfl"),
        };
        let root = if root.is_absolute() {
            root
        } else {
            std::env::current_dir().unwrap_or_default().join(root)
        };
        Cache {
            root,
            slots_at: None,
            ccache_at: None,
            results_at: None,
        }
    }
    /// The one git object store holding every base and entry.
    pub fn store(&self) -> PathBuf {
        self.root.join("store.git")
    }
    /// Tools the harness builds itself (bindgen).
    pub fn tools(&self) -> PathBuf {
        self.root.join("tools")
    }
    pub fn downloads(&self) -> PathBuf {
        self.root.join("downloads")
    }
    /// Build slots: a worktree and output folders per (base, toolchain).
    pub fn slots(&self) -> PathBuf {
        self.slots_at
            .clone()
            .unwrap_or_else(|| self.root.join("slots"))
    }
    /// Results of finished cells, keyed by everything that determines them.
    pub fn results(&self) -> PathBuf {
        self.results_at
            .clone()
            .unwrap_or_else(|| self.root.join("results"))
    }
    /// Short-lived files (a base's min-tool-version.sh to run): inside the cache, never
    /// the system's temporary folder.
    pub fn scratch(&self) -> PathBuf {
        let p = self.root.join("tmp");
        let _ = std::fs::create_dir_all(&p);
        p
    }
    pub fn runs(&self) -> PathBuf {
        self.root.join("runs")
    }
    /// Expand `{cache}` in a toolchain path.
    pub fn expand(&self, s: &str) -> String {
        s.replace("{cache}", &self.root.to_string_lossy())
    }
}

/// An exclusive lock on the cache, held for a whole run: a second run on the same cache
/// waits for the first (and says so) instead of sharing its store and build slots.
pub struct CacheLock {
    _file: std::fs::File,
}

pub fn lock_cache(cache: &Cache) -> anyhow::Result<CacheLock> {
    use std::io::{Read, Seek, Write};
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    std::fs::create_dir_all(&cache.root)
        .with_context(|| format!("create the cache {}", cache.root.display()))?;
    let path = cache.root.join("lock");
    let planted = || {
        anyhow::anyhow!("the cache lock {} is a symbolic link; refusing to follow it (remove it if the cache is yours)", path.display())
    };
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(planted());
    }
    // O_NOFOLLOW as well: a link planted between the check above and the open still fails
    // (ELOOP) instead of having its target truncated and written.
    let mut f = match std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(planted()),
        Err(e) => return Err(e).with_context(|| format!("open the cache lock {}", path.display())),
    };
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        anyhow::bail!("the cache lock {} is not a regular file", path.display());
    }
    let fd = f.as_raw_fd();
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let mut holder = String::new();
        let _ = (&f).read_to_string(&mut holder);
        eprintln!(
            "waiting for the cache lock {} (held by {}); Ctrl-C gives up",
            path.display(),
            holder.trim()
        );
        // Polled, so that an interrupt while waiting ends the wait.
        while unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                anyhow::bail!("cannot lock {}: {err}", path.display());
            }
            if crate::sys::signal::interrupted() {
                anyhow::bail!(
                    "interrupted while waiting for the cache lock {}",
                    path.display()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        eprintln!("got the cache lock {}", path.display());
    }
    // The lock dies with the process (kill -9 included); the pid is only for the message.
    f.set_len(0)?;
    f.seek(std::io::SeekFrom::Start(0))?;
    let _ = writeln!(f, "pid {}", std::process::id());
    // Whatever a killed run left running is ended now that the cache is ours.
    crate::sys::proc::adopt_group_file(&cache.root.join("children"));
    Ok(CacheLock { _file: f })
}

/// The QEMU profile of `arch`: `qemu/<arch>.toml` under `root`, read and parsed.
pub fn qemu_profile(root: &Path, arch: Arch) -> anyhow::Result<Profile> {
    let path = root.join("qemu").join(format!("{}.toml", arch.name()));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("read {}", path.display()))?;
    Profile::parse(&text, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link planted at `<cache>/lock` is refused with a message naming it, and the file it
    /// points to is left as it was.
    #[test]
    fn a_planted_lock_link_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        let root = dir.path().join("cache");
        std::fs::create_dir_all(&root).unwrap();
        std::os::unix::fs::symlink(&victim, root.join("lock")).unwrap();
        let cache = Cache {
            root: root.clone(),
            slots_at: None,
            ccache_at: None,
            results_at: None,
        };
        let err = format!(
            "{:#}",
            lock_cache(&cache)
                .err()
                .expect("a planted link must be refused")
        );
        assert!(
            err.contains(&root.join("lock").display().to_string()) && err.contains("symbolic link"),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        // A dangling link (to a file not there yet) is not created through either.
        std::fs::remove_file(root.join("lock")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("new"), root.join("lock")).unwrap();
        assert!(lock_cache(&cache).is_err());
        assert!(!dir.path().join("new").exists());
    }

    #[test]
    fn every_arch_has_a_valid_profile_and_fragment() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap();
        for arch in Arch::ALL {
            let p = qemu_profile(root, arch).unwrap();
            assert!(p.boot_timeout > 0, "{arch}");
            assert!(p.binary.starts_with("qemu-system-"), "{arch}");
            assert!(
                root.join("kconfigs")
                    .join(format!("{}.config", arch.name()))
                    .is_file(),
                "{arch}"
            );
            assert_eq!(Arch::parse(arch.name()), Some(arch));
        }
    }
}
