//! Command-line flags (clap derive), one variant per subcommand.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

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
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Install the toolchain, QEMU and the offline tagged bases (Debian/Ubuntu, as root).
    Setup {
        #[arg(long, value_name = "FILE")]
        matrix: Option<PathBuf>,
        /// Say what would be installed, install nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also install what the test suite uses (Chromium, a Python venv with kcidb-io,
        /// check-jsonschema and zizmor).
        #[arg(long)]
        tests: bool,
    },
    /// List every tool with version and path; check the base's minimum versions.
    Doctor {
        #[arg(long, value_name = "FILE")]
        matrix: Option<PathBuf>,
    },
    /// Turn the RFL registry markdown into matrix.toml entries.
    ImportRegistry {
        file: PathBuf,
        /// Output matrix (kept ids and settings are read from it when it exists). Default: stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Print the cells a run would execute, and why entries cannot run.
    Plan {
        #[command(flatten)]
        sel: Selection,
        #[arg(long, value_enum, default_value = "text")]
        format: PlanFormat,
        /// Most jobs in a `--format github` matrix (GitHub allows 256).
        #[arg(long, default_value_t = 256)]
        max_jobs: usize,
    },
    /// Run the matrix: fetch, apply, config, build, boot, KUnit, clippy, rustfmt, rustdoc.
    Matrix {
        #[command(flatten)]
        sel: Selection,
        /// Run folder (results.json and per-cell logs). Default: <cache>/runs/<time>.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Stop every cell after this stage.
        #[arg(long, value_name = "STAGE")]
        stage: Option<String>,
        /// Exactly these cells, as ENTRY@BASE@ARCH[,…] (what `plan --format github` emits).
        #[arg(long, value_name = "LIST")]
        cells: Option<String>,
        /// Parallel make jobs (default: the machine's cores).
        #[arg(short = 'j', long)]
        jobs: Option<usize>,
        /// Override every arch's boot deadline, in seconds.
        #[arg(long, value_name = "SECS")]
        boot_timeout: Option<u64>,
        /// Recompute cells that the result cache already holds.
        #[arg(long)]
        force: bool,
        /// Continue an interrupted run in the same --out folder, keeping its finished cells.
        #[arg(long)]
        resume: bool,
        /// Build every cell from nothing (no reuse of the base's build, of checks or of cached
        /// results), to compare with the incremental result.
        #[arg(long)]
        clean: bool,
    },
    /// Re-create one cell in a fresh folder, write repro.sh, show the failing stage.
    Repro {
        /// Entry id, or `base` (with --base) for a base cell.
        entry: String,
        #[arg(long, value_name = "ARCH")]
        arch: Option<String>,
        #[arg(long, value_name = "BASE")]
        base: Option<String>,
        #[arg(long, value_name = "FILE")]
        matrix: Option<PathBuf>,
        /// Boot the kernel again with its console on this terminal.
        #[arg(long)]
        interactive: bool,
        #[arg(short = 'j', long)]
        jobs: Option<usize>,
        #[arg(long, value_name = "SECS")]
        boot_timeout: Option<u64>,
    },
    /// Measure the speed ratios (P1, P2, P3) in one run and write BENCHMARKS.md.
    Bench {
        #[arg(short = 'j', long)]
        jobs: Option<usize>,
        /// Leave out the kunit.py comparison (P2).
        #[arg(long)]
        skip_kunit_py: bool,
        #[arg(long, value_name = "FILE", default_value = "BENCHMARKS.md")]
        output: PathBuf,
        /// Only the parser figures (KTAP throughput over this console, planning 1 000
        /// entries), printed; no kernel is built and BENCHMARKS.md is left alone.
        #[arg(long, value_name = "CONSOLE")]
        parsers_only: Option<PathBuf>,
    },
    /// Write a report from finished results.
    Report {
        /// results.json of a run (repeatable; several are merged).
        #[arg(long = "results", value_name = "FILE", required = true)]
        results: Vec<PathBuf>,
        /// Merge several results files (implied by more than one --results).
        #[arg(long)]
        merge: bool,
        #[arg(long, value_enum, default_value = "text")]
        format: ReportFormat,
        /// Write here instead of stdout.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Parse a console log's KTAP output and print its test cases as JSON.
    ParseKtap {
        file: PathBuf,
        /// Every KTAP block (module suites too), not only the first as kunit.py reads.
        #[arg(long)]
        all: bool,
    },
}

/// Which cells: shared by plan and matrix.
#[derive(Debug, clap::Args)]
pub struct Selection {
    #[arg(long, value_name = "FILE")]
    pub matrix: Option<PathBuf>,
    /// Entry id glob (repeatable); `base` selects only base cells.
    #[arg(long = "entry", value_name = "GLOB")]
    pub entries: Vec<String>,
    /// Architecture (repeatable or comma-separated); `all` for every one the matrix lists.
    #[arg(long = "arch", value_name = "ARCH", value_delimiter = ',')]
    pub arches: Vec<String>,
    #[arg(long, value_name = "BASE")]
    pub base: Option<String>,
    #[arg(long, value_name = "NAME")]
    pub toolchain: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    Text,
    Json,
    Github,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Text,
    Markdown,
    Junit,
    Kcidb,
    Html,
    /// GitHub Actions annotations (at most ten) and the text report behind stop-commands.
    Github,
}
