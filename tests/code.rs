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

/// Every `crate::a::b` a file names, outside its `#[cfg(test)]` module, as the module it is.
fn imports(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + 7..];
        let path: Vec<&str> = rest
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .next()
            .unwrap_or("")
            .split("::")
            .collect();
        // The longest prefix that is a module.
        for n in (1..=path.len()).rev() {
            let m = path[..n].join("/");
            if modules.contains(&m) {
                out.insert(m);
                break;
            }
        }
    }
    out
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
        for dep in imports(&text, &modules) {
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

/// Every source path the CI scripts and the documents name exists: a moved file must not
/// leave a cache key hashing nothing or a map pointing nowhere.
#[test]
fn the_paths_that_scripts_and_documents_name_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = vec![
        root.join("README.md"),
        root.join("ARCHITECTURE.md"),
        root.join("ci/README.md"),
    ];
    for e in std::fs::read_dir(root.join("ci")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "sh") {
            files.push(p);
        }
    }
    let mut missing = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (i, _) in text.match_indices("xtask/src/") {
            let path: String = text[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '.' | '-'))
                .collect();
            let path = path.trim_end_matches('.');
            if path.ends_with(".rs") && !root.join(path).is_file() {
                missing.push(format!("{}: {path}", f.display()));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
