//! What GitHub is told: a commit status and a check run per cell, one sticky comment per pull
//! request; each within GitHub's limits (a status' description 140 characters, a check's
//! summary and text 65 535, 50 annotations a request, a comment 65 536), trimmed with a note.

use serde_json::json;

use super::{
    clip_chars, diagnostic_line, flat, join_within, Context, Find, Method, Notice, Plan, Request,
    Target, Turn,
};
use crate::model::outcome::{Level, Verdict};
use crate::model::text::clip;
use crate::report::markdown::escape;

/// A status' description: at most 140 characters.
pub const MAX_DESCRIPTION: usize = 140;
/// A check run's summary and text: at most 65 535 characters each.
pub const MAX_CHECK_TEXT: usize = 65_535;
/// The annotations one check-run request may carry.
pub const MAX_ANNOTATIONS: usize = 50;
/// A comment's body: at most 65 536 characters.
pub const MAX_COMMENT: usize = 65_536;
/// The pages of 100 comments read to find the sticky one.
pub const MAX_PAGES: usize = 10;
/// What marks the sticky comment (hidden in the rendered page).
pub const MARKER: &str = "<!-- rfl-health publish: health changed -->";

/// The status' and check run's name for a cell: `rfl-health / evil.x86_64 (debian)`.
pub fn context(n: &Notice) -> String {
    format!("rfl-health / {}", n.name())
}

pub(super) fn compose(t: Target, notices: &[Notice], ctx: &Context, plan: &mut Plan) {
    let Some(gh) = &ctx.github else {
        plan.notes.push(format!(
            "{}: no --repo and --sha: nothing composed",
            t.name()
        ));
        return;
    };
    let repo = format!("{}/repos/{}", gh.api, gh.repo);
    match t {
        Target::GithubStatus => {
            for n in notices {
                plan.requests.push(Request {
                    target: t,
                    method: Method::Post,
                    url: format!("{repo}/statuses/{}", gh.sha),
                    find: None,
                    body: status(n, ctx),
                });
            }
        }
        Target::GithubCheck => {
            for n in notices {
                let mut body = check(n);
                body["head_sha"] = gh.sha.clone().into();
                if let Some(u) = &ctx.target_url {
                    body["details_url"] = u.clone().into();
                }
                plan.requests.push(Request {
                    target: t,
                    method: Method::Post,
                    url: format!("{repo}/check-runs"),
                    find: None,
                    body,
                });
            }
        }
        _ => {
            let Some(pr) = gh.pr else {
                plan.notes
                    .push("github-comment: no --pr: nothing composed".into());
                return;
            };
            if notices.is_empty() {
                return;
            }
            plan.requests.push(Request {
                target: t,
                method: Method::Post,
                url: format!("{repo}/issues/{pr}/comments"),
                find: Some(Find::StickyComment {
                    list: format!("{repo}/issues/{pr}/comments?per_page=100"),
                    edit: format!("{repo}/issues/comments/"),
                    marker: MARKER.into(),
                    author: gh.comment_author.clone(),
                }),
                body: json!({ "body": comment(notices, ctx.target_url.as_deref()) }),
            });
        }
    }
}

/// A commit status: failure (error when the harness erred), or success for a fix.
pub fn status(n: &Notice, ctx: &Context) -> serde_json::Value {
    let state = match (n.turn, n.verdict()) {
        (Turn::Fixed, _) => "success",
        (Turn::NowFailing, Some(Verdict::Error)) => "error",
        (Turn::NowFailing, _) => "failure",
    };
    let mut v = json!({
        "state": state,
        "description": clip_chars(&flat(&n.headline()), MAX_DESCRIPTION),
        "context": clip_chars(&context(n), 255),
    });
    if let Some(u) = &ctx.target_url {
        v["target_url"] = u.clone().into();
    }
    v
}

/// What a cell is, as a Markdown table: base, arch, config, toolchain, head.
fn facts(n: &Notice) -> String {
    let c = n.cell;
    let mut rows = vec![
        (
            "base",
            match &c.base_commit {
                Some(b) => format!("{} at {}", c.base, b),
                None => c.base.clone(),
            },
        ),
        ("arch", c.arch.to_string()),
        ("config", c.config.clone()),
        ("toolchain", c.toolchain.name.clone()),
    ];
    if let Some(p) = &c.patchset {
        rows.push(("head", p.head.clone()));
    }
    let mut s = String::from("| | |\n|---|---|\n");
    for (k, v) in rows {
        s.push_str(&format!("| {k} | {} |\n", escape(&clip(&v, 512))));
    }
    s
}

/// A check run (without `head_sha` and `details_url`, which the context gives): its output's
/// summary says what turned and how to reproduce it, its text every diagnostic of the failing
/// stage, and up to 50 of them with a file and line are annotations.
pub fn check(n: &Notice) -> serde_json::Value {
    let conclusion = match n.turn {
        Turn::Fixed => "success",
        Turn::NowFailing => "failure",
    };
    let diags = n.diagnostics();
    let annotations: Vec<serde_json::Value> = diags
        .iter()
        .filter_map(|d| {
            let file = d.file.as_deref().filter(|f| tree_path(f))?;
            let line = d.line.filter(|l| *l > 0)?;
            let level = match d.level {
                Level::Error => "failure",
                Level::Warning => "warning",
                Level::Note => "notice",
            };
            Some(json!({
                "path": file,
                "start_line": line,
                "end_line": line,
                "annotation_level": level,
                "title": clip_chars(&flat(&n.name()), 255),
                "message": clip(&d.message, 4096),
            }))
        })
        .collect();
    let more = annotations.len().saturating_sub(MAX_ANNOTATIONS);
    let mut summary = format!(
        "**{}**: {}\n\n{}",
        escape(&n.name()),
        escape(&clip(&n.headline(), 4096)),
        facts(n)
    );
    if !n.cell.repro.is_empty() {
        summary.push_str(&format!(
            "\nReproduce: {}\n",
            escape(&clip(&n.cell.repro, 4096))
        ));
    }
    if more > 0 {
        summary.push_str(&format!(
            "\n… {more} more annotations: every diagnostic is in the text\n"
        ));
    }
    let lines: Vec<String> = diags
        .iter()
        .map(|d| format!("- {}\n", escape(&diagnostic_line(d))))
        .collect();
    let mut text = join_within(&lines, MAX_CHECK_TEXT, "diagnostics");
    if text.is_empty() {
        text = "No diagnostics.\n".into();
    }
    json!({
        "name": clip_chars(&context(n), 255),
        "status": "completed",
        "conclusion": conclusion,
        "output": {
            "title": clip_chars(&flat(&format!("{}: {}", n.name(), n.turn.name())), 255),
            "summary": clip_chars(&summary, MAX_CHECK_TEXT),
            "text": text,
            "annotations": &annotations[..annotations.len().min(MAX_ANNOTATIONS)],
        }
    })
}

/// A path GitHub can annotate: relative, without `..`, of a sane length.
fn tree_path(f: &str) -> bool {
    !f.is_empty()
        && f.len() <= 1024
        && !f.starts_with('/')
        && f.split('/').all(|p| !p.is_empty() && p != "." && p != "..")
        && !f.chars().any(char::is_control)
}

/// The sticky comment: the marker, a row per cell that turned (now failing first), trimmed
/// with `… N more cells` within 65 536 characters, and the run's link.
pub fn comment(notices: &[Notice], target_url: Option<&str>) -> String {
    let head = format!(
        "{MARKER}\n### rfl-health: health changed against the baseline\n\n\
         | cell | change | why |\n|---|---|---|\n"
    );
    let foot = match target_url {
        Some(u) => format!("\nThe run: {u}\n"),
        None => String::new(),
    };
    let mut sorted: Vec<&Notice> = notices.iter().collect();
    sorted.sort_by_key(|n| n.turn == Turn::Fixed);
    let rows: Vec<String> = sorted
        .iter()
        .map(|n| {
            let why = match n.turn {
                Turn::Fixed => "passes".to_string(),
                Turn::NowFailing => escape(&clip(n.why().text, 1024)),
            };
            format!("| {} | {} | {why} |\n", escape(&n.name()), n.turn.name())
        })
        .collect();
    let room = MAX_COMMENT - head.len() - foot.len();
    format!("{head}{}{foot}", join_within(&rows, room, "cells"))
}
