//! Reporting back (`publish`): which cells' health turned between pass and fail against the
//! baseline, and what each place is told of them: a GitHub commit status, check run and sticky
//! pull-request comment, a patchwork check, a reply mail. Pure: it composes every request body
//! and mail within its service's limits and sends nothing (`commands/publish.rs` does).

pub mod github;
pub mod mail;
pub mod patchwork;

use serde::Serialize;

use crate::model::outcome::{CellResult, Diagnostic, Level, RunResults, Verdict};
use crate::model::text::clip;
use crate::report::{at, Why};

/// Where a notice goes (`--to`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// A commit status per cell (POST /repos/{owner}/{repo}/statuses/{sha}).
    GithubStatus,
    /// A check run per cell, with annotations (POST /repos/{owner}/{repo}/check-runs).
    GithubCheck,
    /// One sticky comment on the pull request, edited in place.
    GithubComment,
    /// A patchwork check on each patch of a lore series.
    Patchwork,
    /// A reply to a lore series' cover letter (or last patch).
    Email,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::GithubStatus => "github-status",
            Target::GithubCheck => "github-check",
            Target::GithubComment => "github-comment",
            Target::Patchwork => "patchwork",
            Target::Email => "email",
        }
    }
}

/// Which way a cell's health turned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Turn {
    /// It passed (last known), and now fails or errs.
    NowFailing,
    /// It failed (last known), and now passes.
    Fixed,
}

impl Turn {
    pub fn name(self) -> &'static str {
        match self {
            Turn::NowFailing => "now failing",
            Turn::Fixed => "fixed",
        }
    }
}

/// One cell to tell of.
#[derive(Debug, Clone, Copy)]
pub struct Notice<'a> {
    pub cell: &'a CellResult,
    pub turn: Turn,
}

impl Notice<'_> {
    /// The cell in one word with its toolchain: `rust-x.x86_64 (debian)`.
    pub fn name(&self) -> String {
        format!(
            "{} ({})",
            at(&self.cell.entry, self.cell),
            self.cell.toolchain.name
        )
    }
    /// Why it fails (its health's first line and first diagnostic), or that it passes.
    pub fn why(&self) -> Why<'_> {
        let c = self.cell;
        let h = c.health.as_ref();
        Why::new(
            c,
            h.and_then(|h| h.stage).and_then(|s| c.stage(s)),
            h.map_or("", |h| h.summary.as_str()),
        )
    }
    pub fn verdict(&self) -> Option<Verdict> {
        self.cell.health.as_ref().map(|h| h.verdict)
    }
    /// The failing stage's diagnostics, errors first.
    pub fn diagnostics(&self) -> Vec<&Diagnostic> {
        let mut d: Vec<&Diagnostic> = self
            .why()
            .stage_diagnostics()
            .iter()
            .filter(|d| d.level != Level::Note)
            .collect();
        d.sort_by_key(|d| d.level);
        d
    }
    /// One line: `now failing at kunit: 352 tests: … failed` / `fixed: passes`.
    pub fn headline(&self) -> String {
        let c = self.cell;
        match (self.turn, c.health.as_ref()) {
            (Turn::NowFailing, Some(h)) => {
                let at = h
                    .stage
                    .map(|s| format!(" at {}", s.name()))
                    .unwrap_or_default();
                let err = if h.verdict == Verdict::Error {
                    " (a harness or machine error)"
                } else {
                    ""
                };
                format!("now failing{at}{err}: {}", self.why().text)
            }
            (Turn::NowFailing, None) => "now failing".into(),
            (Turn::Fixed, _) => "fixed: passes again".into(),
        }
    }
}

/// The entry cells to tell of: those whose health turned between pass and fail since the
/// baseline (`compare` has set each cell's `change` from the last known state, so a state
/// already told is never told again). A regression to `fail` is told; a regression to `error`
/// only when the baseline cell itself passed (its last known pass, carried through an error,
/// would otherwise be told again by every run that errs); a fix is told. Unchanged, still
/// failing and new cells are not, nor base cells (the base's own).
pub fn notices<'a>(cells: &'a [CellResult], old: &[CellResult]) -> Vec<Notice<'a>> {
    use crate::model::outcome::Change;
    cells
        .iter()
        .filter(|c| !c.is_base())
        .filter_map(|c| {
            let now = c.health.as_ref().map(|h| h.verdict)?;
            let turn = match (c.change?, now) {
                (Change::Regressed, Verdict::Fail) => Turn::NowFailing,
                (Change::Regressed, Verdict::Error) => {
                    let then = old.iter().find(|o| o.key() == c.key())?;
                    (then.health.as_ref()?.verdict == Verdict::Pass).then_some(Turn::NowFailing)?
                }
                (Change::Fixed, _) => Turn::Fixed,
                _ => return None,
            };
            Some(Notice { cell: c, turn })
        })
        .collect()
}

/// The GitHub repository and commit to report on.
#[derive(Debug, Clone)]
pub struct Github {
    /// The API's root, `https://api.github.com` (no trailing `/`).
    pub api: String,
    /// `owner/name`, checked.
    pub repo: String,
    /// The commit, 40 hex digits.
    pub sha: String,
    /// The pull request for the sticky comment.
    pub pr: Option<u64>,
    /// Whose comment is the sticky one (the token's login: `github-actions[bot]` for a
    /// workflow's token).
    pub comment_author: String,
}

/// What the composed messages need from the command line.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub github: Option<Github>,
    /// Where a reader sees the run (the workflow run's page), checked http(s).
    pub target_url: Option<String>,
    /// The patchwork instance's root (no trailing `/`).
    pub patchwork: Option<String>,
    /// The mails' sender (`From:`), checked.
    pub mail_from: Option<String>,
    /// The mails' `Date:` (RFC 2822).
    pub date: String,
}

/// An HTTP method a request uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Method {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "PATCH")]
    Patch,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
        }
    }
}

/// What is looked up when the request is sent, before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Find {
    /// The sticky comment: the pull request's comments are listed (`list`, pages of 100, at
    /// most [`github::MAX_PAGES`]); the one by `author` whose body starts with `marker` is
    /// edited (PATCH
    /// `edit` + its id), else the request's POST makes it.
    StickyComment {
        list: String,
        edit: String,
        marker: String,
        /// Only a comment by this login is edited (another's that starts with the marker is
        /// left alone).
        author: String,
    },
    /// patchwork's id of the patch with this message-id (GET `lookup`); it replaces `{id}`
    /// in the request's URL.
    PatchId { lookup: String, msgid: String },
}

/// One request as it will be sent: its body exactly.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub target: Target,
    pub method: Method,
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub find: Option<Find>,
    #[serde(skip)]
    pub body: serde_json::Value,
}

/// One mail as it will be sent.
#[derive(Debug, Clone, Serialize)]
pub struct Mail {
    /// The envelope's sender and recipients (bare addresses).
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The message, headers and body, lines ending in `\n` (CRLF on the wire).
    #[serde(skip)]
    pub text: String,
}

/// Everything to tell, and what was left untold and why.
#[derive(Debug, Default)]
pub struct Plan {
    pub requests: Vec<Request>,
    pub mails: Vec<Mail>,
    /// Lines for the person running it: a target that cannot be told, a cell with no series.
    pub notes: Vec<String>,
}

/// Compose what each target is told of `notices`. A target that lacks what it needs (no
/// `--repo`, no `--pr`, no `--patchwork-url`, no `--from`) is a note, not an error; so is a
/// notice about an entry that is not a lore series (no patchwork check, no mail).
pub fn compose(targets: &[Target], notices: &[Notice], run: &RunResults, ctx: &Context) -> Plan {
    let mut plan = Plan::default();
    let mut targets = targets.to_vec();
    targets.sort();
    targets.dedup();
    for t in targets {
        match t {
            Target::GithubStatus | Target::GithubCheck | Target::GithubComment => {
                github::compose(t, notices, ctx, &mut plan)
            }
            Target::Patchwork => patchwork::compose(notices, ctx, &mut plan),
            Target::Email => mail::compose(notices, run, ctx, &mut plan),
        }
    }
    plan
}

/// `s` cut to at most `max` characters, `…` in the last place when cut (GitHub counts its
/// limits in characters).
pub fn clip_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut o: String = s.chars().take(max.saturating_sub(1)).collect();
    o.push('…');
    o
}

/// Outside text on one line with no control character: what a status or check description
/// may hold.
pub fn flat(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .filter(|c| !crate::model::text::is_bidi_control(*c))
        .collect();
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Pieces joined until the next would pass `max` bytes (with room for the note), then
/// `… N more <what>`: how every list is trimmed to its service's limit.
pub fn join_within(pieces: &[String], max: usize, what: &str) -> String {
    let mut out = String::new();
    for (i, p) in pieces.iter().enumerate() {
        let left = pieces.len() - i;
        let note = format!("… {left} more {what}\n");
        if out.len() + p.len() + note.len() > max {
            out.push_str(&note);
            return out;
        }
        out.push_str(p);
    }
    out
}

/// A diagnostic as one line: `file:line:col: level: message`.
pub fn diagnostic_line(d: &Diagnostic) -> String {
    let mut at = String::new();
    if let Some(f) = &d.file {
        at.push_str(f);
        if let Some(l) = d.line {
            at.push_str(&format!(":{l}"));
            if let Some(c) = d.col {
                at.push_str(&format!(":{c}"));
            }
        }
        at.push_str(": ");
    }
    flat(&clip(&format!("{at}{}: {}", d.level, d.message), 1024))
}

impl<'a> Why<'a> {
    /// The diagnostics of the stage the text is about.
    pub fn stage_diagnostics(&self) -> &'a [Diagnostic] {
        self.stage.map_or(&[], |s| s.diagnostics.as_slice())
    }
}
