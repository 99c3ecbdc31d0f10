//! What the commands share: the matrix file (read, parsed, its mbox files checked on disk),
//! the cell selection flags, the job count.

use std::path::{Path, PathBuf};

use crate::commands::flags::Selection;
use crate::model::expect::{self, Date, Expectations, Known};
use crate::model::matrix::{parse, ConfigChoice, Loaded, MatrixError, Source, ALL};
use crate::model::{arch, matrix, plan};
use crate::sys::paths::project_root;

pub fn matrix_path(p: Option<&Path>) -> PathBuf {
    p.map(Path::to_path_buf)
        .unwrap_or_else(|| project_root().join("matrix.toml"))
}

pub fn load_matrix(p: Option<&Path>) -> anyhow::Result<Loaded> {
    let m = load_file(&matrix_path(p))?;
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

/// Read a matrix file, parse and check it, and check its entries' mbox files on disk.
pub fn load_file(path: &Path) -> anyhow::Result<Loaded> {
    let loaded = load_file_alone(path)?;
    // Loaded with the matrix: a bad expectations file is bad input for every command.
    load_expectations(&loaded)?;
    Ok(loaded)
}

/// [`load_file`] without its expectations file.
pub fn load_file_alone(path: &Path) -> anyhow::Result<Loaded> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{}: cannot read matrix: {e}", path.display()))?;
    let mut loaded = parse(path, &text)?;
    // Paths in the matrix (mbox files, fragments) are relative to its folder, whatever the
    // current directory of the commands that read them.
    if let Ok(abs) = std::fs::canonicalize(path) {
        loaded.path = abs;
    }
    check_mbox_files(&loaded, &text)?;
    Ok(loaded)
}

/// `expectations.toml` beside the matrix file, checked against it; `None` when there is no
/// such file. The first problem is the error (`expectations lint` lists them all).
pub fn load_expectations(m: &Loaded) -> anyhow::Result<Option<Expectations>> {
    let path = m.dir().join(expect::FILE_NAME);
    let Some(text) = read_expectations(&path)? else {
        return Ok(None);
    };
    expect::parse(&shown_path(&path), &text, &Known::of(m), today()?)
        .map(Some)
        .map_err(|errors| {
            let more = match errors.len() {
                0 | 1 => String::new(),
                n => format!(
                    " (and {} more: `cargo xtask expectations lint` lists them)",
                    n - 1
                ),
            };
            anyhow::anyhow!(
                "{}{more}",
                errors.first().map(|e| e.to_string()).unwrap_or_default()
            )
        })
}

/// An expectations file's text, at most `expect::MAX_BYTES`; `None` when it does not exist.
pub fn read_expectations(path: &Path) -> anyhow::Result<Option<String>> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => anyhow::bail!("{}: cannot read expectations: {e}", path.display()),
    };
    let mut text = String::new();
    file.take(expect::MAX_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| anyhow::anyhow!("{}: cannot read expectations: {e}", path.display()))?;
    if text.len() as u64 > expect::MAX_BYTES {
        anyhow::bail!(
            "{}: larger than {} bytes: not read",
            path.display(),
            expect::MAX_BYTES
        );
    }
    Ok(Some(text))
}

/// A path as errors and results name it: relative to the project when inside it.
pub fn shown_path(path: &Path) -> PathBuf {
    let root = std::fs::canonicalize(project_root()).unwrap_or_else(|_| project_root());
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    real.strip_prefix(&root)
        .map(Path::to_path_buf)
        .unwrap_or(real)
}

/// The day expiries are read against: `RFL_TODAY` (YYYY-MM-DD, for tests) when set, else
/// today in UTC.
pub fn today() -> anyhow::Result<Date> {
    match std::env::var("RFL_TODAY") {
        Ok(v) => Date::parse(&v).ok_or_else(|| {
            anyhow::anyhow!(
                "RFL_TODAY `{}` is not a day (YYYY-MM-DD)",
                matrix::shown(&v)
            )
        }),
        Err(_) => {
            let now = crate::model::outcome::now_rfc3339();
            Date::parse(now.get(..10).unwrap_or_default())
                .ok_or_else(|| anyhow::anyhow!("the clock says {now}: not a day"))
        }
    }
}

/// How much of an mbox file is read to find its first patch.
const MBOX_SNIFF: u64 = 16 << 20;

/// The entries' mbox files as they are on disk: once links are resolved each must still be
/// inside the matrix file's folder, be a regular file, and hold a patch. A file that is not a
/// patch is bad input, said here with its place in the matrix; `git am` would call it a
/// conflict and blame the code. A missing file is left to the fetch stage to report.
fn check_mbox_files(loaded: &Loaded, text: &str) -> Result<(), MatrixError> {
    let dir = std::fs::canonicalize(loaded.dir()).unwrap_or_else(|_| loaded.dir().to_path_buf());
    for e in &loaded.matrix.entries {
        let Source::Mbox(value) = e.source.get_ref() else {
            continue;
        };
        let id = e.id.get_ref();
        let at = |message: String| {
            MatrixError::at(
                &loaded.path,
                text,
                e.source.span().start,
                format!("entry `{id}`: mbox `{value}`: {message}"),
            )
        };
        let Ok(real) = std::fs::canonicalize(dir.join(value)) else {
            continue;
        };
        check_mbox_on_disk(&real, Some(&dir)).map_err(at)?;
    }
    Ok(())
}

/// The patch files of an mbox source as they are on disk (`real`, links resolved: a file, or
/// a folder's `.patch`, `.mbox` and `.eml` files): each inside `dir` when one is given, a
/// regular file, and holding a patch.
pub fn check_mbox_on_disk(real: &Path, dir: Option<&Path>) -> Result<(), String> {
    use std::io::Read;
    let files = if real.is_dir() {
        let rd = std::fs::read_dir(real)
            .map_err(|err| format!("cannot read {}: {err}", real.display()))?;
        rd.filter_map(|d| d.ok().map(|d| d.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "patch" || x == "mbox" || x == "eml")
            })
            .collect()
    } else {
        vec![real.to_path_buf()]
    };
    for f in files {
        let f = std::fs::canonicalize(&f).unwrap_or(f);
        if let Some(dir) = dir.filter(|d| !f.starts_with(d)) {
            return Err(format!(
                "{} is outside the matrix file's folder {}",
                f.display(),
                dir.display()
            ));
        }
        if !std::fs::metadata(&f).is_ok_and(|m| m.is_file()) {
            return Err(format!("{} is not a regular file", f.display()));
        }
        let mut head = Vec::new();
        let read =
            std::fs::File::open(&f).and_then(|file| file.take(MBOX_SNIFF).read_to_end(&mut head));
        read.map_err(|err| format!("cannot read {}: {err}", f.display()))?;
        if !holds_patch(&head) {
            return Err(format!(
                "{} is not an mbox or patch file (no `diff` or `---`/`+++` lines)",
                f.display()
            ));
        }
    }
    Ok(())
}

/// Does the text hold a diff: a `diff ` line, or a `--- ` line followed by a `+++ ` line?
fn holds_patch(bytes: &[u8]) -> bool {
    let mut prev: &[u8] = b"";
    for l in bytes.split(|b| *b == b'\n') {
        if l.starts_with(b"diff ") || (prev.starts_with(b"--- ") && l.starts_with(b"+++ ")) {
            return true;
        }
        prev = l;
    }
    false
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
pub fn filters(m: &Loaded, sel: &Selection) -> anyhow::Result<plan::Filters> {
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
        if a == ALL {
            f.arches = m.arches.clone();
            break;
        }
        match arch::Arch::parse(a) {
            Some(arch) => f.arches.push(arch),
            None => anyhow::bail!(
                "--arch {a}: unknown arch (known: {}, {ALL})",
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
    f.config = config_filter(m, sel.config.as_ref())?;
    Ok(f)
}

/// `--config NAME|all`, checked against the matrix's variants.
pub fn config_filter(
    m: &Loaded,
    config: Option<&ConfigChoice>,
) -> anyhow::Result<Option<ConfigChoice>> {
    let Some(c) = config else {
        return Ok(None);
    };
    if let ConfigChoice::Named(name) = c {
        let known: Vec<String> = m.configs().into_iter().map(|(n, _)| n).collect();
        if !known.contains(name) {
            anyhow::bail!(
                "--config {}: not declared in {} (declared: {}, {})",
                matrix::shown(name),
                m.path.display(),
                known.join(", "),
                ConfigChoice::All
            );
        }
    }
    Ok(Some(c.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::matrix::fixture::with_mbox;

    /// A file that is not an mbox or patch (or a link out of the folder, or a pipe) is bad
    /// input named at load, not left for `git am` to call a conflict.
    #[test]
    fn mbox_files_that_hold_no_patch_are_refused_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let patch = "From 0 Mon Sep 17 00:00:00 2001\nSubject: [PATCH] x\n\n---\n a | 1 +\n\ndiff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -0,0 +1 @@\n+x\n";
        std::fs::create_dir_all(d.join("patches")).unwrap();
        std::fs::write(d.join("patches/good.patch"), patch).unwrap();
        std::fs::write(d.join("notes.txt"), "root:x:0:0:root:/root:/bin/bash\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", d.join("patches/out.patch")).unwrap();
        let fifo = std::ffi::CString::new(d.join("pipe.patch").to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let m = d.join("m.toml");
        let load_with = |p: &str| {
            std::fs::write(&m, with_mbox(p)).unwrap();
            load_file(&m)
        };
        assert!(load_with("patches/good.patch").is_ok());
        // A missing file is the fetch stage's to report.
        assert!(load_with("patches/missing.patch").is_ok());
        for (p, why) in [
            ("notes.txt", "is not an mbox or patch file"),
            ("patches/out.patch", "is outside the matrix file's folder"),
            ("pipe.patch", "is not a regular file"),
        ] {
            let e = format!("{:#}", load_with(p).expect_err(p));
            assert!(
                e.contains("m.toml:")
                    && e.contains(":10: entry `one`: mbox")
                    && e.contains(p)
                    && e.contains(why),
                "{p}: {e}"
            );
        }
        // A folder of patches is checked file by file.
        std::fs::remove_file(d.join("patches/out.patch")).unwrap();
        assert!(load_with("patches").is_ok());
        std::fs::write(d.join("patches/junk.mbox"), "no patch here\n").unwrap();
        let e = format!("{:#}", load_with("patches").unwrap_err());
        assert!(
            e.contains("junk.mbox") && e.contains("is not an mbox or patch file"),
            "{e}"
        );
    }
}
