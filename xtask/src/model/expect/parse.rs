//! expectations.toml text → `Expectations`: every field checked (ids, globs, stage and arch
//! names, the matrix's entry, base, config and toolchain names, links, dates), each problem
//! said at its place as file:line:col.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::{Date, Expectation, Expectations, Expected, Target};
use crate::model::arch::Arch;
use crate::model::matrix::{check_id, shown, Loaded, MatrixError, BASE_ENTRY};
use crate::model::outcome::Stage;

/// The names of the matrix an expectation may name.
#[derive(Debug, Clone, Default)]
pub struct Known {
    pub entries: Vec<String>,
    pub bases: Vec<String>,
    pub configs: Vec<String>,
    pub toolchains: Vec<String>,
}

impl Known {
    pub fn of(m: &Loaded) -> Known {
        Known {
            entries: m
                .matrix
                .entries
                .iter()
                .map(|e| e.id.get_ref().clone())
                .collect(),
            bases: m.matrix.bases.keys().cloned().collect(),
            configs: m.configs().into_iter().map(|(n, _)| n).collect(),
            toolchains: m.matrix.toolchains.keys().cloned().collect(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    expect: Vec<Spanned<Raw>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    id: Spanned<String>,
    entry: Option<Spanned<String>>,
    kunit: Option<Spanned<String>>,
    stage: Option<Spanned<String>>,
    boot: Option<Spanned<String>>,
    arch: Option<Vec<Spanned<String>>>,
    toolchain: Option<Spanned<String>>,
    config: Option<Spanned<String>>,
    base: Option<Spanned<String>>,
    outcome: Spanned<Expected>,
    reason: Option<Spanned<String>>,
    link: Option<Spanned<String>>,
    added: Option<Spanned<toml::Value>>,
    expires: Option<Spanned<toml::Value>>,
}

/// A link an expectation must carry: an http(s) URL, or a commit id of 7 to 40 hex digits.
pub fn check_link(link: &str) -> Result<(), &'static str> {
    let hex = (7..=40).contains(&link.len()) && link.bytes().all(|c| c.is_ascii_hexdigit());
    if hex {
        return Ok(());
    }
    let rest = link
        .strip_prefix("https://")
        .or_else(|| link.strip_prefix("http://"));
    match rest {
        _ if link.len() > 2048 => Err("is longer than 2048 bytes"),
        Some(r)
            if !r.is_empty() && !r.starts_with('/') && r.bytes().all(|c| c.is_ascii_graphic()) =>
        {
            Ok(())
        }
        _ => Err("is neither an http(s) URL nor a commit id (7 to 40 hex digits)"),
    }
}

/// Parse and check `text`, the file `path`, against the matrix's names; `today` is kept for
/// expiry. Every problem is returned, each at its place.
pub fn parse(
    path: &Path,
    text: &str,
    known: &Known,
    today: Date,
) -> Result<Expectations, Vec<MatrixError>> {
    let (x, errors) = parse_all(path, text, known, today);
    if errors.is_empty() {
        Ok(x)
    } else {
        Err(errors)
    }
}

/// [`parse`], keeping the expectations that are sound beside the problems of the others (what
/// `expectations lint` reports, expiries included).
pub fn parse_all(
    path: &Path,
    text: &str,
    known: &Known,
    today: Date,
) -> (Expectations, Vec<MatrixError>) {
    let err_at = |offset: usize, message: String| MatrixError::at(path, text, offset, message);
    let none = Expectations {
        file: path.display().to_string(),
        list: Vec::new(),
        today,
    };
    let file: File = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            let offset = e.span().map_or(0, |s| s.start);
            return (none, vec![err_at(offset, e.message().trim().to_string())]);
        }
    };
    let mut errors = Vec::new();
    let mut list: Vec<Expectation> = Vec::new();
    for table in file.expect {
        let start = table.span().start;
        let r = table.into_inner();
        let mut bad = |offset: usize, message: String| errors.push(err_at(offset, message));
        let id = r.id.get_ref().clone();
        if let Err(why) = check_id(&id) {
            bad(r.id.span().start, format!("id `{}` {why}", shown(&id)));
        } else if list.iter().any(|e| e.id == id) {
            bad(r.id.span().start, format!("id `{id}` is used twice"));
        }
        let name = if check_id(&id).is_ok() {
            format!("expectation `{id}`")
        } else {
            "expectation".to_string()
        };
        // What it matches: an entry glob, then exactly one kind of thing.
        let entry = match &r.entry {
            None => glob::Pattern::new("*").ok(),
            Some(g) => match glob::Pattern::new(g.get_ref()) {
                Err(e) => {
                    bad(g.span().start, format!("{name}: entry glob: {e}"));
                    None
                }
                Ok(p) if !known.entries.iter().any(|x| p.matches(x)) && !p.matches(BASE_ENTRY) => {
                    bad(
                        g.span().start,
                        format!(
                            "{name}: entry `{}` matches no entry of the matrix (nor `base`)",
                            shown(g.get_ref())
                        ),
                    );
                    None
                }
                Ok(p) => Some(p),
            },
        };
        let kinds = [&r.kunit, &r.stage, &r.boot]
            .iter()
            .filter(|k| k.is_some())
            .count();
        let target = match (&r.kunit, &r.stage, &r.boot) {
            _ if kinds != 1 => {
                bad(
                    start,
                    format!(
                        "{name}: needs exactly one of `kunit` (a suite.case glob), `stage` or \
                         `boot` (a finding's identity glob); it has {kinds}"
                    ),
                );
                None
            }
            (Some(g), _, _) | (_, _, Some(g)) => match glob::Pattern::new(g.get_ref()) {
                Err(e) => {
                    bad(g.span().start, format!("{name}: glob: {e}"));
                    None
                }
                Ok(p) if r.kunit.is_some() => Some(Target::Kunit(p)),
                Ok(p) => Some(Target::Boot(p)),
            },
            (_, Some(s), _) => match Stage::parse(s.get_ref()) {
                Some(st) => Some(Target::Stage(st)),
                None => {
                    bad(
                        s.span().start,
                        format!(
                            "{name}: unknown stage `{}` (one of {})",
                            shown(s.get_ref()),
                            Stage::ALL.map(|s| s.name()).join(", ")
                        ),
                    );
                    None
                }
            },
            _ => None,
        };
        let arches = r.arch.as_ref().map(|list| {
            list.iter()
                .filter_map(|a| {
                    let found = Arch::parse(a.get_ref());
                    if found.is_none() {
                        let names: Vec<&str> = Arch::ALL.iter().map(|a| a.name()).collect();
                        bad(
                            a.span().start,
                            format!(
                                "{name}: unknown arch `{}` (known: {})",
                                shown(a.get_ref()),
                                names.join(", ")
                            ),
                        );
                    }
                    found
                })
                .collect::<Vec<_>>()
        });
        for (what, value, names) in [
            ("toolchain", &r.toolchain, &known.toolchains),
            ("config", &r.config, &known.configs),
            ("base", &r.base, &known.bases),
        ] {
            if let Some(v) = value {
                if !names.contains(v.get_ref()) {
                    bad(
                        v.span().start,
                        format!(
                            "{name}: the matrix has no {what} `{}` (it has: {})",
                            shown(v.get_ref()),
                            names.join(", ")
                        ),
                    );
                }
            }
        }
        let mut required = |what: &str, v: &Option<Spanned<String>>| -> Option<String> {
            match v {
                None => {
                    bad(
                        start,
                        format!("{name}: `{what}` is missing (it is required)"),
                    );
                    None
                }
                Some(s) if s.get_ref().trim().is_empty() => {
                    bad(s.span().start, format!("{name}: `{what}` is empty"));
                    None
                }
                Some(s) if s.get_ref().len() > 2048 => {
                    bad(
                        s.span().start,
                        format!("{name}: `{what}` is longer than 2048 bytes"),
                    );
                    None
                }
                Some(s) => Some(s.get_ref().clone()),
            }
        };
        let reason = required("reason", &r.reason);
        let link = required("link", &r.link);
        if let (Some(l), Some(s)) = (&link, &r.link) {
            if let Err(why) = check_link(l) {
                bad(s.span().start, format!("{name}: link `{}` {why}", shown(l)));
            }
        }
        let mut date = |what: &str, v: &Option<Spanned<toml::Value>>| -> Option<Date> {
            let Some(v) = v else {
                bad(
                    start,
                    format!("{name}: `{what}` is missing (YYYY-MM-DD; it is required)"),
                );
                return None;
            };
            let text = match v.get_ref() {
                toml::Value::String(s) => s.clone(),
                toml::Value::Datetime(d) => d.to_string(),
                other => other.to_string(),
            };
            let d = Date::parse(&text);
            if d.is_none() {
                bad(
                    v.span().start,
                    format!(
                        "{name}: `{what}` `{}` is not a day (YYYY-MM-DD)",
                        shown(&text)
                    ),
                );
            }
            d
        };
        let added = date("added", &r.added);
        let expires = date("expires", &r.expires);
        if let (Some(a), Some(x), Some(s)) = (added, expires, &r.expires) {
            if x <= a {
                bad(
                    s.span().start,
                    format!("{name}: expires on {x}, not after it was added ({a})"),
                );
            }
        }
        let line = err_at(start, String::new()).line;
        let expires_at = {
            let e = err_at(
                r.expires.as_ref().map_or(start, |s| s.span().start),
                String::new(),
            );
            format!("{}:{}:{}", path.display(), e.line, e.col)
        };
        if let (Some(entry), Some(target), Some(reason), Some(link), Some(added), Some(expires)) =
            (entry, target, reason, link, added, expires)
        {
            list.push(Expectation {
                id,
                at: format!("{}:{line}", path.display()),
                entry,
                target,
                arches,
                toolchain: r.toolchain.map(Spanned::into_inner),
                config: r.config.map(Spanned::into_inner),
                base: r.base.map(Spanned::into_inner),
                outcome: *r.outcome.get_ref(),
                reason,
                link,
                added,
                expires,
                expires_at,
            });
        }
    }
    (Expectations { list, ..none }, errors)
}
