//! The apply stage: a patchset put on its base in a worktree (`git am -3` for mails, a
//! cherry-pick of merge-base..head for commits, a path checked in the store for a file link),
//! a series already in the base told from a conflict, and the patchset it made: its commits,
//! the SHA-256 of the bytes of its `git diff --binary`, and each patch's hash.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::model::outcome::{Fault, Patchset, Stage, StageResult, Status};
use crate::sources::fetch::{FetchError, Fetched};
use crate::sources::history;
use crate::sources::in_base::{self, Lookup};
use crate::sys::proc;
use crate::sys::store::Store;

/// Fixed identity for commits the harness makes (am, cherry-pick): same input, same SHA.
const IDENT: [(&str, &str); 6] = [
    ("GIT_AUTHOR_NAME", "RFL harness"),
    ("GIT_AUTHOR_EMAIL", "rfl-harness@invalid"),
    ("GIT_COMMITTER_NAME", "RFL harness"),
    ("GIT_COMMITTER_EMAIL", "rfl-harness@invalid"),
    ("GIT_COMMITTER_DATE", "2000-01-01T00:00:00+0000"),
    ("GIT_TERMINAL_PROMPT", "0"),
];

/// Put the patchset on the base in `worktree`; returns the apply stage and the patchset.
pub fn apply(
    store: &Store,
    worktree: &Path,
    base_commit: &str,
    fetched: &Fetched,
    log: &Path,
) -> (StageResult, Option<Patchset>) {
    let start = Instant::now();
    let git = |args: &[&str]| {
        let mut c = Command::new("git");
        c.arg("-C").arg(worktree).args(args);
        for (k, v) in IDENT {
            c.env(k, v);
        }
        c
    };
    // Where the in-base check splits the series, beside the log (never in the worktree).
    let scratch = log.with_file_name("in-base.tmp");
    let finish = |mut r: StageResult| {
        r.duration_s = start.elapsed().as_secs_f64();
        r.log = log.is_file().then(|| {
            log.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
        r
    };
    // A file link is checked in the store: no worktree needed.
    if !matches!(fetched, Fetched::PathCheck(_)) {
        if let Err(e) = store.worktree_at(worktree, base_commit) {
            return (
                finish(StageResult::error(Stage::Apply, format!("worktree: {e:#}"))),
                None,
            );
        }
    }
    match fetched {
        Fetched::PathCheck(path) => {
            let present = store.path_exists(base_commit, path);
            let r = if present {
                StageResult::new(
                    Stage::Apply,
                    Status::Pass,
                    format!("{path} is present in the base"),
                )
            } else {
                StageResult::new(
                    Stage::Apply,
                    Status::Fail,
                    format!("{path} is absent from the base"),
                )
                .with_fault(Fault::Code)
            };
            (finish(r), None)
        }
        Fetched::Mbox(_) | Fetched::Series { .. } => {
            let files = match fetched {
                Fetched::Mbox(files) => files.clone(),
                Fetched::Series { mbox, .. } => vec![mbox.clone()],
                _ => unreachable!("matched above"),
            };
            // `git am -3` falls back on the blobs the patch names, which only the base's
            // history holds: on a shallow base, a series that does not apply is tried again
            // once that history is in the store.
            let mut tried = am_all(&git, &files, log);
            if tried.is_err() && !history::is_complete(store, base_commit) {
                if let Err(e) = history::complete(store, base_commit).and_then(|()| {
                    store
                        .worktree_at(worktree, base_commit)
                        .map_err(|e| FetchError::Failed(format!("worktree: {e:#}")))
                }) {
                    let (text, f) = tried.unwrap_err();
                    let r = inconclusive(conflict_result(&text, &f), &e);
                    return (finish(r), None);
                }
                tried = am_all(&git, &files, log);
            }
            if let Err((text, f)) = tried {
                let series = in_base::Series::Mails(&files);
                let r = match in_base::find(store, worktree, base_commit, &series, &scratch) {
                    Lookup::In(how) => StageResult::already_in_base(how),
                    Lookup::NotIn => conflict_result(&text, &f),
                    Lookup::Unknown(e) => inconclusive(conflict_result(&text, &f), &e),
                };
                return (finish(r), None);
            }
            let head = proc::output(&mut git(&["rev-parse", "HEAD"]))
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            (
                finish(applied(worktree, base_commit, &head)),
                patchset(worktree, base_commit, &head),
            )
        }
        Fetched::Commit(head) => {
            // The patchset is merge-base(base, head)..head; a head that already holds the base
            // applies as it is.
            let merge_base = || {
                proc::output(&mut git(&["merge-base", base_commit, head]))
                    .map(|s| s.trim().to_string())
            };
            let mut mb = merge_base();
            // On a shallow base only the base itself can be found: any other answer (none, or
            // a commit below a shallow boundary) is asked again with the base's whole history.
            if mb.as_deref().map_or(true, |m| m != base_commit)
                && !history::is_complete(store, base_commit)
            {
                if let Err(e) = history::complete(store, base_commit) {
                    let r = StageResult::new(
                        Stage::Apply,
                        Status::Error,
                        format!(
                            "where {} meets the base is unknown: the base's history could not be fetched ({})",
                            &head[..head.len().min(12)],
                            e.message()
                        ),
                    )
                    .with_fault(history_fault(&e));
                    return (finish(r), None);
                }
                mb = merge_base();
            }
            let Ok(mb) = mb else {
                return (
                    finish(
                        StageResult::new(
                            Stage::Apply,
                            Status::Fail,
                            format!("{head} shares no history with the base"),
                        )
                        .with_fault(Fault::Code),
                    ),
                    None,
                );
            };
            let final_head = if mb == *head {
                // The head is an ancestor of the base: everything is already there.
                let how = format!(
                    "already in the base: {} is an ancestor of it",
                    &head[..head.len().min(12)]
                );
                return (
                    finish(StageResult::already_in_base(how)),
                    patchset(worktree, base_commit, base_commit),
                );
            } else if mb == base_commit {
                if let Err(e) = proc::output(&mut git(&["checkout", "--quiet", "--detach", head])) {
                    return (
                        finish(StageResult::error(
                            Stage::Apply,
                            format!("checkout {head}: {e:#}"),
                        )),
                        None,
                    );
                }
                head.clone()
            } else {
                let mut c = git(&["cherry-pick", "--allow-empty", "--keep-redundant-commits"]);
                c.arg(format!("{mb}..{head}"));
                let o = proc::run_logged(&mut c, log, Some(Duration::from_secs(1800)));
                if !o.as_ref().is_ok_and(|o| o.success()) {
                    let text = std::fs::read_to_string(log).unwrap_or_default();
                    let _ = proc::run_captured(
                        &mut git(&["cherry-pick", "--abort"]),
                        Some(Duration::from_secs(60)),
                    );
                    let series = in_base::Series::Commits { from: &mb, head };
                    let r = match in_base::find(store, worktree, base_commit, &series, &scratch) {
                        Lookup::In(how) => StageResult::already_in_base(how),
                        Lookup::NotIn => conflict_result(&text, head),
                        Lookup::Unknown(e) => inconclusive(conflict_result(&text, head), &e),
                    };
                    return (finish(r), None);
                }
                proc::output(&mut git(&["rev-parse", "HEAD"]))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default()
            };
            (
                finish(applied(worktree, base_commit, &final_head)),
                patchset(worktree, base_commit, &final_head),
            )
        }
    }
}

/// Every mail `git am -3`'d in order; the log and the file of the first that did not apply
/// (its am aborted).
fn am_all(
    git: &dyn Fn(&[&str]) -> Command,
    files: &[std::path::PathBuf],
    log: &Path,
) -> Result<(), (String, String)> {
    for f in files {
        let mut c = git(&["am", "-3", "--keep-non-patch"]);
        c.arg(f);
        let o = proc::run_logged(&mut c, log, Some(Duration::from_secs(600)));
        if !o.as_ref().is_ok_and(|o| o.success()) {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let _ = proc::run_captured(&mut git(&["am", "--abort"]), Some(Duration::from_secs(60)));
            return Err((text, f.display().to_string()));
        }
    }
    Ok(())
}

/// Whose fault it is that a base's history could not be had: the remote's when it did not
/// answer (the cell is `unreachable`), else the source's (the remote no longer has it).
fn history_fault(e: &FetchError) -> Fault {
    match e {
        FetchError::Unreachable(_) => Fault::Remote,
        FetchError::Failed(_) => Fault::Source,
    }
}

/// A series that does not apply to a shallow base whose history could not be fetched: with it,
/// `git am -3` might have applied it, or the in-base lookup found it. Neither a conflict nor
/// "in the base" can be said, so the stage is an error and says why.
fn inconclusive(conflict: StageResult, e: &FetchError) -> StageResult {
    StageResult::new(
        Stage::Apply,
        Status::Error,
        format!(
            "{}; inconclusive: the base's history, which could show the series applies or is already in the base, could not be fetched ({})",
            conflict.summary,
            e.message()
        ),
    )
    .with_fault(history_fault(e))
}

/// The apply stage of a series that applied: in the base already when, applied, it changes
/// nothing (`git am` skips a patch it finds applied; a cherry-pick keeps it as an empty
/// commit).
fn applied(worktree: &Path, base: &str, head: &str) -> StageResult {
    let git = || {
        let mut c = Command::new("git");
        c.arg("-C").arg(worktree);
        c
    };
    let n = proc::output(git().args(["rev-list", "--count", &format!("{base}..{head}")]))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    let unchanged = proc::run_captured(
        git().args(["diff", "--quiet", "--no-ext-diff", base, head]),
        None,
    )
    .is_ok_and(|o| o.outcome.success());
    if unchanged {
        return StageResult::already_in_base(match n.as_str() {
            "0" => "already in the base: every patch was found applied".to_string(),
            _ => format!("already in the base: applied, its {n} commits change nothing"),
        });
    }
    StageResult::new(Stage::Apply, Status::Pass, format!("applied {n} commits"))
}

fn conflict_result(log: &str, what: &str) -> StageResult {
    let conflict = [
        "Patch failed at",
        "CONFLICT",
        "patch failed",
        "does not apply",
        "could not apply",
        "patch does not apply",
        "corrupt patch",
        "Patch is empty",
    ]
    .iter()
    .any(|k| log.contains(k));
    if !conflict {
        // git itself failed (a missing file, a broken worktree): not the patch's fault.
        let last = log
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty() && !l.starts_with('$'))
            .unwrap_or("")
            .trim();
        return StageResult::error(Stage::Apply, format!("applying {what} failed: {last}"));
    }
    let files: Vec<String> = log
        .lines()
        .filter_map(|l| {
            if l.starts_with("CONFLICT (") {
                l.split("Merge conflict in ")
                    .nth(1)
                    .or_else(|| l.split_once("): ").map(|(_, r)| r))
            } else {
                l.strip_prefix("error: patch failed: ")
                    .map(|r| r.rsplit_once(':').map_or(r, |(f, _)| f))
            }
        })
        .map(|s| s.trim().to_string())
        .fold(Vec::new(), |mut v, f| {
            if !v.contains(&f) {
                v.push(f);
            }
            v
        });
    let first = log
        .lines()
        .find(|l| l.starts_with("Patch failed at") || l.starts_with("error: could not apply"))
        .unwrap_or("")
        .trim()
        .to_string();
    let mut r = StageResult::new(
        Stage::Apply,
        Status::Fail,
        format!(
            "conflict{}{}",
            if files.is_empty() {
                String::new()
            } else {
                format!(" in {}", files.join(", "))
            },
            if first.is_empty() {
                format!(" applying {what}")
            } else {
                format!(": {first}")
            }
        ),
    );
    r.fault = Some(Fault::Code);
    r
}

/// The commits base..head, a content hash of their diff, and a hash of each commit's patch.
pub fn patchset(worktree: &Path, base: &str, head: &str) -> Option<Patchset> {
    let git = || {
        let mut c = Command::new("git");
        c.arg("-C").arg(worktree);
        c
    };
    let commits: Vec<String> =
        proc::output(git().args(["rev-list", "--reverse", &format!("{base}..{head}")]))
            .ok()?
            .lines()
            .map(str::to_string)
            .collect();
    // The diff's bytes as git wrote them: a patch may hold bytes that are not UTF-8, and two
    // such patchsets must not hash alike. Blob names in full: git abbreviates them to a length
    // that grows with the number of objects in the store, so a shallow store and a full one
    // would hash the same patchset apart.
    let diff =
        proc::output_bytes(git().args(["diff", "--binary", "--full-index", base, head])).ok()?;
    // SHA-256 of the whole diff: the same change on the same base hashes the same anywhere.
    // It keys the result cache.
    let hash = sha256_hex(&diff);
    // Each commit as the patch a mail would carry, with neither its commit id nor git's
    // version in it, so that the same patch hashes alike after a rebase and on any git.
    let mut patch_hashes = Vec::with_capacity(commits.len());
    for c in &commits {
        let patch = proc::output_bytes(git().args([
            "format-patch",
            "--stdout",
            "--zero-commit",
            "--no-signature",
            "--full-index",
            "-1",
            c,
        ]))
        .ok()?;
        patch_hashes.push(sha256_hex(&patch));
    }
    Some(Patchset {
        hash,
        commits,
        head: head.to_string(),
        patch_hashes,
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Files the patchset changes.
pub fn changed_files(worktree: &Path, base: &str, head: &str) -> Vec<String> {
    proc::output(Command::new("git").arg("-C").arg(worktree).args([
        "diff",
        "--name-only",
        base,
        head,
    ]))
    .map(|s| s.lines().map(str::to_string).collect())
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::history;
    use crate::sys::testing::git;

    /// On a shallow base whose remote is gone, neither a branch from an older commit nor a
    /// mail that does not apply gets an answer the missing history could change: each is an
    /// error that says the history could not be fetched.
    #[test]
    fn without_the_base_history_apply_is_inconclusive_not_a_conflict() {
        let t = tempfile::tempdir().unwrap();
        let up = t.path().join("up");
        std::fs::create_dir_all(&up).unwrap();
        git(&up, &["init", "-q", "-b", "master"]);
        std::fs::write(up.join("f.txt"), "1\n2\n3\n").unwrap();
        git(&up, &["add", "."]);
        git(&up, &["commit", "-qm", "root"]);
        git(&up, &["branch", "old"]);
        std::fs::write(up.join("f.txt"), "1\ntwo\n3\n").unwrap();
        git(&up, &["commit", "-qam", "two"]);
        // On the old point: a branch, and a mail changing the line `two` changed.
        git(&up, &["checkout", "-q", "old"]);
        std::fs::write(up.join("g.txt"), "g\n").unwrap();
        git(&up, &["add", "."]);
        git(&up, &["commit", "-qm", "g"]);
        std::fs::write(up.join("f.txt"), "1\nzwei\n3\n").unwrap();
        git(&up, &["commit", "-qam", "zwei"]);
        let mail = t.path().join("zwei.patch");
        std::fs::write(&mail, git(&up, &["format-patch", "--stdout", "-1"]) + "\n").unwrap();
        git(&up, &["checkout", "-q", "master"]);
        let store = Store::open(&crate::sys::paths::Cache::new(Some(
            &t.path().join("cache"),
        )))
        .unwrap();
        let url = format!("file://{}", up.display());
        let base = history::fetch_base(&store, &url, "refs/heads/master", "refs/rfl/b").unwrap();
        let head =
            crate::sources::git::fetch_ref(&store, &url, "refs/heads/old", "refs/e").unwrap();
        std::fs::rename(&up, t.path().join("gone")).unwrap();
        let wt = t.path().join("wt");
        let log = t.path().join("apply.log");
        let (r, p) = apply(&store, &wt, &base, &Fetched::Commit(head.clone()), &log);
        assert_eq!(
            (r.status, r.fault, p.is_none()),
            (Status::Error, Some(Fault::Source), true)
        );
        assert!(
            r.summary
                .starts_with(&format!("where {} meets the base is unknown", &head[..12])),
            "{}",
            r.summary
        );
        let (r, _) = apply(&store, &wt, &base, &Fetched::Mbox(vec![mail]), &log);
        assert_eq!((r.status, r.fault), (Status::Error, Some(Fault::Source)));
        assert!(r.summary.contains("; inconclusive: "), "{}", r.summary);
        // With the remote back, the answer is the full history's: the branch's `zwei` conflicts
        // with the base's `two`.
        std::fs::rename(t.path().join("gone"), &up).unwrap();
        let (r, p) = apply(
            &store,
            &wt,
            &base,
            &Fetched::Commit(head),
            &t.path().join("b.log"),
        );
        assert_eq!(
            (r.status, r.fault),
            (Status::Fail, Some(Fault::Code)),
            "{}",
            r.summary
        );
        assert!(r.summary.starts_with("conflict in f.txt"), "{}", r.summary);
        assert!(p.is_none());
        assert!(history::is_complete(&store, &base));
    }
}
