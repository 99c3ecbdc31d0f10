//! `setup` installs the pipeline's tools on Debian (the packages, QEMU from backports on
//! Debian 12, bindgen) and has the offline tagged bases imported (`sources::debian`), the
//! three at once; with `--tests`, what the test suite needs too.

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::model::arch::Arch;
use crate::model::matrix::Loaded;
use crate::model::text::last_lines;
use crate::sources::debian::{debian_source, provision_locked};
use crate::stages::toolchain;
use crate::sys::paths::{project_root, Cache};
use crate::sys::proc;

/// Debian packages the pipeline needs (resolved by name; versions are printed by doctor).
pub const PACKAGES: &[&str] = &[
    "clang-19",
    "lld-19",
    "llvm-19",
    "libclang-19-dev",
    "rustc-web",
    "rust-web-src",
    "rust-web-clippy",
    "rustfmt-web",
    "make",
    "bc",
    "bison",
    "flex",
    "cpio",
    "rsync",
    "libelf-dev",
    "libssl-dev",
    "ccache",
    "python3",
    "git",
    "xz-utils",
    "ca-certificates",
];
/// Debian's packages for the matrix: [`PACKAGES`], and for every declared toolchain whose
/// `llvm` is Debian's `/usr/lib/llvm-N/bin/`, that LLVM's clang, lld and llvm.
pub fn packages(matrix: &Loaded) -> Vec<String> {
    let mut out: Vec<String> = PACKAGES.iter().map(|p| p.to_string()).collect();
    for t in matrix.matrix.toolchains.values() {
        if let Some(major) = debian_llvm_major(&t.llvm) {
            for tool in ["clang", "lld", "llvm"] {
                let p = format!("{tool}-{major}");
                if !out.contains(&p) {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// `N` of a Debian LLVM folder `/usr/lib/llvm-N/bin[/]`, if `llvm` is one.
pub fn debian_llvm_major(llvm: &str) -> Option<&str> {
    let n = llvm
        .strip_prefix("/usr/lib/llvm-")?
        .trim_end_matches('/')
        .strip_suffix("/bin")?;
    (!n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit())).then_some(n)
}

/// The QEMU packages of every arch's profile (`package` in `qemu/<arch>.toml`).
pub fn qemu_packages() -> anyhow::Result<Vec<String>> {
    let root = project_root();
    let mut p = Vec::new();
    for arch in Arch::ALL {
        let package = crate::sys::paths::qemu_profile(&root, arch)?.package;
        if !p.contains(&package) {
            p.push(package);
        }
    }
    Ok(p)
}
/// The oldest QEMU known to boot all four arches here.
pub const QEMU_MIN: &str = "8.0.0";
const BINDGEN_MIN: &str = "0.71.1";
const BACKPORTS_FILE: &str = "/etc/apt/sources.list.d/rfl-harness-backports.sources";

struct OsRelease {
    id: String,
    codename: String,
}

/// Debian itself (`ID=debian`), not a derivative that says it is like Debian (Ubuntu's
/// `ID_LIKE=debian`): setup's packages, backports and offline bases are Debian's.
fn is_debian(o: &OsRelease) -> bool {
    o.id == "debian"
}

fn os_release() -> Option<OsRelease> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    Some(OsRelease {
        id: get("ID"),
        codename: get("VERSION_CODENAME"),
    })
}

fn installed(pkg: &str) -> bool {
    proc::run_captured(
        Command::new("dpkg-query").args(["-W", "-f=${Status}", pkg]),
        Some(Duration::from_secs(30)),
    )
    .is_ok_and(|c| c.stdout.contains("install ok installed"))
}

fn apt(args: &[&str]) -> anyhow::Result<()> {
    eprintln!("setup: apt-get {}", args.join(" "));
    let c = proc::run_captured(
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        Some(Duration::from_secs(1800)),
    )?;
    if !c.outcome.success() {
        bail!(
            "apt-get {} failed ({}):\n{}",
            args.join(" "),
            c.outcome.describe(),
            last_lines(&c.stderr, 20)
        );
    }
    Ok(())
}

fn qemu_ok() -> bool {
    Arch::ALL.iter().all(|a| {
        crate::sys::paths::qemu_profile(&project_root(), *a)
            .ok()
            .and_then(|p| toolchain::tool_version(&p.binary))
            .is_some_and(|v| {
                crate::model::version::version_cmp(&v, QEMU_MIN) != std::cmp::Ordering::Less
            })
    })
}

pub fn setup(cache: &Cache, matrix: &Loaded, dry_run: bool) -> anyhow::Result<()> {
    let os = os_release();
    // Debian only: the packages are Debian's own (`rust-web`, `/usr/lib/llvm-N/`), QEMU comes
    // from bookworm-backports and the offline bases from Debian's archive. Ubuntu and other
    // derivatives have none of these under these names.
    let debian = os.as_ref().is_some_and(is_debian);
    let root = unsafe { libc::geteuid() } == 0;
    let wanted = packages(matrix);
    let missing: Vec<&str> = wanted
        .iter()
        .map(String::as_str)
        .filter(|p| !installed(p))
        .collect();
    if dry_run || !debian || !root {
        let why = if dry_run {
            "dry run"
        } else if !debian {
            "not Debian"
        } else {
            "not root"
        };
        if dry_run {
            println!("setup: dry run. What setup would install:");
        } else {
            println!("setup: {why}, so this machine manages its own toolchains; nothing installed. What setup would install:");
        }
        println!("  apt-get install -y {}", wanted.join(" "));
        println!(
            "  apt-get install -y {} (QEMU >= {QEMU_MIN}; on Debian 12 from bookworm-backports)",
            qemu_packages()?.join(" ")
        );
        println!(
            "  cargo install bindgen-cli --locked --root {}",
            cache.tools().display()
        );
        for (name, b) in &matrix.matrix.bases {
            if let Some(o) = &b.offline {
                println!(
                    "  base {name}: Debian package {} from suite {}, imported into {}",
                    o.debian_package,
                    o.suite,
                    cache.store().display()
                );
            }
        }
        if !missing.is_empty() {
            println!("missing now: {}", missing.join(" "));
        }
        return Ok(());
    }
    let os = os.expect("checked above");

    // Three things at once, none needing another: bindgen is built from crates.io (minutes of
    // CPU; it loads libclang only when it runs), the packages are installed, and the bases are
    // downloaded and imported with apt's private folders and the system's dpkg-deb, tar and
    // git (each base apart, so the two imports' decompression and hashing share the cores).
    // The cache's tools and store are shared with runs: written only under the cache lock.
    let _lock = crate::sys::paths::lock_cache(cache)?;
    std::thread::scope(|s| {
        let bindgen = s.spawn(|| install_bindgen(cache));
        let bases = s.spawn(|| provision_locked(cache, matrix));
        let packages = install_packages(&os, &wanted);
        let join = |h: std::thread::ScopedJoinHandle<'_, anyhow::Result<()>>, what: &str| {
            h.join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the {what} thread panicked")))
        };
        let bases = join(bases, "base import");
        let bindgen = join(bindgen, "bindgen install");
        packages.and(bases).and(bindgen)
    })?;
    eprintln!("setup: done");
    Ok(())
}

/// The toolchain's Debian packages, and QEMU (from backports on Debian 12).
fn install_packages(os: &OsRelease, wanted: &[String]) -> anyhow::Result<()> {
    let missing: Vec<&str> = wanted
        .iter()
        .map(String::as_str)
        .filter(|p| !installed(p))
        .collect();
    let mut updated = false;
    if !missing.is_empty() {
        apt(&["update", "-q"])?;
        updated = true;
        let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
        args.extend(missing.iter().copied());
        apt(&args)?;
    } else {
        eprintln!("setup: Debian packages already installed");
    }

    if !qemu_ok() {
        let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
        let backports = format!("{}-backports", os.codename);
        if os.id == "debian" && os.codename == "bookworm" {
            let (uri, key) = debian_source()
                .context("no Debian source found in /etc/apt to derive backports from")?;
            let text = format!("Types: deb\nURIs: {uri}\nSuites: {backports}\nComponents: main\nSigned-By: {key}\n");
            if std::fs::read_to_string(BACKPORTS_FILE).ok().as_deref() != Some(text.as_str()) {
                std::fs::write(BACKPORTS_FILE, text)
                    .with_context(|| format!("write {BACKPORTS_FILE}"))?;
                updated = false;
            }
            args.extend(["-t", backports.as_str()]);
        }
        if !updated {
            apt(&["update", "-q"])?;
        }
        let packages = qemu_packages()?;
        args.extend(packages.iter().map(String::as_str));
        apt(&args)?;
        if !qemu_ok() {
            bail!(
                "QEMU is still older than {QEMU_MIN} or missing an arch after installing {}",
                qemu_packages()?.join(" ")
            );
        }
    } else {
        eprintln!("setup: QEMU already installed");
    }
    Ok(())
}

fn install_bindgen(cache: &Cache) -> anyhow::Result<()> {
    let bin = cache.tools().join("bin/bindgen");
    if let Some(v) = toolchain::tool_version(&bin.to_string_lossy()) {
        if crate::model::version::version_cmp(&v, BINDGEN_MIN) != std::cmp::Ordering::Less {
            eprintln!("setup: bindgen {v} already in {}", bin.display());
            return Ok(());
        }
    }
    eprintln!("setup: cargo install bindgen-cli (about 2 minutes on 2 cores)");
    let c = proc::run_captured(
        Command::new("cargo")
            .args(["install", "bindgen-cli", "--locked", "--root"])
            .arg(cache.tools()),
        Some(Duration::from_secs(1800)),
    )?;
    if !c.outcome.success() {
        bail!(
            "cargo install bindgen-cli failed ({}):\n{}",
            c.outcome.describe(),
            last_lines(&c.stderr, 20)
        );
    }
    Ok(())
}

/// The second LLVM of the test suite's toolchain `newer` (the auto-toolchain e2e test): a
/// major below the tagged base's minimum, from Debian 12's own archive.
pub const TEST_LLVM: [&str; 3] = ["clang-16", "lld-16", "llvm-16"];

/// What the test suite needs beyond the pipeline: Chromium (HTML screenshot), a second LLVM
/// ([`TEST_LLVM`]), and a Python venv in the cache with kcidb-io (KCIDB schema),
/// check-jsonschema (workflow schema) and zizmor (the workflow's security audit).
pub fn setup_test_tools(cache: &Cache) -> anyhow::Result<()> {
    let root = unsafe { libc::geteuid() } == 0;
    let want: Vec<&str> = ["chromium", "python3-venv"]
        .into_iter()
        .chain(TEST_LLVM)
        .filter(|p| !installed(p))
        .collect();
    if !want.is_empty() {
        if !root {
            bail!("not root: install {} yourself", want.join(" "));
        }
        apt(&["update", "-q"])?;
        let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
        args.extend(want.iter().copied());
        apt(&args)?;
    }
    let venv = cache.root.join("venv");
    let py = venv.join("bin/python3");
    if !py.is_file() {
        eprintln!("setup: python venv in {}", venv.display());
        proc::output(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    let have = |module: &str| {
        proc::run_captured(
            Command::new(&py).args(["-c", &format!("import {module}")]),
            Some(Duration::from_secs(60)),
        )
        .is_ok_and(|c| c.outcome.success())
    };
    if !have("kcidb_io")
        || !venv.join("bin/check-jsonschema").is_file()
        || !venv.join("bin/zizmor").is_file()
    {
        eprintln!("setup: pip install kcidb-io check-jsonschema zizmor");
        let c = proc::run_captured(
            Command::new(&py).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "kcidb-io",
                "check-jsonschema",
                "zizmor",
            ]),
            Some(Duration::from_secs(900)),
        )?;
        if !c.outcome.success() {
            bail!("pip install failed: {}", last_lines(&c.stderr, 10));
        }
    } else {
        eprintln!("setup: test tools already installed");
    }
    Ok(())
}

impl crate::commands::flags::SetupArgs {
    pub fn run(self, cache: &Cache) -> anyhow::Result<std::process::ExitCode> {
        let m = crate::commands::select::load_matrix(self.matrix.as_deref())?;
        setup(cache, &m, self.dry_run)?;
        if self.tests && !self.dry_run {
            setup_test_tools(cache)?;
        }
        Ok(std::process::ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    /// Setup installs on Debian only: Ubuntu (`ID_LIKE=debian`) has no `rust-web` packages
    /// or Debian's `linux-source-X.Y`, so there it only says what it would install.
    #[test]
    fn setup_installs_on_debian_only() {
        let os = |id: &str| super::OsRelease {
            id: id.into(),
            codename: "noble".into(),
        };
        assert!(super::is_debian(&os("debian")));
        assert!(!super::is_debian(&os("ubuntu")));
        assert!(!super::is_debian(&os("linuxmint")));
    }

    /// A toolchain in Debian's `/usr/lib/llvm-N/bin/` names the packages setup installs for
    /// it; any other folder names none.
    #[test]
    fn a_debian_llvm_folder_names_its_packages() {
        use super::debian_llvm_major as major;
        assert_eq!(major("/usr/lib/llvm-16/bin/"), Some("16"));
        assert_eq!(major("/usr/lib/llvm-19/bin"), Some("19"));
        for other in [
            "/opt/llvm/bin/",
            "/usr/lib/llvm-16/",
            "/usr/lib/llvm-1x/bin/",
            "/usr/lib/llvm-/bin",
            "/usr/lib/llvm-16/bin/../../x/bin",
        ] {
            assert_eq!(major(other), None, "{other}");
        }
    }
}
