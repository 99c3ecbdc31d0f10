//! `bench`: measured ratios, all in one run, written to BENCHMARKS.md and printed as
//! `NAME RATIO` lines.
//!
//! P1: a cold base cell vs warm cells (a sample-module entry, a `rust/kernel/` entry) and the
//! warm sample cell vs the same change by hand (incremental make + boot + checks, the floor).
//! P2: a cold cell's build-and-test stages vs `kunit.py run` on the same tree, both cold.
//! P3: the harness's wall time vs the time of its make and qemu children.
//! Also: KTAP parsing throughput, planning a 1 000-entry matrix, and a remote base's shallow
//! fetch against its whole history (`fetch_bench`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::commands::select;
use crate::model::arch::Arch;
use crate::model::matrix::{self, Loaded};
use crate::model::outcome::{CellResult, Stage};
use crate::model::plan::{self, Filters};
use crate::run;
use crate::sys::paths::{project_root, Cache};
use crate::sys::proc;

pub struct Args {
    pub jobs: usize,
    pub skip_kunit_py: bool,
    pub output: PathBuf,
}

struct Figure {
    name: &'static str,
    ratio: f64,
    detail: String,
}

/// One x86_64 cell of the bench matrix, run as a matrix run would: with its base cell, which
/// (after the cold run) comes from the bench's own result cache; up to `stop_after`. `clean`:
/// the entry's cell alone, built from nothing (`--clean`).
fn one_cell(
    cache: &Cache,
    m: &Loaded,
    entry: &str,
    out: &Path,
    jobs: usize,
    stop_after: Option<Stage>,
    clean: bool,
) -> anyhow::Result<CellResult> {
    let f = Filters {
        entries: vec![glob::Pattern::new(&glob::Pattern::escape(entry))?],
        arches: vec![Arch::X86_64],
        ..Default::default()
    };
    let mut p = plan::plan(m, &f);
    if clean {
        p.cells.retain(|c| c.entry == entry);
    }
    let opts = run::Opts {
        out: out.to_path_buf(),
        stop_after,
        jobs,
        boot_timeout: None,
        force: false,
        resume: false,
        clean,
        matrix_arg: String::new(),
        kunit_filter: None,
        rerun: None,
        build_cache: None,
        save_build_cache: false,
        expect: None,
    };
    let r = run::run(cache, m, &p, &opts, &crate::report::live::Live::new())?;
    r.cells
        .into_iter()
        .find(|c| c.entry == entry)
        .context("the cell did not run")
}

/// The time `cmd` ran; a wait for its token is no part of it.
fn timed(cmd: &mut Command, log: &Path) -> anyhow::Result<f64> {
    // A make by hand is `make -jN`: one token for the make, the pool for the rest, as the
    // harness's own makes get.
    let _token = crate::sys::jobs::acquire(true);
    let t = Instant::now();
    let o = proc::run_logged(cmd, log, Some(Duration::from_secs(3 * 3600)))?;
    if !o.success() {
        bail!(
            "`{}` failed ({}); see {}",
            proc::display_command(cmd),
            o.describe(),
            log.display()
        );
    }
    Ok(t.elapsed().as_secs_f64())
}

pub fn bench(cache: &Cache, a: &Args) -> anyhow::Result<()> {
    let root = project_root();
    let m = select::load_file(&root.join("tests/bench/matrix.toml"))?;
    let work = cache.root.join("bench");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let mut fresh = cache.clone();
    fresh.slots_at = Some(work.join("slots"));
    // Cold means cold for ccache too: an empty one, which the later cells then reuse; and a
    // result cache of the bench's own, so that nothing comes from an earlier run.
    fresh.ccache_at = Some(work.join("ccache"));
    fresh.results_at = Some(work.join("results"));
    let mut figures = Vec::new();

    // The slot's kernel worktree is checked out before P3's window opens: its cost is git's
    // and the page cache's (it varied from 11 s to 40 s between two runs on the same code),
    // and it would hide the harness's own overhead rather than measure it.
    eprintln!("bench: the slot's kernel worktree");
    let _ = one_cell(
        &fresh,
        &m,
        plan::BASE_ENTRY,
        &work.join("run-checkout"),
        a.jobs,
        Some(Stage::Apply),
        false,
    )?;
    let wall = Instant::now();

    // P1: cold base, then warm entries on the same slot.
    let mut cells = Vec::new();
    for (what, entry) in [
        ("cold base cell (x86_64)", plan::BASE_ENTRY),
        ("warm sample-module cell", "sample"),
        ("the next warm sample-module cell", "sample2"),
        ("warm rust/kernel cell", "kernel"),
    ] {
        eprintln!("bench: {what}");
        let dir = work.join(format!(
            "run-{}",
            if entry == plan::BASE_ENTRY {
                "cold"
            } else {
                entry
            }
        ));
        cells.push(one_cell(&fresh, &m, entry, &dir, a.jobs, None, false)?);
    }
    let [cold, sample, sample2, kernel] =
        <[CellResult; 4]>::try_from(cells).map_err(|_| anyhow::anyhow!("four cells were run"))?;
    let p3_wall = wall.elapsed().as_secs_f64();
    let p3_child = proc::child_time(&["make", "qemu-system"], wall).as_secs_f64();
    figures.push(Figure {
        name: "P1-sample",
        ratio: sample.duration_s / cold.duration_s,
        detail: format!("warm sample cell, the first entry after the base (in the base's own folders) {:.0} s / cold base cell {:.0} s", sample.duration_s, cold.duration_s),
    });
    figures.push(Figure {
        name: "P1-sample-next",
        ratio: sample2.duration_s / cold.duration_s,
        detail: format!(
            "the next warm sample cell {:.0} s / cold base cell {:.0} s",
            sample2.duration_s, cold.duration_s
        ),
    });
    figures.push(Figure {
        name: "P1-kernel",
        ratio: kernel.duration_s / cold.duration_s,
        detail: format!(
            "warm rust/kernel cell {:.0} s / cold base cell {:.0} s",
            kernel.duration_s, cold.duration_s
        ),
    });

    // The sample cell from nothing (`--clean`), with ccache warm from the cells above: what
    // ccache saves when an output folder has to be rebuilt.
    eprintln!("bench: the sample cell built clean, ccache warm");
    let clean = one_cell(
        &fresh,
        &m,
        "sample",
        &work.join("run-clean"),
        a.jobs,
        None,
        true,
    )?;
    let ccache_stats = fresh
        .ccache_at
        .as_ref()
        .map(|d| ccache_stats(d))
        .unwrap_or_default();
    figures.push(Figure {
        name: "P1-clean-ccache",
        ratio: clean.duration_s / cold.duration_s,
        detail: format!("sample cell built from nothing with ccache warm {:.0} s / cold base cell {:.0} s; {ccache_stats}", clean.duration_s, cold.duration_s),
    });

    // P1-floor: the same sample change by hand in a copy of the base's build.
    eprintln!("bench: the same change by hand (floor)");
    let floor = floor(&fresh, &m, &work, a.jobs)?;
    figures.push(Figure {
        name: "P1-floor",
        ratio: sample2.duration_s / floor,
        detail: format!("the next warm sample cell {:.0} s / the same change by hand: make + boot + clippy + rustfmt + rustdoc {floor:.0} s", sample2.duration_s),
    });

    // P2: the cold cell's build-and-test part vs kunit.py, both cold.
    let stage_s = |c: &CellResult, s: &[Stage]| {
        c.stages
            .iter()
            .filter(|x| s.contains(&x.stage))
            .map(|x| x.duration_s)
            .sum::<f64>()
    };
    let ours = stage_s(
        &cold,
        &[
            Stage::Toolchain,
            Stage::Config,
            Stage::Build,
            Stage::Boot,
            Stage::Kunit,
        ],
    );
    if !a.skip_kunit_py {
        eprintln!("bench: kunit.py run, cold");
        match kunit_py(&fresh, &m, &work, a.jobs) {
            Ok(k) => figures.push(Figure {
                name: "P2-kunit.py",
                ratio: ours / k,
                detail: format!(
                    "harness toolchain+config+build+boot+kunit {ours:.0} s / kunit.py run {k:.0} s"
                ),
            }),
            Err(e) => eprintln!("bench: kunit.py failed: {e:#}"),
        }
    }
    figures.push(Figure {
        name: "P3-overhead",
        ratio: (p3_wall - p3_child).max(0.0) / p3_child.max(1e-9),
        detail: format!("(harness wall {p3_wall:.0} s - time with a make or qemu running {p3_child:.0} s) / the latter, over the cold, sample, next-sample and rust/kernel cells"),
    });

    // A remote base's fetch: shallow against its whole history, on a generated remote.
    let (fetch, fetch_detail) = crate::commands::fetch_bench::figure(&work.join("fetch"))?;
    figures.push(Figure {
        name: "fetch-remote-base",
        ratio: fetch.shallow.bytes as f64 / fetch.full.bytes.max(1) as f64,
        detail: fetch_detail,
    });

    // KTAP throughput and planning time, medians of five.
    let console =
        std::fs::read_to_string(work.join("run-cold").join(&cold.dir).join("console.log"))
            .unwrap_or_default();
    let (mbps, big_mb) = ktap_rate(&console);
    let plan_s = plan_thousand()?;

    let versions = cold
        .toolchain
        .versions
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ");
    let qemu = crate::stages::toolchain::tool_version(
        &crate::sys::paths::qemu_profile(&root, Arch::X86_64)?.binary,
    )
    .unwrap_or_default();
    let mut md = String::from(
        "# Benchmarks\n\nWritten by `cargo xtask bench`; every figure comes from the same run.\n\n",
    );
    let _ = writeln!(
        md,
        "- machine: {} cores, {} GiB, {}",
        num_cpus(),
        mem_gib(),
        cpu_model()
    );
    let _ = writeln!(md, "- toolchain: {versions}; qemu {qemu}");
    let _ = writeln!(
        md,
        "- base: {} ({}), x86_64, `-j{}`\n",
        cold.base,
        cold.base_commit.clone().unwrap_or_default(),
        a.jobs
    );
    md.push_str("| figure | ratio | measured | target |\n|---|---|---|---|\n");
    for f in &figures {
        let target = match f.name {
            "P1-sample" | "P1-sample-next" => "≤ 0.10",
            "P1-kernel" => "≤ 0.5",
            "P1-floor" => "≤ 1.10",
            "P2-kunit.py" => "≤ 1.0",
            "P1-clean-ccache" => "(no target)",
            "fetch-remote-base" => "≤ 0.10",
            _ => "≤ 0.05",
        };
        let _ = writeln!(
            md,
            "| {} | {:.2} | {} | {target} |",
            f.name, f.ratio, f.detail
        );
    }
    let _ = writeln!(
        md,
        "| KTAP parse | {mbps:.0} MB/s | median of 5 over a {big_mb:.0} MB console | ≥ 50 MB/s |"
    );
    let _ = writeln!(md, "| plan, 1 000 entries | {plan_s:.3} s | `cargo xtask plan --format json`, median of 5 | < 1 s |");
    let _ = writeln!(md, "\nCell stage times (s):\n\n| stage | cold base | warm sample (first entry) | next warm sample | warm rust/kernel | sample, clean, ccache warm |\n|---|---|---|---|---|---|");
    for s in Stage::ALL {
        let d = |c: &CellResult| c.stage(s).map_or(0.0, |x| x.duration_s);
        let _ = writeln!(
            md,
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            s.name(),
            d(&cold),
            d(&sample),
            d(&sample2),
            d(&kernel),
            d(&clean)
        );
    }
    std::fs::write(&a.output, md).with_context(|| format!("write {}", a.output.display()))?;
    for f in &figures {
        println!("{} {:.2}", f.name, f.ratio);
    }
    println!("KTAP-MBps {mbps:.0}");
    println!("plan-1000-s {plan_s:.3}");
    Ok(())
}

/// The `sample2` change by hand, the way a developer with a built tree works: `git am` in the
/// tree, then make in the base's own build folder, boot, clippy in the base's clippy folder,
/// rustfmt and rustdoc (all timed), and the tree put back.
/// The x86_64 base build folders of a slot (output, clippy's), each the base's own: a run
/// killed while a stand-in held their places left the base's build beside them
/// (`<folder>.held`), and it comes back before the hand-made build uses them.
fn base_folders(slot: &Path) -> anyhow::Result<(PathBuf, PathBuf)> {
    let a = slot.join("debian/x86_64");
    let (out, clippy) = (a.join("out-base"), a.join("clippy-base"));
    for f in [&out, &clippy] {
        crate::stages::standin::restore_held(f)?;
    }
    Ok((out, clippy))
}

fn floor(cache: &Cache, m: &Loaded, work: &Path, jobs: usize) -> anyhow::Result<f64> {
    let slot = cache.slots().join("v7.2.x");
    let src = slot.join("src");
    let (out, clippy) = base_folders(&slot)?;
    let patch = root_path("tests/bench/sample2.patch");
    let git = |args: &[&str]| {
        let mut c = Command::new("git");
        c.arg("-C")
            .arg(&src)
            .args(args)
            .env("GIT_COMMITTER_NAME", "bench")
            .env("GIT_COMMITTER_EMAIL", "bench@invalid");
        c
    };
    proc::output(git(&["am", "-3"]).arg(&patch))?;
    let tc = crate::stages::toolchain::resolve(
        cache,
        "debian",
        m.matrix
            .toolchains
            .values()
            .next()
            .context("no toolchain")?,
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let profile = crate::sys::paths::qemu_profile(&project_root(), Arch::X86_64)?;
    let kb = crate::stages::build::Kbuild {
        src: src.clone(),
        out: out.clone(),
        profile: &profile,
        tc: &tc,
        jobs,
        logs: work.join("floor-logs"),
    };
    let logs = work.join("floor-logs");
    let mut total = timed(&mut kb.make(&out, &["all"]), &logs.join("make.log"))?;
    // The boot: the harness's own initramfs of the sample2 cell, the same QEMU line.
    let initramfs = work.join("run-sample2/cells/sample2.x86_64/initramfs/initramfs.cpio");
    let mut q = crate::stages::boot::qemu::qemu_command(&profile, &out, &initramfs, "tcg", "");
    let t = Instant::now();
    let (end, queued) = crate::sys::jobs::counting_waits(|| {
        crate::stages::boot::qemu::run_qemu(
            &mut q,
            &logs.join("console.log"),
            Duration::from_secs(300),
        )
    });
    if end?.outcome.timed_out {
        bail!("the floor's boot timed out");
    }
    total += t.elapsed().saturating_sub(queued).as_secs_f64();
    total += timed(
        &mut kb.make(&clippy, &["CLIPPY=1", "vmlinux", "modules"]),
        &logs.join("clippy.log"),
    )?;
    total += timed(
        &mut kb.make(&out, &["rustfmtcheck"]),
        &logs.join("rustfmt.log"),
    )?;
    total += timed(&mut kb.make(&out, &["rustdoc"]), &logs.join("rustdoc.log"))?;
    let base = crate::sys::store::Store::open(cache)?
        .rev(&crate::sys::store::base_ref("v7.2.x"))
        .context("base not provisioned")?;
    let _ = proc::output(&mut git(&[
        "checkout", "--quiet", "--force", "--detach", &base,
    ]));
    Ok(total)
}

fn root_path(p: &str) -> PathBuf {
    project_root().join(p)
}

/// `kunit.py run` on the same tree, cold, with the Rust kunitconfig. kunit.py asks QEMU for
/// `-accel kvm` first, which hangs on these machines: a wrapper named like QEMU drops it.
fn kunit_py(cache: &Cache, m: &Loaded, work: &Path, jobs: usize) -> anyhow::Result<f64> {
    let src = cache.slots().join("v7.2.x/src");
    let tc = crate::stages::toolchain::resolve(
        cache,
        "debian",
        m.matrix
            .toolchains
            .values()
            .next()
            .context("no toolchain")?,
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    let bin = work.join("kunit-py-bin");
    std::fs::create_dir_all(&bin)?;
    let real = proc::which("qemu-system-x86_64").context("qemu-system-x86_64 not found")?;
    let wrapper = bin.join("qemu-system-x86_64");
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\n# Drop -accel kvm/hvf: /dev/kvm hangs here; TCG is what the harness uses too.\nn=0; for a in \"$@\"; do shift; if [ \"$skip\" = 1 ]; then skip=0; case \"$a\" in kvm|hvf) continue;; *) set -- \"$@\" -accel \"$a\"; continue;; esac; fi; if [ \"$a\" = -accel ]; then skip=1; continue; fi; set -- \"$@\" \"$a\"; done\nexec {} \"$@\"\n", real.display()),
    )?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))?;
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = Command::new("python3");
    c.current_dir(&src)
        .arg("tools/testing/kunit/kunit.py")
        .arg("run")
        .args(["--arch", "x86_64", "--kunitconfig", "rust/.kunitconfig"]);
    c.arg(format!(
        "--build_dir={}",
        work.join("kunit-py-build").display()
    ));
    c.arg(format!("--jobs={jobs}")).arg("--timeout=600");
    // The same compilers, without ccache: kunit.py's own way of building.
    for v in tc.make_vars().into_iter().filter(|v| !v.starts_with("CC=")) {
        c.arg(format!("--make_options={v}"));
    }
    c.env("PATH", path);
    timed(&mut c, &work.join("kunit-py.log"))
}

/// KTAP parsing throughput (MB/s, median of five) over `console` repeated to about 50 MB, and
/// that size in MB. Without the console's test budget, which would stop the parse early.
fn ktap_rate(console: &str) -> (f64, f64) {
    let big = console.repeat((50 * 1024 * 1024 / console.len().max(1)).max(1));
    let mut rates = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let n: usize = crate::stages::ktap::parse_all_limited(&big, usize::MAX)
            .iter()
            .map(|b| crate::stages::ktap::cases(b).len())
            .sum();
        std::hint::black_box(n);
        rates.push(big.len() as f64 / 1e6 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(|x, y| x.total_cmp(y));
    (rates[2], big.len() as f64 / 1e6)
}

/// Only the parser figures (no kernel work): KTAP throughput over a real console and planning
/// a 1 000-entry matrix, printed as `NAME VALUE` lines.
pub fn parsers(console: &Path) -> anyhow::Result<()> {
    let text = crate::stages::ktap::decode(
        &std::fs::read(console).with_context(|| format!("read {}", console.display()))?,
    );
    let (mbps, mb) = ktap_rate(&text);
    println!("KTAP-MBps {mbps:.0}");
    println!("KTAP-console-MB {mb:.0}");
    println!("plan-1000-s {:.3}", plan_thousand()?);
    Ok(())
}

/// ccache's own count of hits and misses for a cache folder.
fn ccache_stats(dir: &Path) -> String {
    let Ok(text) = proc::output(
        Command::new("ccache")
            .arg("--print-stats")
            .env("CCACHE_DIR", dir),
    ) else {
        return String::new();
    };
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|v| v.trim().parse::<u64>().ok()))
            .unwrap_or(0)
    };
    let hits = get("direct_cache_hit") + get("preprocessed_cache_hit");
    let misses = get("cache_miss");
    format!("ccache over the bench: {hits} hits, {misses} misses")
}

fn plan_thousand() -> anyhow::Result<f64> {
    let mut text = String::from("arches = [\"x86_64\", \"arm64\", \"riscv64\", \"loongarch64\"]\n[bases.b]\nkind = \"branch\"\nurl = \"u\"\nref = \"r\"\n");
    for i in 0..1000 {
        let _ = write!(text, "[[entry]]\nid = \"e{i}\"\nsource = {{ github_pr = \"https://github.com/o/r/pull/{i}\" }}\nbase = \"b\"\n");
    }
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let m =
            matrix::parse(Path::new("bench.toml"), &text).map_err(|e| anyhow::anyhow!("{e}"))?;
        let p = plan::plan(&m, &Filters::default());
        std::hint::black_box(p.to_json());
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(|x, y| x.total_cmp(y));
    Ok(times[2])
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn mem_gib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("MemTotal:").map(|v| {
                    v.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .unwrap_or(0)
                })
            })
        })
        .map_or(0, |kb| (kb + 512 * 1024) / (1024 * 1024))
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
            })
        })
        .unwrap_or_default()
}

impl crate::commands::flags::BenchArgs {
    pub fn run(self, cache: &Cache) -> anyhow::Result<std::process::ExitCode> {
        if let Some(console) = &self.parsers_only {
            parsers(console)?;
            return Ok(std::process::ExitCode::SUCCESS);
        }
        if self.fetch_only {
            crate::commands::fetch_bench::fetch_only(cache)?;
            return Ok(std::process::ExitCode::SUCCESS);
        }
        crate::sys::signal::install()?;
        let _lock = crate::sys::paths::lock_cache(cache)?;
        let output = if self.output.is_absolute() {
            self.output
        } else {
            crate::sys::paths::project_root().join(self.output)
        };
        bench(
            cache,
            &Args {
                jobs: crate::commands::select::jobs(self.jobs),
                skip_kunit_py: self.skip_kunit_py,
                output,
            },
        )?;
        Ok(std::process::ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A killed run left a stand-in at the base's output folder and the base's own build
    /// beside it: the floor's folders are the base's again before it builds in them.
    #[test]
    fn the_floor_builds_in_the_bases_own_folders() {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("debian/x86_64");
        for (dir, what) in [("out-base", "stand-in"), ("out-base.held", "base")] {
            std::fs::create_dir_all(a.join(dir)).unwrap();
            std::fs::write(a.join(dir).join(".config"), what).unwrap();
        }
        let (out, clippy) = base_folders(t.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(out.join(".config")).unwrap(),
            "base"
        );
        assert!(!a.join("out-base.held").exists());
        assert_eq!(clippy, a.join("clippy-base"));
    }
}
