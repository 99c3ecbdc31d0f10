//! The rules single values follow wherever they come from (matrix.toml, a flag, a results
//! file): safe names and entry ids, the URLs and refs handed to git, KUnit filter globs,
//! Debian package words, a source's remote.

use std::collections::BTreeMap;

use crate::model::matrix::{rewrite_url, shown, Source, BASE_ENTRY};

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
pub(super) fn check_url_text(url: &str) -> Result<(), String> {
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

/// A mailing-list message-id, `try --lore`'s (`<…>` taken off), and
/// a lore series' message-ids as results record them for replies: what becomes a lore URL's
/// path and the name of nothing. No spaces or control characters, no option, no URL.
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

/// A Debian package name (handed to apt-get) or suite (a folder name and a sources.list word).
pub(super) fn check_debian_word(w: &str) -> Result<(), &'static str> {
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
