//! `doctor`: every tool of the pipeline with its version and path, each provisioned base's
//! minimums per arch, what `toolchain = "auto"` would choose, and the exact commands that fix
//! what is missing.

use std::path::Path;

use crate::commands::setup::QEMU_MIN;
use crate::model::arch::Arch;
use crate::model::matrix::{Loaded, ToolchainChoice};
use crate::stages::toolchain;
use crate::sys::paths::{project_root, Cache};
use crate::sys::proc;
use crate::sys::store::{base_ref, Store};

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
            let Ok(p) = crate::sys::paths::qemu_profile(&project_root(), arch) else {
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

/// What doctor found missing, each once, in the order found: the commands that fix exactly
/// that and nothing more.
#[derive(Debug, Default, PartialEq)]
struct Fixes {
    /// Debian packages of missing tools.
    apt: Vec<String>,
    /// QEMU packages of the arches whose QEMU or firmware is missing or too old (from
    /// bookworm-backports).
    qemu: Vec<String>,
    /// bindgen, built into the cache.
    bindgen: Option<String>,
    /// An offline base is not provisioned.
    setup: bool,
    /// A missing tool at a path no Debian package provides: the matrix's to fix.
    other: Vec<String>,
}

impl Fixes {
    fn add(list: &mut Vec<String>, item: String) {
        if !list.contains(&item) {
            list.push(item);
        }
    }
    fn apt(&mut self, package: &str) {
        Fixes::add(&mut self.apt, package.to_string());
    }
    fn qemu(&mut self, package: &str) {
        Fixes::add(&mut self.qemu, package.to_string());
    }
    /// A toolchain's tool that is missing or does not answer: its Debian package when `spec`
    /// is where that package puts it, bindgen's install, else a line naming what to provide.
    fn tool(&mut self, cache: &Cache, toolchain: &str, tool: &str, spec: &str, llvm: &str) {
        if tool == "bindgen" {
            self.bindgen = Some(format!(
                "cargo install bindgen-cli --locked --root {}",
                cache.tools().display()
            ));
        } else if let Some(p) = debian_package(tool, spec, llvm) {
            self.apt(&p);
        } else {
            Fixes::add(
                &mut self.other,
                format!("toolchain {toolchain}: provide {tool} at {spec} (matrix.toml)"),
            );
        }
    }
    /// The commands, one a line.
    fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.apt.is_empty() {
            out.push(format!("apt-get install -y {}", self.apt.join(" ")));
        }
        if !self.qemu.is_empty() {
            out.push(format!(
                "apt-get install -y -t bookworm-backports {}",
                self.qemu.join(" ")
            ));
        }
        out.extend(self.bindgen.clone());
        if self.setup {
            out.push("cargo xtask setup".into());
        }
        out.extend(self.other.iter().cloned());
        out
    }
}

/// The Debian package that puts a toolchain's `tool` at `spec` (Debian 12's `rust-web`
/// packages, LLVM in `/usr/lib/llvm-N/bin/`), if `spec` is that place.
fn debian_package(tool: &str, spec: &str, llvm: &str) -> Option<String> {
    let major = crate::commands::setup::debian_llvm_major(llvm);
    let rust = |bin: &str, package: &str| (spec == bin).then(|| package.to_string());
    match tool {
        "rustc" => rust("/usr/bin/rustc", "rustc-web"),
        "rustdoc" => rust("/usr/bin/rustdoc", "rustc-web"),
        "clippy-driver" => rust("/usr/bin/clippy-driver", "rust-web-clippy"),
        "rustfmt" => rust("/usr/bin/rustfmt", "rustfmt-web"),
        "rust-src" => rust("/usr/bin/rustc", "rust-web-src"),
        "clang" => major.map(|n| format!("clang-{n}")),
        "ld.lld" => major.map(|n| format!("lld-{n}")),
        _ => None,
    }
}

/// `doctor`: every tool with version and path; the base's minimums; the exact fix.
pub fn doctor(cache: &Cache, matrix: &Loaded) -> anyhow::Result<bool> {
    let mut ok = true;
    let mut fixes = Fixes::default();
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
                    fixes.tool(cache, name, tool, spec, &t.llvm);
                }
                None => {
                    ok = false;
                    println!("  {tool:<14} {:<10} {spec}", "MISSING");
                    fixes.tool(cache, name, tool, spec, &t.llvm);
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
                                let p = crate::sys::paths::qemu_profile(&project_root(), arch)?;
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
                // The missing tools were named above; rust-src is looked for only here.
                if e.contains("rust-src") {
                    fixes.tool(cache, name, "rust-src", &cache.expand(&t.rustc), &t.llvm);
                }
            }
        }
    }
    print_auto_choice(cache, matrix, store.as_ref(), &references);
    println!("qemu:");
    for arch in Arch::ALL {
        let p = crate::sys::paths::qemu_profile(&project_root(), arch)?;
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
                fixes.qemu(&p.package);
            }
            None => {
                ok = false;
                println!("  {:<24} {:<10}", p.binary, "MISSING");
                fixes.qemu(&p.package);
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
                // QEMU's own firmware folder: the arch's QEMU package brings it.
                fixes.qemu(&p.package);
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
                // Each of these is the Debian package of its own name.
                fixes.apt(tool);
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
                    fixes.setup = true;
                }
            }
        }
    }
    if !ok {
        println!("\ndoctor: not ready. To fix, as root:");
        for f in fixes.lines() {
            println!("  {f}");
        }
    } else {
        println!("\ndoctor: ready");
    }
    Ok(ok)
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
    use super::*;

    /// The fix names only what is missing: a missing clang and make give their two packages,
    /// not every package setup installs; a QEMU gives its arch's package only; a tool at a
    /// path of the matrix's own gives no package at all.
    #[test]
    fn the_fix_names_only_what_is_missing() {
        let cache = Cache::new(Some(Path::new("/c")));
        let mut f = Fixes::default();
        assert!(f.lines().is_empty());
        f.tool(
            &cache,
            "debian",
            "clang",
            "/usr/lib/llvm-19/bin/clang",
            "/usr/lib/llvm-19/bin/",
        );
        f.apt("make");
        f.tool(
            &cache,
            "debian",
            "ld.lld",
            "/usr/lib/llvm-19/bin/ld.lld",
            "/usr/lib/llvm-19/bin/",
        );
        f.apt("make");
        assert_eq!(f.lines(), ["apt-get install -y clang-19 make lld-19"]);
        f.qemu("qemu-system-arm");
        f.qemu("qemu-system-arm");
        f.tool(
            &cache,
            "debian",
            "rustdoc",
            "/usr/bin/rustdoc",
            "/usr/lib/llvm-19/bin/",
        );
        f.tool(
            &cache,
            "debian",
            "rust-src",
            "/usr/bin/rustc",
            "/usr/lib/llvm-19/bin/",
        );
        f.tool(&cache, "debian", "bindgen", "/c/tools/bin/bindgen", "");
        f.tool(
            &cache,
            "mine",
            "rustc",
            "/opt/rust/bin/rustc",
            "/opt/llvm/bin/",
        );
        f.tool(
            &cache,
            "mine",
            "clang",
            "/opt/llvm/bin/clang",
            "/opt/llvm/bin/",
        );
        f.setup = true;
        assert_eq!(
            f.lines(),
            [
                "apt-get install -y clang-19 make lld-19 rustc-web rust-web-src",
                "apt-get install -y -t bookworm-backports qemu-system-arm",
                "cargo install bindgen-cli --locked --root /c/tools",
                "cargo xtask setup",
                "toolchain mine: provide rustc at /opt/rust/bin/rustc (matrix.toml)",
                "toolchain mine: provide clang at /opt/llvm/bin/clang (matrix.toml)",
            ]
        );
    }
}
