//! Helpers shared by the test files.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A temporary folder with a random name (`tempfile`), removed when dropped. `.0` is its
/// path.
pub struct TempDir(pub PathBuf, #[allow(dead_code)] tempfile::TempDir);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let d = tempfile::Builder::new()
            .prefix(&format!("rfl-test-{tag}-"))
            .tempdir()
            .unwrap();
        TempDir(d.path().to_path_buf(), d)
    }
}

/// `git -C dir` with a fixed author, committer and dates, so commits are reproducible.
#[allow(dead_code)]
pub fn git_cmd(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C")
        .arg(dir)
        .env("GIT_AUTHOR_NAME", "T")
        .env("GIT_AUTHOR_EMAIL", "t@x")
        .env("GIT_COMMITTER_NAME", "T")
        .env("GIT_COMMITTER_EMAIL", "t@x")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00+0000")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00+0000");
    c
}

/// Run git in `dir`, which must succeed; its output, trimmed.
#[allow(dead_code)]
pub fn git(dir: &Path, args: &[&str]) -> String {
    let o = git_cmd(dir).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

/// Write `text` to `dir/file`, making its folders.
#[allow(dead_code)]
pub fn write(dir: &Path, file: &str, text: &str) {
    let p = dir.join(file);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// Write one file and commit everything; the new commit's id.
#[allow(dead_code)]
pub fn commit(dir: &Path, file: &str, text: &str, msg: &str) -> String {
    write(dir, file, text);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", msg]);
    git(dir, &["rev-parse", "HEAD"])
}
