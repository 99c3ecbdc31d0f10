//! The `matrix.toml` model: the serde types of the file and a loaded (checked) matrix.
//!
//! Fixed points of the format (other tools rely on them): bases are `[bases.<name>]` tables,
//! entries are `[[entry]]` tables with `id`, `base` and a one-key inline `source` table, and
//! `[mirrors]` maps URL prefixes to their replacements.
//!
//! Text to a `Loaded` is `check`'s; the rules of single values are `rules`'s; the selector
//! words (`auto`, `all`) are `choice`'s; writing a whole file is `template`'s. Reading the file
//! from disk is not the model's (`commands/select.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::model::arch::Arch;

mod check;
mod choice;
mod rules;
mod template;

pub use check::{parse, MatrixError};
pub use choice::{ConfigChoice, ToolchainChoice, ALL, AUTO_TOOLCHAIN};
pub use rules::{
    check_git_ref, check_git_url, check_id, check_kunit_filter, check_msgid, check_name,
    check_source_url, GIT_TRANSPORTS,
};
pub use template::{standard_configs, toml_str, write, BaseDecl, EntryDecl, WriteSpec, HEADER};

/// A value as an error message shows it: on one line, control characters escaped, so that a
/// hostile name cannot rewrite the terminal it is reported on.
pub use crate::model::text::one_line as shown;

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
    pub toolchain: Option<Spanned<ToolchainChoice>>,
    /// Config variants: every cell runs in each selected one. None declared is one
    /// `release` variant: the common and arch fragments alone, modules loadable.
    #[serde(default)]
    pub configs: BTreeMap<String, ConfigVariant>,
    #[serde(default)]
    pub bases: BTreeMap<String, Base>,
    #[serde(default, rename = "entry")]
    pub entries: Vec<Entry>,
}

impl Matrix {
    /// What `toolchain =` says; unset, `auto`.
    pub fn toolchain_choice(&self) -> &ToolchainChoice {
        self.toolchain
            .as_ref()
            .map_or(&ToolchainChoice::Auto, |t| t.get_ref())
    }
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
    /// The kind of a lore series (`source_kind` in results.json).
    pub const LORE: &'static str = "lore";

    pub fn kind(&self) -> &'static str {
        match self {
            Source::GithubPr(_) => "github_pr",
            Source::PrCommit(_) => "pr_commit",
            Source::Branch(_) => "branch",
            Source::Commit(_) => "commit",
            Source::Gitlab(_) => "gitlab",
            Source::Lore(_) => Source::LORE,
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

/// The entry name that marks a base cell: no entry and no base may take it.
pub const BASE_ENTRY: &str = "base";

#[cfg(test)]
pub(crate) mod fixture {
    //! A small valid matrix, and the helpers the tests of this folder and of the loader share.

    use std::path::Path;

    use crate::model::matrix::{parse, toml_str, Loaded, MatrixError};

    pub const SMALL: &str = r#"
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

    pub fn parse_str(s: &str) -> Result<Loaded, MatrixError> {
        parse(Path::new("m.toml"), s)
    }

    /// `SMALL` with its entry's source an mbox at `path`.
    pub fn with_mbox(path: &str) -> String {
        SMALL.replace(
            "{ github_pr = \"https://github.com/Rust-for-Linux/linux/pull/885\" }",
            &format!("{{ mbox = {} }}", toml_str(path)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
