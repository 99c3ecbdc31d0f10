//! The times of a restored build against a fresh checkout: make decides by file times, and a
//! checkout stamps every file "now", so a build archived elsewhere looks older than every
//! source. [`fix_times`] puts the restored folders after the files that did not change since
//! the archived commit and before the ones that did, from the two commits' tree listings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::sys::proc;
use crate::sys::store::Store;

/// How long git may take to refresh a worktree's index.
const REFRESH_DEADLINE: Duration = Duration::from_secs(900);

/// `git ls-tree -r -z COMMIT`: each file's mode, blob id and path.
pub(super) fn tree_listing(store: &Store, commit: &str) -> Result<Vec<u8>, String> {
    proc::output_bytes(
        store
            .cmd()
            .args(["ls-tree", "-r", "-z", "--full-tree", commit]),
    )
    .map_err(|e| format!("list the tree of {commit}: {e:#}"))
}

/// Path → blob id of a `git ls-tree -r -z` listing.
fn parse_listing(listing: &[u8]) -> HashMap<&[u8], &[u8]> {
    listing
        .split(|b| *b == 0)
        .filter_map(|rec| {
            let tab = rec.iter().position(|b| *b == b'\t')?;
            // "<mode> <type> <id>": the id with its mode, so a file that became a link differs.
            Some((&rec[tab + 1..], &rec[..tab]))
        })
        .collect()
}

/// Order the times of a restored build against a fresh checkout of `new`, in the worktree
/// `src`: every file and folder under `outs` (the restored output folders) gets one time
/// after the newest file of the tree whose blob (and mode) is the same in `old`, the archived
/// tree; the files that differ, or that `old` has not, get a later one. Make then redoes what
/// the latter feed and nothing else. The unchanged files keep the times git wrote them with,
/// so the index's record of them stays true. The changed files, by their paths in the tree.
pub fn fix_times(
    src: &Path,
    outs: &[PathBuf],
    old: &[u8],
    new: &[u8],
) -> Result<Vec<String>, String> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let old = parse_listing(old);
    let new = parse_listing(new);
    if new.is_empty() {
        return Err("the tree listing is empty".into());
    }
    let mut changed = Vec::new();
    // The newest unchanged file, in whole seconds (a file system may keep no finer time).
    let mut newest = 0i64;
    for (path, id) in new {
        let p = src.join(std::ffi::OsStr::from_bytes(path));
        if old.get(path) == Some(&id) {
            let m = std::fs::symlink_metadata(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            newest = newest.max(m.mtime());
        } else {
            changed.push((String::from_utf8_lossy(path).into_owned(), p));
        }
    }
    let (built, later) = (newest + 1, newest + 2);
    // Both times are past before make looks (it warns of a file from the future): a checkout
    // that ended this very second waits for it to end.
    let wait = later - unix_now();
    if wait > 3 {
        return Err(format!(
            "a file of {} is {wait} s in the future: the clock moved back",
            src.display()
        ));
    }
    if wait > 0 {
        std::thread::sleep(Duration::from_secs(wait as u64));
    }
    for out in outs {
        set_times_under(out, built)?;
    }
    for (_, p) in &changed {
        set_mtime(p, later).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let mut paths: Vec<String> = changed.into_iter().map(|(path, _)| path).collect();
    paths.sort();
    Ok(paths)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Give `dir` and everything under it the time `t`, following no link.
fn set_times_under(dir: &Path, t: i64) -> Result<(), String> {
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for e in entries {
            let e = e.map_err(|e| format!("{}: {e}", d.display()))?;
            let p = e.path();
            if e.file_type().is_ok_and(|f| f.is_dir()) {
                todo.push(p.clone());
            }
            set_mtime(&p, t).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        set_mtime(&d, t).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    Ok(())
}

/// Tell git the changed files' new times: its index holds each file's time, and a file whose
/// time differs from it looks changed, so the next `checkout --force` (the next run's, putting
/// the worktree at its base) would write it again. Git reads only the files whose times moved
/// (and any it could not trust when it wrote the index), to see that their content is the same.
pub(super) fn refresh_index(src: &Path) -> Result<(), String> {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(src)
        .args(["update-index", "-q", "--refresh"]);
    let o = proc::run_captured(&mut c, Some(REFRESH_DEADLINE)).map_err(|e| format!("{e:#}"))?;
    if o.outcome.success() {
        Ok(())
    } else {
        Err(format!(
            "`git update-index --refresh` in {}: {} {}",
            src.display(),
            o.outcome.describe(),
            o.stdout.trim().lines().next().unwrap_or("")
        ))
    }
}

/// Set a file's (or a link's own) modification time: `t` seconds since the epoch.
pub(super) fn set_mtime(p: &Path, t: i64) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(p.as_os_str().as_bytes())?;
    let spec = libc::timespec {
        tv_sec: t as libc::time_t,
        tv_nsec: 0,
    };
    // Access time as the modification time: nothing reads it.
    let times = [spec, spec];
    // SAFETY: `c` is a valid NUL-terminated path and `times` two valid timespecs.
    let r = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_maps_each_path_to_its_mode_and_blob() {
        let l = b"100644 blob aaaa\tx/a.c\x00120000 blob bbbb\tlink\x00";
        let m = parse_listing(l);
        assert_eq!(m.len(), 2);
        assert_ne!(m[&b"x/a.c"[..]], m[&b"link"[..]]);
        // The same blob under another mode is another entry.
        let l2 = b"100755 blob aaaa\tx/a.c\x00";
        assert_ne!(parse_listing(l2)[&b"x/a.c"[..]], m[&b"x/a.c"[..]]);
    }
}
