//! Where things live: the project root, the cache folder and what goes in it.

use std::path::{Path, PathBuf};

/// The repository root (the folder holding the workspace `Cargo.toml`).
pub fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace root").to_path_buf()
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
        let root = if root.is_absolute() { root } else { std::env::current_dir().unwrap_or_default().join(root) };
        Cache { root, slots_at: None, ccache_at: None, results_at: None }
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
        self.slots_at.clone().unwrap_or_else(|| self.root.join("slots"))
    }
    /// Results of finished cells, keyed by everything that determines them.
    pub fn results(&self) -> PathBuf {
        self.results_at.clone().unwrap_or_else(|| self.root.join("results"))
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
    use std::io::Write;
    use std::os::unix::io::AsRawFd;
    std::fs::create_dir_all(&cache.root)?;
    let path = cache.root.join("lock");
    let mut f = std::fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).open(&path)?;
    let fd = f.as_raw_fd();
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let holder = std::fs::read_to_string(&path).unwrap_or_default();
        eprintln!("waiting for the cache lock {} (held by {}); Ctrl-C gives up", path.display(), holder.trim());
        // Polled, so that an interrupt while waiting ends the wait.
        while unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                anyhow::bail!("cannot lock {}: {err}", path.display());
            }
            if crate::proc::interrupted() {
                anyhow::bail!("interrupted while waiting for the cache lock {}", path.display());
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        eprintln!("got the cache lock {}", path.display());
    }
    // The lock dies with the process (kill -9 included); the pid is only for the message.
    f.set_len(0)?;
    let _ = writeln!(f, "pid {}", std::process::id());
    // Whatever a killed run left running is ended now that the cache is ours.
    crate::proc::adopt_group_file(&cache.root.join("children"));
    Ok(CacheLock { _file: f })
}
