//! The harness's own code held to the kernel's standard: modules in layers with no import
//! cycle, `cargo fmt --check` and `cargo clippy --all-targets -- -D warnings` clean.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The layers, lowest first: a module may use modules of a lower layer, and of its own folder
/// without a cycle, never of a higher or sibling layer.
const LAYERS: [(&str, u8); 7] = [
    ("model", 0),
    ("sys", 1),
    ("sources", 2),
    ("stages", 2),
    ("report", 3),
    ("run", 4),
    ("commands", 5),
];

fn layer(module: &str) -> Option<u8> {
    let top = module.split('/').next()?;
    LAYERS.iter().find(|(n, _)| *n == top).map(|(_, l)| *l)
}

/// `model/outcome` for `src/model/outcome.rs`, `run` for `src/run/cell.rs` when `run` is one
/// module split over files (it has no `mod.rs` of `pub mod` lines only).
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("/")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The paths a `use` tree names, groups expanded: `{report, run::{cell, cache}}` gives
/// `report`, `run::cell`, `run::cache`. `text` starts just after `crate::` or `super::`.
fn use_paths(text: &str) -> Vec<String> {
    fn tree(t: &str, prefix: &str, out: &mut Vec<String>) -> usize {
        let mut i = 0;
        let b = t.as_bytes();
        let ident = |i: usize| -> usize {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b':') {
                j += 1;
            }
            j
        };
        let j = ident(i);
        let head = t[i..j].trim_end_matches(':');
        let path = match (prefix.is_empty(), head.is_empty()) {
            (true, _) => head.to_string(),
            (false, true) => prefix.to_string(),
            (false, false) => format!("{prefix}::{head}"),
        };
        i = j;
        if b.get(i) == Some(&b'{') {
            i += 1;
            loop {
                while i < b.len() && (b[i] as char).is_whitespace() {
                    i += 1;
                }
                if i >= b.len() || b[i] == b'}' {
                    return i + 1;
                }
                i += tree(&t[i..], &path, out);
                while i < b.len() && (b[i] as char).is_whitespace() {
                    i += 1;
                }
                if b.get(i) == Some(&b',') {
                    i += 1;
                }
            }
        }
        out.push(path);
        // Skip `as name` and anything else up to the item's end.
        while i < b.len() && !matches!(b[i], b',' | b'}' | b';') {
            i += 1;
        }
        i
    }
    let mut out = Vec::new();
    tree(text, "", &mut out);
    out
}

/// Every `crate::…` and `super::…` path a file names, outside its `#[cfg(test)]` module, as
/// the module it is (the longest prefix that is one); `super::` is resolved from `module`.
fn imports(text: &str, module: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut out = BTreeSet::new();
    let mut found = |path: &str| {
        let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
        for n in (1..=parts.len()).rev() {
            let m = parts[..n].join("/");
            if modules.contains(&m) {
                out.insert(m);
                break;
            }
        }
    };
    for (i, _) in code.match_indices("crate::") {
        for p in use_paths(&code[i + 7..]) {
            found(&p);
        }
    }
    // `super::` from `run/cell` is `run`; a chain of them climbs further. A folder's
    // `mod.rs` (module `run`) has the crate root as its `super`.
    let mut rest = code;
    while let Some(i) = rest.find("super::") {
        let before = &rest[..i];
        rest = &rest[i..];
        if before.ends_with("super::") {
            rest = &rest[7..];
            continue;
        }
        let mut up = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            up += 1;
            rest = r;
        }
        let mut base: Vec<&str> = module.split('/').collect();
        for _ in 0..up {
            base.pop();
        }
        for p in use_paths(rest) {
            let full = if base.is_empty() {
                p
            } else {
                format!("{}::{p}", base.join("::"))
            };
            found(&full);
        }
    }
    out
}

/// The extractor sees every spelling of an import: plain, grouped, nested, renamed, `super::`.
#[test]
fn imports_are_seen_in_every_spelling() {
    let modules: BTreeSet<String> = [
        "report",
        "run",
        "run/cell",
        "run/cache",
        "model/outcome",
        "model",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let got = |text: &str, m: &str| imports(text, m, &modules).into_iter().collect::<Vec<_>>();
    assert_eq!(got("use crate::report::Grid;", "model/x"), ["report"]);
    assert_eq!(
        got("use crate::{report, run};", "model/x"),
        ["report", "run"]
    );
    assert_eq!(
        got(
            "use crate::{model::outcome::{Case, Kunit}, run::{cell, cache as c}};",
            "sys/x"
        ),
        ["model/outcome", "run/cache", "run/cell"]
    );
    assert_eq!(got("use super::cache::key;", "run/cell"), ["run/cache"]);
    assert_eq!(
        got("use super::{cell, cache};", "run/scheduler"),
        ["run/cache", "run/cell"]
    );
    assert_eq!(got("use super::super::report;", "run/cell"), ["report"]);
    assert_eq!(
        got("use super::super::cache;", "run/cell/inner"),
        ["run/cache"]
    );
    assert_eq!(got("let x = super::report::f();", "run"), ["report"]);
    assert_eq!(
        got("fn f() { crate::model::outcome::x() }", "sys/x"),
        ["model/outcome"]
    );
    // Test modules may use anything.
    assert!(got("#[cfg(test)]\nmod tests { use crate::report; }", "model/x").is_empty());
}

#[test]
fn modules_use_only_lower_layers_and_never_in_a_cycle() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(f)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for f in &files {
        let m = module_of(f);
        if matches!(m.as_str(), "lib" | "main") || m.starts_with("bin/") {
            continue;
        }
        let Some(own) = layer(&m) else {
            wrong.push(format!("{m}: in no layer"));
            continue;
        };
        let text = std::fs::read_to_string(f).unwrap();
        for dep in imports(&text, &m, &modules) {
            if dep == m || m.starts_with(&format!("{dep}/")) {
                continue;
            }
            let same_folder = dep.split('/').next() == m.split('/').next();
            match layer(&dep) {
                Some(l) if l < own || same_folder => {}
                _ => wrong.push(format!("{m} uses {dep}: not a lower layer")),
            }
            graph.entry(m.clone()).or_default().insert(dep);
        }
    }
    // A cycle: a module reached again from itself.
    for start in graph.keys() {
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((m, path)) = stack.pop() {
            for d in graph.get(&m).into_iter().flatten() {
                if d == start {
                    wrong.push(format!("cycle: {} → {start}", path.join(" → ")));
                } else if seen.insert(d.clone()) {
                    let mut p = path.clone();
                    p.push(d.clone());
                    stack.push((d.clone(), p));
                }
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn cargo(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_code_is_formatted() {
    let (ok, out) = cargo(&["fmt", "--all", "--", "--check"]);
    assert!(ok, "cargo fmt --check:\n{out}");
}

#[test]
fn clippy_finds_nothing() {
    // Its own target folder: the test binary holds the main one's lock while it runs.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("clippy");
    let (ok, out) = cargo(&[
        "clippy",
        "--quiet",
        "--all-targets",
        "--target-dir",
        target.to_str().unwrap(),
        "--",
        "-D",
        "warnings",
    ]);
    assert!(ok, "cargo clippy --all-targets -- -D warnings:\n{out}");
}

/// Expand one `{a,b}` group: `report/{text,html}.rs` gives `report/text.rs`, `report/html.rs`.
fn braces(path: &str) -> Vec<String> {
    match (path.find('{'), path.find('}')) {
        (Some(a), Some(b)) if a < b => path[a + 1..b]
            .split(',')
            .flat_map(|alt| braces(&format!("{}{}{}", &path[..a], alt.trim(), &path[b + 1..])))
            .collect(),
        _ => vec![path.to_string()],
    }
}

/// Every path of this repository that the documents and CI scripts name exists, and the code
/// map of ARCHITECTURE.md names every source file: a moved file must not leave a cache key
/// hashing nothing or a map pointing nowhere. A repository path is a backticked or bare token
/// starting with one of the repository's own top folders; the map's are under `xtask/src/`.
#[test]
fn the_paths_that_scripts_and_documents_name_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = vec![
        root.join("README.md"),
        root.join("ARCHITECTURE.md"),
        root.join("BENCHMARKS.md"),
        root.join("ci/README.md"),
        root.join("matrix.toml"),
        root.join(".github/workflows/rfl-health.yml"),
        root.join(".ci/run"),
    ];
    for (dir, ext) in [("ci", "sh"), ("docs", "md")] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == ext) {
                files.push(p);
            }
        }
    }
    const OURS: [&str; 9] = [
        "docs/",
        "xtask/",
        "tests/",
        "ci/",
        "kconfigs/",
        "qemu/",
        "fuzz/",
        ".github/",
        ".ci/",
    ];
    let mut missing = Vec::new();
    let mut checked = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let tokens = text.split(|c: char| {
            !(c.is_ascii_alphanumeric()
                || matches!(c, '/' | '_' | '.' | '-' | '{' | '}' | ',' | '<' | '*'))
        });
        for tok in tokens {
            let tok = tok.trim_end_matches(['.', ',']);
            let start = OURS.iter().filter_map(|o| tok.find(o)).min();
            let Some(at) = start else { continue };
            let path = &tok[at..];
            // A preceding path part makes it another tree's (`tools/testing/...`), and a
            // placeholder or glob is a pattern, not a file.
            if at > 0 && !tok[..at].ends_with('`') || path.contains(['<', '*']) {
                continue;
            }
            for p in braces(path) {
                let p = p.trim_end_matches(',');
                if p.ends_with('/') && !root.join(p).is_dir()
                    || !p.ends_with('/') && p.contains('.') && !root.join(p).exists()
                {
                    missing.push(format!("{}: {p}", f.display()));
                }
                checked += 1;
            }
        }
    }
    // The code map: every file it names, and every source file named.
    let arch = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let map = arch
        .split("## Code map")
        .nth(1)
        .and_then(|m| m.split("\n## ").next())
        .expect("ARCHITECTURE.md has a code map");
    let mut mapped = BTreeSet::new();
    for line in map.lines().filter(|l| l.starts_with("| `")) {
        let cell = line[3..].split('`').next().unwrap();
        for p in braces(cell) {
            if !src().join(&p).is_file() {
                missing.push(format!("ARCHITECTURE.md code map: xtask/src/{p}"));
            }
            mapped.insert(p);
            checked += 1;
        }
    }
    let mut sources = Vec::new();
    rust_files(&src(), &mut sources);
    for f in sources {
        let rel = f
            .strip_prefix(src())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&f).unwrap();
        // A folder's list of its modules, and the crate's roots, are not roles of their own.
        let only_mods = text.lines().all(|l| {
            l.is_empty() || l.starts_with("//") || l.starts_with("pub mod ") || l == "#[cfg(test)]"
        });
        if !mapped.contains(&rel) && !only_mods && rel != "lib.rs" && rel != "main.rs" {
            missing.push(format!(
                "xtask/src/{rel}: not in ARCHITECTURE.md's code map"
            ));
        }
    }
    assert!(checked > 60, "only {checked} paths checked");
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// Does this line of code decide something by comparing `w` as a string?
fn decides(line: &str, w: &str) -> bool {
    let q = format!("\"{w}\"");
    [
        format!("== {q}"),
        format!("!= {q}"),
        format!("{q} =>"),
        format!("{q} |"),
        format!("| {q}"),
        format!("Some({q})"),
        format!("(&{q})"),
        format!("matches!({q}"),
    ]
    .iter()
    .any(|p| line.contains(p.as_str()))
}

/// Verdicts, statuses, diagnostic levels, arches and the selection words are types: outside
/// the one parser of each, no code compares one of their words as a string (a comparison, a
/// match arm, an `Option` of it). Test modules are not read.
#[test]
fn no_verdict_level_arch_or_selection_is_decided_by_a_string() {
    const WORDS: [(&str, &str); 16] = [
        ("x86_64", "model/arch.rs"),
        ("arm64", "model/arch.rs"),
        ("riscv64", "model/arch.rs"),
        ("loongarch64", "model/arch.rs"),
        ("error", "model/outcome/finding.rs"),
        ("warning", "model/outcome/finding.rs"),
        ("note", "model/outcome/finding.rs"),
        ("pass", "model/outcome/stage.rs"),
        ("fail", "model/outcome/stage.rs"),
        ("skip", "model/outcome/stage.rs"),
        ("crash", "model/outcome/kunit.rs"),
        ("unreachable", "model/outcome/cell.rs"),
        ("in-base", "model/outcome/cell.rs"),
        ("all", "model/matrix/choice.rs"),
        ("auto", "model/matrix/choice.rs"),
        ("release", "model/matrix/mod.rs"),
    ];
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut found = Vec::new();
    let mut read = 0;
    for f in &files {
        let rel = module_of(f);
        let text = std::fs::read_to_string(f).unwrap();
        let code = text.split("\n#[cfg(test)]").next().unwrap();
        read += 1;
        for (n, line) in code.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for (w, parser) in WORDS {
                let decides = decides(line, w);
                let own = f.strip_prefix(src()).unwrap().to_string_lossy() == parser;
                if decides && !own {
                    found.push(format!("xtask/src/{rel}.rs:{}: {}", n + 1, line.trim()));
                }
            }
        }
    }
    assert!(read > 40, "only {read} files read");
    assert!(
        found.is_empty(),
        "strings that decide:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_string_check_sees_a_planted_comparison() {
    let catches = decides;
    assert!(catches(r#"if d.level == "error" {"#, "error"));
    assert!(catches(r#"    "all" => true,"#, "all"));
    assert!(catches(r#"Some("x86_64") => 1,"#, "x86_64"));
    assert!(catches(r#"if a != "auto" || b"#, "auto"));
    assert!(catches(r#"    "pass" | "ok" => 0,"#, "pass"));
    assert!(!catches(r#"format!("{} error", x)"#, "error"));
    assert!(!catches(r#"let s = "all";"#, "all"));
}

/// No source file is a house everybody walks through: at most 600 lines before its tests,
/// except the one single-purpose parser ARCHITECTURE.md names (the KTAP port, kept whole so it
/// reads beside kunit_parser.py).
#[test]
fn no_source_file_passes_600_lines_but_the_ktap_port() {
    const EXCEPT: &str = "stages/ktap.rs";
    let arch = std::fs::read_to_string(src().join("../../ARCHITECTURE.md")).unwrap();
    assert!(
        arch.contains(&format!("`{EXCEPT}`")) && arch.contains("600 lines"),
        "ARCHITECTURE.md names the exception and the bound"
    );
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut long = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines = text.split("\n#[cfg(test)]").next().unwrap().lines().count();
        let rel = f
            .strip_prefix(src())
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if lines > 600 && rel != EXCEPT {
            long.push(format!("xtask/src/{rel}: {lines} lines before its tests"));
        }
    }
    assert!(long.is_empty(), "{}", long.join("\n"));
}

/// The model layer is pure: no file, process or network access outside its tests.
#[test]
fn the_model_layer_reads_no_file_and_starts_no_process() {
    let mut files = Vec::new();
    rust_files(&src().join("model"), &mut files);
    assert!(files.len() > 10, "only {} model files", files.len());
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let code = text.split("\n#[cfg(test)]").next().unwrap();
        for (n, line) in code.lines().enumerate() {
            if [
                "std::fs",
                "std::process",
                "std::net",
                "Command::new",
                "File::open",
            ]
            .iter()
            .any(|w| line.contains(w))
                && !line.trim_start().starts_with("//")
            {
                found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "I/O in model/:\n{}", found.join("\n"));
}
