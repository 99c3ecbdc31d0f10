//! Free space on the cache's disk, looked at before a build: a disk that fills up in the
//! middle of make fails in ways that read as the code's (a truncated object, a linker error),
//! so a build that would not fit stops first, and says what in the cache holds the space.

use std::path::{Path, PathBuf};

/// What one build may need: a kernel output folder and clippy's (about 0.5 GB each for the
/// tiny configs), a stand-in copy of both, ccache's growth and the run folder's logs.
pub const BUILD_NEEDS: u64 = 3 << 30;

/// `RFL_MIN_FREE_MB` overrides [`BUILD_NEEDS`] (a runner with a disk known to be large, or a
/// test that needs the check to fail).
pub fn build_needs() -> u64 {
    std::env::var("RFL_MIN_FREE_MB")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(BUILD_NEEDS, |mb| mb.saturating_mul(1 << 20))
}

/// Bytes free to this user on the file system that holds `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: statvfs fills the struct it is given; `c` is a valid NUL-terminated path.
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut s) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((s.f_bavail as u64).saturating_mul(s.f_frsize as u64))
}

/// Err with a message when less than `need` bytes are free where `cache` lives: how much is
/// free, what is needed, and the largest folders of the cache.
pub fn check(cache: &Path, need: u64) -> Result<(), String> {
    let free = free_bytes(cache).map_err(|e| format!("free space of {}: {e}", cache.display()))?;
    if free >= need {
        return Ok(());
    }
    Err(short_message(cache, free, need, &largest(cache)))
}

/// The message for a disk with `free` bytes where a build needs `need`.
pub fn short_message(cache: &Path, free: u64, need: u64, largest: &[(PathBuf, u64)]) -> String {
    let gib = |b: u64| format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64);
    let mut m = format!(
        "only {} free on the disk of {}, and a build needs {} (RFL_MIN_FREE_MB overrides)",
        gib(free),
        cache.display(),
        gib(need)
    );
    if !largest.is_empty() {
        m += "; the cache's largest: ";
        m += &largest
            .iter()
            .map(|(p, b)| {
                let shown = p.strip_prefix(cache).unwrap_or(p);
                format!("{} {}", shown.display(), gib(*b))
            })
            .collect::<Vec<_>>()
            .join(", ");
    }
    m
}

/// The cache's folders by size, largest first (five): its top level, and each build folder
/// of a slot (`slots/<base>/<toolchain>/<arch>`), where the space usually is.
fn largest(cache: &Path) -> Vec<(PathBuf, u64)> {
    let mut found = Vec::new();
    let mut budget = 2_000_000usize;
    for e in std::fs::read_dir(cache).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_name() == "slots" {
            for b in children(&p) {
                for t in children(&b) {
                    for a in children(&t) {
                        let n = size(&a, &mut budget);
                        found.push((a, n));
                    }
                }
            }
        } else {
            let n = size(&p, &mut budget);
            found.push((p, n));
        }
    }
    found.sort_by_key(|b| std::cmp::Reverse(b.1));
    found.truncate(5);
    found
}

fn children(p: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(p)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// Bytes under `p`, links not followed; at most `budget` entries are looked at in all.
fn size(p: &Path, budget: &mut usize) -> u64 {
    let Ok(md) = std::fs::symlink_metadata(p) else {
        return 0;
    };
    if !md.is_dir() {
        return md.len();
    }
    let mut total = 0;
    for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
        if *budget == 0 {
            break;
        }
        *budget -= 1;
        total += size(&e.path(), budget);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A disk with less free than a build needs: the message says how much is free, what is
    /// needed, how to override it, and which folders of the cache are the largest, largest
    /// first.
    #[test]
    fn a_full_disk_is_named_with_what_fills_it() {
        let t = tempfile::tempdir().unwrap();
        let cache = t.path();
        let slot = cache.join("slots/v7.2.x/debian/x86_64");
        std::fs::create_dir_all(slot.join("out-base")).unwrap();
        std::fs::write(slot.join("out-base/vmlinux"), vec![0u8; 300_000]).unwrap();
        std::fs::create_dir_all(cache.join("ccache")).unwrap();
        std::fs::write(cache.join("ccache/a"), vec![0u8; 100_000]).unwrap();
        std::fs::create_dir_all(cache.join("store.git")).unwrap();
        let free = free_bytes(cache).unwrap();
        assert!(free > 0);
        let e = check(cache, u64::MAX).unwrap_err();
        assert!(e.starts_with("only "), "{e}");
        assert!(e.contains("RFL_MIN_FREE_MB"), "{e}");
        let slot_at = e.find("slots/v7.2.x/debian/x86_64").expect(&e);
        let ccache_at = e.find("ccache").expect(&e);
        assert!(slot_at < ccache_at, "largest first: {e}");
        check(cache, 1).unwrap();
    }
}
