//! What patchwork is told: a check on each patch of a lore series whose cell turned (POST
//! `/api/patches/{id}/checks/`, the id looked up by the patch's message-id when sent).

use serde_json::json;

use super::{clip_chars, flat, Context, Find, Method, Notice, Plan, Request, Target, Turn};
use crate::model::outcome::Verdict;

/// A check's description, shown on one line.
pub const MAX_DESCRIPTION: usize = 255;

/// A check's context: patchwork takes a slug (`[A-Za-z0-9_-]`, at most 255).
pub fn context(n: &Notice) -> String {
    let c = n.cell;
    let raw = format!(
        "rfl-health-{}-{}-{}-{}",
        c.entry, c.arch, c.config, c.toolchain.name
    );
    let slug: String = raw
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || ch == '_' || ch == '-' {
                ch
            } else {
                '-'
            }
        })
        .collect();
    clip_chars(&slug, 255).trim_end_matches('…').to_string()
}

/// A message-id as one query value: every byte outside `[A-Za-z0-9._~@-]` percent-encoded
/// (a `+` would read as a space).
pub fn query_value(id: &str) -> String {
    let mut o = String::new();
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

/// The check's body: state (fail; warning when the harness erred; success for a fix), the
/// run's link, the context and one line of why.
pub fn check(n: &Notice, target_url: Option<&str>) -> serde_json::Value {
    let state = match (n.turn, n.verdict()) {
        (Turn::Fixed, _) => "success",
        (Turn::NowFailing, Some(Verdict::Error)) => "warning",
        (Turn::NowFailing, _) => "fail",
    };
    let mut v = json!({
        "state": state,
        "context": context(n),
        "description": clip_chars(&flat(&format!("{}: {}", n.name(), n.headline())), MAX_DESCRIPTION),
    });
    if let Some(u) = target_url {
        v["target_url"] = u.into();
    }
    v
}

pub(super) fn compose(notices: &[Notice], ctx: &Context, plan: &mut Plan) {
    let Some(pw) = &ctx.patchwork else {
        plan.notes
            .push("patchwork: no --patchwork-url: nothing composed".into());
        return;
    };
    for n in notices {
        let Some(series) = &n.cell.series else {
            plan.notes.push(format!(
                "patchwork: {} is not a lore series (or its headers were not recorded): no check",
                n.name()
            ));
            continue;
        };
        let body = check(n, ctx.target_url.as_deref());
        for msgid in &series.patches {
            plan.requests.push(Request {
                target: Target::Patchwork,
                method: Method::Post,
                url: format!("{pw}/api/patches/{{id}}/checks/"),
                find: Some(Find::PatchId {
                    lookup: format!("{pw}/api/patches/?msgid={}", query_value(msgid)),
                    msgid: msgid.clone(),
                }),
                body: body.clone(),
            });
        }
    }
}
