//! Reports from results: terminal text, Markdown (the registry table with health per arch),
//! JUnit XML, KCIDB v5 JSON and a self-contained HTML page. Each writes to any `impl Write`
//! and reads logs only through the run folder it is given.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::model::baseline::Change;
use crate::model::health;
use crate::model::outcome::{
    CaseStatus, CellKey, CellResult, EntryInfo, Health, RunResults, Stage, StageResult, Status,
    Verdict,
};
use crate::model::text::term_safe;

/// Results with the folder their logs live in (several when merged).
pub struct Loaded {
    pub results: RunResults,
    /// Run folder of each cell, by index in `results.cells`.
    pub dirs: Vec<PathBuf>,
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
        for c in r.cells {
            dirs.push(dir.clone());
            merged.cells.push(c);
        }
    }
    // Health was decided when the cell ran, against the base cell of its own run (a job runs
    // the base cells its entries need); a cell without one is assessed over the merged set.
    for i in 0..merged.cells.len() {
        if merged.cells[i].health.is_none() {
            let c = &merged.cells[i];
            let h = health::assess(c, health::base_of(c, &merged.cells));
            merged.cells[i].health = Some(h);
        }
    }
    Ok(Loaded {
        results: merged,
        dirs,
    })
}

fn health_of(c: &CellResult) -> Health {
    c.health.clone().unwrap_or_else(|| health::assess(c, None))
}

/// A column of the grid: an arch, and a toolchain (named only when the results hold several).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Column {
    arch: String,
    toolchain: String,
}

/// The grid's columns: each arch, in the usual order, once per toolchain it ran with.
fn columns(r: &RunResults) -> Vec<Column> {
    let order = ["x86_64", "arm64", "riscv64", "loongarch64"];
    let mut cols: Vec<Column> = r
        .cells
        .iter()
        .map(|c| Column {
            arch: c.arch.clone(),
            toolchain: c.toolchain.name.clone(),
        })
        .collect();
    cols.sort_by(|a, b| {
        let at = |c: &Column| order.iter().position(|o| *o == c.arch).unwrap_or(9);
        (at(a), a).cmp(&(at(b), b))
    });
    cols.dedup();
    cols
}

/// Column headers: the arch, with the toolchain when the results hold several.
fn column_names(cols: &[Column]) -> Vec<String> {
    let many = cols.iter().any(|c| c.toolchain != cols[0].toolchain);
    cols.iter()
        .map(|c| {
            if many {
                format!("{}.{}", c.arch, c.toolchain)
            } else {
                c.arch.clone()
            }
        })
        .collect()
}

/// A row of the grid: an entry on its base, or a base cell's base.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Row<'a> {
    entry: &'a str,
    base: &'a str,
    is_base: bool,
}

impl<'a> Row<'a> {
    fn of(c: &'a CellResult) -> Row<'a> {
        Row {
            entry: &c.entry,
            base: &c.base,
            is_base: c.is_base(),
        }
    }
    fn name(&self) -> String {
        if self.is_base {
            format!("base {}", self.base)
        } else {
            self.entry.to_string()
        }
    }
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

/// The cell of a grid square (by its [`CellKey`], as everywhere).
fn find<'a>(r: &'a RunResults, row: Row, col: &Column) -> Option<(usize, &'a CellResult)> {
    let key = CellKey {
        entry: row.entry,
        base: row.base,
        arch: &col.arch,
        toolchain: &col.toolchain,
    };
    r.cells.iter().enumerate().find(|(_, c)| c.key() == key)
}

fn short(h: &Health) -> String {
    match (h.verdict, h.stage) {
        (Verdict::Fail, Some(s)) => format!("FAIL {}", s.name()),
        (Verdict::Error, Some(s)) => format!("ERROR {}", s.name()),
        (Verdict::Pass, _) if !h.preexisting.is_empty() => {
            format!("pass ({} pre)", h.preexisting.len())
        }
        (v, _) => v.name().to_string(),
    }
}

/// The lines of the "Regressions" section that opens the text and Markdown reports: each
/// regressed cell with its first failing stage and why, then a count of the other changes.
/// `None` when the results were not compared with a baseline.
fn regression_lines(r: &RunResults) -> Option<Vec<String>> {
    if r.cells.iter().all(|c| c.change.is_none()) {
        return None;
    }
    let mut lines = Vec::new();
    for c in r
        .cells
        .iter()
        .filter(|c| c.change == Some(Change::Regressed))
    {
        let h = health_of(c);
        lines.push(format!(
            "{}.{}{}: {} — {}",
            Row::of(c).name(),
            c.arch,
            if c.toolchain.name.is_empty() {
                String::new()
            } else {
                format!(" ({})", c.toolchain.name)
            },
            h.stage.map_or("-", |s| s.name()),
            first_line(&h.summary)
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

/// A stage's run time, and its wait for job tokens when that is worth a look.
fn took(s: &StageResult) -> String {
    let queued = if s.queued_s >= 1.0 {
        format!(" (+{:.0} s queued)", s.queued_s)
    } else {
        String::new()
    };
    format!(" in {:.1} s{queued}", s.duration_s)
}

/// Fail or error: a cell the failing-cells lists and the annotations show.
fn failing(h: &Health) -> bool {
    matches!(h.verdict, Verdict::Fail | Verdict::Error)
}

/// The terminal summary: a grid, then each failing cell with its first error and the
/// command that reproduces it. Colour only when asked (on a terminal). Every text from the
/// results goes through `term_safe`: the only escape sequences written are the colours.
pub fn text(l: &Loaded, w: &mut dyn Write, colour: bool) -> std::io::Result<()> {
    let r = &l.results;
    if let Some(lines) = regression_lines(r) {
        writeln!(w, "Regressions:")?;
        for line in lines {
            writeln!(w, "  {}", term_safe(&line))?;
        }
        writeln!(w)?;
    }
    let cols = columns(r);
    let paint = |s: &str, v: Verdict| -> String {
        if !colour {
            return s.to_string();
        }
        let code = match v {
            Verdict::Pass => "32",
            Verdict::Fail => "31",
            Verdict::Error | Verdict::Unreachable => "33",
            Verdict::Skip => "90",
            Verdict::InBase => "36",
        };
        format!("\x1b[{code}m{s}\x1b[0m")
    };
    let width = rows(r)
        .iter()
        .map(|row| term_safe(&row.name()).len())
        .max()
        .unwrap_or(5)
        .max(5);
    write!(w, "{:<width$}", "entry")?;
    for name in column_names(&cols) {
        write!(w, "  {:<16}", term_safe(&name))?;
    }
    writeln!(w)?;
    for row in rows(r) {
        write!(w, "{:<width$}", term_safe(&row.name()))?;
        for col in &cols {
            let cell = find(r, row, col).map(|(_, c)| health_of(c));
            let (s, v) = cell
                .map(|h| (short(&h), h.verdict))
                .unwrap_or(("-".into(), Verdict::Skip));
            write!(w, "  {}", paint(&format!("{:<16}", term_safe(&s)), v))?;
        }
        writeln!(w)?;
    }
    let skipped = r.skipped_entries.len();
    if skipped > 0 {
        writeln!(
            w,
            "{skipped} entries cannot run (see results.json skipped_entries)"
        )?;
    }
    let failing: Vec<&CellResult> = r.cells.iter().filter(|c| failing(&health_of(c))).collect();
    if !failing.is_empty() {
        writeln!(w, "\nfailing cells:")?;
        for c in failing {
            let h = health_of(c);
            writeln!(
                w,
                "  {}.{}: {}{} — {}",
                term_safe(&Row::of(c).name()),
                term_safe(&c.arch),
                term_safe(&short(&h)),
                h.stage.and_then(|s| c.stage(s)).map_or(String::new(), took),
                term_safe(first_line(&h.summary))
            )?;
            if !c.repro.is_empty() {
                writeln!(w, "    reproduce: {}", term_safe(first_line(&c.repro)))?;
            }
        }
    }
    let pre: usize = r
        .cells
        .iter()
        .filter(|c| !c.is_base())
        .map(|c| health_of(c).preexisting.len())
        .sum();
    if pre > 0 {
        writeln!(w, "\n{pre} problems seen in entries are the base's own (pre-existing), not counted against them")?;
    }
    Ok(())
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// Markdown escaping for table cells: no pipe, backtick, angle bracket or newline survives.
pub fn md_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' => o.push_str("\\|"),
            '`' => o.push_str("\\`"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '*' | '_' | '[' | ']' | '\\' => {
                o.push('\\');
                o.push(c);
            }
            '\n' | '\r' => o.push(' '),
            c if c.is_control() => {}
            c => o.push(c),
        }
    }
    o
}

/// The registry table with a health column per arch, for `$GITHUB_STEP_SUMMARY` (< 1 MiB).
pub fn markdown(l: &Loaded, w: &mut dyn Write) -> std::io::Result<()> {
    const LIMIT: usize = 900 * 1024;
    let r = &l.results;
    let cols = columns(r);
    let mut out = String::new();
    out.push_str("## RFL patch health\n\n");
    out.push_str(&format!(
        "Run started {}; {} cells.\n\n",
        md_escape(&r.started),
        r.cells.len()
    ));
    if let Some(lines) = regression_lines(r) {
        out.push_str("### Regressions\n\n");
        for line in lines {
            out.push_str(&format!("- {}\n", md_escape(&line)));
        }
        out.push('\n');
    }
    out.push_str("| Target Area | Status | Author | Source | Base |");
    for name in column_names(&cols) {
        out.push_str(&format!(" {} |", md_escape(&name)));
    }
    out.push_str("\n|---|---|---|---|---|");
    for _ in &cols {
        out.push_str("---|");
    }
    out.push('\n');
    let info: BTreeMap<&str, &EntryInfo> = r.entries.iter().map(|e| (e.id.as_str(), e)).collect();
    for row in rows(r) {
        let i = info.get(row.entry);
        let (area, status, authors, source, base) = match i {
            Some(i) => (
                i.area.clone(),
                i.status.clone(),
                i.authors.join(", "),
                format!("{}: {}", i.source_kind, i.source),
                i.base.clone().unwrap_or_default(),
            ),
            None => (
                row.name(),
                String::new(),
                String::new(),
                String::new(),
                row.base.to_string(),
            ),
        };
        out.push_str(&format!(
            "| {} | {}{} | {} | {} | {} |",
            md_escape(&area),
            md_escape(&status),
            stale_note(r, row, &status),
            md_escape(&authors),
            md_escape(&source),
            md_escape(&base)
        ));
        for col in &cols {
            let s = find(r, row, col)
                .map(|(_, c)| short(&health_of(c)))
                .unwrap_or_else(|| "-".into());
            out.push_str(&format!(" {} |", md_escape(&s)));
        }
        out.push('\n');
    }
    for s in &r.skipped_entries {
        let i = info.get(s.id.as_str());
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |",
            md_escape(i.map_or(&s.id, |i| &i.area)),
            md_escape(i.map_or("", |i| &i.status)),
            md_escape(&i.map(|i| i.authors.join(", ")).unwrap_or_default()),
            md_escape(
                &i.map(|i| format!("{}: {}", i.source_kind, i.source))
                    .unwrap_or_default()
            ),
            md_escape(&format!("cannot run: {}", s.reason))
        ));
        for _ in &cols {
            out.push_str(" skip |");
        }
        out.push('\n');
    }
    out.push_str("\n<details><summary>Failing cells</summary>\n\n");
    for c in &r.cells {
        let h = health_of(c);
        if !failing(&h) {
            continue;
        }
        let item = format!(
            "- **{}.{}** {}: {}  \n  reproduce: {}\n",
            md_escape(&Row::of(c).name()),
            md_escape(&c.arch),
            md_escape(&short(&h)),
            md_escape(first_line(&h.summary)),
            md_escape(&c.repro)
        );
        if out.len() + item.len() > LIMIT {
            out.push_str("- … (truncated to stay under the step summary's 1 MiB)\n");
            break;
        }
        out.push_str(&item);
    }
    out.push_str("\n</details>\n");
    w.write_all(out.as_bytes())
}

/// A row whose series is already in its base while the registry does not say `merged`: the
/// registry is stale there, and the Status cell says so. A row with no status (not from the
/// registry) says nothing.
fn stale_note(r: &RunResults, row: Row, status: &str) -> &'static str {
    let in_base = r
        .cells
        .iter()
        .any(|c| Row::of(c) == row && health_of(c).verdict == Verdict::InBase);
    let merged = status.trim().eq_ignore_ascii_case("merged");
    if in_base && !status.trim().is_empty() && !merged {
        " (stale: already in the base)"
    } else {
        ""
    }
}

/// XML text escaping that also drops what XML 1.0 forbids (ANSI escapes' ESC, BEL, …).
pub fn xml_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            '\t' | '\n' | '\r' => o.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                o.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => o.push(c),
        }
    }
    o
}

/// The most of a log's end that a report reads.
const LOG_TAIL_BYTES: u64 = 1024 * 1024;

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

/// JUnit XML: a suite per (entry, arch, stage); KUnit tests one case each with a classname
/// that keeps them unique; `<failure>` for the code's failures, `<error>` for faults.
pub fn junit(l: &Loaded, w: &mut dyn Write) -> std::io::Result<()> {
    let r = &l.results;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // Each stage is one test, except a KUnit stage with tests: each of its tests is one.
    let total: usize = r
        .cells
        .iter()
        .map(|c| {
            c.stages
                .iter()
                .filter(|s| s.stage != Stage::Kunit || c.kunit.tests.is_empty())
                .count()
                + c.kunit.tests.len()
        })
        .sum();
    out.push_str(&format!(
        "<testsuites name=\"rfl-health\" tests=\"{total}\">\n"
    ));
    for (i, c) in r.cells.iter().enumerate() {
        let who = Row::of(c).name().replace(' ', "-");
        let dir = &l.dirs[i];
        for s in &c.stages {
            if s.stage == Stage::Kunit && !c.kunit.tests.is_empty() {
                let mut by_suite: BTreeMap<&str, Vec<&crate::model::outcome::Case>> =
                    BTreeMap::new();
                for t in &c.kunit.tests {
                    by_suite.entry(t.suite.as_str()).or_default().push(t);
                }
                for (suite, tests) in by_suite {
                    let count = |s: CaseStatus| tests.iter().filter(|t| t.status == s).count();
                    let fails = count(CaseStatus::Fail);
                    let errors = count(CaseStatus::Crash);
                    let skipped = count(CaseStatus::Skip);
                    out.push_str(&format!(
                        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"0\" timestamp=\"{}\">\n",
                        xml_escape(&format!("{who}.{}.kunit.{suite}", c.arch)),
                        tests.len(),
                        xml_escape(&c.started)
                    ));
                    for t in tests {
                        let (file, line) = t
                            .location
                            .as_deref()
                            .and_then(|l| l.rsplit_once(':'))
                            .map_or((None, None), |(f, n)| (Some(f), Some(n)));
                        out.push_str(&format!(
                            "    <testcase name=\"{}\" classname=\"{}\" time=\"0\"{}{}>",
                            xml_escape(&t.name),
                            xml_escape(&format!("{who}.{}.{suite}", c.arch)),
                            file.map(|f| format!(" file=\"{}\"", xml_escape(f)))
                                .unwrap_or_default(),
                            line.map(|n| format!(" line=\"{}\"", xml_escape(n)))
                                .unwrap_or_default()
                        ));
                        match t.status {
                            CaseStatus::Fail => out.push_str(&format!(
                                "<failure message=\"{}\">{}</failure>",
                                xml_escape(&format!("{} failed", t.name)),
                                xml_escape(&t.summary)
                            )),
                            CaseStatus::Crash => out.push_str(&format!(
                                "<error message=\"{}\">{}</error>",
                                xml_escape(&format!("{} crashed", t.name)),
                                xml_escape(&t.summary)
                            )),
                            CaseStatus::Skip => out.push_str(&format!(
                                "<skipped message=\"{}\"/>",
                                xml_escape(&t.summary)
                            )),
                            CaseStatus::Pass => {}
                        }
                        out.push_str("</testcase>\n");
                    }
                    out.push_str("  </testsuite>\n");
                }
                continue;
            }
            let (f, e, sk) = match s.status {
                Status::Fail => (1, 0, 0),
                Status::Error => (0, 1, 0),
                Status::Skip => (0, 0, 1),
                Status::Pass => (0, 0, 0),
            };
            out.push_str(&format!(
                "  <testsuite name=\"{}\" tests=\"1\" failures=\"{f}\" errors=\"{e}\" skipped=\"{sk}\" time=\"{:.3}\" timestamp=\"{}\">\n",
                xml_escape(&format!("{who}.{}.{}", c.arch, s.stage.name())),
                s.duration_s,
                xml_escape(&c.started)
            ));
            let loc = s.diagnostics.iter().find(|d| d.file.is_some());
            out.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"{}{}>",
                s.stage.name(),
                xml_escape(&format!("{who}.{}", c.arch)),
                s.duration_s,
                loc.and_then(|d| d.file.as_ref())
                    .map(|f| format!(" file=\"{}\"", xml_escape(f)))
                    .unwrap_or_default(),
                loc.and_then(|d| d.line)
                    .map(|n| format!(" line=\"{n}\""))
                    .unwrap_or_default()
            ));
            let detail = s
                .diagnostics
                .iter()
                .take(20)
                .map(|d| d.render())
                .collect::<Vec<_>>()
                .join("\n");
            match s.status {
                Status::Fail => out.push_str(&format!(
                    "<failure message=\"{}\">{}</failure>",
                    xml_escape(first_line(&s.summary)),
                    xml_escape(&detail)
                )),
                Status::Error => out.push_str(&format!(
                    "<error message=\"{}\">{}</error>",
                    xml_escape(first_line(&s.summary)),
                    xml_escape(&detail)
                )),
                Status::Skip => out.push_str(&format!(
                    "<skipped message=\"{}\"/>",
                    xml_escape(&s.summary)
                )),
                Status::Pass => {}
            }
            if matches!(s.status, Status::Fail | Status::Error) {
                out.push_str(&format!(
                    "<system-out>{}</system-out>",
                    xml_escape(&log_tail(dir, c, s.log.as_deref(), 40))
                ));
            }
            out.push_str("</testcase>\n  </testsuite>\n");
        }
    }
    out.push_str("</testsuites>\n");
    w.write_all(out.as_bytes())
}

/// A KCIDB path component: `[A-Za-z0-9_-]+`.
fn kcidb_word(s: &str) -> String {
    let w: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if w.is_empty() {
        "_".into()
    } else {
        w
    }
}

fn kcidb_status(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Error => "ERROR",
        Status::Skip => "SKIP",
    }
}

/// KCIDB v5 (checkouts, builds, tests) as validated by kcidb-io.
pub fn kcidb(l: &Loaded, w: &mut dyn Write) -> std::io::Result<()> {
    use serde_json::{json, Value};
    const ORIGIN: &str = "rfl_health";
    let r = &l.results;
    let mut checkouts: Vec<Value> = Vec::new();
    let mut builds = Vec::new();
    let mut tests = Vec::new();
    let ts = |s: &str| {
        if s.is_empty() {
            Value::Null
        } else {
            Value::String(s.to_string())
        }
    };
    for c in &r.cells {
        let who = kcidb_word(&Row::of(c).name());
        let commit = c.base_commit.clone().unwrap_or_default();
        let checkout_id = format!(
            "{ORIGIN}:{who}-{}-{}",
            kcidb_word(&c.base),
            c.patchset
                .as_ref()
                .map_or(commit.clone(), |p| p.hash.clone())
        );
        if !checkouts.iter().any(|x| x["id"] == checkout_id.as_str()) {
            let mut co = json!({
                "id": checkout_id,
                "origin": ORIGIN,
                "tree_name": c.base,
                "valid": c.stage(Stage::Apply).is_some_and(|s| s.status == Status::Pass),
            });
            if commit.len() == 40 {
                co["git_commit_hash"] = json!(commit);
            }
            if let Some(p) = &c.patchset {
                co["patchset_hash"] = json!(p.hash);
            }
            if let Some(t) = ts(&c.started).as_str() {
                co["start_time"] = json!(t);
            }
            checkouts.push(co);
        }
        let build_id = format!(
            "{ORIGIN}:{who}-{}-{}-{}",
            kcidb_word(&c.arch),
            kcidb_word(&c.toolchain.name),
            kcidb_word(&c.started)
        );
        let b = c.stage(Stage::Build);
        let mut build = json!({
            "id": build_id,
            "origin": ORIGIN,
            "checkout_id": checkout_id,
            "architecture": kcidb_word(&c.arch),
            "compiler": format!("rustc {} / clang {}", c.toolchain.versions.get("rustc").map_or("?", |s| s), c.toolchain.versions.get("clang").map_or("?", |s| s)),
            "config_name": "tinyconfig+rfl",
            "status": b.map_or("MISS", |s| kcidb_status(s.status)),
            "duration": b.map_or(0.0, |s| s.duration_s),
        });
        if let Some(t) = ts(&c.started).as_str() {
            build["start_time"] = json!(t);
        }
        if let Some(s) = b {
            let excerpt: String = s.summary.chars().take(16000).collect();
            build["log_excerpt"] = json!(excerpt);
        }
        builds.push(build);
        for s in c.stages.iter().filter(|s| s.stage > Stage::Build) {
            let path = format!("rfl.{}", s.stage.name());
            tests.push(json!({
                "id": format!("{build_id}-{}", s.stage.name()),
                "origin": ORIGIN,
                "build_id": build_id,
                "path": path,
                "status": kcidb_status(s.status),
                "duration": s.duration_s,
                "log_excerpt": s.summary.chars().take(16000).collect::<String>(),
            }));
        }
        for (n, t) in c.kunit.tests.iter().enumerate() {
            let status = match t.status {
                CaseStatus::Pass => "PASS",
                CaseStatus::Skip => "SKIP",
                CaseStatus::Crash => "ERROR",
                CaseStatus::Fail => "FAIL",
            };
            let mut path = String::from("kunit");
            for part in t
                .suite
                .split('.')
                .filter(|p| !p.is_empty())
                .chain(std::iter::once(t.name.as_str()))
            {
                path.push('.');
                path.push_str(&kcidb_word(part));
            }
            tests.push(json!({
                "id": format!("{build_id}-kunit-{n}"),
                "origin": ORIGIN,
                "build_id": build_id,
                "path": path,
                "status": status,
                "log_excerpt": t.summary.chars().take(16000).collect::<String>(),
            }));
        }
    }
    let v = json!({ "version": { "major": 5, "minor": 3 }, "checkouts": checkouts, "builds": builds, "tests": tests });
    w.write_all((serde_json::to_string_pretty(&v).expect("json") + "\n").as_bytes())
}

/// GitHub workflow-command escaping of a message (data).
pub fn gh_data(s: &str) -> String {
    // Terminal escapes first: GitHub's log viewer renders them.
    crate::model::text::term_safe(s)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// GitHub workflow-command escaping of a property value.
pub fn gh_prop(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The token that ends a `::stop-commands::` block: 128 random bits in hex, so that no patch
/// or console line can guess it and turn workflow commands back on.
pub fn stop_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// At most ten `::error` annotations with file/line, then the text report wrapped in
/// `::stop-commands::` so that nothing a patch or a console printed can act as a command.
pub fn github(l: &Loaded, w: &mut dyn Write, token: &str) -> std::io::Result<()> {
    let r = &l.results;
    let mut n = 0;
    for c in &r.cells {
        let h = health_of(c);
        if !failing(&h) || n >= 10 {
            continue;
        }
        let st = h.stage.and_then(|s| c.stage(s));
        let loc = st.and_then(|s| s.diagnostics.iter().find(|d| d.file.is_some()));
        let kunit_loc = c
            .kunit
            .tests
            .iter()
            .find(|t| t.status.is_bad() && t.location.is_some())
            .and_then(|t| t.location.clone());
        let (file, line) = match (loc, kunit_loc) {
            (Some(d), _) => (d.file.clone(), d.line.map(|l| l.to_string())),
            (None, Some(kl)) => match kl.rsplit_once(':') {
                Some((f, l)) => (Some(f.to_string()), Some(l.to_string())),
                None => (Some(kl), None),
            },
            _ => (None, None),
        };
        let mut props = vec![format!(
            "title={}",
            gh_prop(&format!("{}.{}: {}", Row::of(c).name(), c.arch, short(&h)))
        )];
        if let Some(f) = file {
            props.insert(0, format!("file={}", gh_prop(&f)));
        }
        if let Some(l) = line {
            props.insert(1.min(props.len()), format!("line={}", gh_prop(&l)));
        }
        let kind = if h.verdict == Verdict::Error {
            "warning"
        } else {
            "error"
        };
        writeln!(
            w,
            "::{kind} {}::{}",
            props.join(","),
            gh_data(&format!("{}\nreproduce: {}", h.summary, c.repro))
        )?;
        n += 1;
    }
    writeln!(w, "::stop-commands::{token}")?;
    text(l, w, false)?;
    writeln!(w, "::{token}::")?;
    Ok(())
}

pub fn html_escape(s: &str) -> String {
    xml_escape(s)
}

/// One self-contained page: the grid, each cell linking to its stage logs.
pub fn html(l: &Loaded, w: &mut dyn Write, out_dir: Option<&Path>) -> std::io::Result<()> {
    let r = &l.results;
    let cols = columns(r);
    let mut o = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>RFL patch health</title>\n<style>\nbody{font-family:sans-serif;margin:1em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}\n.pass{background:#d4f4d4}.in-base{background:#d4e8f8}.fail{background:#f8c8c8}.error,.unreachable{background:#f8e8b0}.skip{background:#eee;color:#666}\ntd small{display:block;color:#333}a{color:#036}\n</style></head><body>\n<h1>RFL patch health</h1>\n",
    );
    o.push_str(&format!(
        "<p>Run started {} — {} cells.</p>\n<table id=\"grid\">\n<tr><th>entry</th>",
        html_escape(&r.started),
        r.cells.len()
    ));
    for name in column_names(&cols) {
        o.push_str(&format!("<th>{}</th>", html_escape(&name)));
    }
    o.push_str("</tr>\n");
    for row in rows(r) {
        o.push_str(&format!("<tr><th>{}</th>", html_escape(&row.name())));
        for col in &cols {
            match find(r, row, col) {
                Some((i, c)) => {
                    let h = health_of(c);
                    let dir = &l.dirs[i];
                    let links: Vec<String> = c
                        .stages
                        .iter()
                        .filter_map(|s| {
                            s.log
                                .as_ref()
                                .and_then(|lg| log_href(dir, c, lg, out_dir))
                                .map(|href| {
                                    format!(
                                        "<a href=\"{}\">{}</a>",
                                        html_escape(&href),
                                        s.stage.name()
                                    )
                                })
                        })
                        .collect();
                    o.push_str(&format!(
                        "<td class=\"{}\" title=\"{}\"><b>{}</b><small>{}</small><small>{}</small></td>",
                        h.verdict.name(),
                        html_escape(&h.summary),
                        html_escape(&short(&h)),
                        html_escape(first_line(&h.summary)),
                        links.join(" ")
                    ));
                }
                None => o.push_str("<td class=\"skip\">-</td>"),
            }
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n");
    if !r.skipped_entries.is_empty() {
        o.push_str("<h2>Entries that cannot run</h2>\n<ul>\n");
        for s in &r.skipped_entries {
            o.push_str(&format!(
                "<li><b>{}</b>: {}</li>\n",
                html_escape(&s.id),
                html_escape(&s.reason)
            ));
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</body></html>\n");
    w.write_all(o.as_bytes())
}

/// A log kept elsewhere, named by an http(s) URL.
fn is_http(log: &str) -> bool {
    let lower = log.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// Where the HTML page links a stage's log: an http(s) URL as it is, or a log that resolves
/// inside the run folder (see `resolve_log`) as a relative path from the page's folder (the
/// current folder when the page goes to stdout). Anything else (`javascript:`, a path out of
/// the run folder, a missing file) gets no link.
fn log_href(
    run_dir: &Path,
    cell: &CellResult,
    log: &str,
    out_dir: Option<&Path>,
) -> Option<String> {
    if is_http(log) {
        return log
            .chars()
            .all(|c| c.is_ascii_graphic())
            .then(|| log.to_string());
    }
    let target = resolve_log(run_dir, cell, log)?;
    let from = std::fs::canonicalize(out_dir.unwrap_or(Path::new("."))).ok()?;
    Some(relative_href(&target, &from))
}

/// `to` as a relative URL from the folder `from` (both canonical): `./…` or `../…`, each
/// byte outside `[A-Za-z0-9._~/-]` percent-encoded, so no part of it reads as a scheme.
fn relative_href(to: &Path, from: &Path) -> String {
    let to: Vec<_> = to.components().collect();
    let from: Vec<_> = from.components().collect();
    let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec![".".into()];
    parts.extend(std::iter::repeat_n("..".to_string(), from.len() - common));
    for c in &to[common..] {
        let mut seg = String::new();
        for b in c.as_os_str().as_encoded_bytes() {
            if b.is_ascii_alphanumeric() || b"._~-".contains(b) {
                seg.push(*b as char);
            } else {
                seg.push_str(&format!("%{b:02X}"));
            }
        }
        parts.push(seg);
    }
    if parts.len() > 1 && parts[1] == ".." {
        parts.remove(0);
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stop-commands token is random (it was the pid and the time): two tokens taken in
    /// the same process at once differ, and each is 128 bits in hex.
    #[test]
    fn stop_tokens_are_random() {
        let (a, b) = (stop_token().unwrap(), stop_token().unwrap());
        assert_ne!(a, b);
        for t in [&a, &b] {
            assert!(
                t.len() == 32 && t.chars().all(|c| c.is_ascii_hexdigit()),
                "{t}"
            );
        }
    }

    #[test]
    fn escapes() {
        assert_eq!(md_escape("a|b`c<script>"), "a\\|b\\`c&lt;script&gt;");
        assert_eq!(xml_escape("\u{1b}[31m]]>\u{7}"), "\\x1b[31m]]&gt;\\x07");
        assert_eq!(kcidb_word("rust doctests.kernel"), "rust_doctests_kernel");
        assert_eq!(gh_data("50%\n::x"), "50%25%0A::x");
        assert_eq!(gh_prop("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn relative_links_never_read_as_a_scheme() {
        let p = |s: &str| Path::new(s).to_path_buf();
        assert_eq!(
            relative_href(&p("/r/cells/a/build.log"), &p("/r")),
            "./cells/a/build.log"
        );
        assert_eq!(
            relative_href(&p("/r/cells/a/javascript:alert(1)"), &p("/r/cells/a")),
            "./javascript%3Aalert%281%29"
        );
        assert_eq!(
            relative_href(&p("/r/one/cells/x.log"), &p("/r/two")),
            "../one/cells/x.log"
        );
    }

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
        markdown(&l, &mut out).unwrap();
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
        text(&l, &mut out, false).unwrap();
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
