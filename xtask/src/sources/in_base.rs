//! Is a series already in its base? Asked when it does not apply: every patch's diff
//! reverse-applies to the base, or every patch's patch-id is a commit's in the base's recent
//! history. Then nothing is built, and the cell's health is `in-base`, not a conflict. A
//! shallow base's history is fetched first (`sources::history`): when it cannot be, the
//! lookup is inconclusive, never "not in the base".

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::sources::history;
use crate::sources::remote::FetchError;
use crate::sys::proc;
use crate::sys::store::Store;

/// How far back the base's history is searched for the series' patch-ids: its last commits
/// that touch the series' files, within a deadline, so a long history costs bounded time.
/// The root commit is never diffed: an offline import's is the whole tree.
const HISTORY_COMMITS: u32 = 3000;
const DEADLINE: Duration = Duration::from_secs(120);

/// A series as the apply stage has it.
pub enum Series<'a> {
    /// Mbox or patch files, in order.
    Mails(&'a [PathBuf]),
    /// The commits `from..head` of a git source.
    Commits { from: &'a str, head: &'a str },
}

/// What the lookup says.
#[derive(Debug)]
pub enum Lookup {
    /// In the base; how it was found (the apply stage's summary).
    In(String),
    /// Not found: not in the base as far as the lookup reaches (the base's last
    /// [`HISTORY_COMMITS`] that touch the series' files, within [`DEADLINE`]).
    NotIn,
    /// The base's history, which the lookup reads, could not be fetched.
    Unknown(FetchError),
}

/// Is the series in the base? `scratch` is a folder of the harness's own, removed again: the
/// patches one a file, an index. The base's history is fetched into `store` first when it
/// holds the base shallow.
pub fn find(store: &Store, worktree: &Path, base: &str, series: &Series, scratch: &Path) -> Lookup {
    let _ = std::fs::remove_dir_all(scratch);
    let found = match std::fs::create_dir_all(scratch).and_then(|()| std::fs::canonicalize(scratch))
    {
        Ok(dir) => find_in(store, worktree, base, series, &dir),
        Err(_) => Lookup::NotIn,
    };
    let _ = std::fs::remove_dir_all(scratch);
    found
}

fn find_in(store: &Store, worktree: &Path, base: &str, series: &Series, dir: &Path) -> Lookup {
    let Some(patches) = patches(worktree, series, dir).filter(|p| !p.is_empty()) else {
        return Lookup::NotIn;
    };
    if reverse_applies(worktree, base, &patches, dir) {
        let how = match (series, patches.len()) {
            (Series::Commits { from, head }, _) => {
                format!(
                    "the diff of {}..{} reverse-applies to it",
                    short(from),
                    short(head)
                )
            }
            (Series::Mails(_), 1) => "its patch reverse-applies to it".to_string(),
            (Series::Mails(_), n) => format!("its {n} patches reverse-apply to it"),
        };
        return Lookup::In(format!("already in the base: {how}"));
    }
    // The patch-ids are looked for in the base's history: a shallow base's is fetched first,
    // since a commit missing from the store would read as a patch not in the base.
    if let Err(e) = history::complete(store, base) {
        return Lookup::Unknown(e);
    }
    match in_history(worktree, base, series, &patches) {
        Some(commits) => Lookup::In(format!(
            "already in the base (commits {})",
            shortlist(&commits)
        )),
        None => Lookup::NotIn,
    }
}

fn git(worktree: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C").arg(worktree);
    c
}

fn succeeds(c: &mut Command) -> bool {
    proc::run_captured(c, Some(DEADLINE)).is_ok_and(|o| o.outcome.success())
}

/// The series as patch files in `dir`: each mail with a diff (a cover letter has none), or a
/// git source's whole diff as one patch (none when it changes nothing).
fn patches(worktree: &Path, series: &Series, dir: &Path) -> Option<Vec<PathBuf>> {
    match series {
        Series::Mails(files) => {
            let into = dir.join("mails");
            std::fs::create_dir_all(&into).ok()?;
            // `-b`: a patch file that is one mail without a `From ` line is one mail.
            let mut c = git(worktree);
            c.arg("mailsplit")
                .arg("-b")
                .arg(format!("-o{}", into.display()))
                .arg("--")
                .args(*files);
            if !succeeds(&mut c) {
                return None;
            }
            let mut mails: Vec<PathBuf> = std::fs::read_dir(&into)
                .ok()?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| std::fs::read(p).is_ok_and(|b| holds_diff(&b)))
                .collect();
            mails.sort();
            Some(mails)
        }
        Series::Commits { from, head } => {
            let diff = proc::output_bytes(git(worktree).args([
                "diff",
                "--binary",
                "--no-color",
                "--no-ext-diff",
                from,
                head,
            ]))
            .ok()?;
            let p = dir.join("series.diff");
            std::fs::write(&p, &diff).ok()?;
            Some((!diff.is_empty()).then_some(p).into_iter().collect())
        }
    }
}

/// A mail with a diff in it: a `diff ` line, or a `+++ ` line.
fn holds_diff(mail: &[u8]) -> bool {
    mail.split(|b| *b == b'\n')
        .any(|l| l.starts_with(b"diff ") || l.starts_with(b"+++ "))
}

/// Do the patches undo cleanly from the base, last first? Each reverse patch goes into an
/// index of its own that starts at the base (never the worktree), so a file that two patches
/// change is undone step by step.
fn reverse_applies(worktree: &Path, base: &str, patches: &[PathBuf], dir: &Path) -> bool {
    let index = dir.join("index");
    let indexed = |args: &[&str]| {
        let mut c = git(worktree);
        c.env("GIT_INDEX_FILE", &index).args(args);
        c
    };
    succeeds(&mut indexed(&["read-tree", base]))
        && patches.iter().rev().all(|p| {
            let mut c = indexed(&[
                "apply",
                "--reverse",
                "--cached",
                "--whitespace=nowarn",
                "--",
            ]);
            succeeds(c.arg(p))
        })
}

/// The base's commits that carry the series' patches, when every patch's patch-id is a
/// commit's among the base's last [`HISTORY_COMMITS`].
fn in_history(
    worktree: &Path,
    base: &str,
    series: &Series,
    patches: &[PathBuf],
) -> Option<Vec<String>> {
    let ours = match series {
        // Mail by mail: `git patch-id` starts a patch only at a `From <sha>` line, which an
        // mbox from lore does not have. A mail whose diff gets no patch-id (one without
        // `diff ` headers, which `git am` still applies) makes the lookup inconclusive: the
        // others matching says nothing of it.
        Series::Mails(_) => {
            let files: Vec<&str> = patches.iter().map(|f| f.to_str()).collect::<Option<_>>()?;
            patch_ids(
                worktree,
                "for f; do id=$(git patch-id --stable < \"$f\") || exit 1; \
                 [ -n \"$id\" ] || exit 1; printf '%s\\n' \"$id\"; done",
                &files,
            )?
        }
        Series::Commits { from, head } => {
            let range = format!("{from}..{head}");
            patch_ids(
                worktree,
                &format!("{LOG} \"$1\" | git patch-id --stable"),
                &[&range],
            )?
        }
    };
    if ours.is_empty() {
        return None;
    }
    // Only the base's commits that touch the series' files: far fewer to diff, so the search
    // reaches further back.
    let paths = touched_paths(patches);
    let mut args = vec![HISTORY_COMMITS.to_string(), base.to_string()];
    args.extend(paths);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let script = format!(
        "n=\"$1\"; b=\"$2\"; shift 2; {LOG} --max-count=\"$n\" \"$b\" -- \"$@\" | git patch-id --stable"
    );
    let theirs: BTreeMap<String, String> =
        patch_ids(worktree, &script, &args)?.into_iter().collect();
    let mut found: Vec<String> = Vec::new();
    for (id, _) in &ours {
        let c = theirs.get(id)?;
        if !found.contains(c) {
            found.push(c.clone());
        }
    }
    Some(found)
}

/// The files a patch names on its `--- a/` and `+++ b/` lines, each once.
fn touched_paths(patches: &[PathBuf]) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for p in patches {
        let text = std::fs::read(p).unwrap_or_default();
        for l in text.split(|b| *b == b'\n') {
            let Some(path) = l
                .strip_prefix(b"--- a/")
                .or_else(|| l.strip_prefix(b"+++ b/"))
            else {
                continue;
            };
            let path = String::from_utf8_lossy(path).trim_end().to_string();
            if !path.is_empty() && !paths.contains(&path) {
                paths.push(path);
            }
        }
    }
    paths
}

/// `git log -p` as `git patch-id` reads it, whatever the user's configuration says of colour,
/// decorations, signatures, prefixes or the root commit.
const LOG: &str = "git -c log.showRoot=false log -p --no-merges --no-color --no-ext-diff \
                   --no-textconv --no-decorate --no-show-signature --format=medium \
                   --src-prefix=a/ --dst-prefix=b/";

/// The `(patch-id, commit)` lines a shell script prints, run in the worktree under the
/// deadline. The arguments reach it as `$1`, `$2`, …: the shell never parses them.
fn patch_ids(worktree: &Path, script: &str, args: &[&str]) -> Option<Vec<(String, String)>> {
    let mut c = Command::new("sh");
    // A path from a patch is a path, never pathspec magic (`:(…)`).
    c.current_dir(worktree)
        .env("GIT_LITERAL_PATHSPECS", "1")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args);
    let o = proc::run_captured(&mut c, Some(DEADLINE)).ok()?;
    if !o.outcome.success() {
        return None;
    }
    Some(
        o.stdout
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(id, commit)| (id.to_string(), commit.trim().to_string()))
            .collect(),
    )
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// At most five commits, shortened; how many in all when there are more.
fn shortlist(commits: &[String]) -> String {
    let mut s: Vec<&str> = commits.iter().take(5).map(|c| short(c)).collect();
    let more = format!("… {} in all", commits.len());
    if commits.len() > 5 {
        s.push(&more);
    }
    s.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A series whose first mail is in the base and whose second is a diff without `diff `
    /// headers (no patch-id) that conflicts: not "already in the base".
    #[test]
    fn a_mail_without_a_patch_id_makes_the_lookup_inconclusive() {
        let t = tempfile::tempdir().unwrap();
        let repo = t.path().join("repo");
        let run = |args: &[&str]| crate::sys::testing::git_out(&repo, args);
        std::fs::create_dir_all(&repo).unwrap();
        run(&["init", "-q"]);
        std::fs::write(repo.join("f.txt"), "one\n").unwrap();
        run(&["add", "."]);
        run(&["commit", "-qm", "root"]);
        std::fs::write(repo.join("f.txt"), "two\n").unwrap();
        run(&["commit", "-qam", "f: two"]);
        // An unrelated commit on top, so the patch does not simply reverse-apply as a series.
        std::fs::write(repo.join("h.txt"), "h\n").unwrap();
        run(&["add", "."]);
        run(&["commit", "-qm", "h"]);
        let first = t.path().join("0001.patch");
        std::fs::write(&first, run(&["format-patch", "--stdout", "HEAD~2..HEAD~1"])).unwrap();
        let base = run(&["rev-parse", "HEAD"]).trim().to_string();
        let plain = "From: a <a@invalid>\nSubject: [PATCH 2/2] g\n\n---\n--- a/g.txt\n+++ b/g.txt\n@@ -1 +1 @@\n-zzz\n+yyy\n";
        let second = t.path().join("0002.patch");
        std::fs::write(&second, plain).unwrap();
        let scratch = t.path().join("scratch");
        let store = Store {
            git_dir: repo.join(".git"),
        };
        // The first mail alone is found in the base, so the lookup itself works here.
        let alone = [first.clone()];
        assert!(matches!(
            find(&store, &repo, &base, &Series::Mails(&alone), &scratch),
            Lookup::In(_)
        ));
        let both = [first, second];
        assert!(matches!(
            find(&store, &repo, &base, &Series::Mails(&both), &scratch),
            Lookup::NotIn
        ));
    }

    /// A base held shallow whose remote is gone: a patch of its history is neither found nor
    /// "not in the base", and the lookup says why. With the remote back, it is found.
    #[test]
    fn a_shallow_base_whose_history_cannot_be_fetched_is_inconclusive() {
        let t = tempfile::tempdir().unwrap();
        let up = t.path().join("up");
        let run = crate::sys::testing::git_out;
        std::fs::create_dir_all(&up).unwrap();
        run(&up, &["init", "-q", "-b", "master"]);
        std::fs::write(up.join("f.txt"), "1\n2\n3\n").unwrap();
        run(&up, &["add", "."]);
        run(&up, &["commit", "-qm", "root"]);
        std::fs::write(up.join("f.txt"), "1\ntwo\n3\n").unwrap();
        run(&up, &["commit", "-qam", "f: two"]);
        let patch = t.path().join("0001.patch");
        std::fs::write(&patch, run(&up, &["format-patch", "--stdout", "-1"])).unwrap();
        // A later change of the same line: the patch no longer reverse-applies.
        std::fs::write(up.join("f.txt"), "1\nTWO\n3\n").unwrap();
        run(&up, &["commit", "-qam", "f: TWO"]);
        let store = Store::open(&crate::sys::paths::Cache::new(Some(
            &t.path().join("cache"),
        )))
        .unwrap();
        let url = format!("file://{}", up.display());
        let base = history::fetch_base(&store, &url, "refs/heads/master", "refs/rfl/b").unwrap();
        assert!(!history::is_complete(&store, &base));
        let wt = t.path().join("wt");
        store.worktree_at(&wt, &base).unwrap();
        let scratch = t.path().join("scratch");
        let mails = [patch];
        let series = Series::Mails(&mails);
        let moved = t.path().join("gone");
        std::fs::rename(&up, &moved).unwrap();
        match find(&store, &wt, &base, &series, &scratch) {
            Lookup::Unknown(e) => assert!(e.message().contains("does not exist"), "{e:?}"),
            other => panic!("{other:?}"),
        }
        std::fs::rename(&moved, &up).unwrap();
        match find(&store, &wt, &base, &series, &scratch) {
            Lookup::In(how) => assert!(how.starts_with("already in the base (commits "), "{how}"),
            other => panic!("{other:?}"),
        }
        assert!(history::is_complete(&store, &base));
    }

    #[test]
    fn a_cover_letter_holds_no_diff_and_a_patch_does() {
        assert!(!holds_diff(
            b"Subject: [PATCH 0/2] x\n\nThe series does y.\n"
        ));
        assert!(holds_diff(
            b"Subject: [PATCH 1/2] x\n\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n"
        ));
        assert!(holds_diff(
            b"Subject: x\n\n--- f.orig\n+++ f\n@@ -1 +1 @@\n"
        ));
    }

    #[test]
    fn the_paths_a_patch_touches_are_read_from_its_file_lines_once_each() {
        let dir = std::env::temp_dir().join(format!("rfl-in-base-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("0001");
        std::fs::write(
            &p,
            "Subject: x\n\n--- a/rust/a.rs\n+++ b/rust/a.rs\n@@\n--- /dev/null\n+++ b/new file.rs\t\n--- a/gone.rs\n+++ /dev/null\n",
        )
        .unwrap();
        let paths = touched_paths(&[p]);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(paths, ["rust/a.rs", "new file.rs", "gone.rs"]);
    }

    #[test]
    fn a_long_list_of_commits_is_cut_to_five() {
        let c: Vec<String> = (0..7).map(|i| format!("{i}{}", "a".repeat(39))).collect();
        assert_eq!(
            shortlist(&c),
            "0aaaaaaaaaaa, 1aaaaaaaaaaa, 2aaaaaaaaaaa, 3aaaaaaaaaaa, 4aaaaaaaaaaa, … 7 in all"
        );
        assert_eq!(shortlist(&c[..1]), "0aaaaaaaaaaa");
    }
}
