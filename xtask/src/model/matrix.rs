//! The `matrix.toml` model: serde types, validation with file:line:col errors, and a writer.
//!
//! Fixed points of the format (other tools rely on them): bases are `[bases.<name>]` tables,
//! entries are `[[entry]]` tables with `id`, `base` and a one-key inline `source` table, and
//! `[mirrors]` maps URL prefixes to their replacements.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::model::arch::Arch;

/// The whole matrix as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// Architectures every entry runs on unless `--arch` narrows them.
    pub arches: Vec<Spanned<String>>,
    /// Checks run after a successful build (the build and boot always run).
    #[serde(default = "default_checks")]
    pub checks: Vec<Spanned<String>>,
    /// URL prefix rewrites, like git's `url.<base>.insteadOf`.
    #[serde(default)]
    pub mirrors: BTreeMap<String, String>,
    #[serde(default)]
    pub toolchains: BTreeMap<String, Toolchain>,
    /// Which toolchains a cell runs with: `auto` (the default: per base, the newest declared
    /// one that meets the base's minimums), `all` (each declared one is a dimension), or one
    /// declared name.
    pub toolchain: Option<Spanned<String>>,
    /// Config variants: every cell runs in each selected one. None declared is one
    /// `release` variant: the common and arch fragments alone, modules loadable.
    #[serde(default)]
    pub configs: BTreeMap<String, ConfigVariant>,
    #[serde(default)]
    pub bases: BTreeMap<String, Base>,
    #[serde(default, rename = "entry")]
    pub entries: Vec<Entry>,
}

fn default_checks() -> Vec<Spanned<String>> {
    Check::ALL
        .iter()
        .map(|c| Spanned::new(0..0, c.name().to_string()))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Check {
    Kunit,
    Clippy,
    Rustfmt,
    Rustdoc,
    Objtool,
}

impl Check {
    pub const ALL: [Check; 5] = [
        Check::Kunit,
        Check::Clippy,
        Check::Rustfmt,
        Check::Rustdoc,
        Check::Objtool,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Check::Kunit => "kunit",
            Check::Clippy => "clippy",
            Check::Rustfmt => "rustfmt",
            Check::Rustdoc => "rustdoc",
            Check::Objtool => "objtool",
        }
    }
    pub fn parse(s: &str) -> Option<Check> {
        Check::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// A set of tools a cell builds with. Paths may use `{cache}` for the harness's cache folder;
/// a bare name is looked up on PATH.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Toolchain {
    pub rustc: String,
    pub rustdoc: String,
    pub clippy_driver: String,
    pub rustfmt: String,
    pub bindgen: String,
    /// The value of `LLVM=`: `1`, a suffix such as `-19`, or a prefix ending in `/`.
    #[serde(default = "default_llvm")]
    pub llvm: String,
}

fn default_llvm() -> String {
    "1".into()
}

/// `toolchain = "auto"`, and the toolchain name of a cell whose toolchain the run chooses.
pub const AUTO_TOOLCHAIN: &str = "auto";

/// The variant a matrix without `[configs]` has, and the one a results file without a
/// `config` field was run in.
pub const DEFAULT_CONFIG: &str = "release";

/// A kernel config variant (`[configs.<name>]`), on top of `kconfigs/common.config` and the
/// arch's fragment.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigVariant {
    /// Fragments of the project's `kconfigs/` folder, by name (`debug` is
    /// `kconfigs/debug.config`). Every option they set is checked in the final .config.
    #[serde(default)]
    pub fragments: Vec<String>,
    /// Fragments of the base's own `kernel/configs/`, by file name (`debug.config`). Options
    /// of these that Kconfig cannot enable on the tiny config are listed, not failed: they are
    /// the tree's.
    #[serde(default)]
    pub tree_fragments: Vec<String>,
    /// Whether the Rust samples and test modules (every `=m` of the fragments) are built in
    /// or loadable.
    #[serde(default)]
    pub modules: Modules,
    /// This variant's checks, among the matrix's (default: all of them).
    pub checks: Option<Vec<String>>,
    /// Run when `--config` does not choose (default: yes).
    #[serde(default = "yes")]
    pub default: bool,
    #[serde(default)]
    pub description: String,
}

fn yes() -> bool {
    true
}

/// What `[configs.<name>]` with nothing in it is: no fragment of its own, modules loadable,
/// the matrix's checks, run by default.
impl Default for ConfigVariant {
    fn default() -> Self {
        ConfigVariant {
            fragments: Vec::new(),
            tree_fragments: Vec::new(),
            modules: Modules::Loadable,
            checks: None,
            default: true,
            description: String::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Modules {
    #[default]
    Loadable,
    Builtin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BaseKind {
    Branch,
    Tag,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Base {
    pub kind: BaseKind,
    /// The git remote the base is fetched from (before mirror rewrites).
    pub url: String,
    /// Branch or tag name on that remote.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// A way to obtain the base with no network, used in preference to the remote.
    pub offline: Option<Offline>,
    #[serde(default)]
    pub description: String,
}

/// A tagged release provisioned from a Debian `linux-source-X.Y` package.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Offline {
    pub debian_package: String,
    /// The Debian suite that carries the package (`unstable`, `bookworm-security`, …).
    pub suite: String,
}

/// Where a patchset comes from. In the file: an inline table with exactly one key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Source {
    /// A GitHub pull request URL (`…/pull/N`).
    GithubPr(String),
    /// One commit inside a pull request (`…/pull/N/commits/SHA`).
    PrCommit(String),
    /// A branch of a repository (`…/tree/B`, `…/commits/B`), or `URL#branch`.
    Branch(String),
    /// One commit (`…/commit/SHA`), or `URL#SHA`.
    Commit(String),
    /// A GitLab repository's default branch.
    Gitlab(String),
    /// A mailing-list series by message-id.
    Lore(String),
    /// A local mbox file or a directory of patches, relative to the matrix file.
    Mbox(String),
    /// A file link: the path must exist in the base (the health of a `merged` row).
    File(String),
    /// A git URL and a ref on it (a branch, a tag or a commit), as `URL REF`: what `try --git
    /// URL --ref REF` runs. Never read from a matrix file.
    #[serde(skip_deserializing)]
    Git(String),
    /// Nothing to fetch yet; the value says why.
    Unpublished(String),
    /// The registry row carried no link.
    None(String),
}

impl Source {
    pub fn kind(&self) -> &'static str {
        match self {
            Source::GithubPr(_) => "github_pr",
            Source::PrCommit(_) => "pr_commit",
            Source::Branch(_) => "branch",
            Source::Commit(_) => "commit",
            Source::Gitlab(_) => "gitlab",
            Source::Lore(_) => "lore",
            Source::Mbox(_) => "mbox",
            Source::File(_) => "file",
            Source::Git(_) => "git",
            Source::Unpublished(_) => "unpublished",
            Source::None(_) => "none",
        }
    }
    pub fn value(&self) -> &str {
        match self {
            Source::GithubPr(v)
            | Source::PrCommit(v)
            | Source::Branch(v)
            | Source::Commit(v)
            | Source::Gitlab(v)
            | Source::Lore(v)
            | Source::Mbox(v)
            | Source::File(v)
            | Source::Git(v)
            | Source::Unpublished(v)
            | Source::None(v) => v,
        }
    }
    /// A `git` source from its URL and ref.
    pub fn git(url: &str, git_ref: &str) -> Source {
        Source::Git(format!("{url} {git_ref}"))
    }
    /// The URL and the ref of a `git` source's value: the ref is after the last space (a ref
    /// holds none).
    pub fn git_parts(value: &str) -> Option<(&str, &str)> {
        value.rsplit_once(' ')
    }
    /// Why a source can never run, whatever the network says.
    pub fn inherent_skip(&self) -> Option<String> {
        match self {
            Source::Unpublished(why) => Some(format!("not published: {why}")),
            Source::None(why) => Some(format!("no source: {why}")),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub id: Spanned<String>,
    #[serde(default)]
    pub area: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub authors: Vec<String>,
    pub source: Spanned<Source>,
    /// The base the patchset is declared against; absent when none can be named.
    pub base: Option<Spanned<String>>,
    /// The base as the registry spelled it, kept for the record.
    #[serde(default)]
    pub registry_base: String,
    /// Why the entry cannot run; set by the import or by hand.
    pub skip: Option<String>,
    /// A second link of the registry row (a lore series beside a git link).
    pub lore: Option<String>,
    /// Extra Kconfig fragments (paths relative to the matrix file) or `CONFIG_X=y` lines.
    #[serde(default)]
    pub kconfig: Vec<String>,
    /// Arches this entry is limited to (defaults to the matrix's).
    pub arches: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub note: String,
}

impl Entry {
    /// Why this entry cannot run, or None.
    pub fn skip_reason(&self) -> Option<String> {
        if let Some(s) = &self.skip {
            return Some(s.clone());
        }
        if let Some(s) = self.source.get_ref().inherent_skip() {
            return Some(s);
        }
        if self.base.is_none() {
            return Some("no declared base".into());
        }
        None
    }
    pub fn base_name(&self) -> Option<&str> {
        self.base.as_ref().map(|b| b.get_ref().as_str())
    }
}

/// A matrix that has been loaded and validated, with where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub path: PathBuf,
    pub matrix: Matrix,
    pub arches: Vec<Arch>,
    pub checks: Vec<Check>,
}

impl Loaded {
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.matrix.entries.iter().find(|e| e.id.get_ref() == id)
    }
    pub fn entry_arches(&self, e: &Entry) -> Vec<Arch> {
        match &e.arches {
            Some(list) => list
                .iter()
                .filter_map(|a| Arch::parse(a.get_ref()))
                .collect(),
            None => self.arches.clone(),
        }
    }
    /// The config variants by name; a matrix that declares none has `release`.
    pub fn configs(&self) -> Vec<(String, ConfigVariant)> {
        if self.matrix.configs.is_empty() {
            return vec![(DEFAULT_CONFIG.to_string(), ConfigVariant::default())];
        }
        self.matrix
            .configs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
    /// One variant by name (a name the plan took from `configs()`).
    pub fn config(&self, name: &str) -> ConfigVariant {
        self.configs()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap_or_default()
    }
    /// The checks a cell of `config` runs: the matrix's, narrowed by the variant's own list.
    pub fn checks_of(&self, config: &str) -> Vec<Check> {
        match self.config(config).checks {
            Some(own) => self
                .checks
                .iter()
                .copied()
                .filter(|c| own.iter().any(|o| o == c.name()))
                .collect(),
            None => self.checks.clone(),
        }
    }
    /// Rewrite a URL with the longest matching mirror prefix.
    pub fn rewrite_url(&self, url: &str) -> String {
        rewrite_url(&self.matrix.mirrors, url)
    }
}

pub fn rewrite_url(mirrors: &BTreeMap<String, String>, url: &str) -> String {
    let best = mirrors
        .iter()
        .filter(|(from, _)| url.starts_with(from.as_str()))
        .max_by_key(|(from, _)| from.len());
    match best {
        Some((from, to)) => format!("{to}{}", &url[from.len()..]),
        None => url.to_string(),
    }
}

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

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

pub fn load(path: &Path) -> anyhow::Result<Loaded> {
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
            let (line, col) = line_col(text, e.source.span().start);
            MatrixError {
                path: loaded.path.clone(),
                line,
                col,
                message: format!("entry `{id}`: mbox `{value}`: {message}"),
            }
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
    let err_at = |offset: usize, message: String| {
        let (line, col) = line_col(text, offset);
        MatrixError {
            path: path.to_path_buf(),
            line,
            col,
            message,
        }
    };
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

/// The entry name that marks a base cell: no entry and no base may take it.
pub const BASE_ENTRY: &str = "base";

/// Entry ids name folders in run directories, so they are kept to a safe alphabet.
pub fn check_id(id: &str) -> Result<(), &'static str> {
    if id == BASE_ENTRY {
        return Err("is reserved for base cells");
    }
    check_name(id)
}

/// The safe-name rule for everything that becomes a folder, a git ref or a shell word: entry
/// ids, base names, toolchain names. Such a name can never climb out of a folder (`..`, `/`),
/// be read as an option (`-`), hide (`.`), or need quoting in a shell.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("is empty");
    }
    if name.starts_with('.') || name.starts_with('-') {
        return Err("may not start with `.` or `-`");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err("may hold only ASCII letters, digits, `-`, `_` and `.`");
    }
    Ok(())
}

/// A value as an error message shows it: on one line, control characters escaped, so that a
/// hostile name cannot rewrite the terminal it is reported on (`text::one_line`).
pub fn shown(s: &str) -> String {
    crate::model::text::one_line(s).into_owned()
}

/// The transports the harness lets git use; `fetch.rs` restricts git to the same list.
pub const GIT_TRANSPORTS: [&str; 4] = ["https", "http", "git", "file"];

/// A URL or path handed to git (after mirror rewrites): never an option, never git's
/// `<transport>::<address>` form (`ext::` runs commands), and only the allowed transports.
pub fn check_git_url(url: &str) -> Result<(), String> {
    check_url_text(url)?;
    let first_slash = url.find('/').unwrap_or(url.len());
    if url[..first_slash].contains("::") {
        return Err("uses git's `<transport>::<address>` form, which the harness refuses".into());
    }
    if let Some((scheme, _)) = url.split_once("://") {
        if !GIT_TRANSPORTS
            .iter()
            .any(|t| scheme.eq_ignore_ascii_case(t))
        {
            return Err(format!(
                "uses transport `{}` (allowed: {})",
                shown(scheme),
                GIT_TRANSPORTS.join(", ")
            ));
        }
    }
    Ok(())
}

/// What every URL, path or URL prefix in the matrix must be: something, not an option, and
/// free of control characters.
fn check_url_text(url: &str) -> Result<(), String> {
    if url.trim().is_empty() {
        return Err("is empty".into());
    }
    if url.starts_with('-') {
        return Err("starts with `-`: git would read it as an option".into());
    }
    if url.chars().any(|c| c.is_control()) {
        return Err("holds control characters".into());
    }
    Ok(())
}

/// A branch, tag or tag pattern (`v7.2.*`) on a remote: what `refs/heads/` or `refs/tags/`
/// is followed by in a refspec, so nothing that git's ref rules or a refspec would misread.
pub fn check_git_ref(r: &str) -> Result<(), &'static str> {
    if r.is_empty() {
        return Err("is empty");
    }
    if r.starts_with(['-', '.', '/']) || r.ends_with(['/', '.']) {
        return Err("may not start with `-`, `.` or `/`, nor end with `/` or `.`");
    }
    if r.contains("..") || r.contains("//") || r.contains("/.") || r.ends_with(".lock") {
        return Err("is not a valid git ref name (`..`, `//`, `/.` or `.lock`)");
    }
    if !r
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | '+' | '*'))
    {
        return Err("may hold only ASCII letters, digits, `-`, `_`, `.`, `/`, `+` and `*`");
    }
    Ok(())
}

/// A mailing-list message-id (`<…>` taken off): what becomes a lore URL's path and the
/// name of nothing. No spaces or control characters, no option, no URL.
pub fn check_msgid(id: &str) -> Result<(), &'static str> {
    if id.is_empty() || id.len() > 998 {
        return Err("is empty or longer than a mail header line");
    }
    if id.starts_with('-') {
        return Err("may not start with `-`");
    }
    if !id.chars().all(|c| c.is_ascii_graphic()) || id.contains(['<', '>']) {
        return Err("may hold only printable ASCII, no spaces and no `<` `>` inside");
    }
    if id.contains("://") || !id.contains('@') {
        return Err("is not a message-id (`local@domain`, not a URL)");
    }
    Ok(())
}

/// A KUnit filter glob, as kunit.py's filter_glob: `suite` or `suite.test`, with `*`, `?` and
/// `[…]`. It becomes one word of the kernel's command line (`kunit.filter_glob=GLOB`), so
/// nothing that would end the word, quote it or start an option.
pub fn check_kunit_filter(glob: &str) -> Result<(), &'static str> {
    if glob.is_empty() || glob.len() > 256 {
        return Err("is empty or longer than 256 characters");
    }
    if glob.starts_with(['-', '.']) {
        return Err("may not start with `-` or `.`");
    }
    if !glob.chars().all(|c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '*' | '?' | '[' | ']' | '!')
    }) {
        return Err(
            "may hold only ASCII letters, digits, `_`, `-`, `.`, `*`, `?`, `[`, `]` and `!`",
        );
    }
    if glob.matches('.').count() > 1 {
        return Err("is `suite` or `suite.test`: one `.` at most");
    }
    Ok(())
}

/// A Debian package name (handed to apt-get) or suite (a folder name and a sources.list word).
fn check_debian_word(w: &str) -> Result<(), &'static str> {
    if w.is_empty() {
        return Err("is empty");
    }
    if !w.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("must start with a letter or digit");
    }
    if !w
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'))
    {
        return Err("may hold only ASCII letters, digits, `-`, `_`, `.` and `+`");
    }
    Ok(())
}

/// A source that names a remote: never an option, and (for those git fetches) a URL git may
/// use once the mirrors have rewritten it; a `git` source's ref one git fetches as it is.
pub fn check_source_url(mirrors: &BTreeMap<String, String>, s: &Source) -> Result<(), String> {
    match s {
        Source::Git(v) => {
            let (url, r) = Source::git_parts(v).ok_or("names no ref")?;
            check_source_url(mirrors, &Source::Commit(url.to_string()))?;
            check_git_ref(r)
                .and_then(|()| match r.contains('*') {
                    true => Err("is a pattern (`*`), not one ref"),
                    false => Ok(()),
                })
                .map_err(|why| format!("ref `{}` {why}", shown(r)))
        }
        Source::GithubPr(u)
        | Source::PrCommit(u)
        | Source::Branch(u)
        | Source::Commit(u)
        | Source::Gitlab(u) => {
            check_url_text(u)?;
            let to = rewrite_url(mirrors, u);
            check_git_url(&to).map_err(|why| {
                if to == *u {
                    why
                } else {
                    format!("becomes `{}` through [mirrors], which {why}", shown(&to))
                }
            })
        }
        Source::File(u) => check_url_text(u),
        Source::Lore(_) | Source::Mbox(_) | Source::Unpublished(_) | Source::None(_) => Ok(()),
    }
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
        let v = t.get_ref();
        if v != AUTO_TOOLCHAIN && v != "all" && !matrix.toolchains.contains_key(v) {
            return Err(err_at(
                t.span().start,
                format!(
                    "toolchain `{}`: not `auto`, `all` or a declared toolchain",
                    shown(v)
                ),
            ));
        }
    }
    for name in places.toolchains.keys() {
        if [AUTO_TOOLCHAIN, "all"].contains(&name.get_ref().as_str()) {
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
        if n == "all" {
            return Err(err_at(
                name.span().start,
                "a config may not be named `all`: `--config all` selects every one".into(),
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

// ---------------------------------------------------------------------------------------------
// Writing. The import writes the whole file: a documented header, the fixed sections, then
// the entries in registry order. The output is deterministic so that a re-import is a no-op.

/// A base declaration as the writer emits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseDecl {
    pub name: String,
    pub kind: BaseKind,
    pub url: String,
    pub git_ref: String,
    pub offline: Option<Offline>,
    pub description: String,
}

/// An entry as the writer emits it.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryDecl {
    pub id: String,
    pub area: String,
    pub status: String,
    pub authors: Vec<String>,
    pub source: Source,
    pub base: Option<String>,
    pub registry_base: String,
    pub skip: Option<String>,
    pub lore: Option<String>,
    pub note: String,
}

pub const HEADER: &str = r#"# matrix.toml — what the Rust-for-Linux patch-health harness runs.
#
# Generated by `cargo xtask import-registry`; edit by hand or re-import (ids of unchanged rows
# are kept). Format:
#
#   arches = [...]          x86_64, arm64, riscv64, loongarch64 (one qemu/<arch>.toml each)
#   checks = [...]          kunit, clippy, rustfmt, rustdoc, objtool (config, build and boot
#                           always run)
#
#   [mirrors]               URL prefix rewrites applied to every fetch (git and HTTP), longest
#                           prefix wins: "https://github.com/" = "file:///srv/mirror/github/"
#
#   [toolchains.<name>]     rustc, rustdoc, clippy_driver, rustfmt, bindgen: paths or names on
#                           PATH ({cache} = the harness's cache folder); llvm = the LLVM= value
#                           ("1", "-19" or "/usr/lib/llvm-19/bin/"). Every toolchain declared is
#                           a choice: `toolchain = "auto"` (the default) gives each base the
#                           newest one that meets its scripts/min-tool-version.sh; "all" makes
#                           them a dimension; a name picks that one.
#
#   [configs.<name>]        a config variant, a matrix dimension: fragments = names in kconfigs/
#                           (checked in the final .config); tree_fragments = file names in the
#                           base's kernel/configs/ (listed when Kconfig drops an option);
#                           modules = "loadable" | "builtin"; checks = a subset; default = false
#                           runs it only when `--config` names it (or `all`).
#
#   [bases.<name>]          kind = "branch" | "tag"; url = git remote; ref = branch or tag;
#                           offline = { debian_package = "linux-source-X.Y", suite = "…" } makes
#                           `cargo xtask setup` import that Debian package as the base, which is
#                           then used instead of the remote.
#
#   [[entry]]               id (unique; letters, digits, - _ .), area, status, authors,
#                           source = { <kind> = "…" } with kind one of github_pr, pr_commit,
#                             branch, commit, gitlab, lore (a message-id), mbox (a local mbox
#                             file or patch folder), file (a path that must exist in the base),
#                             unpublished, none;
#                           base = a declared base name; registry_base = the registry's spelling;
#                           skip = why it cannot run; lore = a second (mailing-list) link;
#                           kconfig = extra fragments or "CONFIG_X=y" lines; arches = a subset;
#                           note = anything the import wants a human to read.
"#;

/// A TOML basic string holding exactly `s`, whatever it holds: quotes, backslashes and every
/// character TOML forbids raw (C0 controls, DEL) are escaped, and so are C1 controls and bidi
/// overrides, so that the file reads as it loads. The short escapes and the lowercase `\u00xx`
/// form are serde_json's, which earlier imports used: their output does not change.
pub fn toml_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() || crate::model::text::is_bidi_control(c) => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_list(items: &[String]) -> String {
    let inner: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", inner.join(", "))
}

pub struct WriteSpec<'a> {
    pub arches: &'a [String],
    pub checks: &'a [String],
    pub mirrors: &'a BTreeMap<String, String>,
    pub toolchains: &'a BTreeMap<String, Toolchain>,
    pub configs: &'a BTreeMap<String, ConfigVariant>,
    pub bases: &'a [BaseDecl],
    pub entries: &'a [EntryDecl],
    /// Lines appended to the header (the import's report of unknown values, for example).
    pub header_notes: &'a [String],
}

fn write_config(out: &mut String, name: &str, c: &ConfigVariant) {
    let _ = writeln!(out, "\n[configs.{}]", toml_key(name));
    let _ = writeln!(out, "fragments = {}", toml_list(&c.fragments));
    if !c.tree_fragments.is_empty() {
        let _ = writeln!(out, "tree_fragments = {}", toml_list(&c.tree_fragments));
    }
    if c.modules == Modules::Builtin {
        let _ = writeln!(out, "modules = \"builtin\"");
    }
    if let Some(checks) = &c.checks {
        let _ = writeln!(out, "checks = {}", toml_list(checks));
    }
    if !c.default {
        let _ = writeln!(out, "default = false");
    }
    if !c.description.is_empty() {
        let _ = writeln!(out, "description = {}", toml_str(&c.description));
    }
}

/// The variants a new matrix gets: `release`, the tiny config the harness always ran, and
/// `debug`, the same with the kernel's debugging options (`kconfigs/debug.config`), run on
/// request (`--config debug` or `all`) and with KUnit only, since the lints do not depend on
/// the config.
pub fn standard_configs() -> BTreeMap<String, ConfigVariant> {
    let mut m = BTreeMap::new();
    m.insert(
        DEFAULT_CONFIG.to_string(),
        ConfigVariant {
            description: "tinyconfig + kconfigs/common.config + the arch's fragment".into(),
            ..Default::default()
        },
    );
    m.insert(
        "debug".to_string(),
        ConfigVariant {
            fragments: vec!["debug".into()],
            checks: Some(vec![Check::Kunit.name().to_string()]),
            default: false,
            description: "release + kconfigs/debug.config: lockdep, atomic-sleep checks, KASAN, \
                          debug objects"
                .into(),
            ..Default::default()
        },
    );
    m
}

pub fn write(spec: &WriteSpec) -> String {
    let mut out = String::from(HEADER);
    for n in spec.header_notes {
        // TOML refuses control characters in comments (a registry cell may hold any): notes are
        // written with them escaped, one comment line each.
        let _ = writeln!(out, "# {}", shown(n));
    }
    out.push('\n');
    let _ = writeln!(out, "arches = {}", toml_list(spec.arches));
    let _ = writeln!(out, "checks = {}", toml_list(spec.checks));
    out.push_str("\n[mirrors]\n");
    for (from, to) in spec.mirrors {
        let _ = writeln!(out, "{} = {}", toml_str(from), toml_str(to));
    }
    for (name, t) in spec.toolchains {
        let _ = writeln!(out, "\n[toolchains.{}]", toml_key(name));
        let _ = writeln!(out, "rustc = {}", toml_str(&t.rustc));
        let _ = writeln!(out, "rustdoc = {}", toml_str(&t.rustdoc));
        let _ = writeln!(out, "clippy_driver = {}", toml_str(&t.clippy_driver));
        let _ = writeln!(out, "rustfmt = {}", toml_str(&t.rustfmt));
        let _ = writeln!(out, "bindgen = {}", toml_str(&t.bindgen));
        let _ = writeln!(out, "llvm = {}", toml_str(&t.llvm));
    }
    for (name, c) in spec.configs {
        write_config(&mut out, name, c);
    }
    for b in spec.bases {
        let _ = writeln!(out, "\n[bases.{}]", toml_key(&b.name));
        let kind = match b.kind {
            BaseKind::Branch => "branch",
            BaseKind::Tag => "tag",
        };
        let _ = writeln!(out, "kind = \"{kind}\"");
        let _ = writeln!(out, "url = {}", toml_str(&b.url));
        let _ = writeln!(out, "ref = {}", toml_str(&b.git_ref));
        if let Some(o) = &b.offline {
            let _ = writeln!(
                out,
                "offline = {{ debian_package = {}, suite = {} }}",
                toml_str(&o.debian_package),
                toml_str(&o.suite)
            );
        }
        if !b.description.is_empty() {
            let _ = writeln!(out, "description = {}", toml_str(&b.description));
        }
    }
    for e in spec.entries {
        out.push_str("\n[[entry]]\n");
        let _ = writeln!(out, "id = {}", toml_str(&e.id));
        let _ = writeln!(out, "area = {}", toml_str(&e.area));
        let _ = writeln!(out, "status = {}", toml_str(&e.status));
        let _ = writeln!(out, "authors = {}", toml_list(&e.authors));
        let _ = writeln!(
            out,
            "source = {{ {} = {} }}",
            e.source.kind(),
            toml_str(e.source.value())
        );
        if let Some(b) = &e.base {
            let _ = writeln!(out, "base = {}", toml_str(b));
        }
        let _ = writeln!(out, "registry_base = {}", toml_str(&e.registry_base));
        if let Some(l) = &e.lore {
            let _ = writeln!(out, "lore = {}", toml_str(l));
        }
        if let Some(s) = &e.skip {
            let _ = writeln!(out, "skip = {}", toml_str(s));
        }
        if !e.note.is_empty() {
            let _ = writeln!(out, "note = {}", toml_str(&e.note));
        }
    }
    out
}

fn toml_key(k: &str) -> String {
    if !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        k.to_string()
    } else {
        toml_str(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
arches = ["x86_64", "arm64"]
[bases.rust-next]
kind = "branch"
url = "https://example.org/linux.git"
ref = "rust-next"

[[entry]]
id = "one"
source = { github_pr = "https://github.com/Rust-for-Linux/linux/pull/885" }
base = "rust-next"
"#;

    fn parse_str(s: &str) -> Result<Loaded, MatrixError> {
        parse(Path::new("m.toml"), s)
    }

    fn with_mbox(path: &str) -> String {
        SMALL.replace(
            "{ github_pr = \"https://github.com/Rust-for-Linux/linux/pull/885\" }",
            &format!("{{ mbox = {} }}", toml_str(path)),
        )
    }

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
            load(&m)
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

    #[test]
    fn any_string_written_loads_back_as_itself() {
        let hostile = [
            "\u{1b}[31mred\u{7}",
            "a\rb\nc\td",
            "\u{7f}del",
            "\u{85}\u{9b}c1",
            "bidi \u{202e}txt.exe",
            "\"quoted\" \\ back",
            "ü é 漢字 😀",
            "",
        ];
        for h in hostile {
            let text = format!("{}\nnote = {}\n", SMALL.trim_end(), toml_str(h));
            let m = parse_str(&text).unwrap_or_else(|e| panic!("{h:?}: {e}\n{text}"));
            assert_eq!(m.matrix.entries[0].note, h);
            assert!(
                !toml_str(h)
                    .chars()
                    .any(|c| c.is_control() || crate::model::text::is_bidi_control(c)),
                "{h:?} written raw"
            );
        }
        // serde_json's form for what earlier imports wrote, so that they read the same.
        for plain in ["plain", "a\"b", "tab\there", "x\u{1}y"] {
            assert_eq!(toml_str(plain), serde_json::to_string(plain).unwrap());
        }
    }

    #[test]
    fn mirrors_rewrite_longest_prefix() {
        let mut m = BTreeMap::new();
        m.insert(
            "https://github.com/".to_string(),
            "file:///m/gh/".to_string(),
        );
        m.insert(
            "https://github.com/Rust-for-Linux/".to_string(),
            "file:///m/rfl/".to_string(),
        );
        assert_eq!(
            rewrite_url(&m, "https://github.com/Rust-for-Linux/linux.git"),
            "file:///m/rfl/linux.git"
        );
        assert_eq!(
            rewrite_url(&m, "https://github.com/x/linux"),
            "file:///m/gh/x/linux"
        );
        assert_eq!(
            rewrite_url(&m, "https://lore.kernel.org/a"),
            "https://lore.kernel.org/a"
        );
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
}
