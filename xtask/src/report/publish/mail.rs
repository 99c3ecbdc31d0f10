//! What the series' author and lists are told: a reply to the cover letter (else the last
//! patch) of a lore series whose cell turned, as 0-day and KernelCI write theirs: the base,
//! arch, config and toolchain, why it fails (the first diagnostic), the reproduce line, and
//! `X-Rfl-Health-*` headers to filter on.

use sha2::{Digest, Sha256};

use super::{diagnostic_line, Context, Mail, Notice, Plan, Turn};
use crate::model::outcome::{check_address, RunResults};
use crate::model::text::{base64, clip};

/// The most bytes of one mail's body.
pub const MAX_BODY: usize = 64 * 1024;
/// The most bytes of one quoted line of the body.
pub const MAX_LINE: usize = 900;
/// The most diagnostics a mail quotes.
pub const MAX_DIAGNOSTICS: usize = 10;

/// The bare address of `Name <addr>` or `addr`: one word with an `@`, no `<>`, printable
/// ASCII; `None` otherwise (it would not be an SMTP path).
pub fn bare(a: &str) -> Option<String> {
    let inner = match (a.rfind('<'), a.rfind('>')) {
        (Some(i), Some(j)) if i < j => &a[i + 1..j],
        _ => a.trim(),
    };
    let ok = inner.len() <= 254
        && inner.contains('@')
        && !inner.starts_with('@')
        && !inner.ends_with('@')
        && inner
            .chars()
            .all(|c| c.is_ascii_graphic() && !"<>()[],;:\\\"".contains(c));
    ok.then(|| inner.to_string())
}

/// A header value: as it is in ASCII, else one RFC 2047 encoded word per piece of at most
/// 45 bytes (UTF-8, base64), so no line passes 78 characters by much.
pub fn header_text(v: &str) -> String {
    if v.is_ascii() {
        return v.to_string();
    }
    let mut words = Vec::new();
    let mut cur = String::new();
    for c in v.chars() {
        if cur.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut cur));
        }
        cur.push(c);
    }
    words.push(cur);
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", base64(w.as_bytes())))
        .collect::<Vec<_>>()
        .join("\n ")
}

/// Outside text for the body: control characters but newline and tab dropped, each line
/// indented by four spaces and cut at [`MAX_LINE`] bytes.
fn quoted(s: &str) -> String {
    s.lines()
        .map(|l| {
            let l: String = l
                .chars()
                .filter(|c| {
                    *c == '\t' || !(c.is_control() || crate::model::text::is_bidi_control(*c))
                })
                .collect();
            // SMTP allows 998 bytes a line: a longer one is cut, said with `…`.
            format!("    {}\n", clip(l.trim_end(), MAX_LINE))
        })
        .collect()
}

/// The mail's own message-id: the same notice of the same run gives the same one.
fn message_id(n: &Notice, run: &RunResults, from: &str) -> String {
    let c = n.cell;
    let mut h = Sha256::new();
    for part in [
        run.started.as_str(),
        &c.entry,
        &c.base,
        c.arch.name(),
        &c.toolchain.name,
        &c.config,
        n.turn.name(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let hex: String = h.finalize()[..10]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let domain = bare(from)
        .and_then(|a| a.rsplit_once('@').map(|(_, d)| d.to_string()))
        .filter(|d| {
            d.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        })
        .unwrap_or_else(|| "localhost".into());
    format!("rfl-health.{hex}@{domain}")
}

/// The body: what turned, the cell's facts, why, the reproduce line, the run's link.
pub fn body(n: &Notice, target_url: Option<&str>) -> String {
    let c = n.cell;
    let mut b = String::from("Hello,\n\n");
    let what = match n.turn {
        Turn::NowFailing => "now fails; it last passed",
        Turn::Fixed => "passes again; it last failed",
    };
    b.push_str(&format!(
        "rfl-health, the Rust-for-Linux patch-health harness, tested this series on its base:\n\
         on {} ({} config, {} toolchain) it {what}.\n\n",
        c.arch, c.config, c.toolchain.name
    ));
    let base = match &c.base_commit {
        Some(commit) => format!("{} ({commit})", c.base),
        None => c.base.clone(),
    };
    let mut facts = vec![
        ("entry", c.entry.clone()),
        ("base", base),
        ("arch", c.arch.to_string()),
        ("config", c.config.clone()),
        ("toolchain", c.toolchain.name.clone()),
    ];
    for tool in ["rustc", "clang"] {
        if let Some(v) = c.toolchain.versions.get(tool) {
            facts.push((tool, v.clone()));
        }
    }
    if let Some(p) = &c.patchset {
        facts.push(("head", p.head.clone()));
    }
    for (k, v) in facts {
        b.push_str(&format!("{k:<10} {}\n", clip(&v, 512)));
    }
    if n.turn == Turn::NowFailing {
        let h = c.health.as_ref();
        let stage = h
            .and_then(|h| h.stage)
            .map(|s| s.name())
            .unwrap_or("a stage");
        b.push_str(&format!("\nWhat fails ({stage}):\n"));
        b.push_str(&quoted(&clip(h.map_or("", |h| h.summary.as_str()), 4096)));
        let diags = n.diagnostics();
        if !diags.is_empty() {
            b.push_str("\nFirst diagnostics:\n");
            for d in diags.iter().take(MAX_DIAGNOSTICS) {
                b.push_str(&quoted(&diagnostic_line(d)));
            }
            if diags.len() > MAX_DIAGNOSTICS {
                b.push_str(&format!("    … {} more\n", diags.len() - MAX_DIAGNOSTICS));
            }
        }
    }
    if !c.repro.is_empty() {
        b.push_str("\nReproduce it with:\n");
        b.push_str(&quoted(&clip(&c.repro, 4096)));
    }
    if let Some(u) = target_url {
        b.push_str(&format!("\nThe run: {u}\n"));
    }
    b.push_str("\n-- \nrfl-health (an automated report; reply to reach the people on Cc)\n");
    clip(&b, MAX_BODY).into_owned()
}

pub(super) fn compose(notices: &[Notice], run: &RunResults, ctx: &Context, plan: &mut Plan) {
    let Some(from) = &ctx.mail_from else {
        plan.notes.push("email: no --from: nothing composed".into());
        return;
    };
    let Some(from_addr) = bare(from) else {
        plan.notes
            .push("email: --from is not an address: nothing composed".into());
        return;
    };
    for n in notices {
        let Some(s) = &n.cell.series else {
            plan.notes.push(format!(
                "email: {} is not a lore series (or its headers were not recorded): no mail",
                n.name()
            ));
            continue;
        };
        let c = n.cell;
        // The author first, then the lists and people it was sent and copied to, once each.
        let mut to = vec![s.from.clone()];
        let mut cc: Vec<String> = Vec::new();
        let mut rcpt: Vec<String> = Vec::new();
        for (i, a) in std::iter::once(&s.from)
            .chain(&s.to)
            .chain(&s.cc)
            .enumerate()
        {
            let Some(addr) = bare(a).filter(|_| check_address(a).is_ok()) else {
                continue;
            };
            if rcpt.iter().any(|r| r.eq_ignore_ascii_case(&addr)) {
                continue;
            }
            rcpt.push(addr);
            if i > 0 {
                cc.push(a.clone());
            }
        }
        if bare(&s.from).is_none() {
            to.clear();
        }
        if rcpt.is_empty() {
            plan.notes
                .push(format!("email: {}: no usable recipient", n.name()));
            continue;
        }
        let subject = match s.subject.get(..3) {
            Some(re) if re.eq_ignore_ascii_case("re:") => s.subject.clone(),
            _ => format!("Re: {}", s.subject),
        };
        let mut h = vec![
            format!("From: {}", header_text(from)),
            format!(
                "To: {}",
                if to.is_empty() {
                    cc.remove(0)
                } else {
                    to.join(", ")
                }
            ),
        ];
        if !cc.is_empty() {
            h.push(format!("Cc: {}", cc.join(",\n ")));
        }
        h.extend([
            format!("Subject: {}", header_text(&subject)),
            format!("Date: {}", ctx.date),
            format!("Message-ID: <{}>", message_id(n, run, from)),
            format!("In-Reply-To: <{}>", s.message_id),
            format!("References: <{}>", s.message_id),
            "MIME-Version: 1.0".into(),
            "Content-Type: text/plain; charset=utf-8".into(),
            "Content-Transfer-Encoding: 8bit".into(),
            "Auto-Submitted: auto-generated".into(),
            format!("X-Rfl-Health-Entry: {}", c.entry),
            format!("X-Rfl-Health-Base: {}", c.base),
            format!("X-Rfl-Health-Arch: {}", c.arch),
            format!("X-Rfl-Health-Config: {}", c.config),
            format!("X-Rfl-Health-Toolchain: {}", c.toolchain.name),
            format!(
                "X-Rfl-Health-Change: {}",
                match n.turn {
                    Turn::NowFailing => "now-failing",
                    Turn::Fixed => "fixed",
                }
            ),
        ]);
        let text = format!("{}\n\n{}", h.join("\n"), body(n, ctx.target_url.as_deref()));
        plan.mails.push(Mail {
            mail_from: from_addr.clone(),
            rcpt_to: rcpt,
            text,
        });
    }
}
