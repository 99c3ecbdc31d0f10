//! Bases for registry rows: the bases every generated matrix declares, and a row's base
//! spelling (`rust`, `rust-next`, `rust-6.5`, `6.3-rc1`, `merged`, blank) led to a base by
//! name, with a declaration to add when the matrix has no such base yet.

use crate::model::matrix::{BaseDecl, BaseKind, Offline};

/// The remotes that the well-known base names live on.
pub const RUST_TREE_KERNEL_ORG: &str =
    "https://git.kernel.org/pub/scm/linux/kernel/git/ojeda/linux.git";
pub const RFL_GITHUB: &str = "https://github.com/Rust-for-Linux/linux.git";
pub const MAINLINE: &str = "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git";
pub const STABLE: &str = "https://git.kernel.org/pub/scm/linux/kernel/git/stable/linux.git";

/// The bases every generated matrix declares.
pub fn standard_bases() -> Vec<BaseDecl> {
    let branch = |name: &str, url: &str, desc: &str| BaseDecl {
        name: name.into(),
        kind: BaseKind::Branch,
        url: url.into(),
        git_ref: name.into(),
        offline: None,
        description: desc.into(),
    };
    let tagged = |name: &str, series: &str, pkg: &str, suite: &str, desc: &str| BaseDecl {
        name: name.into(),
        kind: BaseKind::Tag,
        url: STABLE.into(),
        git_ref: format!("{series}.*"),
        offline: Some(Offline {
            debian_package: pkg.into(),
            suite: suite.into(),
        }),
        description: desc.into(),
    };
    vec![
        branch(
            "rust-next",
            RUST_TREE_KERNEL_ORG,
            "new Rust features for the next merge window (part of linux-next)",
        ),
        branch(
            "rust-fixes",
            RUST_TREE_KERNEL_ORG,
            "Rust fixes for the current cycle (part of linux-next)",
        ),
        branch(
            "rust-dev",
            RFL_GITHUB,
            "experimental integration queue; rebased often",
        ),
        branch(
            "rust",
            RFL_GITHUB,
            "the original, now frozen, development branch",
        ),
        tagged(
            "v7.2.x",
            "v7.2",
            "linux-source-7.2",
            "unstable",
            "stable 7.2 release; offline from Debian's linux-source-7.2",
        ),
        tagged(
            "v6.12.x",
            "v6.12",
            "linux-source-6.12",
            "bookworm-security",
            "6.12 LTS; offline from Debian's linux-source-6.12",
        ),
    ]
}

/// The base that `merged` rows are checked against: the newest tagged release.
pub const MERGED_BASE: &str = "v7.2.x";
/// The base a row with a blank base cell is tried on: the registry's own advice.
pub const BLANK_BASE: &str = "rust-next";

/// Where a registry base spelling leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseChoice {
    /// A base by name, with a declaration to add when the matrix does not have it yet.
    Named(String, Option<BaseDecl>),
    /// No base can be named; the reason.
    Unknown(String),
}

/// The base a row's base cell names, or why it names none.
pub fn normalise_base(spelling: &str) -> BaseChoice {
    let s = spelling.trim().trim_matches('`').trim().to_lowercase();
    static RES: std::sync::OnceLock<(regex::Regex, regex::Regex)> = std::sync::OnceLock::new();
    let (tag_re, rust_tag_re) = RES.get_or_init(|| {
        (
            regex::Regex::new(r"^v?(\d+\.\d+)(-rc\d+)?$").expect("static regex"),
            regex::Regex::new(r"^rust-(\d+\.\d+)$").expect("static regex"),
        )
    });
    match s.as_str() {
        "" => BaseChoice::Named(BLANK_BASE.into(), None),
        "merged" | "mainline" | "upstream" => BaseChoice::Named(MERGED_BASE.into(), None),
        "rust-next" | "rust-fixes" | "rust-dev" | "rust" => BaseChoice::Named(s.clone(), None),
        _ if rust_tag_re.is_match(&s) => BaseChoice::Named(
            s.clone(),
            Some(BaseDecl {
                name: s.clone(),
                kind: BaseKind::Tag,
                url: RUST_TREE_KERNEL_ORG.into(),
                git_ref: s.clone(),
                offline: None,
                description: format!("the Rust pull request tag {s}"),
            }),
        ),
        _ if tag_re.is_match(&s) => {
            let tag = if s.starts_with('v') { s.clone() } else { format!("v{s}") };
            BaseChoice::Named(
                tag.clone(),
                Some(BaseDecl {
                    name: tag.clone(),
                    kind: BaseKind::Tag,
                    url: MAINLINE.into(),
                    git_ref: tag.clone(),
                    offline: None,
                    description: format!("mainline tag {tag}"),
                }),
            )
        }
        _ => BaseChoice::Unknown(format!(
            "registry base `{}` is not a branch or tag the harness knows (not rust, rust-next, rust-fixes, rust-dev, rust-X.Y, X.Y[-rcN] or merged)",
            spelling.trim().trim_matches('`')
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_spellings() {
        assert_eq!(
            normalise_base("`rust`"),
            BaseChoice::Named("rust".into(), None)
        );
        assert_eq!(
            normalise_base(" "),
            BaseChoice::Named(BLANK_BASE.into(), None)
        );
        assert_eq!(
            normalise_base("merged"),
            BaseChoice::Named(MERGED_BASE.into(), None)
        );
        assert!(
            matches!(normalise_base("`rust-6.5`"), BaseChoice::Named(n, Some(d)) if n == "rust-6.5" && d.kind == BaseKind::Tag)
        );
        assert!(
            matches!(normalise_base("`6.3-rc1`"), BaseChoice::Named(n, Some(d)) if n == "v6.3-rc1" && d.git_ref == "v6.3-rc1")
        );
        assert!(matches!(normalise_base("6.6"), BaseChoice::Named(n, Some(_)) if n == "v6.6"));
        assert!(
            matches!(normalise_base("`puzzlefs_dependencies`"), BaseChoice::Unknown(w) if w.contains("puzzlefs_dependencies"))
        );
    }
}
