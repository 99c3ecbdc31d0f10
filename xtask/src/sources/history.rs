//! A remote base's history in the store: fetched shallow (its commit alone, `--depth=1`), the
//! remote it came from recorded beside the store, and fetched whole on demand by what reads
//! that history (where an entry's commits meet the base, `git am -3`'s fallback, the in-base
//! lookup). Whatever cannot be had is said, never taken for "not in the history".

use std::path::PathBuf;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::sources::git::{fetch_ref_at, Depth};
use crate::sources::remote::FetchError;
use crate::sys::proc;
use crate::sys::store::Store;

/// Where a shallow base came from: enough to fetch the rest of its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Origin {
    /// The URL fetched (after mirror rewrites).
    url: String,
    /// The remote ref fetched (`refs/tags/v7.2`).
    src: String,
}

/// One fetch of a base's history at a time: two git processes writing the store's `shallow`
/// file at once would fail on its lock.
static DEEPENING: Mutex<()> = Mutex::new(());

fn origin_file(store: &Store, commit: &str) -> PathBuf {
    store.git_dir.join("rfl-shallow").join(commit)
}

/// Fetch the base `src` of `url` into `dest`: its commit alone, unless the store already holds
/// the whole history of what `dest` pointed to (a base deepened by an earlier run), which a
/// `--depth=1` fetch would cut again. The remote is recorded for [`complete`].
pub fn fetch_base(store: &Store, url: &str, src: &str, dest: &str) -> Result<String, FetchError> {
    let whole = store.rev(dest).is_some_and(|c| is_complete(store, &c));
    let depth = if whole { Depth::Full } else { Depth::Tip };
    let commit = fetch_ref_at(store, depth, url, src, dest)?;
    if !is_complete(store, &commit) {
        let origin = Origin {
            url: url.to_string(),
            src: src.to_string(),
        };
        let file = origin_file(store, &commit);
        let written = file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                let tmp = file.with_extension("tmp");
                std::fs::write(&tmp, serde_json::to_vec(&origin).unwrap_or_default())?;
                std::fs::rename(&tmp, &file)
            });
        written.map_err(|e| FetchError::Failed(format!("{}: {e}", file.display())))?;
    }
    Ok(commit)
}

/// The store's shallow commits: those whose parents it does not hold.
fn shallow_commits(store: &Store) -> Vec<String> {
    std::fs::read_to_string(store.git_dir.join("shallow"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Does the store hold the whole history of `commit` (no shallow commit among its ancestors)?
pub fn is_complete(store: &Store, commit: &str) -> bool {
    shallow_commits(store).iter().all(|s| {
        // `--is-ancestor` exits 1 for "no"; anything else (a commit the store lacks) is not a
        // "no", and counts as incomplete.
        proc::run_captured(
            store.cmd().args(["merge-base", "--is-ancestor", s, commit]),
            None,
        )
        .is_ok_and(|o| o.outcome.code() == Some(1))
    })
}

/// Make sure the store holds the whole history of the base `commit`: fetch it from the remote
/// the base came from when it is shallow (`--unshallow`, under the fetch's deadline and
/// low-speed limits). Err says why the history cannot be had: the remote did not answer, it no
/// longer has the commit's history (a branch rebased since), or the commit's remote is unknown.
pub fn complete(store: &Store, commit: &str) -> Result<(), FetchError> {
    let _one = DEEPENING.lock().unwrap_or_else(|e| e.into_inner());
    if is_complete(store, commit) {
        return Ok(());
    }
    let short = &commit[..commit.len().min(12)];
    let origin: Origin = std::fs::read(origin_file(store, commit))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| {
            FetchError::Failed(format!(
                "the store holds the base {short} without its history, and not where it came from"
            ))
        })?;
    // Into a ref of its own, removed again: the base's ref keeps the commit the run resolved
    // even when the remote ref has moved since.
    let scratch = format!("refs/rfl/deepen/{commit}");
    let fetched = fetch_ref_at(store, Depth::Unshallow, &origin.url, &origin.src, &scratch);
    let _ = store.git(&["update-ref", "-d", &scratch]);
    fetched?;
    // Whole means no shallow commit among its ancestors, and every ancestor there to read
    // (git drops a shallow line on `--unshallow` whatever the server then sent).
    let reads_back = || {
        proc::run_captured(
            store.cmd().args(["rev-list", "--count", commit]),
            Some(std::time::Duration::from_secs(300)),
        )
        .is_ok_and(|o| o.outcome.success())
    };
    if is_complete(store, commit) && reads_back() {
        Ok(())
    } else {
        Err(FetchError::Failed(format!(
            "{} {} no longer holds the history of the base {short}",
            origin.url, origin.src
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::testing::git;
    use std::path::Path;

    /// An upstream with `n` commits on master, and an empty store beside it.
    fn upstream(t: &Path, n: usize) -> (PathBuf, String, Store) {
        let up = t.join("up");
        std::fs::create_dir_all(&up).unwrap();
        git(&up, &["init", "-q", "-b", "master"]);
        for i in 0..n {
            git(
                &up,
                &["commit", "-q", "--allow-empty", "-m", &format!("c{i}")],
            );
        }
        let store = Store::open(&crate::sys::paths::Cache::new(Some(&t.join("cache")))).unwrap();
        let url = format!("file://{}", up.display());
        (up, url, store)
    }

    fn count(store: &Store, r: &str) -> String {
        store
            .git(&["rev-list", "--count", r])
            .unwrap()
            .trim()
            .to_string()
    }

    /// The base comes shallow; its history, once fetched, stays: the next fetch of the base
    /// brings what is new and cuts nothing.
    #[test]
    fn a_base_comes_shallow_and_once_whole_stays_whole() {
        let t = tempfile::tempdir().unwrap();
        let (up, url, store) = upstream(t.path(), 5);
        let dest = "refs/rfl/remote/x/b";
        let b = fetch_base(&store, &url, "refs/heads/master", dest).unwrap();
        assert_eq!(count(&store, dest), "1");
        assert!(!is_complete(&store, &b));
        complete(&store, &b).unwrap();
        assert!(is_complete(&store, &b));
        assert_eq!(count(&store, dest), "5");
        assert_eq!(store.rev(dest).as_deref(), Some(b.as_str()));
        git(&up, &["commit", "-q", "--allow-empty", "-m", "c5"]);
        let b2 = fetch_base(&store, &url, "refs/heads/master", dest).unwrap();
        assert_ne!(b, b2);
        assert!(is_complete(&store, &b2));
        assert_eq!(count(&store, dest), "6");
    }

    /// A branch rebased since the base was fetched no longer holds the base's history: that
    /// is said, and the base is not taken for whole.
    #[test]
    fn a_base_its_remote_no_longer_holds_cannot_be_made_whole() {
        let t = tempfile::tempdir().unwrap();
        let (up, url, store) = upstream(t.path(), 3);
        let b = fetch_base(&store, &url, "refs/heads/master", "refs/rfl/remote/x/b").unwrap();
        // A history rewritten from its root, the old commits pruned.
        git(&up, &["checkout", "-q", "--orphan", "new"]);
        git(&up, &["commit", "-q", "--allow-empty", "-m", "rewritten"]);
        git(&up, &["branch", "-q", "-M", "new", "master"]);
        git(&up, &["reflog", "expire", "--expire=now", "--all"]);
        git(&up, &["gc", "-q", "--prune=now"]);
        match complete(&store, &b) {
            Err(FetchError::Failed(m)) => assert!(
                m.starts_with("git fetch file://") || m.contains("no longer holds"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
        assert!(!is_complete(&store, &b));
        // And a base whose remote is not on record says so.
        std::fs::remove_file(origin_file(&store, &b)).unwrap();
        match complete(&store, &b) {
            Err(FetchError::Failed(m)) => assert!(m.contains("not where it came from"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
