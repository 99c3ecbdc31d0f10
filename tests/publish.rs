//! `publish`: what each writer composes (golden files, trimming at each service's limit), the
//! dry run on a real results file against a baseline with one regression, and `--send`
//! against loopback servers that record what they receive (an HTTP server for the GitHub and
//! patchwork APIs, an SMTP server for mail): a refused request, a retry, missing credentials.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use xtask::model::baseline;
use xtask::model::outcome::{Diagnostic, Level};
use xtask::report::publish::{self, github, mail, patchwork, Context, Github, Notice, Target};

mod common;
use common::TempDir;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The real results file (a run of the self-test: the base, a good sample, a build error,
/// the build error's entry given a lore series' headers).
fn fixture() -> PathBuf {
    root().join("tests/fixtures/publish/results.json")
}

/// The fixture as JSON, edited, written into `dir`.
fn edited(dir: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(fixture()).unwrap()).unwrap();
    edit(&mut v);
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    p
}

/// The baseline: the same run where the build error's cell passed. Against it that cell is
/// the one regression; the base and the good sample are unchanged.
fn baseline_file(dir: &Path) -> PathBuf {
    edited(dir, "baseline.json", |v| {
        let c = &mut v["cells"][2];
        assert_eq!(c["entry"], "build-error");
        c["health"] = serde_json::json!({"verdict": "pass", "summary": "passes"});
        for s in c["stages"].as_array_mut().unwrap() {
            if s["status"] == "fail" {
                s["status"] = "pass".into();
                s["summary"] = "built".into();
                s.as_object_mut().unwrap().remove("diagnostics");
                s.as_object_mut().unwrap().remove("fault");
            }
        }
    })
}

/// The fixture loaded and compared with the baseline, as `publish` does.
fn loaded(dir: &Path) -> (xtask::report::Loaded, xtask::report::Loaded) {
    let mut now = xtask::report::load(&[fixture()]).unwrap();
    let old = xtask::report::load(&[baseline_file(dir)]).unwrap();
    baseline::compare(&mut now.results.cells, &old.results.cells);
    (now, old)
}

fn ctx() -> Context {
    Context {
        github: Some(Github {
            api: "https://api.github.com".into(),
            repo: "rust-for-linux/rfl-health".into(),
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            pr: Some(7),
            comment_author: "github-actions[bot]".into(),
        }),
        target_url: Some("https://github.com/rust-for-linux/rfl-health/actions/runs/1".into()),
        patchwork: Some("https://patchwork.kernel.org".into()),
        mail_from: Some("rfl-health <rfl-health@example.org>".into()),
        date: "Sun, 6 Dec 2026 22:00:00 +0000".into(),
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap()
}

#[test]
fn only_the_cell_that_turned_is_told() {
    let d = TempDir::new("publish-notices");
    let (now, old) = loaded(&d.0);
    let n = publish::notices(&now.results.cells, &old.results.cells);
    let names: Vec<String> = n.iter().map(|n| n.name()).collect();
    assert_eq!(names, ["build-error.x86_64 (debian)"]);
    // Against itself nothing turned, and a second run that still fails says nothing again.
    let mut again = xtask::report::load(&[fixture()]).unwrap();
    baseline::compare(&mut again.results.cells, &now.results.cells);
    assert!(publish::notices(&again.results.cells, &now.results.cells).is_empty());
    // A harness error where the cell passed is told once: the next run that errs again
    // carries the last known pass, but its baseline cell did not pass itself.
    let err = |c: &mut xtask::model::outcome::CellResult| {
        c.health.as_mut().unwrap().verdict = xtask::model::outcome::Verdict::Error;
    };
    let base = xtask::report::load(&[baseline_file(&d.0)]).unwrap();
    let mut e1 = xtask::report::load(&[fixture()]).unwrap();
    err(&mut e1.results.cells[2]);
    baseline::compare(&mut e1.results.cells, &base.results.cells);
    assert_eq!(
        publish::notices(&e1.results.cells, &base.results.cells).len(),
        1
    );
    let mut e2 = xtask::report::load(&[fixture()]).unwrap();
    err(&mut e2.results.cells[2]);
    baseline::compare(&mut e2.results.cells, &e1.results.cells);
    assert_eq!(
        e2.results.cells[2].change,
        Some(baseline::Change::Regressed)
    );
    assert!(publish::notices(&e2.results.cells, &e1.results.cells).is_empty());
    // The other way round it is fixed.
    let mut fixed = xtask::report::load(&[baseline_file(&d.0)]).unwrap();
    baseline::compare(&mut fixed.results.cells, &now.results.cells);
    let n = publish::notices(&fixed.results.cells, &now.results.cells);
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].turn, publish::Turn::Fixed);
}

/// Golden files: every writer's body for the regressed cell.
#[test]
fn every_writer_matches_its_golden_file() {
    let d = TempDir::new("publish-golden");
    let (now, old) = loaded(&d.0);
    let n = publish::notices(&now.results.cells, &old.results.cells);
    let c = ctx();
    insta::assert_snapshot!("github_status", pretty(&github::status(&n[0], &c)));
    insta::assert_snapshot!("github_check", pretty(&github::check(&n[0])));
    insta::assert_snapshot!(
        "github_comment",
        github::comment(&n, c.target_url.as_deref())
    );
    insta::assert_snapshot!(
        "patchwork_check",
        pretty(&patchwork::check(&n[0], c.target_url.as_deref()))
    );
    let plan = publish::compose(&[Target::Email], &n, &now.results, &c);
    assert_eq!(plan.mails.len(), 1);
    insta::assert_snapshot!("email", plan.mails[0].text);
    assert_eq!(
        plan.mails[0].rcpt_to,
        [
            "ada@example.org",
            "rust-for-linux@vger.kernel.org",
            "ojeda@kernel.org",
            "linux-kernel@vger.kernel.org"
        ]
    );
}

/// Each service's limit: a status' description at 140 characters, a check's 50 annotations
/// and 65 535 characters of text, a comment's 65 536, a mail's ten diagnostics; each cut says
/// how much more there was.
#[test]
fn every_writer_trims_at_its_services_limit() {
    let d = TempDir::new("publish-trim");
    let (mut now, old) = loaded(&d.0);
    {
        let c = &mut now.results.cells[2];
        let h = c.health.as_mut().unwrap();
        h.summary = format!(
            "samples/rust/rust_minimal.rs:28: error: {}",
            "x".repeat(300)
        );
        let build = c
            .stages
            .iter_mut()
            .find(|s| !s.diagnostics.is_empty())
            .unwrap();
        build.diagnostics = (1..=2000)
            .map(|i| Diagnostic {
                file: Some(format!("samples/rust/f{i}.rs")),
                line: Some(i),
                col: Some(1),
                level: Level::Error,
                message: format!("[E0308] mismatched types, number {i} {}", "y".repeat(40)),
                log_line: None,
            })
            .collect();
    }
    let n = publish::notices(&now.results.cells, &old.results.cells);
    let c = ctx();
    let status = github::status(&n[0], &c);
    let desc = status["description"].as_str().unwrap();
    assert_eq!(desc.chars().count(), github::MAX_DESCRIPTION);
    insta::assert_snapshot!("github_status_trimmed", desc);

    let check = github::check(&n[0]);
    let out = &check["output"];
    assert_eq!(
        out["annotations"].as_array().unwrap().len(),
        github::MAX_ANNOTATIONS
    );
    let summary = out["summary"].as_str().unwrap();
    assert!(summary.contains("… 1950 more annotations"), "{summary}");
    let text = out["text"].as_str().unwrap();
    assert!(text.len() <= github::MAX_CHECK_TEXT, "{}", text.len());
    assert!(text.len() > github::MAX_CHECK_TEXT - 200, "{}", text.len());
    let tail = text.lines().last().unwrap();
    assert!(
        tail.starts_with("… ") && tail.ends_with(" more diagnostics"),
        "{tail}"
    );

    // A comment over more cells than fit: the same notice a thousand times stands for them.
    let many: Vec<Notice> = std::iter::repeat_n(n[0], 1000).collect();
    let body = github::comment(&many, c.target_url.as_deref());
    assert!(body.chars().count() <= github::MAX_COMMENT);
    assert!(body.starts_with(github::MARKER));
    assert!(
        body.contains(" more cells\n"),
        "{}",
        &body[body.len() - 300..]
    );
    assert!(body.ends_with("actions/runs/1\n"));

    let plan = publish::compose(&[Target::Email], &n, &now.results, &c);
    let text = &plan.mails[0].text;
    assert!(text.contains("    … 1990 more\n"), "{text}");
    assert!(text.len() < mail::MAX_BODY + 4096);
    assert!(text.lines().all(|l| l.len() <= 998), "a line SMTP refuses");
}

/// Targets without what they need, and cells that are not lore series, are notes.
#[test]
fn what_cannot_be_told_is_said() {
    let d = TempDir::new("publish-notes");
    let (mut now, old) = loaded(&d.0);
    now.results.cells[2].series = None;
    let n = publish::notices(&now.results.cells, &old.results.cells);
    let plan = publish::compose(
        &[Target::Email, Target::Patchwork],
        &n,
        &now.results,
        &ctx(),
    );
    assert!(plan.requests.is_empty() && plan.mails.is_empty());
    assert_eq!(plan.notes.len(), 2, "{:?}", plan.notes);
    assert!(plan
        .notes
        .iter()
        .all(|l| l.contains("is not a lore series")));
    let bare = Context::default();
    let plan = publish::compose(
        &[Target::GithubComment, Target::Email],
        &n,
        &now.results,
        &bare,
    );
    assert_eq!(
        plan.notes,
        [
            "github-comment: no --repo and --sha: nothing composed",
            "email: no --from: nothing composed"
        ]
    );
}

fn xtask() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    for k in [
        "GITHUB_TOKEN",
        "PATCHWORK_TOKEN",
        "RFL_SMTP",
        "RFL_SMTP_USER",
        "RFL_SMTP_PASSWORD",
    ] {
        c.env_remove(k);
    }
    c
}

fn publish_args(c: &mut Command, baseline: &Path, api: &str, pw: &str) {
    c.arg("publish")
        .arg("--results")
        .arg(fixture())
        .arg("--baseline")
        .arg(baseline)
        .args([
            "--repo",
            "o/r",
            "--sha",
            "0123456789abcdef0123456789abcdef01234567",
        ])
        .args(["--pr", "7", "--target-url", "https://example.org/run/1"])
        .args(["--github-api", api, "--patchwork-url", pw])
        .args(["--from", "rfl-health <rfl-health@example.org>"]);
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn a_dry_run_writes_one_of_each_for_the_regressed_cell_only() {
    let d = TempDir::new("publish-dry");
    let base = baseline_file(&d.0);
    let out = d.0.join("out");
    let mut c = xtask();
    publish_args(
        &mut c,
        &base,
        "https://api.github.com",
        "https://patchwork.kernel.org",
    );
    let o = c
        .args([
            "--to",
            "github-status",
            "--to",
            "github-comment",
            "--to",
            "email",
        ])
        .arg("--dry-run")
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let mut files: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "001-github-status.json",
            "002-github-comment.json",
            "003-email.eml",
            "index.json"
        ]
    );
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["requests"][0]["method"], "POST");
    assert_eq!(
        index["requests"][0]["url"],
        "https://api.github.com/repos/o/r/statuses/0123456789abcdef0123456789abcdef01234567"
    );
    let status = std::fs::read_to_string(out.join("001-github-status.json")).unwrap();
    assert!(
        status.contains("rfl-health / build-error.x86_64 (debian)"),
        "{status}"
    );
    let eml = std::fs::read_to_string(out.join("003-email.eml")).unwrap();
    assert!(eml.contains("In-Reply-To: <20261201120000.1000-1-ada@example.org>\n"));
    // Nothing about the cells that did not turn.
    for f in &files {
        let t = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(!t.contains("good-sample"), "{f}: {t}");
    }
    // A folder that exists is never written into.
    let mut c = xtask();
    publish_args(
        &mut c,
        &base,
        "https://api.github.com",
        "https://patchwork.kernel.org",
    );
    let o = c
        .args(["--to", "email", "--dry-run", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    // Without a baseline nothing has changed state.
    let out2 = d.0.join("out2");
    let o = xtask()
        .args(["publish", "--to", "email", "--dry-run", "--results"])
        .arg(fixture())
        .arg("--out")
        .arg(&out2)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("no --baseline"), "{}", text(&o));
    let index = std::fs::read_to_string(out2.join("index.json")).unwrap();
    assert!(index.contains("\"requests\": []"), "{index}");
}

#[test]
fn bad_values_are_refused_before_anything_is_read() {
    let d = TempDir::new("publish-bad");
    let base = baseline_file(&d.0);
    for (flag, value) in [
        ("--repo", "o/r/../x"),
        ("--sha", "abc"),
        ("--target-url", "javascript:alert(1)"),
        ("--patchwork-url", "https://x\ny"),
        ("--from", "a@x\r\nBcc: evil@x"),
    ] {
        let mut c = xtask();
        publish_args(
            &mut c,
            &base,
            "https://api.github.com",
            "https://patchwork.kernel.org",
        );
        let o = c
            .args(["--to", "email", "--dry-run", "--out"])
            .arg(d.0.join("never"))
            .args([flag, value])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", text(&o));
        assert!(!d.0.join("never").exists());
    }
    // A results file with a header that would start another header is refused on load.
    let evil = edited(&d.0, "evil.json", |v| {
        v["cells"][2]["series"]["subject"] = "x\r\nBcc: evil@example.org".into();
    });
    let o = xtask()
        .args(["publish", "--to", "email", "--dry-run", "--results"])
        .arg(&evil)
        .arg("--baseline")
        .arg(&base)
        .arg("--out")
        .arg(d.0.join("never"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("series subject"), "{}", text(&o));
}

/// One request as the loopback HTTP server received it.
#[derive(Debug, Clone)]
struct Got {
    method: String,
    path: String,
    auth: String,
    body: String,
}

/// An HTTP server on a loopback port that records each request and answers with what
/// `answer` says (status, extra headers, body), one connection per request.
fn http_server(
    answer: impl Fn(&Got, usize) -> (u16, &'static str, String) + Send + 'static,
) -> (String, Arc<Mutex<Vec<Got>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_string();
            let path = parts.next().unwrap_or("").to_string();
            let (mut len, mut auth) = (0, String::new());
            loop {
                let mut h = String::new();
                r.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse().unwrap();
                }
                if k.eq_ignore_ascii_case("authorization") {
                    auth = v.trim().to_string();
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let req = Got {
                method,
                path,
                auth,
                body: String::from_utf8_lossy(&body).into_owned(),
            };
            let n = {
                let mut all = g.lock().unwrap();
                all.push(req.clone());
                all.iter()
                    .filter(|x| x.path == req.path && x.method == req.method)
                    .count()
            };
            let (status, headers, body) = answer(&req, n);
            let mut s = s;
            let _ = write!(
                s,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, got)
}

/// An SMTP server on a loopback port that records each mail's envelope and data.
fn smtp_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut log = String::new();
            let _ = s.write_all(b"220 loopback ESMTP\r\n");
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                log.push_str(&line);
                let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" => b"250-loopback\r\n250 AUTH PLAIN\r\n",
                    "DATA" => {
                        let _ = s.write_all(b"354 go on\r\n");
                        loop {
                            let mut l = String::new();
                            if r.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                                break;
                            }
                            log.push_str(&l);
                        }
                        log.push_str(".\r\n");
                        b"250 queued\r\n"
                    }
                    "QUIT" => {
                        let _ = s.write_all(b"221 bye\r\n");
                        break;
                    }
                    "AUTH" => b"235 ok\r\n",
                    _ => b"250 ok\r\n",
                };
                let _ = s.write_all(reply);
            }
            g.lock().unwrap().push(log);
        }
    });
    (addr, got)
}

/// Everything is sent: a 503 is tried again (after Retry-After: 0), the sticky comment is
/// found and edited, patchwork's patch is looked up by message-id, the mail goes through the
/// relay with its envelope and In-Reply-To.
#[test]
fn send_reaches_every_service_and_retries_a_server_error() {
    let d = TempDir::new("publish-send");
    let base = baseline_file(&d.0);
    let (api, got) = http_server(|req, n| match (req.method.as_str(), req.path.as_str()) {
        ("POST", p) if p.contains("/statuses/") && n == 1 => {
            (503, "Retry-After: 0\r\n", "{}".into())
        }
        ("GET", p) if p.contains("/issues/7/comments") => (
            200,
            "",
            format!(
                r#"[{{"id": 5, "body": "hello", "user": {{"login": "ada"}}}},
                    {{"id": 6, "body": "{m} planted", "user": {{"login": "mallory"}}}},
                    {{"id": 42, "body": "{m} old", "user": {{"login": "github-actions[bot]"}}}}]"#,
                m = github::MARKER
            ),
        ),
        ("GET", p) if p.starts_with("/api/patches/?msgid=") => {
            (200, "", r#"[{"id": 1234}]"#.into())
        }
        _ => (201, "", "{}".into()),
    });
    let (relay, mails) = smtp_server();
    let mut c = xtask();
    publish_args(&mut c, &base, &api, &api);
    let o = c
        .args([
            "--to",
            "github-status,github-check,github-comment,patchwork,email",
        ])
        .args(["--send", "--interval-ms", "10", "--smtp", &relay])
        .env("GITHUB_TOKEN", "gh-secret")
        .env("PATCHWORK_TOKEN", "pw-secret")
        .env("RFL_SMTP_USER", "u")
        .env("RFL_SMTP_PASSWORD", "p")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let got = got.lock().unwrap().clone();
    let seen: Vec<String> = got
        .iter()
        .map(|g| format!("{} {}", g.method, g.path))
        .collect();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    assert_eq!(
        seen,
        [
            format!("POST /repos/o/r/statuses/{sha}"),
            format!("POST /repos/o/r/statuses/{sha}"),
            "POST /repos/o/r/check-runs".into(),
            "GET /repos/o/r/issues/7/comments?per_page=100&page=1".into(),
            "PATCH /repos/o/r/issues/comments/42".into(),
            "GET /api/patches/?msgid=20261201120000.1000-1-ada@example.org".into(),
            "POST /api/patches/1234/checks/".into(),
        ]
    );
    for g in &got {
        let want = if g.path.starts_with("/api/") {
            "Token pw-secret"
        } else {
            "Bearer gh-secret"
        };
        assert_eq!(g.auth, want, "{g:?}");
    }
    let check: Value = serde_json::from_str(&got[6].body).unwrap();
    assert_eq!(check["state"], "fail");
    let status: Value = serde_json::from_str(&got[1].body).unwrap();
    assert_eq!(status["state"], "failure");
    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert!(m.contains("AUTH PLAIN AHUAcA==\r\n"), "{m}");
    assert!(m.contains("MAIL FROM:<rfl-health@example.org>\r\n"), "{m}");
    assert!(m.contains("RCPT TO:<ada@example.org>\r\n"), "{m}");
    assert!(
        m.contains("RCPT TO:<linux-kernel@vger.kernel.org>\r\n"),
        "{m}"
    );
    assert!(
        m.contains("In-Reply-To: <20261201120000.1000-1-ada@example.org>\r\n"),
        "{m}"
    );
    assert!(
        m.contains("Subject: Re: [PATCH] samples: rust: minimal"),
        "{m}"
    );
}

/// A 403 is the caller's error: said, not tried again, the exit code 1; the other requests
/// are still sent. Without a token nothing is sent at all.
#[test]
fn a_refused_request_is_not_retried_and_credentials_are_required() {
    let d = TempDir::new("publish-refused");
    let base = baseline_file(&d.0);
    let (api, got) = http_server(|req, _| {
        if req.path.contains("/statuses/") {
            (
                403,
                "",
                r#"{"message": "Resource not accessible by integration"}"#.into(),
            )
        } else {
            (201, "", "{}".into())
        }
    });
    let mut c = xtask();
    publish_args(&mut c, &base, &api, &api);
    let o = c
        .args([
            "--to",
            "github-status,github-check",
            "--send",
            "--interval-ms",
            "0",
        ])
        .env("GITHUB_TOKEN", "gh-secret")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("HTTP 403 (not retried)"), "{}", text(&o));
    assert!(!text(&o).contains("gh-secret"), "{}", text(&o));
    let seen: Vec<String> = got
        .lock()
        .unwrap()
        .iter()
        .map(|g| g.method.clone() + " " + &g.path)
        .collect();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[1].ends_with("/check-runs"));

    for (to, var) in [
        ("github-comment", "GITHUB_TOKEN"),
        ("patchwork", "PATCHWORK_TOKEN"),
        ("email", "RFL_SMTP"),
    ] {
        let mut c = xtask();
        publish_args(&mut c, &base, &api, &api);
        let o = c.args(["--to", to, "--send"]).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{to}: {}", text(&o));
        assert!(text(&o).contains(var), "{to}: {}", text(&o));
    }
    assert_eq!(got.lock().unwrap().len(), 2, "nothing more was sent");
}

/// A server that never answers in time, or is not there, is tried three times, then an
/// error; a relay that is not on this machine gets no password.
#[test]
fn a_server_that_is_gone_is_tried_three_times() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let mut client = xtask::sys::http::Client::new(Vec::new(), std::time::Duration::ZERO)
        .with_backoff(std::time::Duration::from_millis(10));
    let t = std::time::Instant::now();
    let e = client
        .send("GET", &format!("http://{addr}/x"), None)
        .unwrap_err();
    assert!(e.to_string().contains("(3 attempts)"), "{e}");
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
    let relay = xtask::sys::smtp::Relay {
        addr: "192.0.2.1:25".into(),
        auth: Some(("u".into(), "p".into())),
        helo: "x".into(),
    };
    let e = xtask::sys::smtp::send(&relay, "a@x", &["b@y".into()], "x\n").unwrap_err();
    assert!(
        e.to_string().contains("only to a relay on this machine"),
        "{e}"
    );
    let _ = TcpStream::connect(addr);
}
