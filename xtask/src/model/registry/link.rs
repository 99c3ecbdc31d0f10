//! A registry link classified: a forge link (GitHub pull request, commit, branch or file;
//! GitLab project, branch or commit; git.kernel.org; elixir) as a matrix source, a lore link
//! as its message-id, "not yet published", or unusable with the reason. A link that could
//! look like one host and reach another (userinfo, odd hosts, control characters) is refused.

use crate::model::matrix::Source;

/// What a link in the registry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Git(Source),
    Lore(String),
    Unpublished,
    /// Not a link the harness can use: the text as written, and why.
    Unknown {
        link: String,
        reason: String,
    },
}

pub(super) fn urls_in(cell: &str) -> Vec<String> {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re =
        RE.get_or_init(|| regex::Regex::new(r#"https?://[^\s<>()\]"'`|]+"#).expect("static regex"));
    re.find_iter(cell)
        .map(|m| m.as_str().trim_end_matches(['.', ',']).to_string())
        .collect()
}

fn percent_decode(s: &str) -> String {
    // Bytes, never string slices: a `%` may be followed by any character, ASCII or not.
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(hi), Some(lo)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The parts of an http(s) link that classification trusts.
#[derive(Debug, PartialEq, Eq)]
struct WebLink<'a> {
    /// `http` or `https`, lowercase.
    scheme: String,
    /// The host name, lowercase, without a trailing dot or the scheme's default port; a port
    /// other than the default stays (`host:port`), so it matches no forge.
    host: String,
    /// Everything after the authority, without its leading `/`.
    path: &'a str,
}

/// Split an http(s) link, refusing what would let a link look like one host and reach
/// another: userinfo (`https://github.com@127.0.0.1/…`), odd characters in the host, spaces
/// and control characters anywhere.
fn parse_web_link(url: &str) -> Result<WebLink<'_>, String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("not a URL".into());
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(format!("scheme `{scheme}` is not http or https"));
    }
    if url
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || crate::model::text::is_bidi_control(c))
    {
        return Err("holds spaces or control characters".into());
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err(
            "names a user before the host (`@` in the host part), so it is not a forge link".into(),
        );
    }
    if authority.contains(['[', ']']) {
        return Err(format!("host `{authority}` is not a plain host name"));
    }
    let default_port = if scheme == "https" { "443" } else { "80" };
    let (name, port) = match authority.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => (h, p),
        Some(_) => {
            return Err(format!(
                "host part `{authority}` has a port that is not a number"
            ))
        }
        None => (authority, ""),
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        return Err(format!("host `{authority}` is not a plain host name"));
    }
    let host = if port.is_empty() || port.trim_start_matches('0') == default_port {
        name
    } else {
        format!("{name}:{port}")
    };
    Ok(WebLink {
        scheme,
        host,
        path: tail.strip_prefix('/').unwrap_or(tail),
    })
}

/// A GitHub owner or repository name (also a GitLab group or project): what such a forge
/// accepts, so a link with anything else is not one of its links.
fn forge_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The message-id of a lore URL: `https://lore.kernel.org/<list>/<msgid>/[T/][#m…|#t]`.
pub fn lore_message_id(url: &str) -> Option<String> {
    let link = parse_web_link(url).ok()?;
    let (host, path) = (link.host.as_str(), link.path);
    if !(host.starts_with("lore.") || host.contains("public-inbox") || host.starts_with("lkml.")) {
        return None;
    }
    let path = path.split('#').next().unwrap_or("");
    let path = path.split('?').next().unwrap_or("");
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    // <list>/<msgid>[/T|t|raw|t.mbox.gz…]; the message-id is the segment holding '@'.
    let id = segs.iter().find(|s| s.contains('@') || s.contains("%40"))?;
    Some(percent_decode(id))
}

/// Classify one URL (or the "not yet published" marker) from a registry cell.
pub fn classify_link(text: &str) -> Link {
    let t = text.trim();
    if t.to_lowercase().contains("not yet published") || t.eq_ignore_ascii_case("unpublished") {
        return Link::Unpublished;
    }
    let unknown = |reason: String| Link::Unknown {
        link: t.to_string(),
        reason,
    };
    let url = t.trim_end_matches('/');
    let link = match parse_web_link(url) {
        Ok(l) => l,
        Err(why) => return unknown(why),
    };
    if let Some(id) = lore_message_id(url) {
        return Link::Lore(id);
    }
    // The link as it is kept: the checked host in place of the authority as written, so that
    // what is fetched later is the host that was classified here.
    let url = &format!("{}://{}/{}", link.scheme, link.host, link.path);
    let url = url.trim_end_matches('/');
    let (host, path) = (link.host.as_str(), link.path);
    let segs: Vec<&str> = path.split('/').collect();
    let source = match host {
        "github.com" | "www.github.com"
            if segs.len() >= 3 && !(forge_name(segs[0]) && forge_name(segs[1])) =>
        {
            return unknown(format!(
                "`{}/{}` is not a GitHub owner and repository",
                segs[0], segs[1]
            ));
        }
        "github.com" | "www.github.com" if segs.len() >= 3 => match segs[2] {
            "pull" if segs.len() >= 5 && segs[4] == "commits" && segs.len() >= 6 => {
                Some(Source::PrCommit(url.into()))
            }
            "pull" if segs.len() >= 4 && segs[3].chars().all(|c| c.is_ascii_digit()) => {
                Some(Source::GithubPr(format!(
                    "https://{host}/{}/{}/pull/{}",
                    segs[0], segs[1], segs[3]
                )))
            }
            "tree" | "commits" if segs.len() >= 4 => Some(Source::Branch(url.into())),
            "commit" if segs.len() >= 4 => Some(Source::Commit(url.into())),
            "blob" if segs.len() >= 5 => Some(Source::File(url.into())),
            _ => None,
        },
        "elixir.bootlin.com" if segs.contains(&"source") => Some(Source::File(url.into())),
        h if h.starts_with("gitlab.")
            && segs.len() >= 2
            && !(forge_name(segs[0]) && forge_name(segs[1])) =>
        {
            return unknown(format!(
                "`{}/{}` is not a GitLab group and project",
                segs[0], segs[1]
            ));
        }
        h if h.starts_with("gitlab.") && segs.len() >= 2 => {
            // `…/-/tree/B` names a branch; a bare project URL means its default branch.
            if let Some(p) = segs.iter().position(|s| *s == "-") {
                match segs.get(p + 1) {
                    Some(&"tree") | Some(&"commits") => Some(Source::Branch(url.into())),
                    Some(&"commit") => Some(Source::Commit(url.into())),
                    Some(&"blob") => Some(Source::File(url.into())),
                    _ => Some(Source::Gitlab(url.into())),
                }
            } else {
                Some(Source::Gitlab(url.into()))
            }
        }
        "git.kernel.org" => {
            if segs.contains(&"tree") && !path.ends_with(".git/tree") {
                Some(Source::File(url.into()))
            } else if segs.contains(&"commit") || url.contains("commit/?id=") {
                Some(Source::Commit(url.into()))
            } else if url.contains("/log/?h=") || url.contains("?h=") {
                Some(Source::Branch(url.into()))
            } else {
                None
            }
        }
        _ => None,
    };
    match source {
        Some(s) => Link::Git(s),
        None => unknown(format!("no known forge link form on host `{host}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_forms() {
        use Source::*;
        let git = |u: &str| match classify_link(u) {
            Link::Git(s) => s,
            other => panic!("{u}: {other:?}"),
        };
        assert_eq!(
            git("https://github.com/Rust-for-Linux/linux/pull/885"),
            GithubPr("https://github.com/Rust-for-Linux/linux/pull/885".into())
        );
        assert_eq!(
            git("https://github.com/Rust-for-Linux/linux/pull/885/"),
            GithubPr("https://github.com/Rust-for-Linux/linux/pull/885".into())
        );
        assert!(matches!(git("https://github.com/Rust-for-Linux/linux/pull/952/commits/f476b2b052165a40eed0a8fcb86b56f794ee62d8"), PrCommit(_)));
        assert!(matches!(
            git("https://github.com/nbdd0121/linux/tree/device"),
            Branch(_)
        ));
        assert!(matches!(
            git("https://github.com/wedsonaf/linux/commits/ext2fs/"),
            Branch(_)
        ));
        assert!(matches!(
            git("https://github.com/Fabo/linux/commit/bb525ee7ae4fc0b352442a4853f41d213edd5d30"),
            Commit(_)
        ));
        assert!(matches!(
            git("https://github.com/AsahiLinux/linux/blob/gpu/rust-for-later/rust/kernel/of.rs"),
            File(_)
        ));
        assert!(matches!(
            git("https://elixir.bootlin.com/linux/v6.4/source/rust/kernel/task.rs"),
            File(_)
        ));
        assert!(matches!(git("https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/tree/rust/kernel/ioctl.rs"), File(_)));
        assert!(matches!(
            git("https://gitlab.freedesktop.org/dakr/nova"),
            Gitlab(_)
        ));
        assert_eq!(
            classify_link("https://lore.kernel.org/rust-for-linux/20240409-unsaddle-skittle-c93eb77732bb@spud/T/#mcc65b9542b54f1813a490fe374cf2333adcc4ec3"),
            Link::Lore("20240409-unsaddle-skittle-c93eb77732bb@spud".into())
        );
        assert_eq!(
            classify_link("https://lore.kernel.org/rust-for-linux/20231018122518.128049-1-wedsonaf@gmail.com/#t"),
            Link::Lore("20231018122518.128049-1-wedsonaf@gmail.com".into())
        );
        assert_eq!(
            classify_link("https://lore.kernel.org/all/a%40b.c/"),
            Link::Lore("a@b.c".into())
        );
        assert_eq!(classify_link("not yet published"), Link::Unpublished);
        assert!(matches!(
            classify_link("https://example.com/x"),
            Link::Unknown { .. }
        ));
    }

    /// The reason an unusable link is refused (panics when the link is used).
    fn refused(link: &str) -> String {
        match classify_link(link) {
            Link::Unknown { link: l, reason } => {
                assert_eq!(l, link.trim());
                reason
            }
            other => panic!("{link}: {other:?}"),
        }
    }

    #[test]
    fn links_with_userinfo_are_not_forge_links() {
        // The authority says gitlab.com to a reader and 127.0.0.1 to git and HTTP clients.
        for link in [
            "http://gitlab.com@127.0.0.1:18080/x/y",
            "https://github.com@127.0.0.1/Rust-for-Linux/linux/pull/1",
            "https://user:pw@github.com/Rust-for-Linux/linux/pull/1",
            "https://lore.kernel.org@127.0.0.1/rust-for-linux/a@b/",
            "https://x@lore.kernel.org/rust-for-linux/a@b/",
        ] {
            assert!(
                refused(link).contains("names a user before the host"),
                "{link}"
            );
        }
        // Case, a trailing dot and the default port name the same host; another port does not.
        let git = |u: &str| match classify_link(u) {
            Link::Git(s) => s,
            other => panic!("{u}: {other:?}"),
        };
        assert_eq!(
            git("https://GitHub.COM./o/r/pull/7"),
            Source::GithubPr("https://github.com/o/r/pull/7".into())
        );
        assert_eq!(
            git("https://github.com:443/o/r/tree/b"),
            Source::Branch("https://github.com/o/r/tree/b".into())
        );
        assert_eq!(
            git("http://GitLab.freedesktop.org/dakr/nova"),
            Source::Gitlab("http://gitlab.freedesktop.org/dakr/nova".into())
        );
        assert!(refused("https://github.com:8443/o/r/pull/7")
            .contains("no known forge link form on host `github.com:8443`"));
        assert!(refused("https://github.com:x/o/r/pull/7").contains("port"));
        assert!(refused("https://[::1]/o/r/pull/7").contains("not a plain host name"));
        assert!(refused("https://github.com%2e/o/r/pull/7").contains("not a plain host name"));
        assert!(refused("ftp://github.com/o/r/pull/7").contains("not http or https"));
        assert!(refused("-x://github.com/o/r/tree/b").contains("not http or https"));
    }

    #[test]
    fn non_ascii_links_are_classified_without_panicking() {
        assert!(refused("https://github.com/ü/é/pull/1").contains("not a GitHub owner"));
        assert!(refused("https://gitlab.com/ü/é").contains("not a GitLab group"));
        assert!(refused("https://lore.kernel.org/ö").contains("no known forge link form"));
        // `%aé`: the two bytes after `%` end inside `é`.
        assert_eq!(
            classify_link("https://lore.kernel.org/r/%e2%9c%93@x%aé%ff/"),
            Link::Lore("✓@x%aé\u{fffd}".into())
        );
        assert!(refused("https://exämple.org/x").contains("not a plain host name"));
    }

    /// Odd strings of every kind through the link parser: no panic, and nothing with a user in
    /// its authority, a space or a control character is ever a forge or lore link.
    #[test]
    fn link_classification_holds_on_generated_strings() {
        let parts = [
            "https://",
            "http://",
            "HTTPS://",
            "github.com",
            "gitlab.com",
            "gitlab.",
            "lore.kernel.org",
            "elixir.bootlin.com",
            "git.kernel.org",
            "127.0.0.1",
            "@",
            "%",
            "%4",
            "%40",
            "%zz",
            ":",
            ":443",
            ":99999",
            ".",
            "/",
            "//",
            "?",
            "#",
            "pull",
            "commits",
            "tree",
            "commit",
            "blob",
            "-",
            "source",
            "1",
            "abc",
            "ü",
            "é",
            "😀",
            "\u{202e}",
            "\u{1b}",
            " ",
            "\t",
            "[",
            "]",
            "::",
            "ext::",
            "-/tree/",
            "a@b",
            "T",
            "",
        ];
        // A fixed linear congruential sequence: the same strings on every run.
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        let mut cases: Vec<String> = vec![
            String::new(),
            "%".into(),
            "é".repeat(5000),
            format!("https://github.com/{}", "a/".repeat(10_000)),
        ];
        let schemes = ["https://", "http://", "HTTP://", "ftp://", "", "-x://"];
        let hosts = [
            "github.com",
            "GitHub.com.",
            "gitlab.com",
            "gitlab.freedesktop.org",
            "lore.kernel.org",
            "git.kernel.org",
            "elixir.bootlin.com",
            "127.0.0.1",
            "ü.org",
        ];
        let users = ["", "", "", "x@", "github.com@", "a:b@", "@"];
        let ports = ["", "", "", ":443", ":80", ":18080", ":", ":x"];
        for i in 0..4000 {
            if i % 2 == 0 {
                // Shaped like a link: scheme, maybe a user, a host, maybe a port, segments.
                let mut c = format!(
                    "{}{}{}{}",
                    schemes[next() % schemes.len()],
                    users[next() % users.len()],
                    hosts[next() % hosts.len()],
                    ports[next() % ports.len()]
                );
                for _ in 0..next() % 7 {
                    c.push('/');
                    c.push_str(parts[next() % parts.len()]);
                }
                cases.push(c);
            } else {
                let n = next() % 12;
                cases.push((0..n).map(|_| parts[next() % parts.len()]).collect());
            }
        }
        let mut forge = 0;
        for case in &cases {
            let link = classify_link(case);
            let url = case.trim().trim_end_matches('/');
            let authority = url
                .split_once("://")
                .map_or("", |(_, r)| r.split(['/', '?', '#']).next().unwrap_or(""));
            if matches!(link, Link::Git(_) | Link::Lore(_)) {
                forge += 1;
                assert!(
                    !authority.contains('@'),
                    "{case:?} has a user yet is {link:?}"
                );
                assert!(
                    !url.chars().any(|c| c.is_whitespace() || c.is_control()),
                    "{case:?} is {link:?}"
                );
            }
            if let Link::Git(s) = &link {
                let v = s.value();
                assert!(
                    v.starts_with("http://") || v.starts_with("https://"),
                    "{case:?} → {v}"
                );
                assert!(
                    crate::model::matrix::check_git_url(v).is_ok(),
                    "{case:?} → {v}"
                );
            }
            if let Link::Unknown { reason, .. } = &link {
                assert!(!reason.is_empty(), "{case:?}");
            }
        }
        // The generator reaches the forge forms too, not only refusals.
        assert!(
            forge > 20,
            "only {forge} forge links among {} cases",
            cases.len()
        );
    }
}
