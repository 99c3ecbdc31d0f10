//! `import-registry`: registry markdown → a whole matrix.toml, keeping ids and settings of
//! the file it replaces.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::Context;

use crate::commands::select;
use crate::model::matrix::{self, BaseDecl, WriteSpec};
use crate::model::registry;
use crate::stages::toolchain;

pub fn run(input: &Path, out: Option<&Path>) -> anyhow::Result<()> {
    let md = std::fs::read_to_string(input)
        .with_context(|| format!("read registry {}", input.display()))?;
    let previous = match out {
        Some(p) if p.exists() => Some(
            select::load_file(p)
                .with_context(|| format!("read the existing {} to keep its ids", p.display()))?,
        ),
        _ => None,
    };
    let (text, notes) = render_with_notes(&md, previous.as_ref());
    for n in notes {
        // Notes quote registry cells, which may hold terminal escapes.
        eprintln!(
            "import-registry: {}: {}",
            input.display(),
            matrix::shown(&n)
        );
    }
    let rows = registry::table::parse_rows(&md).len();
    if rows == 0 {
        anyhow::bail!(
            "{}: no patch table found (a markdown table with area, status and link columns)",
            input.display()
        );
    }
    match out {
        Some(p) => {
            std::fs::write(p, &text).with_context(|| format!("write {}", p.display()))?;
            eprintln!(
                "import-registry: {rows} rows → {} entries in {}",
                text.matches("\n[[entry]]\n").count(),
                p.display()
            );
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
                .map(|e| {
                    (
                        registry::fingerprint(&e.area, e.source.get_ref()),
                        e.id.get_ref().clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let imp = registry::import(md, &kept);

    let (arches, checks, mirrors, toolchains, configs, mut bases) = match previous {
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
                m.matrix
                    .arches
                    .iter()
                    .map(|a| a.get_ref().clone())
                    .collect::<Vec<_>>(),
                m.matrix
                    .checks
                    .iter()
                    .map(|c| c.get_ref().clone())
                    .collect::<Vec<_>>(),
                m.matrix.mirrors.clone(),
                m.matrix.toolchains.clone(),
                if m.matrix.configs.is_empty() {
                    matrix::standard_configs()
                } else {
                    m.matrix.configs.clone()
                },
                bases,
            )
        }
        None => {
            let mut tc = BTreeMap::new();
            tc.insert("debian".to_string(), toolchain::debian_default());
            (
                crate::model::arch::Arch::ALL
                    .iter()
                    .map(|a| a.name().to_string())
                    .collect(),
                matrix::Check::ALL
                    .iter()
                    .map(|c| c.name().to_string())
                    .collect(),
                BTreeMap::new(),
                tc,
                matrix::standard_configs(),
                registry::base::standard_bases(),
            )
        }
    };
    for b in registry::base::standard_bases()
        .into_iter()
        .chain(imp.extra_bases.into_values())
    {
        if !bases.iter().any(|have| have.name == b.name) {
            bases.push(b);
        }
    }
    // One order whatever the source of a declaration, so that a re-import is byte-identical.
    bases.sort_by(|a, b| a.name.cmp(&b.name));
    let mut notes = vec![
        String::new(),
        "Import notes (unusual values kept as they are):".to_string(),
    ];
    if imp.notes.is_empty() {
        notes.push("  none".into());
    }
    notes.extend(imp.notes.iter().map(|n| format!("  {n}")));
    let text = matrix::write(&WriteSpec {
        arches: &arches,
        checks: &checks,
        mirrors: &mirrors,
        toolchains: &toolchains,
        configs: &configs,
        bases: &bases,
        entries: &imp.entries,
        header_notes: &notes,
    });
    (text, imp.notes)
}

impl crate::commands::flags::ImportArgs {
    pub fn run(self) -> anyhow::Result<std::process::ExitCode> {
        run(&self.file, self.out.as_deref())?;
        Ok(std::process::ExitCode::SUCCESS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the registry's cells hold, the file the import writes loads again, holds the
    /// cells as they were, and a re-import from it is byte-identical.
    #[test]
    fn hostile_cells_round_trip_through_the_written_file() {
        let status = "te\u{1b}[2Jst\u{7}\rmid\u{202e}gnitset\u{7f}";
        let author = "A\u{1b}]0;title\u{7}, B\u{9b}31m";
        let md = format!(
            "| Area | Status | Author | Git Link | Base |\n|---|---|---|---|---|\n\
             | ar\u{1}ea | {status} | {author} | https://github.com/ü/é/pull/1 https://x\u{1b}y | `rust` |\n\
             | b | review | B | https://lore.kernel.org/ö | ru\u{85}st\u{202e} |\n\
             | c | review | C | http://gitlab.com@127.0.0.1:18080/x/y | |\n"
        );
        let text = render(&md, None);
        let loaded = matrix::parse(Path::new("m.toml"), &text)
            .unwrap_or_else(|e| panic!("the written file does not load: {e}\n{text}"));
        assert!(
            !text
                .chars()
                .any(|c| (c.is_control() && c != '\n') || crate::model::text::is_bidi_control(c)),
            "raw control characters written:\n{text:?}"
        );
        let es = &loaded.matrix.entries;
        assert_eq!(es.len(), 3);
        assert_eq!(es[0].status, status);
        assert_eq!(es[0].area, "ar\u{1}ea");
        assert_eq!(es[0].authors, ["A\u{1b}]0;title\u{7}", "B\u{9b}31m"]);
        assert_eq!(
            es[0].source.get_ref(),
            &matrix::Source::None("unrecognised link https://github.com/ü/é/pull/1".into())
        );
        assert!(
            es[0].note.contains("unrecognised link: https://x\u{1b}y"),
            "{}",
            es[0].note
        );
        assert_eq!(es[1].registry_base, "ru\u{85}st\u{202e}");
        assert!(
            es[1]
                .skip
                .as_deref()
                .is_some_and(|s| s.contains("ru\u{85}st\u{202e}")),
            "{:?}",
            es[1].skip
        );
        // The userinfo link is kept as a note, never as a GitLab source.
        assert_eq!(es[2].source.get_ref().kind(), "none");
        assert!(text.contains("names a user before the host"), "{text}");
        assert_eq!(
            render(&md, Some(&loaded)),
            text,
            "a re-import from the written file changed it"
        );
    }
}
