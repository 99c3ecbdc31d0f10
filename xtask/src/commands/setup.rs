//! `setup` installs the pipeline's tools on Debian/Ubuntu and provisions the offline tagged
//! bases; `doctor` lists every tool with its version and checks the base's minimums.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::model::arch::{Arch, Profile};
use crate::model::matrix::{Loaded, Offline, ToolchainChoice};
use crate::stages::toolchain;
use crate::sys::paths::{project_root, Cache};
use crate::sys::proc;
use crate::sys::store::base_ref;
use crate::sys::store::{self, Store};

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
fn debian_llvm_major(llvm: &str) -> Option<&str> {
    let n = llvm
        .strip_prefix("/usr/lib/llvm-")?
        .trim_end_matches('/')
        .strip_suffix("/bin")?;
    (!n.is_empty() && n.len() <= 3 && n.bytes().all(|b| b.is_ascii_digit())).then_some(n)
}

/// The QEMU packages of every arch's profile (`package` in `qemu/<arch>.toml`).
fn qemu_packages() -> anyhow::Result<Vec<String>> {
    let root = project_root();
    let mut p = Vec::new();
    for arch in Arch::ALL {
        let package = Profile::load(&root, arch)?.package;
        if !p.contains(&package) {
            p.push(package);
        }
    }
    Ok(p)
}
/// The oldest QEMU known to boot all four arches here.
const QEMU_MIN: &str = "8.0.0";
const BINDGEN_MIN: &str = "0.71.1";
const BACKPORTS_FILE: &str = "/etc/apt/sources.list.d/rfl-harness-backports.sources";

struct OsRelease {
    id: String,
    like: String,
    codename: String,
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
        like: get("ID_LIKE"),
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
            tail(&c.stderr, 20)
        );
    }
    Ok(())
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The URI and keyring of the machine's own Debian source (never a hard-coded mirror).
fn debian_source() -> Option<(String, String)> {
    let mut texts = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            if f.to_string_lossy().contains("rfl-harness") {
                continue;
            }
            if let Ok(t) = std::fs::read_to_string(&f) {
                texts.push(t);
            }
        }
    }
    if let Ok(t) = std::fs::read_to_string("/etc/apt/sources.list") {
        texts.push(t);
    }
    for t in &texts {
        // deb822 stanzas
        for stanza in t.split("\n\n") {
            let field = |k: &str| {
                stanza
                    .lines()
                    .find_map(|l| l.strip_prefix(k))
                    .map(|v| v.trim().to_string())
            };
            if let (Some(uris), Some(suites)) = (field("URIs:"), field("Suites:")) {
                if !suites.split_whitespace().any(|s| s.contains("security")) {
                    let uri = uris
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let key = field("Signed-By:")
                        .unwrap_or_else(|| "/usr/share/keyrings/debian-archive-keyring.gpg".into());
                    return Some((uri, key));
                }
            }
        }
        // one-line form
        for l in t.lines() {
            let l = l.trim();
            if l.starts_with("deb ") && !l.contains("security") {
                let parts: Vec<&str> = l.split_whitespace().collect();
                let uri = parts.iter().find(|p| p.contains("://"))?.to_string();
                return Some((uri, "/usr/share/keyrings/debian-archive-keyring.gpg".into()));
            }
        }
    }
    None
}

fn qemu_ok() -> bool {
    Arch::ALL.iter().all(|a| {
        Profile::load(&project_root(), *a)
            .ok()
            .and_then(|p| toolchain::tool_version(&p.binary))
            .is_some_and(|v| {
                crate::model::version::version_cmp(&v, QEMU_MIN) != std::cmp::Ordering::Less
            })
    })
}

pub fn setup(cache: &Cache, matrix: &Loaded, dry_run: bool) -> anyhow::Result<()> {
    let os = os_release();
    let debianish = os
        .as_ref()
        .is_some_and(|o| o.id == "debian" || o.id == "ubuntu" || o.like.contains("debian"));
    let root = unsafe { libc::geteuid() } == 0;
    let wanted = packages(matrix);
    let missing: Vec<&str> = wanted
        .iter()
        .map(String::as_str)
        .filter(|p| !installed(p))
        .collect();
    if dry_run || !debianish || !root {
        let why = if dry_run {
            "dry run"
        } else if !debianish {
            "not Debian or Ubuntu"
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
            tail(&c.stderr, 20)
        );
    }
    Ok(())
}

/// Import every `offline` base of the matrix into the object store (idempotent: a base whose
/// package version is already imported is left as it is).
pub fn provision_offline_bases(cache: &Cache, matrix: &Loaded) -> anyhow::Result<()> {
    // A run on the same cache may be fetching into the store: wait for it (and make it wait).
    let _lock = crate::sys::paths::lock_cache(cache)?;
    provision_locked(cache, matrix)
}

/// [`provision_offline_bases`] for a caller that holds the cache lock.
/// Each base on a thread of its own: git writes objects atomically and each import has its
/// own index and scratch folder, so they share the store safely.
fn provision_locked(cache: &Cache, matrix: &Loaded) -> anyhow::Result<()> {
    let store = Store::open(cache)?;
    let offline: Vec<(&String, &Offline)> = matrix
        .matrix
        .bases
        .iter()
        .filter_map(|(name, b)| Some((name, b.offline.as_ref()?)))
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = offline
            .iter()
            .map(|&(name, o)| {
                let store = &store;
                (name, s.spawn(move || provision(cache, store, name, o)))
            })
            .collect();
        let mut first_err = None;
        for (name, h) in handles {
            match h.join() {
                Ok(Ok(sha)) => println!("base {name}: {sha}"),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e.context(format!("provision base {name}")));
                }
                Err(_) => {
                    first_err.get_or_insert(anyhow::anyhow!(
                        "provision base {name}: its thread panicked"
                    ));
                }
            }
        }
        first_err.map_or(Ok(()), Err)
    })
}

fn apt_private_opts(dir: &Path) -> Vec<String> {
    vec![
        "-o".into(),
        format!(
            "Dir::Etc::SourceList={}",
            dir.join("sources.list").display()
        ),
        "-o".into(),
        "Dir::Etc::SourceParts=/dev/null".into(),
        "-o".into(),
        format!("Dir::State::Lists={}", dir.join("lists").display()),
        "-o".into(),
        format!("Dir::Cache::archives={}", dir.join("archives").display()),
        "-o".into(),
        "APT::Sandbox::User=root".into(),
    ]
}

fn provision(cache: &Cache, store: &Store, name: &str, o: &Offline) -> anyhow::Result<String> {
    let dl = cache.downloads().join(&o.suite);
    std::fs::create_dir_all(dl.join("lists/partial"))?;
    std::fs::create_dir_all(dl.join("archives/partial"))?;
    let (uri, key) = debian_source()
        .context("no Debian source in /etc/apt to download the kernel source from")?;
    // Security suites live at the `-security` archive next to the main one.
    let suite_uri = if o.suite.contains("security") {
        uri.trim_end_matches('/')
            .trim_end_matches("/debian")
            .to_string()
            + "/debian-security"
    } else {
        uri.clone()
    };
    std::fs::write(
        dl.join("sources.list"),
        format!("deb [signed-by={key}] {suite_uri} {} main\n", o.suite),
    )?;
    let opts = apt_private_opts(&dl);
    let run_apt = |prog: &str, args: &[&str]| -> anyhow::Result<proc::Captured> {
        let mut c = Command::new(prog);
        c.args(&opts).args(args).current_dir(&dl);
        proc::run_captured(&mut c, Some(Duration::from_secs(900)))
    };
    let up = run_apt("apt-get", &["update", "-q"])?;
    if !up.outcome.success() {
        bail!(
            "apt-get update for suite {} failed: {}",
            o.suite,
            tail(&up.stderr, 5)
        );
    }
    let show = run_apt(
        "apt-cache",
        &["show", "--no-all-versions", &o.debian_package],
    )?;
    let version = show
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .map(str::trim)
        .map(str::to_string);
    let Some(version) = version else {
        let search = run_apt(
            "apt-cache",
            &["search", "--names-only", "^linux-source-[0-9]"],
        )?;
        let offered: Vec<&str> = search
            .stdout
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        bail!(
            "Debian suite {} no longer offers {}; it offers: {}. Change `offline` of base {name} in matrix.toml",
            o.suite,
            o.debian_package,
            if offered.is_empty() { "no linux-source package".to_string() } else { offered.join(", ") }
        );
    };
    let message = format!("Import {} {} from Debian {}\n\nThe Debian source package's tree, Debian patches applied.\n", o.debian_package, version, o.suite);
    let r = base_ref(name);
    if let Some(sha) = store.rev(&r) {
        let have = store
            .git(&["log", "-1", "--format=%B", &sha])
            .unwrap_or_default();
        if have.trim() == message.trim() {
            eprintln!(
                "setup: base {name} already provisioned ({} {version})",
                o.debian_package
            );
            return Ok(sha);
        }
    }
    eprintln!("setup: downloading {} {version}", o.debian_package);
    let deb_glob = format!("{}_", o.debian_package);
    let find_deb = || {
        std::fs::read_dir(&dl).ok().and_then(|rd| {
            rd.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
                let f = p
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                f.starts_with(&deb_glob)
                    && f.contains(&version.replace(':', "%3a"))
                    && f.ends_with(".deb")
            })
        })
    };
    if find_deb().is_none() {
        let d = run_apt(
            "apt-get",
            &["download", "-q", &format!("{}={version}", o.debian_package)],
        )?;
        if !d.outcome.success() {
            bail!(
                "apt-get download {} failed: {}",
                o.debian_package,
                tail(&d.stderr, 5)
            );
        }
    }
    let deb = find_deb().context("downloaded .deb not found")?;
    let scratch = cache.root.join("tmp").join(format!("import-{name}"));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)?;
    proc::output(
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(scratch.join("deb")),
    )?;
    let tarball = find_tarball(&scratch.join("deb/usr/src"))
        .context("no linux-source tarball inside the package")?;
    let unpacked = scratch.join("src");
    std::fs::create_dir_all(&unpacked)?;
    eprintln!("setup: unpacking {}", tarball.display());
    proc::output(
        Command::new("tar")
            .arg("-xf")
            .arg(&tarball)
            .arg("-C")
            .arg(&unpacked),
    )?;
    let top = std::fs::read_dir(&unpacked)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("Makefile").is_file())
        .context("unpacked tarball has no top folder with a Makefile")?;
    let kver = store::kernel_version(&std::fs::read_to_string(top.join("Makefile"))?)
        .context("no version in the Makefile")?;
    eprintln!("setup: importing {kver} into {}", store.git_dir.display());
    let sha = store.import_tree(&top, &message, &scratch)?;
    store.set_ref(&format!("refs/tags/v{kver}"), &sha)?;
    store.set_ref(&r, &sha)?;
    std::fs::remove_dir_all(&scratch).ok();
    Ok(sha)
}

fn find_tarball(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            let f = p.to_string_lossy();
            f.ends_with(".tar.xz") || f.ends_with(".tar.bz2") || f.ends_with(".tar.gz")
        })
}

/// `toolchain = "auto"` with several toolchains: which one each provisioned base gets on each
/// arch, and why (what a run would choose).
fn print_auto_choice(
    cache: &Cache,
    matrix: &Loaded,
    store: Option<&Store>,
    references: &[(String, String)],
) {
    if *matrix.matrix.toolchain_choice() != ToolchainChoice::Auto
        || matrix.matrix.toolchains.len() < 2
    {
        return;
    }
    let resolved: Vec<toolchain::Resolved> = matrix
        .matrix
        .toolchains
        .iter()
        .filter_map(|(n, t)| toolchain::resolve(cache, n, t).ok())
        .collect();
    let usable: Vec<&toolchain::Resolved> = resolved.iter().collect();
    println!("toolchain choice ({}):", ToolchainChoice::Auto);
    for (bname, sha) in references {
        let script = store
            .and_then(|s| s.show(sha, "scripts/min-tool-version.sh").ok())
            .unwrap_or_default();
        for arch in matrix.arches.iter().copied() {
            let Ok(p) = Profile::load(&project_root(), arch) else {
                continue;
            };
            if let Some((_, why)) =
                toolchain::choose(&script, &p.kernel_arch, &cache.scratch(), &usable)
            {
                println!("  base {bname} on {arch}: {why}");
            }
        }
    }
}

/// `doctor`: every tool with version and path; the base's minimums; the exact fix.
pub fn doctor(cache: &Cache, matrix: &Loaded) -> anyhow::Result<bool> {
    let mut ok = true;
    let mut fixes: Vec<String> = Vec::new();
    let toolchains: Vec<(String, crate::model::matrix::Toolchain)> =
        if matrix.matrix.toolchains.is_empty() {
            vec![("default".into(), toolchain::debian_default())]
        } else {
            matrix
                .matrix
                .toolchains
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
    // How what a patched tree's commands start is kept from outliving its cell.
    if proc::containing() {
        println!("containment: child subreaper (what a command leaves behind is ended with it; no PID namespace or cgroup is asked for)");
    } else {
        ok = false;
        println!("containment: NONE (prctl PR_SET_CHILD_SUBREAPER refused): processes a tree's Makefile starts may outlive their cell");
    }
    let store = Store::open(cache).ok();
    // Every provisioned tagged base is checked: each carries its own minimums.
    let references: Vec<(String, String)> = matrix
        .matrix
        .bases
        .iter()
        .filter(|(_, b)| b.offline.is_some())
        .filter_map(|(n, _)| store.as_ref()?.rev(&base_ref(n)).map(|s| (n.clone(), s)))
        .collect();
    for (name, t) in &toolchains {
        println!("toolchain {name}:");
        let expanded = [
            ("rustc", cache.expand(&t.rustc)),
            ("rustdoc", cache.expand(&t.rustdoc)),
            ("clippy-driver", cache.expand(&t.clippy_driver)),
            ("rustfmt", cache.expand(&t.rustfmt)),
            ("bindgen", cache.expand(&t.bindgen)),
            ("clang", toolchain::llvm_tool(&t.llvm, "clang")),
            ("ld.lld", toolchain::llvm_tool(&t.llvm, "ld.lld")),
        ];
        for (tool, spec) in &expanded {
            match proc::which(spec).map(|p| (toolchain::tool_version(&p.to_string_lossy()), p)) {
                Some((Some(v), p)) => println!("  {tool:<14} {v:<10} {}", p.display()),
                Some((None, p)) => {
                    ok = false;
                    println!(
                        "  {tool:<14} {:<10} {} (does not answer --version)",
                        "?",
                        p.display()
                    );
                }
                None => {
                    ok = false;
                    println!("  {tool:<14} {:<10} {spec}", "MISSING");
                }
            }
        }
        match toolchain::resolve(cache, name, t) {
            Ok(r) => {
                println!(
                    "  {:<14} {:<10} {}",
                    "rust-src",
                    r.versions.get("rust-src").map_or("?", |s| s),
                    r.rust_src.as_deref().unwrap_or("?")
                );
                if references.is_empty() {
                    println!("  minimums: no provisioned base to check against (run `cargo xtask setup`)");
                }
                for (bname, sha) in &references {
                    let Some(store) = &store else { break };
                    match store.show(sha, "scripts/min-tool-version.sh") {
                        Ok(script) => {
                            let scratch = cache.scratch();
                            for arch in Arch::ALL {
                                let p = Profile::load(&project_root(), arch)?;
                                let problems = r.check_minimums(&script, &p.kernel_arch, &scratch);
                                if problems.is_empty() {
                                    println!("  minimums of base {bname} for {arch}: met");
                                } else {
                                    ok = false;
                                    println!(
                                        "  minimums of base {bname} for {arch}: {}",
                                        problems.join("; ")
                                    );
                                }
                            }
                        }
                        Err(e) => {
                            println!("  minimums: cannot read the base's min-tool-version.sh: {e}")
                        }
                    }
                }
            }
            Err(e) => {
                ok = false;
                println!("  unusable: {e}");
                fixes.push(format!("apt-get install -y {}", packages(matrix).join(" ")));
                if e.contains("bindgen") {
                    fixes.push(format!(
                        "cargo install bindgen-cli --locked --root {}",
                        cache.tools().display()
                    ));
                }
            }
        }
    }
    print_auto_choice(cache, matrix, store.as_ref(), &references);
    println!("qemu:");
    for arch in Arch::ALL {
        let p = Profile::load(&project_root(), arch)?;
        match proc::which(&p.binary)
            .map(|path| (toolchain::tool_version(&path.to_string_lossy()), path))
        {
            Some((Some(v), path))
                if crate::model::version::version_cmp(&v, QEMU_MIN) != std::cmp::Ordering::Less =>
            {
                println!("  {:<24} {v:<10} {}", p.binary, path.display())
            }
            Some((v, path)) => {
                ok = false;
                println!(
                    "  {:<24} {:<10} {} (need >= {QEMU_MIN})",
                    p.binary,
                    v.unwrap_or_else(|| "?".into()),
                    path.display()
                );
                fixes.push(format!(
                    "apt-get install -y -t bookworm-backports {}",
                    qemu_packages()?.join(" ")
                ));
            }
            None => {
                ok = false;
                println!("  {:<24} {:<10}", p.binary, "MISSING");
                fixes.push(format!(
                    "apt-get install -y -t bookworm-backports {}",
                    qemu_packages()?.join(" ")
                ));
            }
        }
        if !p.firmware_file.is_empty() {
            if Path::new(&p.firmware_file).is_file() {
                println!(
                    "  {:<24} {:<10} {}",
                    format!("firmware ({arch})"),
                    "present",
                    p.firmware_file
                );
            } else {
                ok = false;
                println!(
                    "  {:<24} {:<10} {}",
                    format!("firmware ({arch})"),
                    "MISSING",
                    p.firmware_file
                );
            }
        }
    }
    println!("other tools:");
    for tool in [
        "git", "make", "flex", "bison", "bc", "cpio", "tar", "python3", "ccache",
    ] {
        match proc::which(tool) {
            Some(p) => println!(
                "  {tool:<14} {:<10} {}",
                toolchain::tool_version(&p.to_string_lossy()).unwrap_or_else(|| "?".into()),
                p.display()
            ),
            None => {
                ok = false;
                println!("  {tool:<14} MISSING");
                fixes.push(format!("apt-get install -y {}", packages(matrix).join(" ")));
            }
        }
    }
    println!("bases in {}:", cache.store().display());
    for (name, b) in &matrix.matrix.bases {
        if b.offline.is_some() {
            match store.as_ref().and_then(|s| s.rev(&base_ref(name))) {
                Some(sha) => println!("  {name:<14} {sha}"),
                None => {
                    ok = false;
                    println!("  {name:<14} NOT PROVISIONED");
                    fixes.push("cargo xtask setup".into());
                }
            }
        }
    }
    fixes.dedup();
    if !ok {
        println!("\ndoctor: not ready. To fix, as root:");
        let mut seen = std::collections::BTreeSet::new();
        for f in fixes {
            if seen.insert(f.clone()) {
                println!("  {f}");
            }
        }
    } else {
        println!("\ndoctor: ready");
    }
    Ok(ok)
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
            bail!("pip install failed: {}", tail(&c.stderr, 10));
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

impl crate::commands::flags::DoctorArgs {
    /// Exit 1 when a tool is missing or too old.
    pub fn run(self, cache: &Cache) -> anyhow::Result<std::process::ExitCode> {
        let m = crate::commands::select::load_matrix(self.matrix.as_deref())?;
        Ok(if doctor(cache, &m)? {
            std::process::ExitCode::SUCCESS
        } else {
            std::process::ExitCode::from(1)
        })
    }
}

#[cfg(test)]
mod tests {
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

    use super::*;

    /// Setup's store writes wait for the cache lock a run holds, and start once it is let go.
    #[test]
    fn provisioning_waits_for_the_cache_lock() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache {
            root: dir.path().join("cache"),
            slots_at: None,
            ccache_at: None,
            results_at: None,
        };
        let text = "arches = [\"x86_64\"]\n[bases.b]\nkind = \"branch\"\nurl = \"https://example.org/l.git\"\nref = \"master\"\n";
        let m = crate::model::matrix::parse(Path::new("m.toml"), text).unwrap();
        let held = crate::sys::paths::lock_cache(&cache).unwrap();
        let (c2, m2) = (cache.clone(), m.clone());
        let setup = std::thread::spawn(move || provision_offline_bases(&c2, &m2));
        std::thread::sleep(Duration::from_millis(800));
        assert!(
            !setup.is_finished(),
            "provisioning did not wait for the lock"
        );
        assert!(
            !cache.store().exists(),
            "the store was written under another's lock"
        );
        drop(held);
        setup.join().unwrap().unwrap();
        assert!(cache.store().join("HEAD").is_file());
    }
}
