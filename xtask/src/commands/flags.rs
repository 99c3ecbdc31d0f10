//! Command-line flags (clap derive), one variant per subcommand; `--lore`'s message-id rule
//! (`check_msgid`, shared with results files).

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::model::matrix::ConfigChoice;

#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Patch-health harness for Rust-for-Linux",
    version
)]
pub struct Flags {
    /// Cache folder (object store, build slots, runs). Default: $RFL_CACHE or target/rfl.
    #[arg(long, global = true, value_name = "DIR")]
    pub cache: Option<PathBuf>,
    /// Colour in the text report: on a terminal (`auto`, unless NO_COLOR is set or
    /// CLICOLOR_FORCE forces it), `always` or `never`.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        value_name = "WHEN"
    )]
    pub color: clap::ColorChoice,
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// The exit statuses of `matrix` and `try` (README's table).
const RUN_EXIT: &str = "\
Exit status (a non-zero one says why on stderr):
  0    the run completed and --fail-on found nothing
  1    --fail-on fail (the default): an entry cell's health is fail; --fail-on regression: an
       entry cell regressed against --baseline (without --baseline: as fail, said on stderr)
  2    bad input: a malformed matrix, an unknown name, arch or stage, an unreadable baseline
  3    no entry cell could run: every entry cell's health is error or unreachable
  130  interrupted";

/// The exit statuses of `report` (README's table).
const REPORT_EXIT: &str = "\
Exit status (a non-zero one says why on stderr):
  0  the results were read and --fail-on found nothing
  1  --fail-on fail (the default): an entry cell's health is fail; --fail-on regression: an
     entry cell regressed against --baseline (without --baseline: as fail, said on stderr)
  2  bad input: a results file or baseline that cannot be read or breaks the schema";

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Install the toolchain, QEMU and the offline tagged bases (Debian 12, as root).
    Setup(SetupArgs),
    /// List every tool with version and path; check the base's minimum versions.
    Doctor(DoctorArgs),
    /// Turn the RFL registry markdown into matrix.toml entries.
    ImportRegistry(ImportArgs),
    /// Print the cells a run would execute, and why entries cannot run.
    Plan(PlanArgs),
    /// Run the matrix: fetch, apply, config, build, boot, KUnit, clippy, rustfmt, rustdoc.
    #[command(after_help = RUN_EXIT)]
    Matrix(MatrixArgs),
    /// Run one series in hand (--mbox, --lore or --git/--ref) on a base, as `matrix` runs an
    /// entry, without touching matrix.toml.
    #[command(after_help = RUN_EXIT)]
    Try(TryArgs),
    /// Re-create one cell in a fresh folder, write repro.sh, show the failing stage.
    Repro(ReproArgs),
    /// Measure the speed ratios (P1, P2, P3) in one run and write BENCHMARKS.md.
    Bench(BenchArgs),
    /// Write a report from finished results.
    #[command(after_help = REPORT_EXIT)]
    Report(ReportArgs),
    /// Parse a console log's KTAP output: its verdict, counts, suites, cases and parse errors as JSON.
    ParseKtap(ParseKtapArgs),
    /// Tell GitHub, patchwork and the series' author of the cells whose health turned between
    /// pass and fail since the baseline (--dry-run writes what would be sent).
    #[command(after_help = PUBLISH_EXIT)]
    Publish(PublishArgs),
    /// Known failures (expectations.toml beside the matrix): `lint` checks the file.
    Expectations(ExpectationsArgs),
}

/// The exit statuses of `publish`.
const PUBLISH_EXIT: &str = "\
Credentials come only from the environment: GITHUB_TOKEN (github-*), PATCHWORK_TOKEN
(patchwork), RFL_SMTP_USER and RFL_SMTP_PASSWORD (email, optional; sent only to a relay on
this machine). The SMTP relay is --smtp or RFL_SMTP.

Exit status (a non-zero one says why on stderr):
  0  everything composed was written (--dry-run) or sent (--send)
  1  --send: a request or a mail failed (the others were still sent)
  2  bad input: a results file or baseline that cannot be read, a bad flag value, a missing
     credential or --out that exists";

/// Which cells: shared by plan and matrix.
#[derive(Debug, clap::Args)]
pub struct Selection {
    /// The matrix file (default: matrix.toml in the project).
    #[arg(long, value_name = "FILE")]
    pub matrix: Option<PathBuf>,
    /// Entry id glob (repeatable); `base` selects only base cells.
    #[arg(long = "entry", value_name = "GLOB")]
    pub entries: Vec<String>,
    /// Architecture (repeatable or comma-separated); `all` for every one the matrix lists.
    #[arg(long = "arch", value_name = "ARCH", value_delimiter = ',')]
    pub arches: Vec<String>,
    /// Only the entries on this base the matrix declares.
    #[arg(long, value_name = "BASE")]
    pub base: Option<String>,
    /// A toolchain the matrix declares, instead of the matrix's `toolchain` choice.
    #[arg(long, value_name = "NAME")]
    pub toolchain: Option<String>,
    /// A config variant the matrix declares, or `all` (default: the variants marked default).
    #[arg(long, value_name = "NAME")]
    pub config: Option<ConfigChoice>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    /// One line per cell, then the entries that cannot run and why.
    Text,
    /// The plan as JSON.
    Json,
    /// A GitHub Actions job matrix (cells grouped into jobs).
    Github,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    /// The terminal grid, then each failing cell with why and its repro line.
    Text,
    /// The (merged) results as results.json, with each cell's change against `--baseline`.
    Json,
    /// The registry table with health per arch, for $GITHUB_STEP_SUMMARY (under 1 MiB).
    Markdown,
    /// JUnit XML: a suite per entry, arch and stage; KUnit cases as test cases.
    Junit,
    /// KCIDB v5 JSON: checkouts, builds and tests.
    Kcidb,
    /// One self-contained HTML page linking each cell's logs.
    Html,
    /// GitHub Actions annotations (regressions first, at most ten) and the text report behind
    /// stop-commands.
    Github,
}

#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// The matrix whose toolchains and offline bases are installed (default: matrix.toml).
    #[arg(long, value_name = "FILE")]
    pub matrix: Option<PathBuf>,
    /// Say what would be installed, install nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also install what the test suite uses (Chromium, a Python venv with kcidb-io,
    /// check-jsonschema and zizmor).
    #[arg(long)]
    pub tests: bool,
}

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// The matrix whose toolchains and bases are checked (default: matrix.toml).
    #[arg(long, value_name = "FILE")]
    pub matrix: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The registry's markdown file.
    pub file: PathBuf,
    /// Output matrix (kept ids and settings are read from it when it exists). Default: stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub sel: Selection,
    /// How the plan is printed.
    #[arg(long, value_enum, default_value = "text")]
    pub format: PlanFormat,
    /// Most jobs in a `--format github` matrix (GitHub allows 256).
    #[arg(long, default_value_t = 256)]
    pub max_jobs: usize,
}

#[derive(Debug, clap::Args)]
pub struct MatrixArgs {
    #[command(flatten)]
    pub sel: Selection,
    #[command(flatten)]
    pub run: RunFlags,
    /// Exactly these cells, as ENTRY@BASE@ARCH[,…] (what `plan --format github` emits).
    #[arg(long, value_name = "LIST")]
    pub cells: Option<String>,
}

/// How the planned cells run, and what the exit code says: shared by matrix and try.
#[derive(Debug, clap::Args)]
pub struct RunFlags {
    /// An earlier run's results.json: each cell is marked regressed, fixed, still failing or
    /// new against it.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Exit 1 on any failing entry cell (`fail`), only on a regressed one (`regression`; without
    /// --baseline, as `fail`, said on stderr), or never.
    #[arg(long, value_enum, default_value = "fail", value_name = "WHEN")]
    pub fail_on: crate::model::baseline::FailOn,
    /// Run folder (results.json and per-cell logs). Default: <cache>/runs/<time>.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Stop every cell after this stage.
    #[arg(long, value_name = "STAGE")]
    pub stage: Option<String>,
    /// Parallel make jobs (default: the machine's cores).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Override every arch's boot deadline, in seconds.
    #[arg(long, value_name = "SECS")]
    pub boot_timeout: Option<u64>,
    /// Recompute cells that the result cache already holds.
    #[arg(long)]
    pub force: bool,
    /// Continue an interrupted run in the same --out folder, keeping its finished cells.
    #[arg(long)]
    pub resume: bool,
    /// Build every cell from nothing (no reuse of the base's build, of checks or of cached
    /// results), to compare with the incremental result.
    #[arg(long)]
    pub clean: bool,
    /// Run only the KUnit suites (`suite`) or tests (`suite.test`) this glob matches, as
    /// kunit.py's filter_glob: `kunit.filter_glob=GLOB` on every boot, base cells' too.
    #[arg(long, value_name = "GLOB")]
    pub kunit_filter: Option<String>,
    /// A folder of base builds (zstd archives): a base cell whose slot has no build yet starts
    /// from the archive of its own commit, else from the newest one of the same base, arch,
    /// toolchain and config, and make redoes only what changed since.
    #[arg(long, value_name = "DIR")]
    pub build_cache: Option<PathBuf>,
    /// Save each base cell's build into --build-cache once its build passed. Refused for a
    /// run with entry cells, and never done for a slot where an entry's patch was built.
    #[arg(long, requires = "build_cache")]
    pub save_build_cache: bool,
}

/// One series in hand, on a declared base: an mbox, a lore thread, or a git ref.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("series").required(true).args(["mbox", "lore", "git"])))]
pub struct TryArgs {
    /// An mbox file, or a folder of .patch/.mbox/.eml files.
    #[arg(long, value_name = "FILE")]
    pub mbox: Option<PathBuf>,
    /// A mailing-list thread's message-id: its newest revision's patches, from lore.
    #[arg(long, value_name = "MSGID")]
    pub lore: Option<String>,
    /// A git repository (with --ref).
    #[arg(long, value_name = "URL", requires = "git_ref")]
    pub git: Option<String>,
    /// A branch, tag or commit of the --git repository.
    #[arg(long = "ref", value_name = "REF", requires = "git")]
    pub git_ref: Option<String>,
    /// A base the matrix declares.
    #[arg(long, value_name = "BASE")]
    pub base: String,
    /// Architecture (repeatable or comma-separated); `all` for every one the matrix lists.
    #[arg(long = "arch", value_name = "ARCH", value_delimiter = ',')]
    pub arches: Vec<String>,
    /// A toolchain the matrix declares (default: every one).
    #[arg(long, value_name = "NAME")]
    pub toolchain: Option<String>,
    /// A config variant the matrix declares, or `all` (default: the variants marked default).
    #[arg(long, value_name = "NAME")]
    pub config: Option<ConfigChoice>,
    /// The matrix whose bases, arches, checks, toolchains and mirrors are used (its entries
    /// are not run).
    #[arg(long, value_name = "FILE")]
    pub matrix: Option<PathBuf>,
    #[command(flatten)]
    pub run: RunFlags,
}

pub use crate::model::matrix::check_msgid;

#[derive(Debug, clap::Args)]
pub struct ReproArgs {
    /// Entry id, or `base` (with --base) for a base cell.
    pub entry: String,
    /// The cell's architecture (default: the matrix's first).
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// The cell's base (default: the entry's own).
    #[arg(long, value_name = "BASE")]
    pub base: Option<String>,
    /// The cell's config variant (default: the matrix's first default one).
    #[arg(long, value_name = "NAME")]
    pub config: Option<ConfigChoice>,
    /// The matrix file (default: matrix.toml in the project).
    #[arg(long, value_name = "FILE")]
    pub matrix: Option<PathBuf>,
    /// Boot the kernel again with its console on this terminal.
    #[arg(long)]
    pub interactive: bool,
    /// The KUnit filter the cell ran under (its repro line carries it).
    #[arg(long, value_name = "GLOB")]
    pub kunit_filter: Option<String>,
    /// Parallel make jobs (default: the machine's cores).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Override the arch's boot deadline, in seconds.
    #[arg(long, value_name = "SECS")]
    pub boot_timeout: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Parallel make jobs (default: the machine's cores).
    #[arg(short = 'j', long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Leave out the kunit.py comparison (P2).
    #[arg(long)]
    pub skip_kunit_py: bool,
    /// Where the figures are written.
    #[arg(long, value_name = "FILE", default_value = "BENCHMARKS.md")]
    pub output: PathBuf,
    /// Only the parser figures (KTAP throughput over this console, planning 1 000
    /// entries), printed; no kernel is built and BENCHMARKS.md is left alone.
    #[arg(long, value_name = "CONSOLE")]
    pub parsers_only: Option<PathBuf>,
    /// Only the fetch figure (a remote base fetched shallow vs with its whole history, from a
    /// generated local remote), printed; no kernel is built and BENCHMARKS.md is left alone.
    #[arg(long, conflicts_with = "parsers_only")]
    pub fetch_only: bool,
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// results.json of a run (repeatable; several are merged).
    #[arg(long = "results", value_name = "FILE", required = true)]
    pub results: Vec<PathBuf>,
    /// An earlier run's results.json: each cell is marked regressed, fixed, still failing or
    /// new against it.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Exit 1 on any failing entry cell (`fail`), only on a regressed one (`regression`; without
    /// --baseline, as `fail`, said on stderr), or never.
    #[arg(long, value_enum, default_value = "fail", value_name = "WHEN")]
    pub fail_on: crate::model::baseline::FailOn,
    /// The report's format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// Write here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("mode").required(true).args(["dry_run", "send"])))]
pub struct PublishArgs {
    /// results.json of a run (repeatable; several are merged).
    #[arg(long = "results", value_name = "FILE", required = true)]
    pub results: Vec<PathBuf>,
    /// The earlier run's results.json the cells are compared with. Without it nothing has
    /// changed state, so nothing is published.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Where to tell (repeatable or comma-separated).
    #[arg(
        long = "to",
        value_name = "TARGET",
        value_enum,
        value_delimiter = ',',
        required = true
    )]
    pub to: Vec<crate::report::publish::Target>,
    /// Write each request's body (JSON, with index.json naming method and URL) and each mail
    /// (.eml) into --out; send nothing.
    #[arg(long, requires = "out")]
    pub dry_run: bool,
    /// A folder that does not exist yet, for --dry-run's files.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Send: GitHub and patchwork over HTTPS, mails through the SMTP relay.
    #[arg(long)]
    pub send: bool,
    /// The GitHub repository, `owner/name`.
    #[arg(long, value_name = "OWNER/NAME")]
    pub repo: Option<String>,
    /// The commit the statuses and check runs are on (40 hex digits).
    #[arg(long, value_name = "SHA")]
    pub sha: Option<String>,
    /// The pull request the sticky comment goes on.
    #[arg(long, value_name = "N")]
    pub pr: Option<u64>,
    /// Whose comment on the pull request is the sticky one, edited in place (the token's
    /// login); another's comment is never edited.
    #[arg(long, value_name = "LOGIN", default_value = "github-actions[bot]")]
    pub comment_author: String,
    /// Where a reader sees the run (a status' and check's link, the comment's and mail's).
    #[arg(long, value_name = "URL")]
    pub target_url: Option<String>,
    /// GitHub's API root.
    #[arg(long, value_name = "URL", default_value = "https://api.github.com")]
    pub github_api: String,
    /// The patchwork instance (its root, e.g. https://patchwork.kernel.org).
    #[arg(long, value_name = "URL")]
    pub patchwork_url: Option<String>,
    /// The mails' sender (`Name <addr>` or `addr`).
    #[arg(long, value_name = "ADDRESS")]
    pub from: Option<String>,
    /// The SMTP relay, `host:port` (default: $RFL_SMTP); plain SMTP, the relay does TLS.
    #[arg(long, value_name = "HOST:PORT")]
    pub smtp: Option<String>,
    /// The least time between two requests, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub interval_ms: u64,
}

#[derive(Debug, clap::Args)]
pub struct ParseKtapArgs {
    /// A console log holding KTAP output.
    pub file: PathBuf,
    /// Every KTAP block (module suites too), not only the first as kunit.py reads.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExpectationsArgs {
    #[command(subcommand)]
    pub cmd: ExpectationsCmd,
}

#[derive(Debug, clap::Subcommand)]
pub enum ExpectationsCmd {
    /// Check expectations.toml without running anything: its fields, links, dates, expiry,
    /// and every name against the matrix. Exit 0 clean, 1 findings, 2 unreadable.
    Lint(LintArgs),
}

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// The matrix file the expectations are checked against (default: matrix.toml in the
    /// project).
    #[arg(long, value_name = "FILE")]
    pub matrix: Option<PathBuf>,
    /// The expectations file to check (default: expectations.toml beside the matrix file).
    #[arg(long, value_name = "FILE")]
    pub expectations: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_id_is_one_word_with_an_at_and_no_url() {
        assert_eq!(check_msgid("20240101.1234-1-a@b.example"), Ok(()));
        for bad in [
            "",
            "-x@y",
            "a b@c",
            "a<b@c",
            "https://lore.kernel.org/x@y",
            "nope",
        ] {
            assert!(check_msgid(bad).is_err(), "{bad:?}");
        }
        assert!(check_msgid(&format!("{}@x", "a".repeat(998))).is_err());
    }
}
