//! What the unit tests share: git in a scratch repository with a fixed identity.

use std::path::Path;
use std::process::Command;

/// `git -C dir ARGS`, which must succeed, with a fixed identity and no signing; its output as
/// it is.
pub fn git_out(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// [`git_out`], trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    git_out(dir, args).trim().to_string()
}
