//! Toolchains as data: resolve a `[toolchains.<name>]` table to paths and versions, and
//! gate it against a base's own `scripts/min-tool-version.sh`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::matrix::Toolchain;
use crate::model::version::version_cmp;
use crate::sys::paths::Cache;
use crate::sys::proc;

/// The toolchain `setup` installs on Debian: rustc/rustdoc/clippy/rustfmt 1.96 from the
/// rust-web packages, bindgen built into the cache, LLVM 19.
pub fn debian_default() -> Toolchain {
    Toolchain {
        rustc: "/usr/bin/rustc".into(),
        rustdoc: "/usr/bin/rustdoc".into(),
        clippy_driver: "/usr/bin/clippy-driver".into(),
        rustfmt: "/usr/bin/rustfmt".into(),
        bindgen: "{cache}/tools/bin/bindgen".into(),
        llvm: "/usr/lib/llvm-19/bin/".into(),
    }
}

/// A toolchain with every tool found and its version read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Resolved {
    pub name: String,
    /// tool → path
    pub paths: BTreeMap<String, String>,
    /// tool → version (as `X.Y.Z`)
    pub versions: BTreeMap<String, String>,
    pub llvm: String,
    pub rust_src: Option<String>,
    /// ccache in front of clang for the C objects, when it is installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ccache: Option<Ccache>,
}

/// Where ccache keeps its objects. No `CCACHE_BASEDIR`: rewriting the tree's absolute path
/// into a relative one would change `__FILE__` (kbuild's `-fmacro-prefix-map` strips the
/// absolute source path only), and with it every WARN and BUG message. The output folders of
/// one slot share the tree's absolute path, so they share ccache entries without it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ccache {
    pub bin: String,
    pub dir: String,
}

impl Ccache {
    /// ccache for this cache: off with `RFL_CCACHE=0` or when not installed; its folder is
    /// the cache's own when it has one, else `CCACHE_DIR` when set (a CI cache step), else
    /// `<cache>/ccache`.
    pub fn for_cache(cache: &Cache) -> Option<Ccache> {
        if std::env::var_os("RFL_CCACHE").is_some_and(|v| v == "0") {
            return None;
        }
        let bin = proc::which("ccache")?;
        let dir = match (&cache.ccache_at, std::env::var_os("CCACHE_DIR")) {
            (Some(d), _) => d.clone(),
            (None, Some(d)) if !d.is_empty() => std::path::PathBuf::from(d),
            _ => cache.root.join("ccache"),
        };
        Some(Ccache {
            bin: bin.to_string_lossy().into_owned(),
            dir: dir.to_string_lossy().into_owned(),
        })
    }

    /// The environment a make needs for ccache. Its size cap is `CCACHE_MAXSIZE` when set
    /// (a CI job's share of the cache budget), else [`CCACHE_MAXSIZE`].
    ///
    /// Depend mode: a miss is hashed from the dependency file the compile writes anyway
    /// (kbuild's `-Wp,-MMD`), not from a second, preprocessing run of the compiler. Every
    /// object of a cold build is a miss, and the preprocessing run made a cold build of C
    /// half as long again (BENCHMARKS.md); a hit is still found from the source and the
    /// headers it read.
    pub fn env(&self) -> [(&'static str, String); 4] {
        let max = std::env::var("CCACHE_MAXSIZE")
            .ok()
            .filter(|v| !v.is_empty() && v.len() < 16)
            .unwrap_or_else(|| CCACHE_MAXSIZE.into());
        [
            ("CCACHE_DIR", self.dir.clone()),
            ("CCACHE_NOHASHDIR", "1".into()),
            ("CCACHE_MAXSIZE", max),
            ("CCACHE_DEPEND", "1".into()),
        ]
    }
}

/// ccache's cap where nothing sets one: the C objects of the four arches' tiny configs, with
/// their debug and built-in variants, take about 140 MB.
const CCACHE_MAXSIZE: &str = "1G";

/// What each tool is called in the kernel's variables and how its version is read.
const RUST_TOOLS: [(&str, &str); 5] = [
    ("rustc", "RUSTC"),
    ("rustdoc", "RUSTDOC"),
    ("clippy-driver", "CLIPPY_DRIVER"),
    ("rustfmt", "RUSTFMT"),
    ("bindgen", "BINDGEN"),
];

pub fn llvm_tool(llvm: &str, tool: &str) -> String {
    if llvm.ends_with('/') {
        format!("{llvm}{tool}")
    } else if llvm.starts_with('-') {
        format!("{tool}{llvm}")
    } else {
        tool.to_string()
    }
}

/// The first `X.Y[.Z]` in a `--version` line, preferring one after the word "version".
pub fn parse_version(text: &str) -> Option<String> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re =
        RE.get_or_init(|| regex::Regex::new(r"(\d+)\.(\d+)(?:\.(\d+))?").expect("static regex"));
    let first_line = text.lines().find(|l| !l.trim().is_empty())?;
    let hay = match first_line.find("version") {
        Some(i) => &first_line[i..],
        None => first_line,
    };
    let c = re.captures(hay).or_else(|| re.captures(first_line))?;
    Some(format!(
        "{}.{}.{}",
        &c[1],
        &c[2],
        c.get(3).map_or("0", |m| m.as_str())
    ))
}

pub fn tool_version(path: &str) -> Option<String> {
    let c = proc::run_captured(
        Command::new(path).arg("--version"),
        Some(Duration::from_secs(20)),
    )
    .ok()?;
    if !c.outcome.success() {
        return None;
    }
    parse_version(&c.stdout).or_else(|| parse_version(&c.stderr))
}

/// Resolve every tool; an error names what is missing or unusable.
pub fn resolve(cache: &Cache, name: &str, t: &Toolchain) -> Result<Resolved, String> {
    let mut paths = BTreeMap::new();
    let mut versions = BTreeMap::new();
    let mut problems = Vec::new();
    let wanted: Vec<(String, String)> = vec![
        ("rustc".into(), cache.expand(&t.rustc)),
        ("rustdoc".into(), cache.expand(&t.rustdoc)),
        ("clippy-driver".into(), cache.expand(&t.clippy_driver)),
        ("rustfmt".into(), cache.expand(&t.rustfmt)),
        ("bindgen".into(), cache.expand(&t.bindgen)),
        ("clang".into(), llvm_tool(&t.llvm, "clang")),
        ("ld.lld".into(), llvm_tool(&t.llvm, "ld.lld")),
    ];
    for (tool, spec) in wanted {
        match proc::which(&spec) {
            Some(p) => {
                let p = p.to_string_lossy().into_owned();
                match tool_version(&p) {
                    Some(v) => {
                        versions.insert(tool.clone(), v);
                    }
                    None => problems.push(format!("{tool} at {p} does not answer --version")),
                }
                paths.insert(tool, p);
            }
            None => problems.push(format!("{tool} not found ({spec})")),
        }
    }
    let mut rust_src = None;
    if let Some(rustc) = paths.get("rustc") {
        if let Ok(c) = proc::run_captured(
            Command::new(rustc).args(["--print", "sysroot"]),
            Some(Duration::from_secs(20)),
        ) {
            let lib = Path::new(c.stdout.trim()).join("lib/rustlib/src/rust/library");
            if lib.join("core/src/lib.rs").is_file() {
                rust_src = Some(lib.to_string_lossy().into_owned());
                versions.insert(
                    "rust-src".into(),
                    versions.get("rustc").cloned().unwrap_or_default(),
                );
            } else {
                problems.push(format!(
                    "rustc at {rustc} has no rust-src (looked in {})",
                    lib.display()
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("; "));
    }
    Ok(Resolved {
        name: name.to_string(),
        paths,
        versions,
        llvm: t.llvm.clone(),
        rust_src,
        ccache: Ccache::for_cache(cache),
    })
}

impl Resolved {
    /// The make variables that select this toolchain.
    pub fn make_vars(&self) -> Vec<String> {
        let mut v = vec![format!("LLVM={}", self.llvm)];
        if let (Some(c), Some(clang)) = (&self.ccache, self.paths.get("clang")) {
            // A command-line CC overrides the one LLVM= picks; it is the same clang. HOSTCC
            // stays a single program: kbuild hands it to rustc as `-Clinker=` for host tools.
            v.push(format!("CC={} {clang}", c.bin));
        }
        for (tool, var) in RUST_TOOLS {
            if let Some(p) = self.paths.get(tool) {
                v.push(format!("{var}={p}"));
            }
        }
        v
    }

    /// Problems against a base's minimums (`min-tool-version.sh` text) for one kernel ARCH.
    pub fn check_minimums(&self, script: &str, srcarch: &str, scratch: &Path) -> Vec<String> {
        let path = scratch.join(format!("min-tool-version-{}.sh", std::process::id()));
        if std::fs::write(&path, script).is_err() {
            return vec!["could not write min-tool-version.sh to the scratch folder".into()];
        }
        let problems = self.check_minimums_at(&path, srcarch);
        let _ = std::fs::remove_file(&path);
        problems
    }

    /// The same, with the tree's own script file (what a reproducer can run again).
    pub fn check_minimums_at(&self, path: &Path, srcarch: &str) -> Vec<String> {
        let mut problems = Vec::new();
        for (tool, ours) in [
            ("rustc", "rustc"),
            ("bindgen", "bindgen"),
            ("llvm", "clang"),
        ] {
            let c = proc::run_captured(
                Command::new("sh")
                    .arg(path)
                    .arg(tool)
                    .env("SRCARCH", srcarch)
                    .env("ARCH", srcarch),
                Some(Duration::from_secs(10)),
            );
            let Ok(c) = c else { continue };
            if !c.outcome.success() {
                continue; // an older base may not know the tool
            }
            let min = c.stdout.trim().to_string();
            match self.versions.get(ours) {
                Some(have) if version_cmp(have, &min) == std::cmp::Ordering::Less => problems.push(
                    format!("{ours} {have} is older than the base's minimum {min} ({tool})"),
                ),
                Some(_) => {}
                None => problems.push(format!("{ours}: version unknown, base needs {min}")),
            }
        }
        problems
    }
}

/// Under `toolchain = "auto"`: of the toolchains that resolved, the newest (by rustc, then
/// clang) that meets a base's `min-tool-version.sh` (`script`, its text; empty when the tree
/// has none) for `srcarch`, and why. When none does, the newest, with why none fits: its
/// toolchain stage then fails, naming the versions the base needs.
pub fn choose(
    script: &str,
    srcarch: &str,
    scratch: &Path,
    candidates: &[&Resolved],
) -> Option<(String, String)> {
    let mut by_age: Vec<&Resolved> = candidates.to_vec();
    let version = |r: &Resolved, tool: &str| r.versions.get(tool).cloned().unwrap_or_default();
    by_age.sort_by(|a, b| {
        version_cmp(&version(b, "rustc"), &version(a, "rustc"))
            .then_with(|| version_cmp(&version(b, "clang"), &version(a, "clang")))
            .then_with(|| a.name.cmp(&b.name))
    });
    let mut refused = Vec::new();
    for r in &by_age {
        let problems = if script.trim().is_empty() {
            Vec::new()
        } else {
            r.check_minimums(script, srcarch, scratch)
        };
        if problems.is_empty() {
            let mut why = format!(
                "auto: {} (rustc {}, clang {}), the newest declared toolchain that meets the base's minimums",
                r.name,
                version(r, "rustc"),
                version(r, "clang")
            );
            if !refused.is_empty() {
                why.push_str(&format!("; not {}", refused.join("; ")));
            }
            return Some((r.name.clone(), why));
        }
        refused.push(format!("{}: {}", r.name, problems.join(", ")));
    }
    let newest = by_age.first()?;
    Some((
        newest.name.clone(),
        format!(
            "auto: no declared toolchain meets the base's minimums ({}); {} runs, and fails",
            refused.join("; "),
            newest.name
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(name: &str, rustc: &str, clang: &str) -> Resolved {
        Resolved {
            name: name.into(),
            paths: BTreeMap::new(),
            versions: [("rustc", rustc), ("clang", clang), ("bindgen", "0.72.0")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            llvm: "1".into(),
            rust_src: None,
            ccache: None,
        }
    }

    /// An older base's minimums and a newer base's that only the newer
    /// toolchain meets: each gets the newest toolchain that fits, and says why.
    #[test]
    fn auto_picks_the_newest_toolchain_each_base_allows() {
        let scratch = tempfile::tempdir().unwrap();
        let script = |rustc: &str| {
            format!("#!/bin/sh\ncase \"$1\" in\nrustc) echo {rustc} ;;\nbindgen) echo 0.65.1 ;;\nllvm) echo 15.0.0 ;;\n*) exit 1 ;;\nesac\n")
        };
        let old = fake("old", "1.85.0", "16.0.6");
        let new = fake("new", "1.96.0", "19.1.7");
        let both = [&old, &new];
        let (name, why) = choose(&script("1.78.0"), "x86", scratch.path(), &both).unwrap();
        assert_eq!(name, "new");
        assert!(
            why.starts_with("auto: new (rustc 1.96.0, clang 19.1.7)"),
            "{why}"
        );
        // Only the newer one meets a base that wants rustc 1.90: the older is refused, by
        // name and version.
        let (name, why) = choose(&script("1.90.0"), "x86", scratch.path(), &[&old]).unwrap();
        assert_eq!(name, "old");
        assert!(
            why.contains("no declared toolchain meets")
                && why.contains("rustc 1.85.0 is older than the base's minimum 1.90.0"),
            "{why}"
        );
        let newer_base = script("1.90.0");
        let (name, _) = choose(&newer_base, "x86", scratch.path(), &both).unwrap();
        assert_eq!(name, "new");
        // A tree without the script: every toolchain fits, the newest runs.
        assert_eq!(choose("", "x86", scratch.path(), &both).unwrap().0, "new");
    }

    #[test]
    fn versions_are_read_from_real_banners() {
        assert_eq!(
            parse_version("rustc 1.96.0 (ac68faa20 2026-05-25) (built from a source tarball)")
                .as_deref(),
            Some("1.96.0")
        );
        assert_eq!(parse_version("bindgen 0.73.2").as_deref(), Some("0.73.2"));
        assert_eq!(
            parse_version("Debian clang version 19.1.7 (3+b1)\nTarget: x86_64").as_deref(),
            Some("19.1.7")
        );
        assert_eq!(
            parse_version("Debian LLD 19.1.7 (compatible with GNU linkers)").as_deref(),
            Some("19.1.7")
        );
        assert_eq!(
            parse_version("QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2)").as_deref(),
            Some("10.0.2")
        );
        assert_eq!(parse_version("rustfmt 1.9.0").as_deref(), Some("1.9.0"));
        assert_eq!(parse_version("").as_deref(), None);
    }

    #[test]
    fn version_order() {
        use std::cmp::Ordering::*;
        assert_eq!(version_cmp("1.96.0", "1.85.0"), Greater);
        assert_eq!(version_cmp("0.71.1", "0.71.1"), Equal);
        assert_eq!(version_cmp("17.0", "17.0.1"), Less);
        assert_eq!(llvm_tool("-19", "clang"), "clang-19");
        assert_eq!(
            llvm_tool("/usr/lib/llvm-19/bin/", "ld.lld"),
            "/usr/lib/llvm-19/bin/ld.lld"
        );
        assert_eq!(llvm_tool("1", "clang"), "clang");
    }

    #[test]
    fn minimums_come_from_the_script() {
        let r = Resolved {
            name: "t".into(),
            paths: BTreeMap::new(),
            versions: [
                ("rustc", "1.80.0"),
                ("bindgen", "0.73.2"),
                ("clang", "17.0.6"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
            llvm: "1".into(),
            rust_src: None,
            ccache: None,
        };
        let script = "case \"$1\" in rustc) echo 1.85.0;; bindgen) echo 0.71.1;; llvm) if [ \"$SRCARCH\" = loongarch ]; then echo 18.0.0; else echo 17.0.1; fi;; *) exit 1;; esac\n";
        let dir = std::env::temp_dir();
        let p = r.check_minimums(script, "x86", &dir);
        assert_eq!(
            p,
            vec!["rustc 1.80.0 is older than the base's minimum 1.85.0 (rustc)".to_string()]
        );
        let p = r.check_minimums(script, "loongarch", &dir);
        assert_eq!(p.len(), 2, "{p:?}");
    }

    /// Real ccache in front of the real clang, compiling the way kbuild does (`-Wp,-MMD`):
    /// a miss is stored without a preprocessing run, the same compile is a direct hit, and a
    /// changed header makes it a miss again.
    #[test]
    fn ccache_runs_in_depend_mode_and_a_changed_header_still_misses() {
        let t = tempfile::tempdir().unwrap();
        let cc = Ccache {
            bin: proc::which("ccache")
                .expect("ccache is installed by `cargo xtask setup`")
                .to_string_lossy()
                .into_owned(),
            dir: t.path().join("cache").to_string_lossy().into_owned(),
        };
        let clang = llvm_tool(&debian_default().llvm, "clang");
        std::fs::write(t.path().join("a.h"), "#define N 1\n").unwrap();
        std::fs::write(
            t.path().join("a.c"),
            "#include \"a.h\"\nint f(void) { return N; }\n",
        )
        .unwrap();
        let ccache = |args: &[&str]| {
            let o = Command::new(&cc.bin)
                .args(args)
                .current_dir(t.path())
                .envs(cc.env())
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        let compile = || ccache(&[&clang, "-Wp,-MMD,.a.o.d", "-c", "a.c", "-o", "a.o"]);
        let stat = |name: &str| -> u64 {
            let all = ccache(&["--print-stats"]);
            all.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {all}"))
        };
        compile();
        assert_eq!(stat("direct_cache_miss"), 1);
        assert_eq!(
            stat("preprocessed_cache_miss"),
            0,
            "a miss ran the preprocessor"
        );
        compile();
        assert_eq!(stat("direct_cache_hit"), 1);
        std::fs::write(t.path().join("a.h"), "#define N 2\n").unwrap();
        compile();
        assert_eq!(stat("direct_cache_miss"), 2, "a changed header was a hit");
        assert_eq!(stat("direct_cache_hit"), 1);
    }
}
