//! matrix.toml text → a `Loaded` matrix: the serde parse, then every name, URL, ref and
//! selector checked, each error said at its place as file:line:col.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::model::arch::Arch;
use crate::model::matrix::rules::{check_debian_word, check_url_text};
use crate::model::matrix::{
    check_git_ref, check_git_url, check_id, check_name, check_source_url, rewrite_url, shown,
    Check, ConfigChoice, Loaded, Matrix, Source, ToolchainChoice, BASE_ENTRY,
};

/// An error in a matrix file, rendered as `file:line:col: message`.
#[derive(Debug)]
pub struct MatrixError {
    pub path: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl std::fmt::Display for MatrixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.col,
            self.message
        )
    }
}
impl std::error::Error for MatrixError {}

impl MatrixError {
    /// The error `message` at byte `offset` of the file `path`, whose text is `text`.
    pub fn at(path: &Path, text: &str, offset: usize, message: String) -> MatrixError {
        let (line, col) = line_col(text, offset);
        MatrixError {
            path: path.to_path_buf(),
            line,
            col,
            message,
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Mbox paths are relative to the matrix file's folder and stay inside it: no absolute path,
/// no `..`.
fn check_mbox_path(p: &str) -> Result<(), &'static str> {
    use std::path::Component;
    let path = Path::new(p);
    if path.is_absolute() {
        return Err("is absolute: mbox paths are relative to the matrix file's folder");
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err("leaves the matrix file's folder (`..`): mbox paths stay inside it");
    }
    Ok(())
}

/// Parse and validate. Every problem is reported at its place in the file.
pub fn parse(path: &Path, text: &str) -> Result<Loaded, MatrixError> {
    let err_at = |offset: usize, message: String| MatrixError::at(path, text, offset, message);
    let matrix: Matrix = toml::from_str(text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        err_at(offset, e.message().trim().to_string())
    })?;

    let mut arches = Vec::new();
    for a in &matrix.arches {
        match Arch::parse(a.get_ref()) {
            Some(arch) if !arches.contains(&arch) => arches.push(arch),
            Some(_) => {
                return Err(err_at(
                    a.span().start,
                    format!("arch `{}` is listed twice", a.get_ref()),
                ))
            }
            None => return Err(err_at(a.span().start, unknown_arch_message(a.get_ref()))),
        }
    }
    if arches.is_empty() {
        return Err(err_at(
            0,
            "`arches` must name at least one architecture".into(),
        ));
    }
    let mut checks = Vec::new();
    for c in &matrix.checks {
        match Check::parse(c.get_ref()) {
            Some(check) => checks.push(check),
            None => {
                return Err(err_at(
                    c.span().start,
                    format!(
                        "unknown check `{}` (known: kunit, clippy, rustfmt, rustdoc, objtool)",
                        c.get_ref()
                    ),
                ))
            }
        }
    }
    check_names_and_urls(text, &matrix, &err_at)?;
    let mut seen = HashSet::new();
    for e in &matrix.entries {
        let id = e.id.get_ref();
        if let Err(why) = check_id(id) {
            return Err(err_at(
                e.id.span().start,
                format!("entry id `{}` {why}", shown(id)),
            ));
        }
        if !seen.insert(id.clone()) {
            return Err(err_at(
                e.id.span().start,
                format!("duplicate entry id `{id}`"),
            ));
        }
        if let Some(b) = &e.base {
            if !matrix.bases.contains_key(b.get_ref()) {
                let known: Vec<&str> = matrix.bases.keys().map(String::as_str).collect();
                return Err(err_at(
                    b.span().start,
                    format!(
                        "entry `{id}` names base `{}`, which is not declared (declared: {})",
                        shown(b.get_ref()),
                        known.join(", ")
                    ),
                ));
            }
        }
        if let Some(list) = &e.arches {
            for a in list {
                if Arch::parse(a.get_ref()).is_none() {
                    return Err(err_at(a.span().start, unknown_arch_message(a.get_ref())));
                }
            }
        }
        if e.source.get_ref().value().trim().is_empty()
            && !matches!(e.source.get_ref(), Source::None(_))
        {
            return Err(err_at(
                e.source.span().start,
                format!(
                    "entry `{id}` has an empty `{}` source",
                    e.source.get_ref().kind()
                ),
            ));
        }
        if let Source::Mbox(p) = e.source.get_ref() {
            if let Err(why) = check_mbox_path(p) {
                return Err(err_at(
                    e.source.span().start,
                    format!("entry `{id}`: mbox `{}` {why}", shown(p)),
                ));
            }
        }
        if let Err(why) = check_source_url(&matrix.mirrors, e.source.get_ref()) {
            let s = e.source.get_ref();
            return Err(err_at(
                e.source.span().start,
                format!("entry `{id}`: {} `{}` {why}", s.kind(), shown(s.value())),
            ));
        }
    }
    Ok(Loaded {
        path: path.to_path_buf(),
        matrix,
        arches,
        checks,
    })
}

fn unknown_arch_message(name: &str) -> String {
    let known: Vec<&str> = Arch::ALL.iter().map(|a| a.name()).collect();
    format!("unknown arch `{name}` (known: {})", known.join(", "))
}

/// Where the names and URLs that `Matrix` holds as plain map keys and strings are in the
/// file: read in a second pass, so that their checks can say file:line:col.
#[derive(Deserialize)]
struct Places {
    #[serde(default)]
    mirrors: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    toolchains: BTreeMap<Spanned<String>, serde::de::IgnoredAny>,
    #[serde(default)]
    bases: BTreeMap<Spanned<String>, BasePlaces>,
    #[serde(default)]
    configs: BTreeMap<Spanned<String>, ConfigPlaces>,
}

#[derive(Deserialize)]
struct ConfigPlaces {
    #[serde(default)]
    fragments: Vec<Spanned<String>>,
    #[serde(default)]
    tree_fragments: Vec<Spanned<String>>,
    checks: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
struct BasePlaces {
    url: Spanned<String>,
    #[serde(rename = "ref")]
    git_ref: Spanned<String>,
    offline: Option<OfflinePlaces>,
}

#[derive(Deserialize)]
struct OfflinePlaces {
    debian_package: Spanned<String>,
    suite: Spanned<String>,
}

/// Base and toolchain names become folders, refs and shell words, mirror values and base URLs
/// reach git: each is checked here, at its place in the file.
fn check_names_and_urls(
    text: &str,
    matrix: &Matrix,
    err_at: &dyn Fn(usize, String) -> MatrixError,
) -> Result<(), MatrixError> {
    let places: Places = toml::from_str(text).map_err(|e| {
        err_at(
            e.span().map_or(0, |s| s.start),
            e.message().trim().to_string(),
        )
    })?;
    for (from, to) in &places.mirrors {
        if let Err(why) = check_url_text(from.get_ref()) {
            return Err(err_at(
                from.span().start,
                format!("mirror prefix `{}` {why}", shown(from.get_ref())),
            ));
        }
        if let Err(why) = check_git_url(to.get_ref()) {
            return Err(err_at(
                to.span().start,
                format!(
                    "mirror `{}` = `{}`: the replacement {why}",
                    shown(from.get_ref()),
                    shown(to.get_ref())
                ),
            ));
        }
    }
    if let Some(t) = &matrix.toolchain {
        if let ToolchainChoice::Named(v) = t.get_ref() {
            if !matrix.toolchains.contains_key(v) {
                return Err(err_at(
                    t.span().start,
                    format!(
                        "toolchain `{}`: not `{}`, `{}` or a declared toolchain",
                        shown(v),
                        ToolchainChoice::Auto,
                        ToolchainChoice::All
                    ),
                ));
            }
        }
    }
    for name in places.toolchains.keys() {
        if !matches!(
            ToolchainChoice::from(name.get_ref().as_str()),
            ToolchainChoice::Named(_)
        ) {
            return Err(err_at(
                name.span().start,
                format!(
                    "a toolchain may not be named `{}`: `toolchain =` says that",
                    name.get_ref()
                ),
            ));
        }
        if let Err(why) = check_name(name.get_ref()) {
            return Err(err_at(
                name.span().start,
                format!("toolchain name `{}` {why}", shown(name.get_ref())),
            ));
        }
    }
    check_configs(&places.configs, err_at)?;
    for (name, b) in &places.bases {
        let at = name.span().start;
        let name = name.get_ref();
        if name == BASE_ENTRY {
            return Err(err_at(
                at,
                "a base may not be named `base`: that name marks base cells".into(),
            ));
        }
        if let Err(why) = check_name(name) {
            return Err(err_at(at, format!("base name `{}` {why}", shown(name))));
        }
        if b.url.get_ref().trim().is_empty() || b.git_ref.get_ref().trim().is_empty() {
            return Err(err_at(
                at,
                format!("base `{name}` needs both `url` and `ref`"),
            ));
        }
        let url = rewrite_url(&matrix.mirrors, b.url.get_ref());
        if let Err(why) = check_url_text(b.url.get_ref()).and_then(|()| check_git_url(&url)) {
            let via = if url == *b.url.get_ref() {
                String::new()
            } else {
                format!(" (`{}` through [mirrors])", shown(&url))
            };
            return Err(err_at(
                b.url.span().start,
                format!("base `{name}`: url `{}`{via} {why}", shown(b.url.get_ref())),
            ));
        }
        if let Err(why) = check_git_ref(b.git_ref.get_ref()) {
            return Err(err_at(
                b.git_ref.span().start,
                format!("base `{name}`: ref `{}` {why}", shown(b.git_ref.get_ref())),
            ));
        }
        if let Some(o) = &b.offline {
            for (field, v) in [("debian_package", &o.debian_package), ("suite", &o.suite)] {
                if let Err(why) = check_debian_word(v.get_ref()) {
                    return Err(err_at(
                        v.span().start,
                        format!("base `{name}`: {field} `{}` {why}", shown(v.get_ref())),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Config names become folder names and a `--config` word; fragment names become file names
/// under `kconfigs/` or the tree's `kernel/configs/`; a variant's checks must be known ones.
fn check_configs(
    configs: &BTreeMap<Spanned<String>, ConfigPlaces>,
    err_at: &dyn Fn(usize, String) -> MatrixError,
) -> Result<(), MatrixError> {
    for (name, c) in configs {
        let n = name.get_ref();
        if ConfigChoice::from(n.as_str()) == ConfigChoice::All {
            return Err(err_at(
                name.span().start,
                format!(
                    "a config may not be named `{all}`: `--config {all}` selects every one",
                    all = ConfigChoice::All
                ),
            ));
        }
        if let Err(why) = check_name(n) {
            return Err(err_at(
                name.span().start,
                format!("config name `{}` {why}", shown(n)),
            ));
        }
        for f in c.fragments.iter().chain(&c.tree_fragments) {
            if let Err(why) = check_name(f.get_ref()) {
                return Err(err_at(
                    f.span().start,
                    format!("config `{n}`: fragment `{}` {why}", shown(f.get_ref())),
                ));
            }
        }
        for k in c.checks.iter().flatten() {
            if Check::parse(k.get_ref()).is_none() {
                return Err(err_at(
                    k.span().start,
                    format!(
                        "config `{n}`: unknown check `{}` (known: kunit, clippy, rustfmt, rustdoc, objtool)",
                        shown(k.get_ref())
                    ),
                ));
            }
        }
    }
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::matrix::fixture::{parse_str, with_mbox, SMALL};
    use crate::model::matrix::toml_str;

    /// An mbox path that leaves the matrix file's folder is refused at load, at its place.
    #[test]
    fn mbox_paths_outside_the_matrix_folder_are_refused() {
        for (p, why) in [
            ("../../etc/passwd", "leaves the matrix file's folder"),
            ("/etc/passwd", "is absolute"),
            ("patches/../../x.patch", "leaves"),
        ] {
            let text = with_mbox(p);
            let e = parse_str(&text).expect_err(p);
            let line = text
                .lines()
                .position(|l| l.starts_with("source ="))
                .unwrap()
                + 1;
            assert_eq!((e.line, e.col), (line, 10), "{e}");
            assert!(
                e.message.contains("entry `one`")
                    && e.message.contains(p)
                    && e.message.contains(why),
                "{e}"
            );
        }
        assert!(parse_str(&with_mbox("patches/x.patch")).is_ok());
    }

    #[test]
    fn parses_a_small_matrix() {
        let m = parse_str(SMALL).unwrap();
        assert_eq!(m.arches, vec![Arch::X86_64, Arch::Arm64]);
        assert_eq!(m.checks.len(), 5);
        let e = &m.matrix.entries[0];
        assert_eq!(
            e.source.get_ref(),
            &Source::GithubPr("https://github.com/Rust-for-Linux/linux/pull/885".into())
        );
        assert_eq!(e.skip_reason(), None);
    }

    #[test]
    fn type_error_names_line_and_column() {
        let bad = SMALL.replace("arches = [\"x86_64\", \"arm64\"]", "arches = 3");
        let e = parse_str(&bad).unwrap_err().to_string();
        assert!(e.starts_with("m.toml:2:10: "), "{e}");
        assert!(e.contains("invalid type"), "{e}");
    }

    #[test]
    fn unknown_arch_names_its_place() {
        let bad = SMALL.replace("\"arm64\"", "\"sparc\"");
        let e = parse_str(&bad).unwrap_err().to_string();
        assert_eq!(
            e,
            "m.toml:2:21: unknown arch `sparc` (known: x86_64, arm64, riscv64, loongarch64)"
        );
    }

    #[test]
    fn duplicate_id_names_the_second() {
        let bad = format!("{SMALL}\n[[entry]]\nid = \"one\"\nsource = {{ lore = \"x@y\" }}\n");
        let e = parse_str(&bad).unwrap_err().to_string();
        assert_eq!(e, "m.toml:14:6: duplicate entry id `one`");
    }

    #[test]
    fn undeclared_base_and_two_key_source_are_errors() {
        let bad = SMALL.replace("base = \"rust-next\"", "base = \"rust-nxt\"");
        let e = parse_str(&bad).unwrap_err().to_string();
        assert!(
            e.starts_with("m.toml:11:8: entry `one` names base `rust-nxt`"),
            "{e}"
        );
        let bad = SMALL.replace("{ github_pr", "{ lore = \"a@b\", github_pr");
        assert!(parse_str(&bad).is_err());
        let bad = SMALL.replace("github_pr", "svn");
        let e = parse_str(&bad).unwrap_err().to_string();
        assert!(e.contains("unknown variant `svn`"), "{e}");
    }

    #[test]
    fn hostile_ids_are_refused() {
        for id in ["../x", "a/b", "base", "", ".hidden"] {
            let bad = SMALL.replace("id = \"one\"", &format!("id = {}", toml_str(id)));
            assert!(parse_str(&bad).is_err(), "{id}");
        }
    }

    /// `SMALL` with `[toolchains.<name>]` and `[mirrors]` added in front of the base.
    fn with_sections(toolchain: &str, mirror: (&str, &str)) -> String {
        let tc = format!("[toolchains.{}]\nrustc = \"r\"\nrustdoc = \"r\"\nclippy_driver = \"c\"\nrustfmt = \"f\"\nbindgen = \"b\"\n", toml_str(toolchain));
        let mirrors = format!(
            "[mirrors]\n{} = {}\n",
            toml_str(mirror.0),
            toml_str(mirror.1)
        );
        SMALL.replace(
            "[bases.rust-next]",
            &format!("{mirrors}{tc}[bases.rust-next]"),
        )
    }

    #[test]
    fn names_that_become_paths_are_checked_where_they_stand() {
        let ok = with_sections("debian", ("https://github.com/", "file:///m/gh/"));
        parse_str(&ok).unwrap();
        // Lines: 2 arches, 3 [mirrors], 4 the mirror, 5 [toolchains.…], 11 [bases.…].
        let e = parse_str(&with_sections(
            "t/../../../victim",
            ("https://github.com/", "file:///m/"),
        ))
        .unwrap_err()
        .to_string();
        assert_eq!(e, "m.toml:5:13: toolchain name `t/../../../victim` may hold only ASCII letters, digits, `-`, `_` and `.`");
        let e = parse_str(&with_sections("-x", ("https://github.com/", "file:///m/")))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "m.toml:5:13: toolchain name `-x` may not start with `.` or `-`"
        );
        for (bad, why) in [
            ("../../victim", "may not start with"),
            ("a;rm -rf ~", "may hold only"),
            ("a\u{1b}[2J", "may hold only"),
            ("", "is empty"),
        ] {
            let text = SMALL
                .replace("[bases.rust-next]", &format!("[bases.{}]", toml_str(bad)))
                .replace("base = \"rust-next\"", &format!("base = {}", toml_str(bad)));
            let e = parse_str(&text).unwrap_err().to_string();
            assert!(
                e.starts_with("m.toml:3:8: base name `") && e.contains(why),
                "{bad:?}: {e}"
            );
            assert!(
                !e.contains('\u{1b}'),
                "the message must not carry the raw escape: {e:?}"
            );
        }
    }

    #[test]
    fn urls_that_reach_git_are_never_options_or_odd_transports() {
        let e = parse_str(&with_sections(
            "d",
            ("https://github.com/", "--upload-pack=touch /tmp/x"),
        ))
        .unwrap_err()
        .to_string();
        assert_eq!(e, "m.toml:4:25: mirror `https://github.com/` = `--upload-pack=touch /tmp/x`: the replacement starts with `-`: git would read it as an option");
        let e = parse_str(&with_sections(
            "d",
            ("https://github.com/", "ext::sh -c touch% /tmp/x"),
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("m.toml:4:25: ") && e.contains("`<transport>::<address>` form"),
            "{e}"
        );
        let e = parse_str(&with_sections(
            "d",
            ("https://github.com/", "ssh://git@example.org/"),
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("m.toml:4:25: ") && e.contains("transport `ssh`"),
            "{e}"
        );
        let e = parse_str(&with_sections("d", ("-x", "https://example.org/")))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("m.toml:4:1: mirror prefix `-x` starts with `-`"),
            "{e}"
        );
        // A base URL, directly or once a mirror has rewritten it.
        let e = parse_str(&SMALL.replace(
            "\"https://example.org/linux.git\"",
            "\"--upload-pack=touch /tmp/x\"",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                "m.toml:5:7: base `rust-next`: url `--upload-pack=touch /tmp/x` starts with `-`"
            ),
            "{e}"
        );
        // `ext:` alone is no transport form; joined to the rest of the URL, it is one.
        let via = with_sections("d", ("https://example.org/", "ext:")).replace(
            "https://example.org/linux.git",
            "https://example.org/:sh -c x",
        );
        let e = parse_str(&via).unwrap_err().to_string();
        assert!(e.starts_with("m.toml:13:7: base `rust-next`: url `https://example.org/:sh -c x` (`ext::sh -c x` through [mirrors]) uses git's"), "{e}");
        let e = parse_str(&SMALL.replace("ref = \"rust-next\"", "ref = \"--delete\""))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("m.toml:6:7: base `rust-next`: ref `--delete` may not start with `-`"),
            "{e}"
        );
        let e = parse_str(&SMALL.replace("ref = \"rust-next\"", "ref = \"a:refs/heads/x\""))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("m.toml:6:7: ") && e.contains("may hold only"),
            "{e}"
        );
        let off = SMALL.replace(
            "ref = \"rust-next\"",
            "ref = \"v7.2.*\"\noffline = { debian_package = \"-oAPT::x=y\", suite = \"unstable\" }",
        );
        let e = parse_str(&off).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "m.toml:7:30: base `rust-next`: debian_package `-oAPT::x=y` must start with"
            ),
            "{e}"
        );
        let e = parse_str(
            &off.replace("-oAPT::x=y", "linux-source-7.2")
                .replace("unstable", "../../x"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("m.toml:7:58: base `rust-next`: suite `../../x`"),
            "{e}"
        );
        // Entry sources that git fetches.
        let e = parse_str(&SMALL.replace(
            "https://github.com/Rust-for-Linux/linux/pull/885",
            "--upload-pack=x",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("m.toml:10:10: entry `one`: github_pr `--upload-pack=x` starts with `-`"),
            "{e}"
        );
        let e = parse_str(&SMALL.replace(
            "{ github_pr = \"https://github.com/Rust-for-Linux/linux/pull/885\" }",
            "{ gitlab = \"ext::sh -c x\" }",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("m.toml:10:10: entry `one`: gitlab `ext::sh -c x`") && e.contains("form"),
            "{e}"
        );
        // What is fine stays fine: plain paths, file:// and http(s) remotes, tag patterns.
        parse_str(&SMALL.replace("https://example.org/linux.git", "/srv/git/linux.git")).unwrap();
        parse_str(
            &SMALL
                .replace("https://example.org/linux.git", "file:///srv/git/linux.git")
                .replace("ref = \"rust-next\"", "ref = \"v7.2.*\""),
        )
        .unwrap();
    }

    /// A config variant's name and fragment names become folder and file names, its checks
    /// must be known ones, and `all` is the selector's word: each refused at its place.
    #[test]
    fn config_variants_are_checked_where_they_are_written() {
        let with = |cfg: &str| {
            let text = format!("arches = [\"x86_64\"]\n{cfg}\n");
            parse(Path::new("m.toml"), &text)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        assert_eq!(with("[configs.debug]\nfragments = [\"debug\"]"), Ok(()));
        for (cfg, want) in [
            (
                "[configs.all]",
                "m.toml:2:10: a config may not be named `all`",
            ),
            (
                "[configs.\"../x\"]",
                "m.toml:2:10: config name `../x` may not start",
            ),
            (
                "[configs.d]\nfragments = [\"../../etc/passwd\"]",
                "m.toml:3:14: config `d`: fragment `../../etc/passwd` may not start",
            ),
            (
                "[configs.d]\ntree_fragments = [\"a/b.config\"]",
                "m.toml:3:19: config `d`: fragment `a/b.config` may hold only",
            ),
            (
                "[configs.d]\nchecks = [\"kunit\", \"sparse\"]",
                "m.toml:3:20: config `d`: unknown check `sparse`",
            ),
            (
                "[configs.d]\nmodules = \"static\"",
                "m.toml:3:11: unknown variant `static`",
            ),
        ] {
            let got = with(cfg).unwrap_err();
            assert!(got.starts_with(want), "{cfg}: {got}");
        }
    }

    /// `toolchain =` is `auto`, `all` or a declared name, and no toolchain takes either word.
    #[test]
    fn toolchain_words_are_checked_where_they_are_written() {
        let tc = |name: &str| {
            format!("[toolchains.{name}]\nrustc = \"r\"\nrustdoc = \"r\"\nclippy_driver = \"c\"\nrustfmt = \"f\"\nbindgen = \"b\"\n")
        };
        let with = |toolchain: &str, name: &str| {
            let text = format!("arches = [\"x86_64\"]\n{toolchain}\n{}", tc(name));
            parse(Path::new("m.toml"), &text)
                .map(|m| m.matrix.toolchain_choice().clone())
                .map_err(|e| e.to_string())
        };
        assert_eq!(with("", "d"), Ok(ToolchainChoice::Auto));
        assert_eq!(with("toolchain = \"auto\"", "d"), Ok(ToolchainChoice::Auto));
        assert_eq!(with("toolchain = \"all\"", "d"), Ok(ToolchainChoice::All));
        assert_eq!(
            with("toolchain = \"d\"", "d"),
            Ok(ToolchainChoice::Named("d".into()))
        );
        assert_eq!(
            with("toolchain = \"e\"", "d"),
            Err("m.toml:2:13: toolchain `e`: not `auto`, `all` or a declared toolchain".into())
        );
        for word in ["auto", "all"] {
            assert_eq!(
                with("", word),
                Err(format!(
                    "m.toml:3:13: a toolchain may not be named `{word}`: `toolchain =` says that"
                ))
            );
        }
        let e = with("toolchain = 3", "d").unwrap_err();
        assert!(e.starts_with("m.toml:2:13: invalid type"), "{e}");
    }
}
