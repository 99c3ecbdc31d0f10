//! Bases and patchsets into the object store, and patchsets onto their base in a worktree.
//! Remotes answer within seconds when unreachable: a DNS + TCP probe with a short timeout
//! comes before any git or HTTP traffic.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::model::matrix::{BaseKind, Loaded, Source};
use crate::model::outcome::{Fault, Patchset, Stage, StageResult, Status};
use crate::sources::in_base;
pub use crate::sources::remote::{probe, FetchError};
use crate::sys::proc;
use crate::sys::store::{base_ref, Store};

const FETCH_DEADLINE: Duration = Duration::from_secs(900);
/// Fixed identity for commits the harness makes (am, cherry-pick): same input, same SHA.
const IDENT: [(&str, &str); 6] = [
    ("GIT_AUTHOR_NAME", "RFL harness"),
    ("GIT_AUTHOR_EMAIL", "rfl-harness@invalid"),
    ("GIT_COMMITTER_NAME", "RFL harness"),
    ("GIT_COMMITTER_EMAIL", "rfl-harness@invalid"),
    ("GIT_COMMITTER_DATE", "2000-01-01T00:00:00+0000"),
    ("GIT_TERMINAL_PROMPT", "0"),
];

/// A stable name for a remote URL, used in ref names.
fn url_key(url: &str) -> String {
    url.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A git command in the store that talks to a remote. Git may use only the transports the
/// matrix allows (`GIT_ALLOW_PROTOCOL` overrides any `protocol.*.allow` in the user's config,
/// so `ext::` and other command-running transports stay refused, redirects included).
fn remote_git(store: &Store) -> Command {
    let mut c = store.cmd();
    c.env(
        "GIT_ALLOW_PROTOCOL",
        crate::model::matrix::GIT_TRANSPORTS.join(":"),
    );
    c
}

/// `git fetch -- URL +SRC:DEST`: after `--`, a URL is never read as an option.
fn fetch_cmd(store: &Store, url: &str, src: &str, dest: &str) -> Command {
    let mut c = remote_git(store);
    c.args([
        "-c",
        "http.lowSpeedLimit=1000",
        "-c",
        "http.lowSpeedTime=30",
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        "--",
    ]);
    c.arg(url).arg(format!("+{src}:{dest}"));
    c
}

/// `git ls-remote OPTS -- URL PATTERNS…`.
fn ls_remote_cmd(store: &Store, opts: &[&str], url: &str, patterns: &[&str]) -> Command {
    let mut c = remote_git(store);
    c.arg("ls-remote")
        .args(opts)
        .arg("--")
        .arg(url)
        .args(patterns);
    c
}

/// `git fetch URL +SRC:DEST` into the store; the commit DEST then points to.
pub fn fetch_ref(store: &Store, url: &str, src: &str, dest: &str) -> Result<String, FetchError> {
    probe(url)?;
    let mut c = fetch_cmd(store, url, src, dest);
    let out = proc::run_captured(&mut c, Some(FETCH_DEADLINE))
        .map_err(|e| FetchError::Failed(format!("{e:#}")))?;
    if !out.outcome.success() {
        let err = out.stderr.trim().lines().last().unwrap_or("").to_string();
        let unreachable = [
            "Could not resolve host",
            "Connection refused",
            "Connection timed out",
            "unable to access",
            "Failed to connect",
        ]
        .iter()
        .any(|k| out.stderr.contains(k));
        let msg = format!(
            "git fetch {url} {src}: {}",
            if err.is_empty() {
                out.outcome.describe()
            } else {
                err
            }
        );
        return Err(if unreachable || out.outcome.timed_out {
            FetchError::Unreachable(msg)
        } else {
            FetchError::Failed(msg)
        });
    }
    store
        .rev(dest)
        .ok_or_else(|| FetchError::Failed(format!("{dest} missing after fetch")))
}

/// A resolved base: its commit, and the remote it came from.
pub struct ResolvedBase {
    pub commit: String,
    /// The remote as the matrix names it (before mirror rewrites), when the commit was
    /// fetched from it; `None` for an offline import, whose commit is the harness's own.
    pub url: Option<String>,
}

/// The commit of a base: the offline import when declared and provisioned, else the remote.
pub fn resolve_base(store: &Store, m: &Loaded, name: &str) -> Result<ResolvedBase, FetchError> {
    let Some(b) = m.matrix.bases.get(name) else {
        return Err(FetchError::Failed(format!("base {name} is not declared")));
    };
    if let Some(commit) = store.rev(&base_ref(name)) {
        return Ok(ResolvedBase { commit, url: None });
    }
    let remote =
        try_remote_base(store, m, name, b.kind, &b.url, &b.git_ref).map(|commit| ResolvedBase {
            commit,
            url: Some(b.url.clone()),
        });
    match &b.offline {
        // Not provisioned yet: say how, but still try the remote.
        Some(o) => remote.map_err(|e| {
            FetchError::Failed(format!(
                "{}; and the offline copy ({} from {}) is not provisioned: run `cargo xtask setup`",
                e.message(),
                o.debian_package,
                o.suite
            ))
        }),
        None => remote,
    }
}

fn try_remote_base(
    store: &Store,
    m: &Loaded,
    name: &str,
    kind: BaseKind,
    url: &str,
    r: &str,
) -> Result<String, FetchError> {
    let url = m.rewrite_url(url);
    let src = match kind {
        BaseKind::Branch => format!("refs/heads/{r}"),
        BaseKind::Tag if r.contains('*') => {
            // A series such as `v7.2.*`: the highest matching tag on the remote.
            let tag = newest_tag(store, &url, r)?;
            format!("refs/tags/{tag}")
        }
        BaseKind::Tag => format!("refs/tags/{r}"),
    };
    let sha = fetch_ref(
        store,
        &url,
        &src,
        &format!("refs/rfl/remote/{}/{name}", url_key(&url)),
    )?;
    Ok(sha)
}

fn newest_tag(store: &Store, url: &str, pattern: &str) -> Result<String, FetchError> {
    probe(url)?;
    let mut c = ls_remote_cmd(
        store,
        &["--tags", "--refs"],
        url,
        &[&format!("refs/tags/{pattern}")],
    );
    let out = proc::run_captured(&mut c, Some(Duration::from_secs(120)))
        .map_err(|e| FetchError::Failed(format!("{e:#}")))?;
    if !out.outcome.success() {
        return Err(FetchError::Failed(format!(
            "git ls-remote {url}: {}",
            out.stderr.trim()
        )));
    }
    let mut tags: Vec<String> = out
        .stdout
        .lines()
        .filter_map(|l| l.split("refs/tags/").nth(1))
        .map(str::to_string)
        .collect();
    tags.sort_by(|a, b| {
        crate::model::version::version_cmp(a.trim_start_matches('v'), b.trim_start_matches('v'))
    });
    tags.pop()
        .ok_or_else(|| FetchError::Failed(format!("no tag matching {pattern} on {url}")))
}

/// A patchset as the entry's source gives it.
pub enum Fetched {
    /// A commit whose history holds the patchset on top of some base.
    Commit(String),
    /// Patches to `git am`, in order.
    Mbox(Vec<PathBuf>),
    /// A path that must exist in the base (no patch).
    PathCheck(String),
    /// A mailing-list series, its newest revision's patches in one mbox.
    Series {
        mbox: PathBuf,
        version: u32,
        count: usize,
        base_commit: Option<String>,
        /// Patches of the thread from other senders, left out.
        left_out: Vec<String>,
    },
}

/// Where mailing-list threads are read from (before mirror rewrites).
pub const LORE: &str = "https://lore.kernel.org/";

/// Split a forge URL (`https://host/owner/repo/<kind>/<rest>`) into repo URL and the rest.
fn forge_parts(url: &str) -> Option<(String, String, Vec<String>)> {
    let (scheme, rest) = url.split_once("://")?;
    let segs: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    if segs.len() < 3 {
        return None;
    }
    let repo = format!(
        "{scheme}://{}/{}/{}",
        segs[0],
        segs[1],
        segs[2].trim_end_matches(".git")
    );
    let tail: Vec<String> = segs[3..]
        .iter()
        .filter(|s| **s != "-")
        .map(|s| s.to_string())
        .collect();
    Some((repo, segs[0].to_string(), tail))
}

/// The path a file link names, and the ref it names when there is one.
pub fn file_link_path(url: &str) -> Option<String> {
    let segs: Vec<&str> = url.split("://").nth(1)?.split('/').collect();
    if let Some(i) = segs.iter().position(|s| *s == "source") {
        // elixir: /linux/<version>/source/<path>
        return Some(segs[i + 1..].join("/"));
    }
    if let Some(i) = segs.iter().position(|s| *s == "tree" || *s == "blob") {
        if segs.first().is_some_and(|h| *h == "git.kernel.org") {
            return Some(
                segs[i + 1..]
                    .join("/")
                    .split('?')
                    .next()
                    .unwrap_or("")
                    .to_string(),
            );
        }
        // GitHub blob: /owner/repo/blob/<ref>/<path>; refs may hold slashes, so take the
        // path from the first segment that looks like a kernel top-level folder.
        let tops = [
            "rust",
            "drivers",
            "samples",
            "include",
            "fs",
            "net",
            "kernel",
            "arch",
            "lib",
            "mm",
            "scripts",
            "Documentation",
        ];
        if let Some(j) = segs[i + 1..].iter().position(|s| tops.contains(s)) {
            return Some(segs[i + 1 + j..].join("/"));
        }
    }
    None
}

/// Fetch an entry's source into the store.
pub fn fetch_source(
    store: &Store,
    m: &Loaded,
    id: &str,
    source: &Source,
) -> Result<Fetched, FetchError> {
    let dest = format!("refs/rfl/entries/{id}");
    let rewrite = |u: &str| m.rewrite_url(u);
    match source {
        Source::Mbox(p) => {
            let path = if Path::new(p).is_absolute() {
                PathBuf::from(p)
            } else {
                m.dir().join(p)
            };
            if path.is_dir() {
                let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                    .map_err(|e| FetchError::Failed(format!("{}: {e}", path.display())))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.extension()
                            .is_some_and(|x| x == "patch" || x == "mbox" || x == "eml")
                    })
                    .collect();
                files.sort();
                if files.is_empty() {
                    return Err(FetchError::Failed(format!(
                        "{}: no .patch or .mbox files",
                        path.display()
                    )));
                }
                Ok(Fetched::Mbox(files))
            } else if path.is_file() {
                Ok(Fetched::Mbox(vec![path]))
            } else {
                Err(FetchError::Failed(format!(
                    "{}: no such file or folder",
                    path.display()
                )))
            }
        }
        Source::File(url) => file_link_path(url)
            .map(Fetched::PathCheck)
            .ok_or_else(|| FetchError::Failed(format!("cannot tell the path in {url}"))),
        Source::GithubPr(url) | Source::PrCommit(url) => {
            let (repo, _, tail) = forge_parts(url)
                .ok_or_else(|| FetchError::Failed(format!("not a pull request URL: {url}")))?;
            let n = tail.get(1).cloned().unwrap_or_default();
            let head = fetch_ref(
                store,
                &rewrite(&format!("{repo}.git")),
                &format!("refs/pull/{n}/head"),
                &dest,
            )?;
            match (source, tail.get(3)) {
                (Source::PrCommit(_), Some(sha)) if !sha.chars().all(|c| c.is_ascii_hexdigit()) => {
                    Err(FetchError::Failed(format!(
                        "`{}` in {url} is not a commit SHA",
                        crate::model::matrix::shown(sha)
                    )))
                }
                (Source::PrCommit(_), Some(sha)) => {
                    store.rev(sha).ok_or_else(|| {
                        FetchError::Failed(format!("commit {sha} is not in pull request {n}"))
                    })?;
                    Ok(Fetched::Commit(sha.clone()))
                }
                _ => Ok(Fetched::Commit(head)),
            }
        }
        Source::Commit(url) => {
            let (repo, _, tail) = forge_parts(url)
                .ok_or_else(|| FetchError::Failed(format!("not a commit URL: {url}")))?;
            let sha = tail.last().cloned().unwrap_or_default();
            let sha = fetch_ref(store, &rewrite(&format!("{repo}.git")), &sha, &dest)?;
            Ok(Fetched::Commit(sha))
        }
        Source::Branch(url) => {
            let (repo, _, tail) = forge_parts(url)
                .ok_or_else(|| FetchError::Failed(format!("not a branch URL: {url}")))?;
            let repo_url = rewrite(&format!("{repo}.git"));
            // `tree/<ref>[/<path>]`: the ref is the longest prefix the remote has.
            let words: Vec<String> = tail.iter().skip(1).cloned().collect();
            let branch = longest_remote_ref(store, &repo_url, &words)?;
            Ok(Fetched::Commit(fetch_ref(
                store,
                &repo_url,
                &format!("refs/heads/{branch}"),
                &dest,
            )?))
        }
        Source::Git(v) => {
            let (url, r) = Source::git_parts(v)
                .ok_or_else(|| FetchError::Failed(format!("`{v}` names no ref")))?;
            Ok(Fetched::Commit(fetch_ref(store, &rewrite(url), r, &dest)?))
        }
        Source::Gitlab(url) => {
            let u = rewrite(&format!(
                "{}.git",
                url.trim_end_matches('/').trim_end_matches(".git")
            ));
            Ok(Fetched::Commit(fetch_ref(store, &u, "HEAD", &dest)?))
        }
        Source::Lore(msgid) => {
            let url = m.rewrite_url(&format!(
                "{LORE}all/{}/t.mbox.gz",
                crate::sources::lore::encode_msgid(msgid)
            ));
            let gz = crate::sources::remote::http_get(&url)?;
            let text = crate::sources::lore::gunzip(&gz)
                .map_err(|e| FetchError::Failed(format!("{url}: {e}")))?;
            let series =
                crate::sources::lore::pick_series(&crate::sources::lore::split_mbox(&text), msgid)
                    .map_err(|e| FetchError::Failed(format!("{url}: {e}")))?;
            let dir = store
                .git_dir
                .parent()
                .unwrap_or(Path::new("."))
                .join("lore");
            std::fs::create_dir_all(&dir)
                .map_err(|e| FetchError::Failed(format!("{}: {e}", dir.display())))?;
            let file = dir.join(format!("{id}.mbox"));
            std::fs::write(&file, crate::sources::lore::to_mbox(&series))
                .map_err(|e| FetchError::Failed(format!("{}: {e}", file.display())))?;
            Ok(Fetched::Series {
                mbox: file,
                version: series.version,
                count: series.patches.len(),
                base_commit: series.base_commit,
                left_out: series.left_out,
            })
        }
        Source::Unpublished(w) | Source::None(w) => Err(FetchError::Failed(w.clone())),
    }
}

fn longest_remote_ref(store: &Store, url: &str, words: &[String]) -> Result<String, FetchError> {
    if words.is_empty() {
        return Err(FetchError::Failed(format!(
            "no branch in the URL for {url}"
        )));
    }
    probe(url)?;
    let out = proc::run_captured(
        &mut ls_remote_cmd(store, &["--heads"], url, &[]),
        Some(Duration::from_secs(120)),
    )
    .map_err(|e| FetchError::Failed(format!("{e:#}")))?;
    if !out.outcome.success() {
        return Err(FetchError::Failed(format!(
            "git ls-remote {url}: {}",
            out.stderr.trim()
        )));
    }
    let heads: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.split("refs/heads/").nth(1))
        .collect();
    for n in (1..=words.len()).rev() {
        let cand = words[..n].join("/");
        if heads.contains(&cand.as_str()) {
            return Ok(cand);
        }
    }
    Err(FetchError::Failed(format!(
        "{url} has no branch named {}",
        words.join("/")
    )))
}

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
            for f in &files {
                let mut c = git(&["am", "-3", "--keep-non-patch"]);
                c.arg(f);
                let o = proc::run_logged(&mut c, log, Some(Duration::from_secs(600)));
                if !o.as_ref().is_ok_and(|o| o.success()) {
                    let text = std::fs::read_to_string(log).unwrap_or_default();
                    let _ = proc::run_captured(
                        &mut git(&["am", "--abort"]),
                        Some(Duration::from_secs(60)),
                    );
                    let series = in_base::Series::Mails(&files);
                    let r = in_base::find(worktree, base_commit, &series, &scratch)
                        .map(StageResult::already_in_base)
                        .unwrap_or_else(|| conflict_result(&text, &f.display().to_string()));
                    return (finish(r), None);
                }
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
            let mb = proc::output(&mut git(&["merge-base", base_commit, head]))
                .map(|s| s.trim().to_string());
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
                    let r = in_base::find(worktree, base_commit, &series, &scratch)
                        .map(StageResult::already_in_base)
                        .unwrap_or_else(|| conflict_result(&text, head));
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
    // such patchsets must not hash alike.
    let diff = proc::output_bytes(git().args(["diff", "--binary", base, head])).ok()?;
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

    /// A store and an upstream repository with one commit, in a fresh folder.
    fn scratch(tag: &str) -> (PathBuf, Store, PathBuf) {
        let dir = std::env::temp_dir().join(format!("rfl-fetch-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&crate::sys::paths::Cache::new(Some(&dir.join("cache")))).unwrap();
        let up = dir.join("up");
        let git = |args: &[&str]| {
            assert!(
                Command::new("git").args(args).status().unwrap().success(),
                "git {args:?}"
            )
        };
        let up_s = up.to_str().unwrap();
        git(&["init", "-q", "-b", "master", up_s]);
        git(&[
            "-C",
            up_s,
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@x",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ]);
        (dir, store, up)
    }

    /// A URL that is an option (`--upload-pack=…` runs a command) is handed to git after
    /// `--` by every remote command, so git refuses it instead of running the command. The
    /// folder named like the option is what lets such a URL through the probe's path check.
    #[test]
    fn a_url_is_never_an_option_to_git() {
        let (dir, store, _) = scratch("option");
        let hostile = "--upload-pack=touch pwned";
        std::fs::create_dir_all(dir.join(hostile)).unwrap();
        std::fs::create_dir_all(dir.join("refs/tags/v7.*")).unwrap();
        let cmds = [
            fetch_cmd(&store, hostile, "HEAD", "refs/rfl/x"),
            ls_remote_cmd(&store, &["--tags", "--refs"], hostile, &["refs/tags/v7.*"]),
            ls_remote_cmd(&store, &["--heads"], hostile, &[]),
        ];
        for mut c in cmds {
            let o = c.current_dir(&dir).output().unwrap();
            assert!(!o.status.success(), "{c:?} succeeded");
            assert!(
                !dir.join("pwned").exists(),
                "{c:?} ran the upload-pack option: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        // The same ls-remote without `--` does run it: the check above can fail.
        let mut bare = store.cmd();
        bare.args(["ls-remote", "--tags", "--refs", hostile, "refs/tags/v7.*"])
            .current_dir(&dir);
        let _ = bare.output().unwrap();
        assert!(
            dir.join("pwned").exists(),
            "the unprotected form no longer runs the option; the test proves nothing"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Git may use only https, http, git and file, even when the user's own configuration
    /// allows `ext::` (which runs any command).
    #[test]
    fn git_uses_only_the_allowed_transports() {
        let (dir, store, up) = scratch("transport");
        let config = dir.join("gitconfig");
        std::fs::write(&config, "[protocol \"ext\"]\n\tallow = always\n").unwrap();
        let ext = "ext::sh -c touch% pwned";
        let mut c = fetch_cmd(&store, ext, "HEAD", "refs/rfl/x");
        let o = c
            .current_dir(&dir)
            .env("GIT_CONFIG_GLOBAL", &config)
            .output()
            .unwrap();
        assert!(
            !o.status.success() && !dir.join("pwned").exists(),
            "ext:: ran: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("transport 'ext' not allowed"),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        // The same configuration lets a plain git run it: the check above can fail.
        let _ = store
            .cmd()
            .args(["fetch", ext, "HEAD"])
            .current_dir(&dir)
            .env("GIT_CONFIG_GLOBAL", &config)
            .env_remove("GIT_ALLOW_PROTOCOL")
            .output()
            .unwrap();
        assert!(
            dir.join("pwned").exists(),
            "plain git refused ext:: too; the test proves nothing"
        );
        // An allowed transport still fetches.
        let sha = fetch_ref(
            &store,
            &format!("file://{}", up.display()),
            "refs/heads/master",
            "refs/rfl/y",
        )
        .unwrap();
        assert_eq!(sha.len(), 40);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn closed_port_is_unreachable_fast() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let t = Instant::now();
        let e = probe(&format!("http://127.0.0.1:{port}/x")).unwrap_err();
        assert!(matches!(e, FetchError::Unreachable(_)), "{e:?}");
        assert!(t.elapsed() < Duration::from_secs(10));
        assert!(matches!(
            probe("https://no-such-host.invalid/x"),
            Err(FetchError::Unreachable(_))
        ));
        assert!(matches!(
            probe("file:///no/such/path"),
            Err(FetchError::Failed(_))
        ));
    }

    #[test]
    fn file_links() {
        assert_eq!(
            file_link_path("https://elixir.bootlin.com/linux/v6.4/source/rust/kernel/task.rs")
                .as_deref(),
            Some("rust/kernel/task.rs")
        );
        assert_eq!(
            file_link_path("https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/tree/rust/kernel/net/phy.rs").as_deref(),
            Some("rust/kernel/net/phy.rs")
        );
        assert_eq!(
            file_link_path(
                "https://github.com/AsahiLinux/linux/blob/gpu/rust-for-later/rust/kernel/of.rs"
            )
            .as_deref(),
            Some("rust/kernel/of.rs")
        );
    }
}
