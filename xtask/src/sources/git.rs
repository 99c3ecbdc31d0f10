//! Git remotes: `git fetch` of one ref into the store, the newest tag of a series, the branch
//! a forge's `tree/…` URL names. A DNS + TCP probe comes before any git traffic, a URL is
//! never read as an option, and git may use only the transports the matrix allows.

use std::process::Command;
use std::time::Duration;

use crate::sources::remote::{probe, FetchError};
use crate::sys::proc;
use crate::sys::store::Store;

const FETCH_DEADLINE: Duration = Duration::from_secs(900);

/// A stable name for a remote URL, used in ref names.
pub fn url_key(url: &str) -> String {
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

/// `git fetch OPTS -- URL +SRC:DEST`: after `--`, a URL is never read as an option.
fn fetch_cmd(store: &Store, opts: &[&str], url: &str, src: &str, dest: &str) -> Command {
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
    ]);
    c.args(opts)
        .arg("--")
        .arg(url)
        .arg(format!("+{src}:{dest}"));
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

/// How much of a ref's history a fetch brings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// All of it that the store does not hold yet.
    Full,
    /// The ref's own commit alone (`--depth 1`): the store is shallow there.
    Tip,
    /// The whole history of a ref the store holds shallow (`--unshallow`).
    Unshallow,
}

impl Depth {
    fn opts(self) -> &'static [&'static str] {
        match self {
            Depth::Full => &[],
            Depth::Tip => &["--depth=1"],
            Depth::Unshallow => &["--unshallow"],
        }
    }
}

/// `git fetch URL +SRC:DEST` into the store with its whole history; the commit DEST then
/// points to.
pub fn fetch_ref(store: &Store, url: &str, src: &str, dest: &str) -> Result<String, FetchError> {
    fetch_ref_at(store, Depth::Full, url, src, dest)
}

/// `git fetch URL +SRC:DEST` into the store with `depth` of its history; the commit DEST then
/// points to.
pub fn fetch_ref_at(
    store: &Store,
    depth: Depth,
    url: &str,
    src: &str,
    dest: &str,
) -> Result<String, FetchError> {
    probe(url)?;
    let mut c = fetch_cmd(store, depth.opts(), url, src, dest);
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

/// The highest tag on the remote matching `pattern` (`v7.2.*`), by version order.
pub fn newest_tag(store: &Store, url: &str, pattern: &str) -> Result<String, FetchError> {
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

/// The branch a forge URL's `tree/<words…>` names: the longest prefix of `words`, joined by
/// `/`, that is a branch of the remote (a branch name may hold slashes, a path follows it).
pub fn longest_remote_ref(
    store: &Store,
    url: &str,
    words: &[String],
) -> Result<String, FetchError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

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
            fetch_cmd(&store, &[], hostile, "HEAD", "refs/rfl/x"),
            fetch_cmd(&store, Depth::Tip.opts(), hostile, "HEAD", "refs/rfl/x"),
            fetch_cmd(
                &store,
                Depth::Unshallow.opts(),
                hostile,
                "HEAD",
                "refs/rfl/x",
            ),
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
        let mut c = fetch_cmd(&store, Depth::Tip.opts(), ext, "HEAD", "refs/rfl/x");
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
}
