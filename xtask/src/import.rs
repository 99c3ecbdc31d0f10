//! `import-registry`: registry markdown → a whole matrix.toml, keeping ids and settings of
//! the file it replaces.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::Context;

use crate::matrix::{self, BaseDecl, WriteSpec};
use crate::registry;
use crate::toolchain;

pub fn run(input: &Path, out: Option<&Path>) -> anyhow::Result<()> {
    let md = std::fs::read_to_string(input).with_context(|| format!("read registry {}", input.display()))?;
    let previous = match out {
        Some(p) if p.exists() => Some(matrix::load(p).with_context(|| format!("read the existing {} to keep its ids", p.display()))?),
        _ => None,
    };
    let (text, notes) = render_with_notes(&md, previous.as_ref());
    for n in notes {
        eprintln!("import-registry: {}: {n}", input.display());
    }
    let rows = registry::parse_rows(&md).len();
    if rows == 0 {
        anyhow::bail!("{}: no patch table found (a markdown table with area, status and link columns)", input.display());
    }
    match out {
        Some(p) => {
            std::fs::write(p, &text).with_context(|| format!("write {}", p.display()))?;
            eprintln!("import-registry: {rows} rows → {} entries in {}", text.matches("\n[[entry]]\n").count(), p.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// The whole matrix text for a registry, given the file it replaces (if any).
pub fn render(md: &str, previous: Option<&matrix::Loaded>) -> String {
    render_with_notes(md, previous).0
}

/// The matrix text and the import's notes on unusual values, from one parse.
fn render_with_notes(md: &str, previous: Option<&matrix::Loaded>) -> (String, Vec<String>) {
    let kept: HashMap<String, String> = previous
        .map(|m| {
            m.matrix
                .entries
                .iter()
                .map(|e| (registry::fingerprint(&e.area, e.source.get_ref()), e.id.get_ref().clone()))
                .collect()
        })
        .unwrap_or_default();
    let imp = registry::import(md, &kept);

    let (arches, checks, mirrors, toolchains, mut bases) = match previous {
        Some(m) => {
            let bases: Vec<BaseDecl> = m
                .matrix
                .bases
                .iter()
                .map(|(n, b)| BaseDecl {
                    name: n.clone(),
                    kind: b.kind,
                    url: b.url.clone(),
                    git_ref: b.git_ref.clone(),
                    offline: b.offline.clone(),
                    description: b.description.clone(),
                })
                .collect();
            (
                m.matrix.arches.iter().map(|a| a.get_ref().clone()).collect::<Vec<_>>(),
                m.matrix.checks.iter().map(|c| c.get_ref().clone()).collect::<Vec<_>>(),
                m.matrix.mirrors.clone(),
                m.matrix.toolchains.clone(),
                bases,
            )
        }
        None => {
            let mut tc = BTreeMap::new();
            tc.insert("debian".to_string(), toolchain::debian_default());
            (
                crate::arch::Arch::ALL.iter().map(|a| a.name().to_string()).collect(),
                matrix::Check::ALL.iter().map(|c| c.name().to_string()).collect(),
                BTreeMap::new(),
                tc,
                registry::standard_bases(),
            )
        }
    };
    for b in registry::standard_bases().into_iter().chain(imp.extra_bases.into_values()) {
        if !bases.iter().any(|have| have.name == b.name) {
            bases.push(b);
        }
    }
    // One order whatever the source of a declaration, so that a re-import is byte-identical.
    bases.sort_by(|a, b| a.name.cmp(&b.name));
    let mut notes = vec![String::new(), "Import notes (unusual values kept as they are):".to_string()];
    if imp.notes.is_empty() {
        notes.push("  none".into());
    }
    notes.extend(imp.notes.iter().map(|n| format!("  {n}")));
    let text = matrix::write(&WriteSpec {
        arches: &arches,
        checks: &checks,
        mirrors: &mirrors,
        toolchains: &toolchains,
        bases: &bases,
        entries: &imp.entries,
        header_notes: &notes,
    });
    (text, imp.notes)
}
