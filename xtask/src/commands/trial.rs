//! `try`: one series in hand (an mbox, a lore thread or a git ref) on a declared base, with
//! the matrix's arches, checks, toolchains and mirrors, without touching matrix.toml. The
//! series becomes the one entry of an in-memory matrix, then runs as `matrix` runs it: the
//! same plan (with base cells), stages, result cache, results.json and reports.

use std::process::ExitCode;

use toml::Spanned;

use crate::commands::flags::{check_msgid, Selection, TryArgs};
use crate::commands::{matrix, select};
use crate::model::matrix::{self as model, Entry, Source};
use crate::model::plan;
use crate::sys::paths::Cache;
use crate::sys::proc::shell_quote;

/// The entry id of the series a `try` runs.
pub const TRY_ID: &str = "try";

impl TryArgs {
    /// Exit codes as `matrix`'s.
    pub fn run(self, cache: &Cache) -> anyhow::Result<ExitCode> {
        let mut m = select::load_matrix(self.matrix.as_deref())?;
        let sel = Selection {
            matrix: self.matrix.clone(),
            entries: Vec::new(),
            arches: self.arches.clone(),
            base: Some(self.base.clone()),
            toolchain: self.toolchain.clone(),
            config: self.config.clone(),
        };
        // The base, arches and toolchain are the matrix's to declare.
        let filters = select::filters(&m, &sel)?;
        let (source, words) = self.source(&m)?;
        // Checked against the matrix's own entries, which an expectation may name.
        let judged = matrix::Judged {
            expect: select::load_expectations(&m)?,
            full: false,
        };
        // The matrix's own entries do not run: the series is the only one.
        m.matrix.entries = vec![entry(source, &self.base)];
        let p = plan::plan(&m, &filters);
        let matrix_arg = select::matrix_arg(self.matrix.as_deref());
        let rerun = self.rerun_line(&words, &matrix_arg);
        matrix::execute(cache, &m, &p, &self.run, matrix_arg, Some(rerun), judged)
    }

    /// The series as an entry's source, checked as a matrix's value would be, and the words
    /// that name it again on a command line.
    fn source(&self, m: &model::Loaded) -> anyhow::Result<(Source, Vec<String>)> {
        let bad = |flag: &str, value: &str, why: &dyn std::fmt::Display| {
            anyhow::anyhow!("--{flag} {}: {why}", model::shown(value))
        };
        if let Some(path) = &self.mbox {
            let shown = path.to_string_lossy();
            // Absolute, links resolved: git is never handed a path that reads as an option.
            let real = std::fs::canonicalize(path).map_err(|e| bad("mbox", &shown, &e))?;
            select::check_mbox_on_disk(&real, None).map_err(|why| bad("mbox", &shown, &why))?;
            let value = real
                .to_str()
                .ok_or_else(|| bad("mbox", &shown, &"is not UTF-8"))?
                .to_string();
            return Ok((Source::Mbox(value.clone()), vec!["--mbox".into(), value]));
        }
        if let Some(id) = &self.lore {
            let bare = id
                .strip_prefix('<')
                .and_then(|i| i.strip_suffix('>'))
                .unwrap_or(id);
            check_msgid(bare).map_err(|why| bad("lore", id, &why))?;
            return Ok((
                Source::Lore(bare.into()),
                vec!["--lore".into(), bare.into()],
            ));
        }
        let (url, r) = match (&self.git, &self.git_ref) {
            (Some(url), Some(r)) => (url, r),
            _ => anyhow::bail!("name the series with --mbox, --lore, or --git and --ref"),
        };
        // Before the URL and the ref are put together: a ref never holds a space.
        model::check_git_ref(r).map_err(|why| bad("ref", r, &why))?;
        let source = Source::git(url, r);
        model::check_source_url(&m.matrix.mirrors, &source).map_err(|why| bad("git", url, &why))?;
        Ok((
            source,
            vec!["--git".into(), url.clone(), "--ref".into(), r.clone()],
        ))
    }

    /// This `try` as a command line, every word quoted, without `--arch` (each cell adds its
    /// own).
    fn rerun_line(&self, series: &[String], matrix_arg: &str) -> String {
        let mut words: Vec<String> = series.to_vec();
        words.extend(["--base".into(), self.base.clone()]);
        if let Some(t) = &self.toolchain {
            words.extend(["--toolchain".into(), t.clone()]);
        }
        if let Some(g) = &self.run.kunit_filter {
            words.extend(["--kunit-filter".into(), g.clone()]);
        }
        let quoted: Vec<String> = words.iter().map(shell_quote).collect();
        format!("cargo xtask try {}{matrix_arg}", quoted.join(" "))
    }
}

/// The series as the matrix's one entry, on `base`, on the matrix's arches.
fn entry(source: Source, base: &str) -> Entry {
    let at = |s: String| Spanned::new(0..0, s);
    Entry {
        id: at(TRY_ID.into()),
        area: String::new(),
        status: String::new(),
        authors: Vec::new(),
        source: Spanned::new(0..0, source),
        base: Some(at(base.into())),
        registry_base: String::new(),
        skip: None,
        lore: None,
        kconfig: Vec::new(),
        arches: None,
        note: String::new(),
    }
}
