//! `publish`: the cells whose health turned since the baseline, told to GitHub (statuses,
//! check runs, a sticky comment), patchwork (checks) and the series' author and lists (a
//! reply mail): written into a fresh folder (`--dry-run`) or sent (`--send`, credentials
//! from the environment only).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;

use crate::commands::flags::PublishArgs;
use crate::model::baseline;
use crate::model::outcome::check_address;
use crate::model::text::one_line;
use crate::report;
use crate::report::publish::{self, github, mail, Context, Find, Plan, Request, Target};
use crate::sys::{http, smtp};

/// What `publish` says when there is nothing to compare with.
pub const NO_BASELINE: &str =
    "publish: no --baseline: no cell can have changed state, so nothing is published";

/// `owner/name`: two GitHub names of `[A-Za-z0-9_.-]`, neither `.` nor `..`.
pub fn check_repo(r: &str) -> Result<(), &'static str> {
    let ok = |p: &str| {
        !p.is_empty()
            && p.len() <= 100
            && p != "."
            && p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    };
    match r.split_once('/') {
        Some((o, n)) if ok(o) && ok(n) => Ok(()),
        _ => Err("is not `owner/name` (letters, digits, `_`, `.`, `-`)"),
    }
}

/// An http(s) URL of printable ASCII without quotes or angle brackets, at most 2 000 bytes;
/// returned without a trailing `/`.
pub fn check_url(u: &str) -> Result<String, &'static str> {
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or("is not an http(s) URL")?;
    if rest.is_empty()
        || u.len() > 2000
        || !u
            .chars()
            .all(|c| c.is_ascii_graphic() && !"\"'<>\\`".contains(c))
    {
        return Err("is not an http(s) URL of printable ASCII (at most 2 000 bytes)");
    }
    Ok(u.trim_end_matches('/').to_string())
}

impl PublishArgs {
    /// The messages' context from the flags, each value checked (exit 2 on a bad one).
    fn context(&self) -> anyhow::Result<Context> {
        let bad =
            |flag: &str, v: &str, why: &str| anyhow::anyhow!("--{flag} `{}` {why}", one_line(v));
        let url = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<String>> {
            v.as_deref()
                .map(|u| check_url(u).map_err(|why| bad(flag, u, why)))
                .transpose()
        };
        let github = match (&self.repo, &self.sha) {
            (Some(repo), Some(sha)) => {
                check_repo(repo).map_err(|why| bad("repo", repo, why))?;
                if sha.len() != 40 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(bad("sha", sha, "is not 40 hex digits"));
                }
                let api = check_url(&self.github_api)
                    .map_err(|why| bad("github-api", &self.github_api, why))?;
                Some(publish::Github {
                    api,
                    repo: repo.clone(),
                    sha: sha.to_ascii_lowercase(),
                    pr: self.pr,
                    comment_author: self.comment_author.clone(),
                })
            }
            (None, None) => None,
            _ => anyhow::bail!("--repo and --sha go together"),
        };
        if let Some(f) = &self.from {
            check_address(f).map_err(|why| bad("from", f, why))?;
            mail::bare(f).ok_or_else(|| bad("from", f, "is not an address"))?;
        }
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let date = chrono::DateTime::from_timestamp(secs as i64, 0)
            .map(|d| d.to_rfc2822())
            .unwrap_or_default();
        Ok(Context {
            github,
            target_url: url("target-url", &self.target_url)?,
            patchwork: url("patchwork-url", &self.patchwork_url)?,
            mail_from: self.from.clone(),
            date,
        })
    }

    /// Exit 0 when everything composed was written or sent, 1 when a request or mail failed,
    /// 2 (an `Err`) on bad input or a missing credential.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let ctx = self.context()?;
        let mut loaded = report::load(&self.results)?;
        let plan = match &self.baseline {
            None => {
                println!("{NO_BASELINE}");
                Plan::default()
            }
            Some(b) => {
                let old = report::load(std::slice::from_ref(b))?;
                baseline::compare(&mut loaded.results.cells, &old.results.cells);
                let notices = publish::notices(&loaded.results.cells, &old.results.cells);
                println!(
                    "publish: {} cell{} turned between pass and fail since the baseline",
                    notices.len(),
                    if notices.len() == 1 { "" } else { "s" }
                );
                for n in &notices {
                    println!("  {}: {}", one_line(&n.name()), one_line(&n.headline()));
                }
                publish::compose(&self.to, &notices, &loaded.results, &ctx)
            }
        };
        for n in &plan.notes {
            println!("  note: {}", one_line(n));
        }
        if self.dry_run {
            let out = self.out.as_deref().expect("clap requires --out");
            write_out(out, &plan)?;
            println!(
                "publish: {} request(s) and {} mail(s) written to {} (nothing sent)",
                plan.requests.len(),
                plan.mails.len(),
                out.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        self.send(&plan)
    }

    fn send(&self, plan: &Plan) -> anyhow::Result<ExitCode> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let wants = |f: fn(Target) -> bool| plan.requests.iter().any(|r| f(r.target));
        let interval = Duration::from_millis(self.interval_ms);
        let mut gh = None;
        if wants(|t| t != Target::Patchwork) {
            let token = env("GITHUB_TOKEN").ok_or_else(|| {
                anyhow::anyhow!("--send to GitHub needs GITHUB_TOKEN in the environment")
            })?;
            gh = Some(http::Client::new(
                vec![
                    ("Authorization".into(), format!("Bearer {token}")),
                    ("Accept".into(), "application/vnd.github+json".into()),
                    ("X-GitHub-Api-Version".into(), "2022-11-28".into()),
                ],
                interval,
            ));
        }
        let mut pw = None;
        if wants(|t| t == Target::Patchwork) {
            let token = env("PATCHWORK_TOKEN").ok_or_else(|| {
                anyhow::anyhow!("--send to patchwork needs PATCHWORK_TOKEN in the environment")
            })?;
            pw = Some(http::Client::new(
                vec![("Authorization".into(), format!("Token {token}"))],
                interval,
            ));
        }
        let relay = if plan.mails.is_empty() {
            None
        } else {
            let addr = self
                .smtp
                .clone()
                .or_else(|| env("RFL_SMTP"))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--send of mails needs an SMTP relay: --smtp HOST:PORT or RFL_SMTP"
                    )
                })?;
            if !addr
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
            {
                anyhow::bail!("the SMTP relay `{}` is not host:port", one_line(&addr));
            }
            let auth = match (env("RFL_SMTP_USER"), env("RFL_SMTP_PASSWORD")) {
                (Some(u), Some(p)) => Some((u, p)),
                (None, None) => None,
                _ => anyhow::bail!("RFL_SMTP_USER and RFL_SMTP_PASSWORD go together"),
            };
            Some(smtp::Relay {
                addr,
                auth,
                helo: "rfl-health".into(),
            })
        };
        let mut failed = 0;
        for r in &plan.requests {
            let client = match r.target {
                Target::Patchwork => pw.as_mut(),
                _ => gh.as_mut(),
            }
            .expect("a client for every target the plan holds");
            match send_request(client, r) {
                Ok(what) => println!("sent: {what}"),
                Err(e) => {
                    eprintln!("publish: {}", one_line(&format!("{e:#}")));
                    failed += 1;
                }
            }
        }
        if let Some(relay) = &relay {
            for m in &plan.mails {
                match smtp::send(relay, &m.mail_from, &m.rcpt_to, &m.text) {
                    Ok(()) => println!("sent: a mail to {}", m.rcpt_to.join(", ")),
                    Err(e) => {
                        eprintln!(
                            "publish: mail to {}: {}",
                            m.rcpt_to.join(", "),
                            one_line(&format!("{e:#}"))
                        );
                        failed += 1;
                    }
                }
                std::thread::sleep(interval);
            }
        }
        Ok(if failed > 0 {
            eprintln!(
                "publish: {failed} of {} failed",
                plan.requests.len() + plan.mails.len()
            );
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    }
}

/// One request, its lookup first (the sticky comment, a patch's id): what was sent.
fn send_request(c: &mut http::Client, r: &Request) -> anyhow::Result<String> {
    let body = serde_json::to_vec(&r.body)?;
    let (method, url) = match &r.find {
        None => (r.method.name(), r.url.clone()),
        Some(Find::StickyComment {
            list,
            edit,
            marker,
            author,
        }) => {
            let mut found = None;
            for page in 1..=github::MAX_PAGES {
                let a = c.send("GET", &format!("{list}&page={page}"), None)?;
                let items: Vec<serde_json::Value> = serde_json::from_slice(&a.body)
                    .map_err(|e| anyhow::anyhow!("GET {list}: not a list of comments: {e}"))?;
                // The first comment by `author` that starts with the marker: one the harness
                // wrote. Anyone else's, whatever it says, is never edited.
                found = items
                    .iter()
                    .filter(|i| i["user"]["login"].as_str() == Some(author.as_str()))
                    .filter(|i| {
                        i["body"]
                            .as_str()
                            .is_some_and(|b| b.starts_with(marker.as_str()))
                    })
                    .find_map(|i| i["id"].as_u64());
                if found.is_some() || items.len() < 100 {
                    break;
                }
            }
            match found {
                Some(id) => ("PATCH", format!("{edit}{id}")),
                None => (r.method.name(), r.url.clone()),
            }
        }
        Some(Find::PatchId { lookup, msgid }) => {
            let a = c.send("GET", lookup, None)?;
            let items: Vec<serde_json::Value> = serde_json::from_slice(&a.body)
                .map_err(|e| anyhow::anyhow!("GET {lookup}: not a list of patches: {e}"))?;
            let id = items
                .first()
                .and_then(|p| p["id"].as_u64())
                .ok_or_else(|| anyhow::anyhow!("patchwork has no patch <{msgid}>"))?;
            (r.method.name(), r.url.replace("{id}", &id.to_string()))
        }
    };
    let a = c.send(method, &url, Some(&body))?;
    Ok(format!(
        "{} {method} {url} (HTTP {})",
        r.target.name(),
        a.status
    ))
}

/// A file made new inside `dir` (never through a link that was there).
fn write_new(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let p = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&p)
        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

/// `--dry-run`: a fresh folder with each request's body (`NNN-<target>.json`), each mail
/// (`NNN-email.eml`), and `index.json` (each file's method, URL and lookup, or envelope).
/// Every name is a number and a target's name: nothing from the results names a file.
fn write_out(dir: &Path, plan: &Plan) -> anyhow::Result<()> {
    if dir.symlink_metadata().is_ok() {
        anyhow::bail!("--out {}: exists (a fresh folder is made)", dir.display());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| anyhow::anyhow!("{}: {e}", parent.display()))?;
    }
    std::fs::create_dir(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    let mut requests = Vec::new();
    for (i, r) in plan.requests.iter().enumerate() {
        let file = format!("{:03}-{}.json", i + 1, r.target.name());
        let mut body = serde_json::to_vec_pretty(&r.body)?;
        body.push(b'\n');
        write_new(dir, &file, &body)?;
        let mut entry = serde_json::to_value(r)?;
        entry["file"] = file.into();
        requests.push(entry);
    }
    let mut mails = Vec::new();
    for (i, m) in plan.mails.iter().enumerate() {
        let file = format!("{:03}-email.eml", plan.requests.len() + i + 1);
        write_new(dir, &file, m.text.as_bytes())?;
        let mut entry = serde_json::to_value(m)?;
        entry["file"] = file.into();
        mails.push(entry);
    }
    let index = json!({ "requests": requests, "mails": mails, "notes": plan.notes });
    let mut text = serde_json::to_vec_pretty(&index)?;
    text.push(b'\n');
    write_new(dir, "index.json", &text)
}
