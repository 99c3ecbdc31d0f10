//! `cargo xtask`: the patch-health harness for Rust-for-Linux. Parse flags, dispatch.

mod flags;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use xtask::commands::{bench, import, repro, setup};
use xtask::model::{arch, matrix, outcome, plan};
use xtask::stages::ktap;
use xtask::sys::paths::{project_root, Cache};
use xtask::sys::{paths, proc};
use xtask::{report, run};

use crate::flags::{Cmd, Flags, PlanFormat, ReportFormat, Selection};

fn main() -> ExitCode {
    // A closed pipe (`… | head`) ends the program quietly, as for any Unix tool, instead of a
    // panic in println!.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let flags = Flags::parse();
    match run(flags) {
        Ok(code) => code,
        Err(e) => {
            // An error may quote outside text (a matrix value, a server's answer).
            eprintln!(
                "error: {}",
                xtask::model::text::term_safe(&format!("{e:#}"))
            );
            ExitCode::from(2)
        }
    }
}

fn matrix_path(p: Option<&Path>) -> PathBuf {
    p.map(Path::to_path_buf)
        .unwrap_or_else(|| project_root().join("matrix.toml"))
}

fn load_matrix(p: Option<&Path>) -> anyhow::Result<matrix::Loaded> {
    matrix::load(&matrix_path(p))
}

fn filters(m: &matrix::Loaded, sel: &Selection) -> anyhow::Result<plan::Filters> {
    let mut f = plan::Filters::default();
    for e in &sel.entries {
        let pattern = glob::Pattern::new(e)
            .map_err(|err| anyhow::anyhow!("--entry {}: {err}", matrix::shown(e)))?;
        // A pattern that selects nothing is a typo or a name that cannot be an id: bad input.
        if e != plan::BASE_ENTRY
            && !m
                .matrix
                .entries
                .iter()
                .any(|x| pattern.matches(x.id.get_ref()))
        {
            anyhow::bail!(
                "--entry {}: matches no entry of {}",
                matrix::shown(e),
                m.path.display()
            );
        }
        f.entries.push(pattern);
    }
    for a in &sel.arches {
        if a == "all" {
            f.arches = m.arches.clone();
            break;
        }
        match arch::Arch::parse(a) {
            Some(arch) => f.arches.push(arch),
            None => anyhow::bail!(
                "--arch {a}: unknown arch (known: {}, all)",
                arch::Arch::ALL
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    if let Some(b) = &sel.base {
        if !m.matrix.bases.contains_key(b) {
            anyhow::bail!(
                "--base {}: not declared in {}",
                matrix::shown(b),
                m.path.display()
            );
        }
        f.base = Some(b.clone());
    }
    if let Some(t) = &sel.toolchain {
        if !m.matrix.toolchains.contains_key(t) {
            anyhow::bail!(
                "--toolchain {}: not declared in {}",
                matrix::shown(t),
                m.path.display()
            );
        }
        f.toolchain = Some(t.clone());
    }
    Ok(f)
}

/// `<cache>/runs/latest` → the newest run folder.
fn link_latest(cache: &Cache, out: &Path) {
    let link = cache.runs().join("latest");
    let _ = std::fs::create_dir_all(cache.runs());
    let _ = std::fs::remove_file(&link);
    let _ = std::os::unix::fs::symlink(out, &link);
}

fn run(flags: Flags) -> anyhow::Result<ExitCode> {
    let cache = Cache::new(flags.cache.as_deref());
    match flags.cmd {
        Cmd::Setup {
            matrix,
            dry_run,
            tests,
        } => {
            let m = load_matrix(matrix.as_deref())?;
            setup::setup(&cache, &m, dry_run)?;
            if tests && !dry_run {
                setup::setup_test_tools(&cache)?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Doctor { matrix } => {
            let m = load_matrix(matrix.as_deref())?;
            Ok(if setup::doctor(&cache, &m)? {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::ImportRegistry { file, out } => {
            import::run(&file, out.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Plan {
            sel,
            format,
            max_jobs,
        } => {
            let m = load_matrix(sel.matrix.as_deref())?;
            let p = plan::plan(&m, &filters(&m, &sel)?);
            print!(
                "{}",
                match format {
                    PlanFormat::Text => p.to_text(),
                    PlanFormat::Json => p.to_json(),
                    PlanFormat::Github => p.to_github(max_jobs),
                }
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Report {
            results,
            merge: _,
            format,
            output,
        } => {
            let loaded = report::load(&results)?;
            let mut buf: Vec<u8> = Vec::new();
            let out_dir = output.as_ref().and_then(|o| o.parent()).map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            });
            let out_dir =
                out_dir.map(|d| std::fs::canonicalize(d).unwrap_or_else(|_| d.to_path_buf()));
            let colour = output.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdout());
            match format {
                ReportFormat::Text => report::text(&loaded, &mut buf, colour)?,
                ReportFormat::Markdown => report::markdown(&loaded, &mut buf)?,
                ReportFormat::Junit => report::junit(&loaded, &mut buf)?,
                ReportFormat::Kcidb => report::kcidb(&loaded, &mut buf)?,
                ReportFormat::Html => report::html(&loaded, &mut buf, out_dir.as_deref())?,
                ReportFormat::Github => {
                    // A token no patch can know in advance: it ends the stop-commands block.
                    let token = report::stop_token().map_err(|e| {
                        anyhow::anyhow!("read a random token from /dev/urandom: {e}")
                    })?;
                    report::github(&loaded, &mut buf, &token)?
                }
            }
            match output {
                Some(p) => {
                    std::fs::write(&p, &buf).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?
                }
                None => std::io::Write::write_all(&mut std::io::stdout(), &buf)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Repro {
            entry,
            arch,
            base,
            matrix,
            interactive,
            jobs,
            boot_timeout,
        } => {
            let m = load_matrix(matrix.as_deref())?;
            let arch = match arch {
                Some(a) => Some(
                    arch::Arch::parse(&a)
                        .ok_or_else(|| anyhow::anyhow!("--arch {a}: unknown arch"))?,
                ),
                None => None,
            };
            if entry != plan::BASE_ENTRY && m.entry(&entry).is_none() {
                anyhow::bail!(
                    "no entry `{}` in {}",
                    matrix::shown(&entry),
                    m.path.display()
                );
            }
            // Only a declared (so checked) base name may reach the reproducer's folder names.
            if let Some(b) = base.as_deref().filter(|b| !m.matrix.bases.contains_key(*b)) {
                anyhow::bail!(
                    "--base {}: not declared in {}",
                    matrix::shown(b),
                    m.path.display()
                );
            }
            let matrix_arg = match &matrix {
                Some(p) => format!(" --matrix {}", proc::shell_quote(p)),
                None => String::new(),
            };
            xtask::sys::signal::install()?;
            let _lock = paths::lock_cache(&cache)?;
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
            let args = repro::Args {
                entry,
                arch,
                base,
                interactive,
                jobs,
                boot_timeout,
                matrix_arg,
            };
            let healthy = repro::repro(&cache, &m, &args)?;
            Ok(if healthy {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Cmd::Bench {
            parsers_only: Some(console),
            ..
        } => {
            bench::parsers(&console)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Bench {
            jobs,
            skip_kunit_py,
            output,
            parsers_only: None,
        } => {
            xtask::sys::signal::install()?;
            let _lock = paths::lock_cache(&cache)?;
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
            let output = if output.is_absolute() {
                output
            } else {
                project_root().join(output)
            };
            bench::bench(
                &cache,
                &bench::Args {
                    jobs,
                    skip_kunit_py,
                    output,
                },
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::ParseKtap { file, all } => {
            let bytes =
                std::fs::read(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let text = ktap::decode(&bytes);
            let cases: Vec<ktap::Case> = if all {
                ktap::parse_all(&text)
                    .iter()
                    .flat_map(ktap::cases)
                    .collect()
            } else {
                ktap::cases(&ktap::parse_first(&text))
            };
            println!("{}", serde_json::to_string_pretty(&cases)?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Matrix {
            sel,
            out,
            stage,
            cells,
            jobs,
            boot_timeout,
            force,
            resume,
            clean,
        } => {
            let m = load_matrix(sel.matrix.as_deref())?;
            let mut p = plan::plan(&m, &filters(&m, &sel)?);
            if let Some(spec) = &cells {
                let wanted = plan::parse_cell_selectors(spec)
                    .map_err(|e| anyhow::anyhow!("--cells: {}", matrix::shown(&e)))?;
                if let Some((e, b, _)) = wanted.iter().find(|(e, b, _)| {
                    !m.matrix.bases.contains_key(b)
                        || *e != plan::BASE_ENTRY && m.entry(e).is_none()
                }) {
                    anyhow::bail!(
                        "--cells: `{}@{}` names no entry and base of {}",
                        matrix::shown(e),
                        matrix::shown(b),
                        m.path.display()
                    );
                }
                p.cells.retain(|c| {
                    wanted
                        .iter()
                        .any(|(e, b, a)| *e == c.entry && *b == c.base && *a == c.arch)
                });
            }
            let stop_after = match &stage {
                Some(s) => Some(outcome::Stage::parse(s).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--stage {s}: unknown stage (one of {})",
                        outcome::Stage::ALL.map(|s| s.name()).join(", ")
                    )
                })?),
                None => None,
            };
            let out = match out {
                Some(o) => o,
                None => {
                    let stamp = outcome::now_rfc3339().replace(':', "");
                    cache.runs().join(stamp)
                }
            };
            let matrix_arg = match &sel.matrix {
                Some(p) => format!(" --matrix {}", proc::shell_quote(p)),
                None => String::new(),
            };
            let jobs =
                jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
            xtask::sys::signal::install()?;
            let _lock = paths::lock_cache(&cache)?;
            let opts = run::Opts {
                out: out.clone(),
                stop_after,
                jobs,
                boot_timeout,
                force,
                resume,
                clean,
                matrix_arg,
            };
            let results = run::run(&cache, &m, &p, &opts)?;
            link_latest(&cache, &out);
            let loaded = report::load(&[out.join("results.json")])?;
            let colour = std::io::IsTerminal::is_terminal(&std::io::stdout());
            report::text(&loaded, &mut std::io::stdout(), colour)?;
            eprintln!("results: {}", out.join("results.json").display());
            if results.interrupted {
                return Ok(ExitCode::from(130));
            }
            let harness_errors = results.cells.iter().any(|c| {
                c.stages
                    .iter()
                    .any(|s| s.fault == Some(outcome::Fault::Harness))
            });
            Ok(if harness_errors {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
