//! What the commands share: the matrix file, the cell selection flags, the job count.

use std::path::{Path, PathBuf};

use crate::commands::flags::Selection;
use crate::model::{arch, matrix, plan};
use crate::sys::paths::project_root;

pub fn matrix_path(p: Option<&Path>) -> PathBuf {
    p.map(Path::to_path_buf)
        .unwrap_or_else(|| project_root().join("matrix.toml"))
}

pub fn load_matrix(p: Option<&Path>) -> anyhow::Result<matrix::Loaded> {
    let m = matrix::load(&matrix_path(p))?;
    // A variant's fragments are files of the project's kconfigs/ folder: a name with no file
    // is a typo, found before anything runs.
    let dir = crate::sys::paths::project_root().join("kconfigs");
    for (name, c) in m.configs() {
        if let Some(f) = c
            .fragments
            .iter()
            .find(|f| !dir.join(format!("{f}.config")).is_file())
        {
            anyhow::bail!(
                "{}: config `{name}`: fragment `{f}` has no file {}",
                m.path.display(),
                dir.join(format!("{f}.config")).display()
            );
        }
    }
    Ok(m)
}

/// `-j`, or the machine's cores.
pub fn jobs(flag: Option<usize>) -> usize {
    flag.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// ` --matrix FILE` for repro lines, quoted for a shell; empty for the default matrix.
pub fn matrix_arg(p: Option<&Path>) -> String {
    match p {
        Some(p) => format!(" --matrix {}", crate::sys::proc::shell_quote(p)),
        None => String::new(),
    }
}

/// The selection flags as plan filters. Every name must be declared in the matrix and every
/// pattern must select something: anything else is a typo, or a name that cannot be an id.
pub fn filters(m: &matrix::Loaded, sel: &Selection) -> anyhow::Result<plan::Filters> {
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
    f.config = config_filter(m, sel.config.as_deref())?;
    Ok(f)
}

/// `--config NAME|all`, checked against the matrix's variants.
pub fn config_filter(m: &matrix::Loaded, config: Option<&str>) -> anyhow::Result<Option<String>> {
    let Some(c) = config else {
        return Ok(None);
    };
    let known: Vec<String> = m.configs().into_iter().map(|(n, _)| n).collect();
    if c != "all" && !known.iter().any(|k| k == c) {
        anyhow::bail!(
            "--config {}: not declared in {} (declared: {}, all)",
            matrix::shown(c),
            m.path.display(),
            known.join(", ")
        );
    }
    Ok(Some(c.to_string()))
}
