//! The one git object store under the cache: bases, entries, worktrees, and the offline
//! import of Debian's `linux-source-X.Y` as a reproducible tagged commit.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::sys::paths::Cache;
use crate::sys::proc;

/// Fixed identity and date of offline imports, so the same tarball gives the same SHA anywhere.
const IMPORT_IDENT: &str = "RFL harness import";
const IMPORT_EMAIL: &str = "rfl-harness@invalid";
const IMPORT_DATE: &str = "2000-01-01T00:00:00+0000";

pub struct Store {
    pub git_dir: PathBuf,
}

/// Write a checkout's files with one worker per core: a kernel tree's 90 000 files took
/// 42 s with one worker and 23 s with two on this 2-core machine.
const PARALLEL_CHECKOUT: [&str; 2] = ["-c", "checkout.workers=0"];

impl Store {
    /// Open the store, creating it on first use.
    pub fn open(cache: &Cache) -> anyhow::Result<Store> {
        let git_dir = cache.store();
        if !git_dir.join("HEAD").is_file() {
            std::fs::create_dir_all(&git_dir)?;
            proc::output(
                Command::new("git")
                    .args(["init", "--quiet", "--bare"])
                    .arg(&git_dir),
            )?;
            let s = Store { git_dir };
            // Automatic gc in the middle of a run would stall a cell for minutes.
            for (k, v) in [
                ("gc.auto", "0"),
                ("core.autocrlf", "false"),
                ("advice.detachedHead", "false"),
            ] {
                s.git(&["config", k, v])?;
            }
            return Ok(s);
        }
        Ok(Store { git_dir })
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new("git");
        c.arg("--git-dir").arg(&self.git_dir);
        // Never ask for credentials on a terminal: a private or missing repo is a failure.
        c.env("GIT_TERMINAL_PROMPT", "0");
        c
    }

    pub fn git(&self, args: &[&str]) -> anyhow::Result<String> {
        proc::output(self.cmd().args(args))
    }

    /// The commit a ref points to, if it exists.
    pub fn rev(&self, r: &str) -> Option<String> {
        let c = proc::run_captured(
            self.cmd().args([
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("{r}^{{commit}}"),
            ]),
            None,
        )
        .ok()?;
        c.outcome.success().then(|| c.stdout.trim().to_string())
    }

    /// Does `path` exist in `commit`?
    pub fn path_exists(&self, commit: &str, path: &str) -> bool {
        proc::run_captured(
            self.cmd()
                .args(["cat-file", "-e", &format!("{commit}:{path}")]),
            None,
        )
        .is_ok_and(|c| c.outcome.success())
    }

    /// A file's contents at a commit.
    pub fn show(&self, commit: &str, path: &str) -> anyhow::Result<String> {
        self.git(&["show", &format!("{commit}:{path}")])
    }

    /// Import an unpacked source tree as one commit with fixed metadata; returns its SHA.
    pub fn import_tree(
        &self,
        tree_dir: &Path,
        message: &str,
        scratch: &Path,
    ) -> anyhow::Result<String> {
        let index = scratch.join("import.index");
        let _ = std::fs::remove_file(&index);
        let mut add = self.cmd();
        add.arg("--work-tree")
            .arg(tree_dir)
            .env("GIT_INDEX_FILE", &index);
        // -f: the kernel's own .gitignore files must not drop files the tarball ships.
        add.args([
            "-c",
            "core.fileMode=true",
            "-c",
            "core.symlinks=true",
            "add",
            "--all",
            "--force",
            ".",
        ]);
        add.current_dir(tree_dir);
        proc::output(&mut add).context("git add of the unpacked source")?;
        let mut wt = self.cmd();
        wt.env("GIT_INDEX_FILE", &index).arg("write-tree");
        let tree = proc::output(&mut wt)?.trim().to_string();
        let mut ct = self.cmd();
        ct.args(["commit-tree", &tree, "-m", message])
            .env("GIT_AUTHOR_NAME", IMPORT_IDENT)
            .env("GIT_AUTHOR_EMAIL", IMPORT_EMAIL)
            .env("GIT_AUTHOR_DATE", IMPORT_DATE)
            .env("GIT_COMMITTER_NAME", IMPORT_IDENT)
            .env("GIT_COMMITTER_EMAIL", IMPORT_EMAIL)
            .env("GIT_COMMITTER_DATE", IMPORT_DATE);
        let commit = proc::output(&mut ct)?.trim().to_string();
        let _ = std::fs::remove_file(&index);
        Ok(commit)
    }

    pub fn set_ref(&self, name: &str, commit: &str) -> anyhow::Result<()> {
        self.git(&["update-ref", name, commit]).map(|_| ())
    }

    /// A detached worktree of `commit` at `dir`, made or moved there. Checking out only
    /// changes the files that differ, so make's timestamps see only those.
    pub fn worktree_at(&self, dir: &Path, commit: &str) -> anyhow::Result<()> {
        if dir.join(".git").exists() {
            // An interrupted run may have left an am or a cherry-pick in progress, or a lock.
            for args in [["am", "--abort"], ["cherry-pick", "--abort"]] {
                let _ = proc::run_captured(
                    Command::new("git").arg("-C").arg(dir).args(args),
                    Some(Duration::from_secs(60)),
                );
            }
            if let Ok(gitdir) = proc::output(
                Command::new("git")
                    .arg("-C")
                    .arg(dir)
                    .args(["rev-parse", "--git-dir"]),
            ) {
                let _ = std::fs::remove_file(dir.join(gitdir.trim()).join("index.lock"));
            }
            let mut c = Command::new("git");
            c.arg("-C")
                .arg(dir)
                .args(PARALLEL_CHECKOUT)
                .args(["checkout", "--quiet", "--force", "--detach", commit]);
            let checked_out = proc::output(&mut c);
            if crate::sys::signal::interrupted() {
                // Never take a failure caused by an interrupt for a broken worktree: removing
                // it would cost a full checkout and a rebuild of every output folder.
                bail!("interrupted");
            }
            if checked_out.is_ok() {
                // Files a previous entry added are not in the commit: remove them, keeping
                // nothing the kernel build might read.
                let mut clean = Command::new("git");
                clean
                    .arg("-C")
                    .arg(dir)
                    .args(["clean", "-q", "-f", "-d", "-x"]);
                proc::output(&mut clean)?;
                return Ok(());
            }
            // A broken worktree (an interrupted run): start it again.
            let _ = std::fs::remove_dir_all(dir);
        }
        let _ = self.git(&["worktree", "prune"]);
        if let Some(p) = dir.parent() {
            std::fs::create_dir_all(p)?;
        }
        let mut c = self.cmd();
        c.args(PARALLEL_CHECKOUT)
            .args(["worktree", "add", "--force", "--detach"])
            .arg(dir)
            .arg(commit);
        let out = proc::run_captured(&mut c, Some(Duration::from_secs(1800)))?;
        if !out.outcome.success() {
            bail!(
                "git worktree add {} {commit}: {}",
                dir.display(),
                out.stderr.trim()
            );
        }
        Ok(())
    }
}

/// `VERSION.PATCHLEVEL.SUBLEVEL[EXTRAVERSION]` from a kernel Makefile.
pub fn kernel_version(makefile: &str) -> Option<String> {
    let get = |k: &str| {
        makefile.lines().find_map(|l| {
            let (key, val) = l.split_once('=')?;
            (key.trim() == k).then(|| val.trim().to_string())
        })
    };
    let (v, p) = (get("VERSION")?, get("PATCHLEVEL")?);
    let s = get("SUBLEVEL").unwrap_or_default();
    let e = get("EXTRAVERSION").unwrap_or_default();
    Some(if s.is_empty() || s == "0" {
        format!("{v}.{p}{e}")
    } else {
        format!("{v}.{p}.{s}{e}")
    })
}

/// The local ref that holds a provisioned base.
pub fn base_ref(name: &str) -> String {
    format!("refs/rfl/bases/{name}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn kernel_versions() {
        assert_eq!(
            super::kernel_version("VERSION = 7\nPATCHLEVEL = 2\nSUBLEVEL = 13\nEXTRAVERSION =\n")
                .as_deref(),
            Some("7.2.13")
        );
        assert_eq!(
            super::kernel_version(
                "VERSION = 6\nPATCHLEVEL = 6\nSUBLEVEL = 0\nEXTRAVERSION = -rc1\n"
            )
            .as_deref(),
            Some("6.6-rc1")
        );
        assert_eq!(super::kernel_version("nothing"), None);
    }
}
