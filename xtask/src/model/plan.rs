//! Matrix + filters → the cells a run executes. Pure data, printable as text, JSON or a
//! GitHub Actions matrix.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Serialize;

use crate::model::arch::Arch;
use crate::model::matrix::{ConfigChoice, Loaded, ToolchainChoice};
use crate::model::outcome::CellKey;

pub use crate::model::matrix::{AUTO_TOOLCHAIN, BASE_ENTRY, DEFAULT_CONFIG};

#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Glob patterns over entry ids; `base` selects only base cells. Empty: everything.
    pub entries: Vec<glob::Pattern>,
    /// Empty: the matrix's arches.
    pub arches: Vec<Arch>,
    pub base: Option<String>,
    pub toolchain: Option<String>,
    /// A config variant, or `all`; none: the matrix's default ones.
    pub config: Option<ConfigChoice>,
}

impl Filters {
    fn only_base_cells(&self) -> bool {
        !self.entries.is_empty() && self.entries.iter().all(|p| p.as_str() == BASE_ENTRY)
    }
    fn wants_entry(&self, id: &str) -> bool {
        self.entries.is_empty()
            || self
                .entries
                .iter()
                .any(|p| p.as_str() != BASE_ENTRY && p.matches(id))
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceRef {
    pub kind: &'static str,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlannedEntry {
    pub id: String,
    pub source: SourceRef,
    pub base: Option<String>,
    pub skip_reason: Option<String>,
    pub arches: Vec<Arch>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cell {
    /// An entry id, or `base` for a base cell.
    pub entry: String,
    pub base: String,
    pub arch: Arch,
    pub toolchain: String,
    pub config: String,
}

impl Cell {
    pub fn key(&self) -> CellKey<'_> {
        CellKey {
            entry: &self.entry,
            base: &self.base,
            arch: self.arch,
            toolchain: &self.toolchain,
            config: &self.config,
        }
    }
    pub fn is_base(&self) -> bool {
        self.key().is_base()
    }
    /// A name unique within a run, also used as a folder name: the toolchain is named when the
    /// run has several, the config when it is not the default `release`.
    pub fn name(&self, many_toolchains: bool) -> String {
        let who = if self.is_base() {
            format!("base-{}", self.base)
        } else {
            self.entry.clone()
        };
        let mut name = format!("{who}.{}", self.arch);
        if many_toolchains {
            name = format!("{name}.{}", self.toolchain);
        }
        if self.config != DEFAULT_CONFIG {
            name = format!("{name}.{}", self.config);
        }
        name
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Plan {
    pub entries: Vec<PlannedEntry>,
    pub cells: Vec<Cell>,
    pub toolchains: Vec<String>,
    pub configs: Vec<String>,
}

pub fn plan(m: &Loaded, f: &Filters) -> Plan {
    let toolchains = cell_toolchains(m, f);
    let configs: Vec<String> = m
        .configs()
        .into_iter()
        .filter(|(name, c)| match &f.config {
            None => c.default,
            Some(choice) => choice.selects(name),
        })
        .map(|(name, _)| name)
        .collect();
    let arch_ok = |a: &Arch| f.arches.is_empty() || f.arches.contains(a);
    let base_ok = |b: Option<&str>| f.base.as_deref().is_none_or(|w| Some(w) == b);

    let mut entries = Vec::new();
    let mut cells = Vec::new();
    // (base, arch) pairs some runnable entry needs, in first-use order.
    let mut needed: Vec<(String, Arch)> = Vec::new();
    for e in &m.matrix.entries {
        let id = e.id.get_ref();
        let arches: Vec<Arch> = m
            .entry_arches(e)
            .into_iter()
            .filter(|a| arch_ok(a))
            .collect();
        let runnable = e.skip_reason().is_none();
        if runnable && base_ok(e.base_name()) {
            let b = e
                .base_name()
                .expect("runnable entries have a base")
                .to_string();
            for a in &arches {
                if !needed.contains(&(b.clone(), *a)) {
                    needed.push((b.clone(), *a));
                }
            }
        }
        if !f.wants_entry(id) || f.only_base_cells() || !base_ok(e.base_name()) {
            continue;
        }
        entries.push(PlannedEntry {
            id: id.clone(),
            source: SourceRef {
                kind: e.source.get_ref().kind(),
                value: e.source.get_ref().value().to_string(),
            },
            base: e.base_name().map(str::to_string),
            skip_reason: e.skip_reason(),
            arches: arches.clone(),
        });
        if runnable {
            for a in &arches {
                for t in &toolchains {
                    for c in &configs {
                        cells.push(Cell {
                            entry: id.clone(),
                            base: e.base_name().unwrap_or_default().into(),
                            arch: *a,
                            toolchain: t.clone(),
                            config: c.clone(),
                        });
                    }
                }
            }
        }
    }
    {
        // Base cells for every (base, arch) that the selected entries build on, so that each
        // entry can be compared with its bare base; with only `--entry base`, for every base
        // the matrix's runnable entries use.
        let selected: BTreeSet<(String, Arch)> =
            cells.iter().map(|c| (c.base.clone(), c.arch)).collect();
        let mut base_cells = Vec::new();
        for (b, a) in &needed {
            if f.only_base_cells() || selected.contains(&(b.clone(), *a)) {
                for t in &toolchains {
                    for c in &configs {
                        base_cells.push(Cell {
                            entry: BASE_ENTRY.into(),
                            base: b.clone(),
                            arch: *a,
                            toolchain: t.clone(),
                            config: c.clone(),
                        });
                    }
                }
            }
        }
        // Base cells first: entries are compared against them.
        base_cells.extend(cells);
        cells = base_cells;
    }
    Plan {
        entries,
        cells,
        toolchains,
        configs,
    }
}

/// The toolchain names cells get: the one `--toolchain` names; else as the matrix's
/// `toolchain =` says: every declared one (`all`), one by name, or, with several declared,
/// `auto` (the run chooses per base).
fn cell_toolchains(m: &Loaded, f: &Filters) -> Vec<String> {
    let declared: Vec<String> = m.matrix.toolchains.keys().cloned().collect();
    if declared.is_empty() {
        return vec!["default".to_string()];
    }
    if let Some(t) = &f.toolchain {
        return vec![t.clone()];
    }
    match m.matrix.toolchain_choice() {
        ToolchainChoice::All => declared,
        ToolchainChoice::Auto if declared.len() > 1 => vec![AUTO_TOOLCHAIN.to_string()],
        ToolchainChoice::Auto => declared,
        ToolchainChoice::Named(name) => vec![name.clone()],
    }
}

impl Plan {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plan serialises") + "\n"
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let many = self.toolchains.len() > 1;
        let _ = writeln!(
            out,
            "{} cells; config {}",
            self.cells.len(),
            self.configs.join(", ")
        );
        for c in &self.cells {
            let _ = writeln!(
                out,
                "  {:<48} base {}, config {}",
                c.name(many),
                c.base,
                c.config
            );
        }
        let skipped: Vec<&PlannedEntry> = self
            .entries
            .iter()
            .filter(|e| e.skip_reason.is_some())
            .collect();
        if !skipped.is_empty() {
            let _ = writeln!(out, "{} entries cannot run:", skipped.len());
            for e in skipped {
                let _ = writeln!(
                    out,
                    "  {:<32} {}",
                    e.id,
                    e.skip_reason.as_deref().unwrap_or("")
                );
            }
        }
        out
    }

    /// A GitHub Actions matrix (`{"include": [...]}`): one job per (base, arch, toolchain)
    /// group, its config variants together, so that a job's entries reuse its base builds and
    /// a nightly run pays one setup per group; a group with more than
    /// [`ENTRY_CELLS_PER_JOB`] entry cells is split into shards (each builds the base, from the
    /// build cache when it has one), and groups are folded together when there would be more
    /// than `max_jobs`.
    pub fn to_github(&self, max_jobs: usize) -> String {
        let max_jobs = max_jobs.clamp(1, 256);
        type Key = (String, Arch, String);
        let mut groups: Vec<(Key, Vec<&Cell>)> = Vec::new();
        for c in &self.cells {
            let key = (c.base.clone(), c.arch, c.toolchain.clone());
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => v.push(c),
                None => groups.push((key, vec![c])),
            }
        }
        // Shards of a large group: each has the group's base cells and its share of entries.
        let mut units: Vec<Vec<&Cell>> = Vec::new();
        for (_, cells) in &groups {
            let (bases, entries): (Vec<&Cell>, Vec<&Cell>) =
                cells.iter().copied().partition(|c| c.is_base());
            let shards = entries.len().div_ceil(ENTRY_CELLS_PER_JOB).max(1);
            let per = entries.len().div_ceil(shards).max(1);
            let mut chunks = entries.chunks(per);
            for _ in 0..shards {
                let mut unit = bases.clone();
                unit.extend(chunks.next().unwrap_or_default());
                units.push(unit);
            }
        }
        let njobs = units.len().min(max_jobs);
        let mut jobs: Vec<Vec<&Cell>> = vec![Vec::new(); njobs];
        for (i, cells) in units.iter().enumerate() {
            jobs[i % njobs].extend(cells.iter().copied());
        }
        fn configs<'c>(j: &[&'c Cell]) -> Vec<&'c str> {
            let mut v: Vec<&str> = j
                .iter()
                .filter(|c| c.is_base())
                .map(|c| c.config.as_str())
                .collect();
            v.sort_by_key(|c| (*c != DEFAULT_CONFIG, *c));
            v.dedup();
            v
        }
        // The jobs whose base builds are cached: those with the most entry cells (the default
        // variant first on a tie), while their archives (one per config) fit the build
        // cache's share of the repository's cache (ci/README.md).
        let entries = |j: usize| jobs[j].iter().filter(|c| !c.is_base()).count();
        let mut by_entries: Vec<usize> = (0..njobs).filter(|j| entries(*j) > 0).collect();
        by_entries.sort_by_key(|j| std::cmp::Reverse(entries(*j)));
        let mut cached = Vec::new();
        let mut archives = 0;
        for j in by_entries {
            let n = configs(&jobs[j]).len();
            if archives + n <= BUILD_CACHE_ARCHIVES {
                archives += n;
                cached.push(j);
            }
        }
        let include: Vec<serde_json::Value> = jobs
            .iter()
            .enumerate()
            .map(|(i, cells)| {
                let first = cells[0];
                let spec: Vec<String> = cells
                    .iter()
                    .map(|c| format!("{}@{}@{}@{}", c.entry, c.base, c.arch, c.config))
                    .collect();
                serde_json::json!({
                    "name": format!("{:03}-{}-{}-{}", i, first.base, first.arch, configs(cells).join("-")),
                    "shard": i,
                    "arch": first.arch.name(),
                    "cells": spec.join(","),
                    "count": cells.len(),
                    // The build cache's key part: the job's first group, without its place in
                    // the list (which moves when the registry does).
                    "build": format!("{}-{}-{}", first.base, first.arch, first.toolchain),
                    "build_cache": cached.contains(&i),
                })
            })
            .collect();
        serde_json::to_string(&serde_json::json!({ "include": include })).expect("json") + "\n"
    }
}

/// Entry cells one job runs at most: a warm entry cell takes one to two minutes, a cold base
/// about ten, and GitHub stops a job after six hours.
pub const ENTRY_CELLS_PER_JOB: usize = 150;

/// How many base builds (one per job and config) a GitHub matrix keeps in the build cache:
/// each archive is about 190 MB, and a moving base's is written again every night while the
/// last one waits to be evicted (ci/README.md's budget).
pub const BUILD_CACHE_ARCHIVES: usize = 8;

/// One cell a selector names: entry, base, arch, and config (none: every selected one).
pub type Selector = (String, String, Arch, Option<String>);

/// Parse `entry@base@arch[@config]` cell selectors (what `--format github` hands to each
/// job).
pub fn parse_cell_selectors(spec: &str) -> Result<Vec<Selector>, String> {
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let parts: Vec<&str> = s.trim().split('@').collect();
            let (e, b, a, c) = match parts.as_slice() {
                [e, b, a] => (e, b, a, None),
                [e, b, a, c] => (e, b, a, Some(c.to_string())),
                _ => return Err(format!("cell `{s}`: expected ENTRY@BASE@ARCH[@CONFIG]")),
            };
            Arch::parse(a)
                .map(|arch| (e.to_string(), b.to_string(), arch, c))
                .ok_or_else(|| format!("cell `{s}`: unknown arch `{a}`"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn m() -> Loaded {
        crate::model::matrix::parse(
            Path::new("m.toml"),
            r#"
arches = ["x86_64", "arm64"]
[bases.a]
kind = "branch"
url = "u"
ref = "a"
[bases.b]
kind = "tag"
url = "u"
ref = "b"
[[entry]]
id = "one"
source = { github_pr = "https://github.com/o/r/pull/1" }
base = "a"
[[entry]]
id = "two"
source = { unpublished = "soon" }
[[entry]]
id = "three"
source = { lore = "x@y" }
base = "b"
arches = ["arm64"]
"#,
        )
        .unwrap()
    }

    fn names(p: &Plan) -> Vec<String> {
        p.cells.iter().map(|c| c.name(false)).collect()
    }

    #[test]
    fn full_plan_has_base_cells_first_and_skips() {
        let p = plan(&m(), &Filters::default());
        assert_eq!(
            names(&p),
            [
                "base-a.x86_64",
                "base-a.arm64",
                "base-b.arm64",
                "one.x86_64",
                "one.arm64",
                "three.arm64"
            ]
        );
        assert_eq!(
            p.entries[1].skip_reason.as_deref(),
            Some("not published: soon")
        );
    }

    #[test]
    fn filters() {
        let f = Filters {
            entries: vec![glob::Pattern::new("base").unwrap()],
            ..Default::default()
        };
        assert_eq!(
            names(&plan(&m(), &f)),
            ["base-a.x86_64", "base-a.arm64", "base-b.arm64"]
        );
        let f = Filters {
            entries: vec![glob::Pattern::new("t*").unwrap()],
            arches: vec![Arch::Arm64],
            ..Default::default()
        };
        let p = plan(&m(), &f);
        assert_eq!(names(&p), ["base-b.arm64", "three.arm64"]);
        assert_eq!(p.entries.len(), 2);
        let f = Filters {
            base: Some("a".into()),
            ..Default::default()
        };
        assert_eq!(
            names(&plan(&m(), &f)),
            ["base-a.x86_64", "base-a.arm64", "one.x86_64", "one.arm64"]
        );
    }

    /// Config variants are a dimension: the default ones run unless `--config` names another
    /// or `all`; a base cell exists per variant, and names and job groups carry the variant.
    #[test]
    fn config_variants_multiply_cells_and_default_ones_run_unless_chosen() {
        let text = r#"
arches = ["x86_64"]
[configs.release]
[configs.debug]
fragments = ["debug"]
checks = ["kunit"]
default = false
[bases.a]
kind = "branch"
url = "u"
ref = "a"
[[entry]]
id = "one"
source = { lore = "x@y" }
base = "a"
"#;
        let m = crate::model::matrix::parse(Path::new("m.toml"), text).unwrap();
        let names_with = |config: Option<&str>| {
            let f = Filters {
                config: config.map(ConfigChoice::from),
                ..Default::default()
            };
            names(&plan(&m, &f))
        };
        assert_eq!(names_with(None), ["base-a.x86_64", "one.x86_64"]);
        assert_eq!(
            names_with(Some("debug")),
            ["base-a.x86_64.debug", "one.x86_64.debug"]
        );
        let all = plan(
            &m,
            &Filters {
                config: Some(ConfigChoice::All),
                ..Default::default()
            },
        );
        assert_eq!(
            names(&all),
            [
                "base-a.x86_64.debug",
                "base-a.x86_64",
                "one.x86_64.debug",
                "one.x86_64"
            ]
        );
        assert!(all.to_text().contains("config debug, release"));
        let v: serde_json::Value = serde_json::from_str(&all.to_github(256)).unwrap();
        assert_eq!(
            v["include"][0]["cells"],
            "base@a@x86_64@debug,base@a@x86_64@release,one@a@x86_64@debug,one@a@x86_64@release"
        );
        assert_eq!(m.checks_of("debug"), [crate::model::matrix::Check::Kunit]);
        assert_eq!(m.checks_of("release").len(), 5);
    }

    /// Cells get the toolchain `--toolchain` names; else every declared one under `all`, the
    /// one named, or, with several declared, `auto` (the run chooses per base).
    #[test]
    fn toolchain_choice_names_the_cells_toolchains() {
        let tc = |name: &str| {
            format!("[toolchains.{name}]\nrustc = \"r\"\nrustdoc = \"r\"\nclippy_driver = \"c\"\nrustfmt = \"f\"\nbindgen = \"b\"\n")
        };
        let toolchains = |choice: &str, declared: &[&str], flag: Option<&str>| {
            let mut text = format!("arches = [\"x86_64\"]\n{choice}\n");
            for d in declared {
                text.push_str(&tc(d));
            }
            text.push_str("[bases.a]\nkind = \"branch\"\nurl = \"u\"\nref = \"a\"\n[[entry]]\nid = \"one\"\nsource = { lore = \"x@y\" }\nbase = \"a\"\n");
            let m = crate::model::matrix::parse(Path::new("m.toml"), &text).unwrap();
            let f = Filters {
                toolchain: flag.map(str::to_string),
                ..Default::default()
            };
            plan(&m, &f).toolchains
        };
        assert_eq!(toolchains("", &[], None), ["default"]);
        assert_eq!(toolchains("", &["d", "e"], None), [AUTO_TOOLCHAIN]);
        assert_eq!(toolchains("toolchain = \"auto\"", &["d"], None), ["d"]);
        assert_eq!(
            toolchains("toolchain = \"all\"", &["d", "e"], None),
            ["d", "e"]
        );
        assert_eq!(toolchains("toolchain = \"e\"", &["d", "e"], None), ["e"]);
        assert_eq!(
            toolchains("toolchain = \"all\"", &["d", "e"], Some("d")),
            ["d"]
        );
    }

    /// The build cache goes to the jobs with the most entry cells, while their archives (one
    /// per config) fit [`BUILD_CACHE_ARCHIVES`], never to a job of base cells alone; each
    /// job's `build` key names its first group without its place in the list. A job holds its
    /// group's config variants together, and a group with more than
    /// [`ENTRY_CELLS_PER_JOB`] entry cells is split into shards that each build the base.
    #[test]
    fn github_jobs_keep_configs_together_split_large_groups_and_cache_the_busiest() {
        let cell = |entry: &str, base: &str, config: &str| Cell {
            entry: entry.into(),
            base: base.into(),
            arch: Arch::X86_64,
            toolchain: "t".into(),
            config: config.into(),
        };
        let mut p = plan(&m(), &Filters::default());
        p.cells.clear();
        // Base bi has i entry cells; b0 has none.
        let n = BUILD_CACHE_ARCHIVES + 3;
        for i in 0..n {
            let b = format!("b{i}");
            p.cells.push(cell(BASE_ENTRY, &b, "release"));
            for e in 0..i {
                p.cells.push(cell(&format!("e{e}"), &b, "release"));
            }
        }
        let v: serde_json::Value = serde_json::from_str(&p.to_github(256)).unwrap();
        let jobs = v["include"].as_array().unwrap();
        assert_eq!(jobs.len(), n);
        let cached: Vec<usize> = (0..n).filter(|i| jobs[*i]["build_cache"] == true).collect();
        assert_eq!(cached, (3..n).collect::<Vec<_>>());
        assert_eq!(jobs[5]["build"], "b5-x86_64-t", "{}", jobs[5]);

        // Two configs: one job, its name says both, and it takes two archives.
        p.cells.clear();
        for c in ["debug", "release"] {
            p.cells.push(cell(BASE_ENTRY, "b", c));
            p.cells.push(cell("e", "b", c));
        }
        let v: serde_json::Value = serde_json::from_str(&p.to_github(256)).unwrap();
        let jobs = v["include"].as_array().unwrap();
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0]["name"], "000-b-x86_64-release-debug");
        assert_eq!(jobs[0]["count"], 4);

        // A group of 2 × ENTRY_CELLS_PER_JOB + 1 entries: three shards, each with the base.
        p.cells.clear();
        p.cells.push(cell(BASE_ENTRY, "b", "release"));
        for e in 0..(2 * ENTRY_CELLS_PER_JOB + 1) {
            p.cells.push(cell(&format!("e{e}"), "b", "release"));
        }
        let v: serde_json::Value = serde_json::from_str(&p.to_github(256)).unwrap();
        let jobs = v["include"].as_array().unwrap();
        assert_eq!(jobs.len(), 3);
        let mut seen = 0;
        for j in jobs {
            let sel = parse_cell_selectors(j["cells"].as_str().unwrap()).unwrap();
            assert_eq!(sel[0].0, BASE_ENTRY, "{j}");
            assert!(sel.len() - 1 <= ENTRY_CELLS_PER_JOB, "{j}");
            seen += sel.len() - 1;
        }
        assert_eq!(seen, 2 * ENTRY_CELLS_PER_JOB + 1);
    }

    #[test]
    fn github_matrix_groups_and_caps_jobs() {
        let p = plan(&m(), &Filters::default());
        let v: serde_json::Value = serde_json::from_str(&p.to_github(256)).unwrap();
        assert_eq!(v["include"].as_array().unwrap().len(), 3);
        assert_eq!(
            v["include"][0]["cells"],
            "base@a@x86_64@release,one@a@x86_64@release"
        );
        let v: serde_json::Value = serde_json::from_str(&p.to_github(2)).unwrap();
        let jobs = v["include"].as_array().unwrap();
        assert_eq!(jobs.len(), 2);
        let total: u64 = jobs.iter().map(|j| j["count"].as_u64().unwrap()).sum();
        assert_eq!(total, 6);
        let sel = parse_cell_selectors(jobs[1]["cells"].as_str().unwrap()).unwrap();
        assert_eq!(
            sel[0],
            (
                "base".to_string(),
                "a".to_string(),
                Arch::Arm64,
                Some("release".to_string())
            )
        );
    }
}
