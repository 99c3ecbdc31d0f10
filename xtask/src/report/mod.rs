//! Reports from results: results are loaded (and merged) once, made into one [`Grid`], and
//! every format reads that grid: terminal text, Markdown (the registry table with health per
//! arch), JUnit XML, KCIDB v5 JSON, a self-contained HTML page and GitHub annotations. Each
//! writes to any `impl Write` and reads logs only through the run folder it is given.

pub mod github;
pub mod html;
pub mod junit;
pub mod kcidb;
pub mod live;
pub mod markdown;
pub mod publish;
pub mod text;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::arch::Arch;
use crate::model::health;
use crate::model::outcome::{
    CellKey, CellResult, Change, Diagnostic, Fault, Health, Met, MetOutcome, RunResults, Stage,
    StageResult, Verdict,
};

/// Results with the folder their logs live in (several when merged).
pub struct Loaded {
    pub results: RunResults,
    /// Run folder of each cell, by index in `results.cells`.
    pub dirs: Vec<PathBuf>,
}

impl Loaded {
    /// The results of a run that just ended in `dir` (each cell judged as it ran).
    pub fn of_run(mut results: RunResults, dir: &Path) -> Loaded {
        judge_unjudged(&mut results);
        Loaded {
            dirs: vec![dir.to_path_buf(); results.cells.len()],
            results,
        }
    }
}

/// Read one or several results files; several are merged (the CI's last job). Each is
/// validated first (see `RunResults::validate`): in CI they come from jobs that built
/// untrusted patches.
pub fn load(paths: &[PathBuf]) -> anyhow::Result<Loaded> {
    let mut merged = RunResults::default();
    let mut dirs = Vec::new();
    for p in paths {
        let text =
            std::fs::read_to_string(p).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        let r: RunResults = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}:{}:{}: {e}", p.display(), e.line(), e.column()))?;
        r.validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
        let dir = p.parent().unwrap_or(Path::new(".")).to_path_buf();
        if merged.started.is_empty() || (!r.started.is_empty() && r.started < merged.started) {
            merged.started = r.started.clone();
        }
        merged.schema = r.schema;
        merged.harness_version = r.harness_version.clone();
        merged.interrupted |= r.interrupted;
        for b in r.bases {
            if !merged.bases.iter().any(|x| x.name == b.name) {
                merged.bases.push(b);
            }
        }
        for e in r.entries {
            if !merged.entries.iter().any(|x| x.id == e.id) {
                merged.entries.push(e);
            }
        }
        for s in r.skipped_entries {
            if !merged.skipped_entries.iter().any(|x| x.id == s.id) {
                merged.skipped_entries.push(s);
            }
        }
        for n in r.expectations {
            if !merged.expectations.contains(&n) {
                merged.expectations.push(n);
            }
        }
        for c in r.cells {
            dirs.push(dir.clone());
            merged.cells.push(c);
        }
    }
    judge_unjudged(&mut merged);
    Ok(Loaded {
        results: merged,
        dirs,
    })
}

/// Health was decided when the cell ran, against the base cell of its own run (a job runs
/// the base cells its entries need); a cell without one is assessed over the whole set.
fn judge_unjudged(r: &mut RunResults) {
    for i in 0..r.cells.len() {
        if r.cells[i].health.is_none() {
            let c = &r.cells[i];
            let h = health::assess(c, health::base_of(c, &r.cells));
            r.cells[i].health = Some(h);
        }
    }
}

/// A column of the grid: an arch, a toolchain and a config variant (each named only when the
/// results hold several).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Column {
    pub arch: Arch,
    pub toolchain: String,
    pub config: String,
}

/// A row of the grid: an entry on its base, or a base cell's base.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Row<'a> {
    pub entry: &'a str,
    pub base: &'a str,
    pub is_base: bool,
}

impl<'a> Row<'a> {
    fn of(c: &'a CellResult) -> Row<'a> {
        Row {
            entry: &c.entry,
            base: &c.base,
            is_base: c.is_base(),
        }
    }
    pub fn name(&self) -> String {
        if self.is_base {
            format!("base {}", self.base)
        } else {
            self.entry.to_string()
        }
    }
}

/// `name.arch`, and `.config` for a variant other than `release`: what a report calls a cell.
pub fn at(name: &str, c: &CellResult) -> String {
    if c.config == crate::model::matrix::DEFAULT_CONFIG {
        format!("{name}.{}", c.arch)
    } else {
        format!("{name}.{}.{}", c.arch, c.config)
    }
}

/// One cell as every format sees it: its result, its health and its run folder.
#[derive(Clone, Copy)]
pub struct Cell<'a> {
    /// Its index in `results.cells`.
    pub index: usize,
    pub result: &'a CellResult,
    pub health: &'a Health,
    /// The run folder its `dir` and logs are relative to.
    pub run_dir: &'a Path,
}

impl Cell<'_> {
    /// Its row's name: the entry, or `base <name>`.
    pub fn name(&self) -> String {
        Row::of(self.result).name()
    }
    /// The cell in one word: `name.arch`, and `.config` for a variant other than `release`.
    pub fn at(&self) -> String {
        at(&self.name(), self.result)
    }
    /// What a grid square shows: `FAIL build`, `pass (2 pre)`, `unreachable`.
    pub fn short(&self) -> String {
        let h = self.health;
        match (h.verdict, h.stage) {
            (Verdict::Error, _) if h.fault == Some(Fault::Expectations) => "XPASS".to_string(),
            (Verdict::Fail, Some(s)) => format!("FAIL {}", s.name()),
            (Verdict::Error, Some(s)) => format!("ERROR {}", s.name()),
            (Verdict::Pass, _) if !h.preexisting.is_empty() => {
                format!("pass ({} pre)", h.preexisting.len())
            }
            (Verdict::Pass, _) if self.expected().next().is_some() => {
                format!("pass ({} xfail)", self.expected().count())
            }
            (v, _) => v.name().to_string(),
        }
    }
    /// The failures expectations forgave (xfail and flaky), apart from real failures.
    pub fn expected(&self) -> impl Iterator<Item = &Met> + '_ {
        self.result
            .expectations
            .iter()
            .filter(|m| matches!(m.outcome, MetOutcome::Xfail | MetOutcome::Flaky))
    }
    /// Every expectation the cell met, each on one line (`xfail kunit s.c (id, file:line:
    /// reason; link)`).
    pub fn met_lines(&self) -> Vec<String> {
        self.result.expectations.iter().map(Met::render).collect()
    }
    /// Fail or error: a cell the failing-cells lists and the annotations show.
    pub fn failing(&self) -> bool {
        matches!(self.health.verdict, Verdict::Fail | Verdict::Error)
    }
    /// Why the cell fails: its health's summary, as the text report's failing cells, the
    /// Markdown footnotes, the JUnit message and the GitHub annotation all give it.
    pub fn why(&self) -> Why<'_> {
        let h = self.health;
        Why::new(
            self.result,
            h.stage.and_then(|s| self.result.stage(s)),
            &h.summary,
        )
    }
}

/// Why a cell or a stage fails, on one line: the summary's first line, which starts with the
/// first diagnostic (`checks::cause`), then where it was found: the stage's log in the run
/// folder and the line of it (`… — cells/x.x86_64/build.log:1234`).
pub struct Why<'a> {
    cell: &'a CellResult,
    stage: Option<&'a StageResult>,
    /// The summary's first line, trimmed.
    pub text: &'a str,
    /// The stage's diagnostic the text names, if any.
    pub diagnostic: Option<&'a Diagnostic>,
}

impl<'a> Why<'a> {
    pub fn new(cell: &'a CellResult, stage: Option<&'a StageResult>, summary: &'a str) -> Why<'a> {
        let text = first_line(summary).trim();
        // The first diagnostic the summary quotes: a summary says why in the tool's words.
        let diagnostic = stage.and_then(|s| {
            s.diagnostics
                .iter()
                .find(|d| !d.message.is_empty() && text.contains(&d.message))
        });
        Why {
            cell,
            stage,
            text,
            diagnostic,
        }
    }

    /// The stage's log, as a path inside the run folder (or the URL it is kept at), with the
    /// line the diagnostic was read from when known.
    pub fn log(&self) -> Option<String> {
        let log = self.stage?.log.as_deref()?;
        let path = if is_http(log) {
            log.to_string()
        } else {
            Path::new(&self.cell.dir).join(log).display().to_string()
        };
        Some(match self.diagnostic.and_then(|d| d.log_line) {
            Some(n) => format!("{path}:{n}"),
            None => path,
        })
    }

    /// The source file (and line) to point at: the diagnostic's, else the stage's first
    /// diagnostic that names a file, else for KUnit the first failing test the text names
    /// (`rust/kernel/x.rs:12`).
    pub fn source(&self) -> Option<(String, Option<u32>)> {
        let stage = self.stage?;
        let d = self
            .diagnostic
            .filter(|d| d.file.is_some())
            .or_else(|| stage.diagnostics.iter().find(|d| d.file.is_some()));
        if let Some(d) = d {
            return d.file.clone().map(|f| (f, d.line));
        }
        if stage.stage != Stage::Kunit {
            return None;
        }
        let location = self
            .cell
            .kunit
            .tests
            .iter()
            .filter(|t| t.status.is_bad() && names(self.text, &format!("{} {}", t.status, t.name)))
            .find_map(|t| t.location.as_deref())?;
        Some(split_location(location))
    }
}

/// Does `text` name `what` as a word of its own (as health's KUnit summary names a test:
/// `fail name (location); …`)?
fn names(text: &str, what: &str) -> bool {
    text.match_indices(what).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + what.len()..].chars().next();
        matches!(before, None | Some(' ' | ';')) && matches!(after, None | Some(' ' | ';'))
    })
}

impl std::fmt::Display for Why<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.text)?;
        match self.log() {
            Some(log) => write!(f, " — {log}"),
            None => Ok(()),
        }
    }
}

/// `rust/kernel/x.rs:12` as its file and line; a location without a line is all file.
pub fn split_location(location: &str) -> (String, Option<u32>) {
    match location.rsplit_once(':') {
        Some((f, n)) if n.parse::<u32>().is_ok() => (f.to_string(), n.parse().ok()),
        _ => (location.to_string(), None),
    }
}

/// The results as a grid, made once and read by every format: rows (base cells first, then
/// entries in matrix order), columns (each arch in the order of [`Arch`], once per
/// toolchain), the cell of each square, and every cell's health.
pub struct Grid<'a> {
    pub results: &'a RunResults,
    pub columns: Vec<Column>,
    pub rows: Vec<Row<'a>>,
    /// `squares[row][column]`: the index in `results.cells` of the square's cell.
    squares: Vec<Vec<Option<usize>>>,
    /// Each cell's health, by index in `results.cells`.
    health: Vec<Health>,
    dirs: &'a [PathBuf],
}

impl<'a> Grid<'a> {
    pub fn new(l: &'a Loaded) -> Grid<'a> {
        let r = &l.results;
        let columns = columns(r);
        let rows = rows(r);
        // A square's cell is the first with its key (as everywhere, cells match by key).
        let mut by_key: BTreeMap<CellKey, usize> = BTreeMap::new();
        for (i, c) in r.cells.iter().enumerate() {
            by_key.entry(c.key()).or_insert(i);
        }
        let squares = rows
            .iter()
            .map(|row| {
                columns
                    .iter()
                    .map(|col| {
                        let key = CellKey {
                            entry: row.entry,
                            base: row.base,
                            arch: col.arch,
                            toolchain: &col.toolchain,
                            config: &col.config,
                        };
                        by_key.get(&key).copied()
                    })
                    .collect()
            })
            .collect();
        let health = r
            .cells
            .iter()
            .map(|c| c.health.clone().unwrap_or_else(|| health::assess(c, None)))
            .collect();
        Grid {
            results: r,
            columns,
            rows,
            squares,
            health,
            dirs: &l.dirs,
        }
    }

    fn cell(&self, i: usize) -> Cell<'_> {
        Cell {
            index: i,
            result: &self.results.cells[i],
            health: &self.health[i],
            run_dir: &self.dirs[i],
        }
    }

    /// Every cell, in the results' order.
    pub fn cells(&self) -> impl Iterator<Item = Cell<'_>> {
        (0..self.results.cells.len()).map(|i| self.cell(i))
    }

    /// The cells that fail or err, in the results' order.
    pub fn failing(&self) -> impl Iterator<Item = Cell<'_>> {
        self.cells().filter(|c| c.failing())
    }

    /// The cell of the square at `row`, `column`, if one ran there.
    pub fn square(&self, row: usize, column: usize) -> Option<Cell<'_>> {
        self.squares[row][column].map(|i| self.cell(i))
    }

    /// Column headers: the arch, with the toolchain and the config when the results hold
    /// several.
    pub fn column_names(&self) -> Vec<String> {
        let cols = &self.columns;
        let many_tc = cols.iter().any(|c| c.toolchain != cols[0].toolchain);
        let many_cfg = cols.iter().any(|c| c.config != cols[0].config);
        cols.iter()
            .map(|c| {
                let mut name = c.arch.name().to_string();
                if many_tc {
                    name = format!("{name}.{}", c.toolchain);
                }
                if many_cfg {
                    name = format!("{name}.{}", c.config);
                }
                name
            })
            .collect()
    }

    /// The lines of the "Regressions" section that opens the text and Markdown reports: each
    /// regressed cell with its first failing stage and why, then a count of the other
    /// changes. `None` when the results were not compared with a baseline.
    pub fn regression_lines(&self) -> Option<Vec<String>> {
        let r = self.results;
        if r.cells.iter().all(|c| c.change.is_none()) {
            return None;
        }
        let mut lines = Vec::new();
        for c in self
            .cells()
            .filter(|c| c.result.change == Some(Change::Regressed))
        {
            lines.push(format!(
                "{}{}: {} — {}",
                c.at(),
                if c.result.toolchain.name.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", c.result.toolchain.name)
                },
                c.health.stage.map_or("-", |s| s.name()),
                c.why()
            ));
        }
        if lines.is_empty() {
            lines.push("none since the baseline".into());
        }
        let count = |k: Change| r.cells.iter().filter(|c| c.change == Some(k)).count();
        lines.push(format!(
            "{} fixed, {} still failing, {} new",
            count(Change::Fixed),
            count(Change::StillFailing),
            count(Change::New)
        ));
        Some(lines)
    }
}

/// The grid's columns: each arch, in the order of [`Arch`], once per toolchain and config it
/// ran with.
fn columns(r: &RunResults) -> Vec<Column> {
    let mut cols: Vec<Column> = r
        .cells
        .iter()
        .map(|c| Column {
            arch: c.arch,
            toolchain: c.toolchain.name.clone(),
            config: c.config.clone(),
        })
        .collect();
    // By arch first: a column's fields are in the order it sorts by.
    cols.sort();
    cols.dedup();
    cols
}

/// Rows of the entries × arches grid: base cells first, then entries in matrix order.
fn rows(r: &RunResults) -> Vec<Row<'_>> {
    let mut out: Vec<Row> = Vec::new();
    for c in &r.cells {
        let row = Row::of(c);
        if !out.contains(&row) {
            out.push(row);
        }
    }
    out.sort_by_key(|row| {
        (
            !row.is_base,
            r.entries
                .iter()
                .position(|x| x.id == row.entry)
                .unwrap_or(usize::MAX),
        )
    });
    out
}

pub(crate) fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The most of a log's end that a report reads.
const LOG_TAIL_BYTES: u64 = 1024 * 1024;

/// A log kept elsewhere, named by an http(s) URL.
fn is_http(log: &str) -> bool {
    let lower = log.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// A stage's log as a file the report may read: the cell's `log`, resolved with every link
/// followed, must be a regular file inside the run folder (`run_dir`, the folder holding the
/// results file). A log named `/etc/passwd`, `../../x`, a link out of the folder, or
/// `/dev/zero` is refused.
fn resolve_log(run_dir: &Path, cell: &CellResult, log: &str) -> Option<PathBuf> {
    let root = std::fs::canonicalize(run_dir).ok()?;
    let p = std::fs::canonicalize(run_dir.join(&cell.dir).join(log)).ok()?;
    (p.starts_with(&root) && std::fs::metadata(&p).is_ok_and(|m| m.is_file())).then_some(p)
}

/// The last `lines` lines of a stage's log, from at most its last [`LOG_TAIL_BYTES`]; a note
/// instead when the log is not a file inside the run folder.
fn log_tail(dir: &Path, cell: &CellResult, log: Option<&str>, lines: usize) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Some(log) = log else { return String::new() };
    if is_http(log) {
        return format!("(log: {log})");
    }
    let Some(p) = resolve_log(dir, cell, log) else {
        return format!("(log `{log}` is not a file inside the run folder; not read)");
    };
    let mut bytes = Vec::new();
    if let Ok(mut f) = std::fs::File::open(&p) {
        let len = f.metadata().map_or(0, |m| m.len());
        if f.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))
            .is_ok()
        {
            let _ = f.take(LOG_TAIL_BYTES).read_to_end(&mut bytes);
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::CaseStatus;

    /// A log's tail comes from its last MiB only: a 2 MiB last line hides what came before.
    #[test]
    fn a_log_tail_reads_at_most_its_last_mib() {
        let dir = std::env::temp_dir().join(format!("rfl-log-tail-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("cells/c")).unwrap();
        let mut text = String::from("first line\n");
        text.push_str(&"x".repeat(2 << 20));
        std::fs::write(dir.join("cells/c/big.log"), text).unwrap();
        let cell: CellResult = serde_json::from_value(serde_json::json!({"schema": 1, "entry": "e", "base": "b", "arch": "x86_64", "toolchain": {"name": "t", "versions": {}},
            "stages": [], "dir": "cells/c", "started": "", "duration_s": 0.0})).unwrap();
        let tail = log_tail(&dir, &cell, Some("big.log"), 40);
        assert_eq!(tail.len() as u64, LOG_TAIL_BYTES);
        assert!(!tail.contains("first line"));
        assert!(log_tail(&dir, &cell, Some("/dev/zero"), 40)
            .contains("not a file inside the run folder"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A results file in a temporary folder; removed with the returned guard's folder.
    fn results_file(tag: &str, v: &serde_json::Value) -> (PathBuf, PathBuf) {
        let dir = std::env::temp_dir().join(format!("rfl-report-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("results.json");
        std::fs::write(&p, serde_json::to_string(v).unwrap()).unwrap();
        (dir, p)
    }

    /// A cell as schema 1 wrote it: KUnit test `t` failing, no boot findings.
    fn schema1_cell(entry: &str, toolchain: &str, fails: bool) -> serde_json::Value {
        let status = if fails { "fail" } else { "pass" };
        serde_json::json!({"schema": 1, "entry": entry, "base": "v7.2.x", "arch": "x86_64",
            "toolchain": {"name": toolchain, "versions": {}},
            "stages": [{"stage": "boot", "status": "pass", "duration_s": 1.0, "summary": "clean: booted"},
                       {"stage": "kunit", "status": status, "duration_s": 0.0, "summary": "1 tests"}],
            "kunit": {"counts": {"total": 1, "passed": usize::from(!fails), "failed": usize::from(fails), "crashed": 0, "skipped": 0},
                      "tests": [{"suite": "s", "name": "t", "status": status}]},
            "dir": "cells/x", "started": "", "duration_s": 1.0})
    }

    fn schema1_results(cells: Vec<serde_json::Value>) -> serde_json::Value {
        serde_json::json!({"schema": 1, "harness_version": "0.1.0", "started": "2026-11-21T00:00:00Z",
            "bases": [{"name": "v7.2.x", "status": "resolved", "commit": null, "reason": ""}],
            "cells": cells})
    }

    /// Schema 1 files still load: a cell's recorded health is used as it is, one without is
    /// assessed against the base cell of the merged set. Schema 3 is refused.
    #[test]
    fn schema_1_results_load_and_schema_3_is_refused() {
        let mut recorded = schema1_cell("e", "t", true);
        recorded["health"] =
            serde_json::json!({"verdict": "fail", "stage": "kunit", "summary": "as recorded"});
        let v = schema1_results(vec![
            schema1_cell("base", "t", true),
            recorded,
            schema1_cell("f", "t", true),
        ]);
        let (dir, p) = results_file("schema1", &v);
        let l = load(std::slice::from_ref(&p)).unwrap();
        let health: Vec<&Health> = l
            .results
            .cells
            .iter()
            .map(|c| c.health.as_ref().unwrap())
            .collect();
        assert_eq!(health[1].summary, "as recorded");
        assert_eq!(health[2].verdict, Verdict::Pass);
        assert_eq!(health[2].preexisting, ["kunit fail t"]);
        assert_eq!(l.results.cells[2].kunit.tests[0].status, CaseStatus::Fail);

        let mut v3 = v.clone();
        v3["schema"] = 3.into();
        std::fs::write(&p, serde_json::to_string(&v3).unwrap()).unwrap();
        let e = load(std::slice::from_ref(&p)).err().unwrap().to_string();
        assert!(
            e.ends_with("schema 3 is not a schema this harness reads (1 to 2)"),
            "{e}"
        );
        let mut cell3 = v.clone();
        cell3["cells"][1]["schema"] = 3.into();
        std::fs::write(&p, serde_json::to_string(&cell3).unwrap()).unwrap();
        let e = load(std::slice::from_ref(&p)).err().unwrap().to_string();
        assert!(
            e.ends_with("cell 1 (e.x86_64): schema 3 is not 1 to 2"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A KUnit failure points at the test its summary names, not at a pre-existing one
    /// listed before it; a stage without a log says why without a place.
    #[test]
    fn why_points_at_the_failing_test_the_summary_names() {
        let mut c: CellResult = serde_json::from_value(schema1_cell("e", "t", true)).unwrap();
        c.kunit.tests[0].location = Some("rust/kernel/old.rs:1".into());
        let mut new = c.kunit.tests[0].clone();
        new.name = "u".into();
        new.location = Some("rust/kernel/new.rs:12".into());
        c.kunit.tests.push(new);
        let kunit = c.stage(Stage::Kunit);
        let why = Why::new(&c, kunit, "fail u (rust/kernel/new.rs:12)\nmore");
        assert_eq!(why.to_string(), "fail u (rust/kernel/new.rs:12)");
        assert_eq!(why.source(), Some(("rust/kernel/new.rs".into(), Some(12))));
        assert_eq!(split_location("rust/x.rs"), ("rust/x.rs".into(), None));
        assert!(!names("fail test_x", "fail t") && names("a; fail t (x)", "fail t"));
    }

    /// Rows whose series is already in the base say `in-base`; the Status cell of one the
    /// registry does not call merged says the registry is stale there. A merged row, and a row
    /// with no registry status (`try`), say nothing more.
    #[test]
    fn the_registry_table_flags_rows_in_the_base_that_the_registry_does_not_call_merged() {
        let in_base = |entry: &str| {
            let mut c = schema1_cell(entry, "t", false);
            c["stages"] = serde_json::json!([
                {"stage": "fetch", "status": "pass", "duration_s": 0.0, "summary": "1 patch files"},
                {"stage": "apply", "status": "pass", "duration_s": 0.0,
                 "summary": "already in the base: its patch reverse-applies to it", "in_base": true},
                {"stage": "toolchain", "status": "skip", "duration_s": 0.0,
                 "summary": "the series is already in the base"}]);
            c["kunit"] = serde_json::json!({"counts": {"total": 0, "passed": 0, "failed": 0, "crashed": 0, "skipped": 0}, "tests": []});
            c
        };
        let mut v = schema1_results(vec![
            schema1_cell("base", "t", false),
            in_base("stale"),
            in_base("merged"),
            in_base("try"),
            schema1_cell("building", "t", false),
        ]);
        let info = |id: &str, status: &str| serde_json::json!({"id": id, "area": id, "status": status, "source_kind": "mbox", "source": "x"});
        v["entries"] = serde_json::json!([
            info("stale", "testing"),
            info("merged", "Merged"),
            info("try", ""),
            info("building", "testing")
        ]);
        let (dir, p) = results_file("stale", &v);
        let l = load(&[p]).unwrap();
        let mut out = Vec::new();
        markdown::write(&Grid::new(&l), &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let row = |id: &str| {
            out.lines()
                .find(|l| l.starts_with(&format!("| {id} |")))
                .unwrap_or_else(|| panic!("no row {id}: {out}"))
                .to_string()
        };
        assert_eq!(
            row("stale"),
            "| stale | testing (stale: already in the base) |  | mbox: x |  | in-base |"
        );
        assert_eq!(
            row("merged"),
            "| merged | Merged |  | mbox: x |  | in-base |"
        );
        assert_eq!(row("try"), "| try |  |  | mbox: x |  | in-base |");
        assert_eq!(
            row("building"),
            "| building | testing |  | mbox: x |  | pass |"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// The HTML page and the step summary open with the regressions, as the text report: the
    /// same lines (`Grid::regression_lines`), before the grid.
    #[test]
    fn html_and_markdown_open_with_the_regressions() {
        let mut regressed = schema1_cell("e", "t", true);
        regressed["change"] = "regressed".into();
        regressed["health"] = serde_json::json!({"verdict": "fail", "stage": "kunit",
            "summary": "fail t <b>"});
        let v = schema1_results(vec![schema1_cell("base", "t", false), regressed]);
        let (dir, p) = results_file("regressions-first", &v);
        let l = load(&[p]).unwrap();
        let g = Grid::new(&l);
        let mut html = Vec::new();
        html::write(&g, &mut html, Some(&dir)).unwrap();
        let html = String::from_utf8(html).unwrap();
        let at = |s: &str, what: &str| s.find(what).unwrap_or_else(|| panic!("no {what}: {s}"));
        assert!(
            at(&html, "<h2>Regressions</h2>") < at(&html, "<table id=\"grid\">"),
            "{html}"
        );
        assert!(
            html.contains("<li>e.x86_64 (t): kunit — fail t &lt;b&gt;</li>"),
            "{html}"
        );
        let mut md = Vec::new();
        markdown::write(&g, &mut md).unwrap();
        let md = String::from_utf8(md).unwrap();
        assert!(
            md.starts_with("## RFL patch health\n\n### Regressions\n\n- e.x86\\_64 (t): kunit — fail t &lt;b&gt;\n"),
            "{md}"
        );
        // Without a baseline, no section.
        let plain = schema1_results(vec![schema1_cell("e", "t", true)]);
        let (dir2, p) = results_file("regressions-none", &plain);
        let l = load(&[p]).unwrap();
        let mut html = Vec::new();
        html::write(&Grid::new(&l), &mut html, Some(&dir2)).unwrap();
        assert!(!String::from_utf8(html).unwrap().contains("Regressions"));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&dir2);
    }

    /// Two toolchains of one arch are two columns, each cell compared with the base cell of
    /// its own toolchain.
    #[test]
    fn the_grid_keeps_the_toolchains_of_one_arch_apart() {
        let v = schema1_results(vec![
            schema1_cell("base", "a", false),
            schema1_cell("base", "b", true),
            schema1_cell("e", "a", true),
            schema1_cell("e", "b", true),
        ]);
        let (dir, p) = results_file("toolchains", &v);
        let l = load(&[p]).unwrap();
        let mut out = Vec::new();
        text::write(&Grid::new(&l), &mut anstream::StripStream::new(&mut out)).unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[..3],
            [
                "entry        x86_64.a          x86_64.b        ",
                "base v7.2.x  pass              FAIL kunit      ",
                "e            FAIL kunit        pass (1 pre)    ",
            ],
            "{out}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
