//! The fetch stage: a base's commit (the offline import when provisioned, else its remote),
//! and an entry's source into the store by its kind: a pull request, commit, branch, GitLab
//! project or `git` URL and ref (fetched with `sources::git`), a local mbox or patch folder,
//! a lore thread's newest series (`sources::lore`), or a file link's path.

use std::path::{Path, PathBuf};

use crate::model::matrix::{BaseKind, Loaded, Source};
use crate::sources::git::{fetch_ref, longest_remote_ref, newest_tag, url_key};
pub use crate::sources::remote::FetchError;
use crate::sys::store::{base_ref, Store};

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
    // Shallow: nothing but the tree is needed until something reads the base's history
    // (`sources::history`).
    crate::sources::history::fetch_base(
        store,
        &url,
        &src,
        &format!("refs/rfl/remote/{}/{name}", url_key(&url)),
    )
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
        /// Its mail headers (reply target, author, lists, patch ids), when usable.
        mail: Option<Box<crate::model::outcome::SeriesMail>>,
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
                mail: series.mail.map(Box::new),
            })
        }
        Source::Unpublished(w) | Source::None(w) => Err(FetchError::Failed(w.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
