//! The RFL Patch & Project Registry (a markdown table) → matrix entries, with stable ids.
//!
//! Pure: text in, entries and a report of everything unusual out. Every table row becomes an
//! entry; a row the import cannot use becomes an entry with a `skip` reason, never nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::matrix::{BaseDecl, BaseKind, EntryDecl, Offline, Source, BASE_ENTRY};

/// One row of a patch table, cells trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based line number in the markdown file.
    pub line: usize,
    pub area: String,
    pub status: String,
    pub author: String,
    pub git: String,
    pub lore: String,
    pub base: String,
    /// Set when the row did not have the table's number of cells.
    pub shape_problem: Option<String>,
}

/// Columns of a patch table, found by their header names.
#[derive(Debug, Default)]
struct Columns {
    area: Option<usize>,
    status: Option<usize>,
    author: Option<usize>,
    git: Option<usize>,
    lore: Option<usize>,
    base: Option<usize>,
    count: usize,
}

fn split_cells(line: &str) -> Vec<String> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = t.strip_suffix('|').unwrap_or(t);
    // A `\|` inside a cell is an escaped pipe, not a separator.
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    cells.push(cur.trim().to_string());
    cells
}

fn header_columns(cells: &[String]) -> Option<Columns> {
    let mut c = Columns {
        count: cells.len(),
        ..Default::default()
    };
    for (i, h) in cells.iter().enumerate() {
        let h = h.to_lowercase();
        if h.contains("area") || h == "name" || h.contains("project") {
            c.area.get_or_insert(i);
        } else if h.contains("status") || h == "state" {
            c.status.get_or_insert(i);
        } else if h.contains("author") || h.contains("owner") {
            c.author.get_or_insert(i);
        } else if h.contains("mail") || h.contains("lore") || h.contains("list") {
            c.lore.get_or_insert(i);
        } else if h.contains("git") || h.contains("link") || h.contains("repo") {
            c.git.get_or_insert(i);
        } else if h.contains("base") {
            c.base.get_or_insert(i);
        }
    }
    // A patch table names an area, a status, and at least one kind of link or a base.
    let is_patch_table =
        c.area.is_some() && c.status.is_some() && (c.git.is_some() || c.lore.is_some());
    is_patch_table.then_some(c)
}

fn is_separator(line: &str) -> bool {
    let t = line.trim();
    t.starts_with('|') && t.contains('-') && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '))
}

/// Find every patch table (by its header, not by the heading above it) and return its rows.
pub fn parse_rows(markdown: &str) -> Vec<Row> {
    let lines: Vec<&str> = markdown.lines().collect();
    let mut rows = Vec::new();
    let mut i = 0;
    while i + 1 < lines.len() {
        let line = lines[i];
        if line.trim_start().starts_with('|') && is_separator(lines[i + 1]) {
            if let Some(cols) = header_columns(&split_cells(line)) {
                i += 2;
                while i < lines.len() && lines[i].trim_start().starts_with('|') {
                    let cells = split_cells(lines[i]);
                    let get = |c: Option<usize>| {
                        c.and_then(|c| cells.get(c)).cloned().unwrap_or_default()
                    };
                    let shape_problem = (cells.len() != cols.count).then(|| {
                        format!(
                            "row has {} cells, the table has {}",
                            cells.len(),
                            cols.count
                        )
                    });
                    let row = Row {
                        line: i + 1,
                        area: get(cols.area),
                        status: get(cols.status),
                        author: get(cols.author),
                        git: get(cols.git),
                        lore: get(cols.lore),
                        base: get(cols.base),
                        shape_problem,
                    };
                    // A row of empty cells is table decoration, not a patch.
                    if !cells.iter().all(|c| c.is_empty()) {
                        rows.push(row);
                    }
                    i += 1;
                }
                continue;
            }
        }
        i += 1;
    }
    rows
}

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

fn urls_in(cell: &str) -> Vec<String> {
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

const KNOWN_STATUSES: [&str; 6] = [
    "merged",
    "review",
    "rfc",
    "testing",
    "experimental",
    "abandoned",
];

/// The result of importing a registry.
#[derive(Debug, Default)]
pub struct Import {
    pub entries: Vec<EntryDecl>,
    /// Bases the rows need beyond the standard ones, by name.
    pub extra_bases: BTreeMap<String, BaseDecl>,
    /// Unusual values, kept and reported: unknown statuses, base spellings, link forms.
    pub notes: Vec<String>,
}

fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "entry".into()
    } else {
        out
    }
}

/// A short word that tells a row's source apart from others of the same area.
fn discriminator(source: &Source, row: &Row) -> String {
    let v = source.value();
    let segs: Vec<&str> = v
        .split("://")
        .nth(1)
        .unwrap_or(v)
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let d = match source {
        Source::GithubPr(_) => format!("pr{}", segs.get(4).unwrap_or(&"")),
        // Seven characters, not bytes: a segment may hold any character.
        Source::PrCommit(_) => format!(
            "pr{}-{}",
            segs.get(4).unwrap_or(&""),
            segs.get(6)
                .map_or(String::new(), |s| s.chars().take(7).collect())
        ),
        Source::Branch(_) => format!(
            "{}-{}",
            segs.get(1).unwrap_or(&""),
            segs.last().unwrap_or(&"")
        ),
        Source::Commit(_) => format!(
            "{}-{}",
            segs.get(1).unwrap_or(&""),
            segs.last()
                .map_or(String::new(), |s| s.chars().take(7).collect())
        ),
        Source::Lore(id) => {
            // Message-ids of series usually start with the date: that is the short, telling part.
            let local = id.split('@').next().unwrap_or("");
            let date: String = local.chars().take_while(|c| c.is_ascii_digit()).collect();
            if date.len() >= 8 {
                date.chars().take(8).collect()
            } else {
                local.chars().take(24).collect()
            }
        }
        Source::File(_) => segs
            .last()
            .unwrap_or(&"")
            .split('.')
            .next()
            .unwrap_or("")
            .to_string(),
        _ => row.author.clone(),
    };
    slug(&d)
}

/// A row's identity for id stability: what it is about and where it comes from.
pub fn fingerprint(area: &str, source: &Source) -> String {
    format!(
        "{}\u{1f}{}\u{1f}{}",
        slug(area),
        source.kind(),
        source.value()
    )
}

/// Import the registry text. `previous` maps fingerprints to the ids an earlier import gave,
/// so that rows that did not change keep their ids.
pub fn import(markdown: &str, previous: &HashMap<String, String>) -> Import {
    let rows = parse_rows(markdown);
    let mut imp = Import::default();
    let mut drafts = Vec::new();
    for row in &rows {
        let (entry, notes) = classify_row(row, &mut imp.extra_bases);
        imp.notes.extend(notes);
        drafts.push(entry);
    }

    // Ids: keep the earlier import's for unchanged rows, then name the rest by area, adding a
    // word from the source when several rows share an area.
    let fps: Vec<String> = drafts
        .iter()
        .map(|e| fingerprint(&e.area, &e.source))
        .collect();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut ids: Vec<Option<String>> = vec![None; drafts.len()];
    for (i, fp) in fps.iter().enumerate() {
        if let Some(id) = previous.get(fp) {
            if taken.insert(id.clone()) {
                ids[i] = Some(id.clone());
            }
        }
    }
    let mut area_count: HashMap<String, usize> = HashMap::new();
    for e in &drafts {
        *area_count.entry(slug(&e.area)).or_default() += 1;
    }
    for i in 0..drafts.len() {
        if ids[i].is_some() {
            continue;
        }
        let base = slug(&drafts[i].area);
        let mut candidate = if area_count[&base] > 1 || taken.contains(&base) {
            let d = discriminator(&drafts[i].source, &rows[i]);
            if d.is_empty() {
                base.clone()
            } else {
                format!("{base}-{d}")
            }
        } else {
            base.clone()
        };
        let stem = candidate.clone();
        let mut n = 2;
        while taken.contains(&candidate) || candidate == BASE_ENTRY {
            candidate = format!("{stem}-{n}");
            n += 1;
        }
        taken.insert(candidate.clone());
        ids[i] = Some(candidate);
    }
    for (e, id) in drafts.iter_mut().zip(ids) {
        e.id = id.expect("every row got an id");
    }
    imp.entries = drafts;
    imp
}

fn classify_row(
    row: &Row,
    extra_bases: &mut BTreeMap<String, BaseDecl>,
) -> (EntryDecl, Vec<String>) {
    let mut notes = Vec::new();
    let at = format!("line {}", row.line);
    if let Some(p) = &row.shape_problem {
        notes.push(format!("{at}: {p}; missing cells read as empty"));
    }
    let status = row.status.trim().to_lowercase();
    if !status.is_empty() && !KNOWN_STATUSES.contains(&status.as_str()) {
        notes.push(format!("{at}: unknown status `{}` kept as is", row.status));
    }
    let authors: Vec<String> = row
        .author
        .split(',')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();

    // Links: the git column and the mailing-list column, each possibly holding several URLs
    // or the words "not yet published".
    let mut git_links = Vec::new();
    let mut lore_ids = Vec::new();
    let mut unpublished = false;
    let mut unknown = Vec::new();
    for cell in [&row.git, &row.lore] {
        let mut parts: Vec<String> = urls_in(cell);
        if parts.is_empty() && !cell.trim().is_empty() {
            parts.push(cell.trim().to_string());
        }
        for p in parts {
            match classify_link(&p) {
                Link::Git(s) => git_links.push(s),
                Link::Lore(id) => lore_ids.push(id),
                Link::Unpublished => unpublished = true,
                Link::Unknown { link, reason } => unknown.push((link, reason)),
            }
        }
    }
    for (u, why) in &unknown {
        notes.push(format!(
            "{at}: link form not recognised ({why}), kept in the note: {u}"
        ));
    }
    let unknown: Vec<String> = unknown.into_iter().map(|(u, _)| u).collect();
    let lore_first = lore_ids.first().cloned();
    let (source, lore_alt) = if let Some(g) = git_links.first() {
        (g.clone(), lore_first)
    } else if let Some(id) = lore_first {
        (Source::Lore(id), None)
    } else if unpublished {
        (
            Source::Unpublished("the registry says not yet published".into()),
            None,
        )
    } else if let Some(u) = unknown.first() {
        (Source::None(format!("unrecognised link {u}")), None)
    } else {
        (Source::None("the registry row has no link".into()), None)
    };

    let mut skip = None;
    let mut note_parts: Vec<String> = unknown
        .iter()
        .map(|u| format!("unrecognised link: {u}"))
        .collect();
    let base = match normalise_base(&row.base) {
        BaseChoice::Named(name, decl) => {
            if let Some(d) = decl {
                extra_bases.entry(name.clone()).or_insert(d);
            }
            if row.base.trim().is_empty() {
                note_parts.push(format!("registry base is blank: tried on {BLANK_BASE}"));
            }
            Some(name)
        }
        BaseChoice::Unknown(why) => {
            notes.push(format!("{at}: {why}"));
            skip = Some(why);
            None
        }
    };
    if matches!(source, Source::File(_)) && status != "merged" {
        note_parts.push("a file link: health is whether that path exists in the base".into());
    }
    if let Some(s) = source.inherent_skip() {
        skip.get_or_insert(s);
    }
    let entry = EntryDecl {
        id: String::new(),
        area: row.area.clone(),
        status: row.status.trim().to_string(),
        authors,
        source,
        base,
        registry_base: row.base.trim().trim_matches('`').to_string(),
        skip,
        lore: lore_alt,
        note: note_parts.join("; "),
    };
    (entry, notes)
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
        // A commit whose last segment is not ASCII still gets an id, cut at a character.
        let imp = import(
            "| Area | Status | Git |\n|---|---|---|\n| a | review | https://github.com/o/r/commit/ééééééééé |\n| a | review | https://github.com/o/r/pull/1/commits/ßßßßßßßßß |\n",
            &HashMap::new(),
        );
        let ids: Vec<&str> = imp.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a-o", "a-pr1"]);
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

    const TABLE: &str = "\
# Some other heading
| Target Area | Status | Author | Git Link | Mailing List Link | Base |
|---|---|---|---|---|---|
| debugfs | testing | Adam BK. | https://github.com/Rust-for-Linux/linux/pull/885 | | `rust` |
| debugfs | experimental | Fabien P. | https://github.com/Rust-for-Linux/linux/pull/1041 | | `rust-next` |
| phy | merged | Tomo F. | https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/tree/rust/kernel/net/phy.rs | https://lore.kernel.org/rust-for-linux/20231026001050.1720612-1-fujita.tomonori@gmail.com/ | merged |
| widget | shiny | X. | | | `rust-7.9` |
| odd | review | Y. | |
<!-- | | | | | | | -->
| | | | | | |

| Area | Task | Discussion | Notes |
|---|---|---|---|
| iio | any sensors | https://lore.kernel.org/x/y@z/ | notes |
";

    #[test]
    fn imports_rows_and_reports_the_unusual() {
        let imp = import(TABLE, &HashMap::new());
        let ids: Vec<&str> = imp.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            ["debugfs-pr885", "debugfs-pr1041", "phy", "widget", "odd"]
        );
        let phy = &imp.entries[2];
        assert!(matches!(phy.source, Source::File(_)));
        assert_eq!(
            phy.lore.as_deref(),
            Some("20231026001050.1720612-1-fujita.tomonori@gmail.com")
        );
        assert_eq!(phy.base.as_deref(), Some(MERGED_BASE));
        assert!(imp.extra_bases.contains_key("rust-7.9"));
        assert!(
            imp.notes
                .iter()
                .any(|n| n.contains("unknown status `shiny`")),
            "{:?}",
            imp.notes
        );
        assert!(
            imp.notes.iter().any(|n| n.contains("row has 4 cells")),
            "{:?}",
            imp.notes
        );
        assert_eq!(
            imp.entries[4].source,
            Source::None("the registry row has no link".into())
        );
    }

    #[test]
    fn ids_of_unchanged_rows_survive_a_new_row() {
        let first = import(TABLE, &HashMap::new());
        let previous: HashMap<String, String> = first
            .entries
            .iter()
            .map(|e| (fingerprint(&e.area, &e.source), e.id.clone()))
            .collect();
        // A newer registry: a row added at the top sharing the `phy` area.
        let newer = TABLE.replace(
            "|---|---|---|---|---|---|\n",
            "|---|---|---|---|---|---|\n| phy | review | Z. | https://github.com/Rust-for-Linux/linux/pull/1 | | `rust` |\n",
        );
        let second = import(&newer, &previous);
        let ids: Vec<&str> = second.entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "phy-pr1",
                "debugfs-pr885",
                "debugfs-pr1041",
                "phy",
                "widget",
                "odd"
            ]
        );
    }
}
