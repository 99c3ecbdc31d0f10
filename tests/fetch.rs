//! Fetch and apply with real git and real HTTP, nothing mocked: local bare repositories laid
//! out like GitHub and git.kernel.org reached through the matrix's mirror rewrites, and a
//! loopback public-inbox server for a lore series. Small trees, no kernel build.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{commit, git, TempDir};

/// Read one HTTP request's head; the path it asks for.
fn read_request(s: &std::net::TcpStream) -> String {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut first = String::new();
    let _ = r.read_line(&mut first);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
    }
    first.split_whitespace().nth(1).unwrap_or("").to_string()
}

/// A loopback HTTP server for the test's files; it stops after `max` requests or `life`.
fn serve(files: Vec<(String, Vec<u8>)>, max: usize, life: Duration) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut served = 0;
        while served < max && start.elapsed() < life {
            match l.accept() {
                Ok((mut s, _)) => {
                    let path = read_request(&s);
                    match files.iter().find(|(p, _)| *p == path) {
                        Some((_, body)) => {
                            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/gzip\r\nConnection: close\r\n\r\n", body.len());
                            let _ = s.write_all(body);
                        }
                        None => {
                            let _ = write!(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        }
                    }
                    served += 1;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    port
}

fn gzip(parts: &[&str]) -> Vec<u8> {
    // Two gzip members, as public-inbox may send.
    let mut out = Vec::new();
    for p in parts {
        let mut c = Command::new("gzip")
            .arg("-c")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(p.as_bytes()).unwrap();
        out.extend(c.wait_with_output().unwrap().stdout);
    }
    out
}

#[test]
fn every_source_form_fetches_and_applies_through_mirrors() {
    let t = TempDir::new("forms");
    let root = &t.0;
    // The "upstream" working repo, from which bare mirrors are made.
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "master"]);
    let base0 = commit(&work, "rust/kernel/lib.rs", "// kernel\n", "base 0");
    let base1 = commit(&work, "samples/rust/minimal.rs", "fn init() {}\n", "base 1");
    git(&work, &["branch", "rust-next"]);
    // A PR branch from base0 (older base: needs rebasing onto rust-next).
    git(&work, &["checkout", "-q", "-b", "pr1", &base0]);
    let pr1_a = commit(
        &work,
        "rust/kernel/new.rs",
        "// new abstraction\n",
        "rust: add new",
    );
    let pr1_b = commit(&work, "rust/kernel/new2.rs", "// more\n", "rust: add more");
    // A conflicting PR.
    git(&work, &["checkout", "-q", "-b", "conflict", &base1]);
    git(&work, &["reset", "-q", "--hard", &base0]);
    commit(
        &work,
        "samples/rust/minimal.rs",
        "fn init() { conflicting(); }\n",
        "conflicting change",
    );
    // A branch in another user's fork, and a single commit.
    git(
        &work,
        &["checkout", "-q", "-b", "fparent/rust-feature", &base1],
    );
    let feat = commit(&work, "drivers/feature.rs", "// feature\n", "feature");
    git(&work, &["checkout", "-q", "-b", "single", &base1]);
    let single = commit(&work, "rust/kernel/single.rs", "// single\n", "single");
    git(&work, &["checkout", "-q", "master"]);

    let gh = root.join("github/Rust-for-Linux/linux.git");
    let fork = root.join("github/someone/linux.git");
    let korg = root.join("korg/pub/scm/linux/kernel/git/ojeda/linux.git");
    for bare in [&gh, &fork, &korg] {
        std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
        git(
            root,
            &[
                "clone",
                "-q",
                "--bare",
                work.to_str().unwrap(),
                bare.to_str().unwrap(),
            ],
        );
    }
    let conflict_sha = git(&work, &["rev-parse", "conflict"]);
    git(&gh, &["update-ref", "refs/pull/1/head", &pr1_b]);
    git(&gh, &["update-ref", "refs/pull/2/head", &conflict_sha]);
    git(&gh, &["update-ref", "refs/pull/3/head", &base0]); // already in the base

    // A lore thread: cover, v1, v2 (two patches) and a reply.
    git(&work, &["checkout", "-q", "-b", "series", &base1]);
    commit(
        &work,
        "rust/kernel/series1.rs",
        "// v2 one\n",
        "rust: series one",
    );
    commit(
        &work,
        "rust/kernel/series2.rs",
        "// v2 two\n",
        "rust: series two",
    );
    let v2 = git(
        &work,
        &[
            "format-patch",
            "--stdout",
            "-2",
            "--subject-prefix=PATCH v2",
            "--cover-letter",
            &format!("--base={base1}"),
            "HEAD",
        ],
    );
    let msgid = "20260101-series-v2-0@example.org";
    let v2 = v2.replacen(
        "Subject: [PATCH v2 0/2] *** SUBJECT HERE ***",
        &format!("Message-ID: <{msgid}>\nSubject: [PATCH v2 0/2] the series"),
        1,
    );
    git(&work, &["reset", "-q", "--hard", "HEAD~2"]);
    commit(
        &work,
        "rust/kernel/series1.rs",
        "// v1 one\n",
        "rust: series one",
    );
    let v1 = git(
        &work,
        &[
            "format-patch",
            "--stdout",
            "-1",
            "--subject-prefix=PATCH",
            "HEAD",
        ],
    );
    let reply = "From mboxrd@z Thu Jan  1 00:00:00 1970\nFrom: R <r@x>\nSubject: Re: [PATCH v2 1/2] rust: series one\nMessage-ID: <reply@x>\n\nLooks good.\n";
    // Anyone may post to the thread: another sender's `[PATCH v2 3/3]` and `[PATCH v3]`,
    // with diffs, are neither the series' third patch nor its newest revision.
    let stranger = |subject: &str| {
        v1.replacen("From: T <t@x>", "From: Mallory <m@evil>", 1)
            .replacen(
                "Subject: [PATCH] rust: series one",
                &format!("Subject: {subject}"),
                1,
            )
    };
    let (evil3, evil_v3) = (
        stranger("[PATCH v2 3/3] rust: more"),
        stranger("[PATCH v3] rust: all of it"),
    );
    assert!(evil3.contains("m@evil") && evil_v3.contains("[PATCH v3]"));
    let port = serve(
        vec![(
            format!("/all/{msgid}/t.mbox.gz"),
            gzip(&[
                &format!("{v1}\n{reply}\n{evil_v3}\n"),
                &v2,
                &format!("\n{evil3}\n"),
            ]),
        )],
        20,
        Duration::from_secs(120),
    );

    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let matrix = format!(
        r#"arches = ["x86_64"]
checks = []
[mirrors]
"https://github.com/" = "file://{root}/github/"
"https://git.kernel.org/" = "file://{root}/korg/"
"https://lore.kernel.org/" = "http://127.0.0.1:{port}/"
[bases.rust-next]
kind = "branch"
url = "https://git.kernel.org/pub/scm/linux/kernel/git/ojeda/linux.git"
ref = "rust-next"
[bases.dead]
kind = "branch"
url = "http://127.0.0.1:{closed}/linux.git"
ref = "main"
[[entry]]
id = "pr"
source = {{ github_pr = "https://github.com/Rust-for-Linux/linux/pull/1" }}
base = "rust-next"
[[entry]]
id = "pr-commit"
source = {{ pr_commit = "https://github.com/Rust-for-Linux/linux/pull/1/commits/{pr1_a}" }}
base = "rust-next"
[[entry]]
id = "branch"
source = {{ branch = "https://github.com/someone/linux/tree/fparent/rust-feature" }}
base = "rust-next"
[[entry]]
id = "commit"
source = {{ commit = "https://github.com/someone/linux/commit/{single}" }}
base = "rust-next"
[[entry]]
id = "conflict"
source = {{ github_pr = "https://github.com/Rust-for-Linux/linux/pull/2" }}
base = "rust-next"
[[entry]]
id = "merged"
source = {{ github_pr = "https://github.com/Rust-for-Linux/linux/pull/3" }}
base = "rust-next"
[[entry]]
id = "file"
source = {{ file = "https://elixir.bootlin.com/linux/v6.4/source/rust/kernel/lib.rs" }}
base = "rust-next"
[[entry]]
id = "series"
source = {{ lore = "{msgid}" }}
base = "rust-next"
[[entry]]
id = "offline"
source = {{ lore = "x@y" }}
base = "dead"
"#,
        root = root.display()
    );
    let mpath = root.join("m.toml");
    std::fs::write(&mpath, matrix).unwrap();
    let out = root.join("out");
    let started = Instant::now();
    let o = apply_only(&mpath, &out, &root.join("cache"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("thread 'main' panicked"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let cell = |e: &str| {
        v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["entry"] == e)
            .unwrap_or_else(|| panic!("no {e}: {stderr}"))
            .clone()
    };
    let stage = |e: &str, s: &str| {
        cell(e)["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["stage"] == s)
            .unwrap()
            .clone()
    };
    for e in [
        "pr",
        "pr-commit",
        "branch",
        "commit",
        "merged",
        "file",
        "series",
    ] {
        assert_eq!(
            stage(e, "apply")["status"],
            "pass",
            "{e}: {}\n{stderr}",
            stage(e, "apply")
        );
    }
    assert_eq!(cell("pr")["base_commit"], base1.as_str());
    assert_eq!(
        cell("pr")["patchset"]["commits"].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        cell("pr-commit")["patchset"]["commits"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        cell("branch")["patchset"]["commits"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let _ = feat;
    // Each patch hashed as `git format-patch` writes it, so the rebase onto rust-next that
    // gave the PR's commits new ids leaves their hashes as they were upstream.
    let patch_hash = |sha: &str| {
        use sha2::Digest;
        let o = Command::new("git")
            .arg("-C")
            .arg(&work)
            .args([
                "format-patch",
                "--stdout",
                "--zero-commit",
                "--no-signature",
                "--full-index",
                "-1",
                sha,
            ])
            .output()
            .unwrap();
        assert!(o.status.success());
        let hex: String = sha2::Sha256::digest(&o.stdout)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Value::from(hex)
    };
    assert_eq!(
        cell("pr")["patchset"]["patch_hashes"],
        Value::from(vec![patch_hash(&pr1_a), patch_hash(&pr1_b)])
    );
    assert_ne!(cell("pr")["patchset"]["commits"][0], pr1_a.as_str());
    assert!(stage("merged", "apply")["summary"]
        .as_str()
        .unwrap()
        .contains("already in the base"));
    assert!(stage("file", "apply")["summary"]
        .as_str()
        .unwrap()
        .contains("present in the base"));
    let ap = stage("conflict", "apply");
    assert_eq!(ap["status"], "fail");
    assert!(
        ap["summary"]
            .as_str()
            .unwrap()
            .contains("samples/rust/minimal.rs"),
        "{ap}"
    );
    // The lore series: v2's two patches, in order, not v1's.
    let series = cell("series");
    assert_eq!(
        series["patchset"]["commits"].as_array().unwrap().len(),
        2,
        "{series}"
    );
    let fetched = stage("series", "fetch")["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(fetched.contains("series v2, 2 patches"), "{fetched}");
    // The strangers' patches are named as left out.
    assert!(
        fetched.contains("left out, not the author's: [PATCH v3] rust: all of it <m@evil>, [PATCH v2 3/3] rust: more <m@evil>"),
        "{fetched}"
    );
    // Same patches on the same base: the same patchset hash on a second run.
    let hash = series["patchset"]["hash"].clone();
    assert!(hash.as_str().unwrap().len() == 64);
    // The unreachable base answers fast.
    let dead = v["bases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "dead")
        .unwrap();
    assert_eq!(dead["status"], "unreachable", "{dead}");
    // A base fetched from its remote records it (as the matrix names it, before mirrors);
    // one that could not be had records none.
    let rust_next = v["bases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "rust-next")
        .unwrap();
    assert_eq!(
        rust_next["url"], "https://git.kernel.org/pub/scm/linux/kernel/git/ojeda/linux.git",
        "{rust_next}"
    );
    assert!(dead.get("url").is_none(), "{dead}");
    assert!(stage("offline", "fetch")["summary"]
        .as_str()
        .unwrap()
        .contains("unreachable"));
    assert_eq!(stage("offline", "build")["status"], "skip");

    // The same thread through `try --lore`, with the matrix's mirror to the loopback server:
    // the same two patches of v2, the same patchset hash as the matrix's entry.
    let try_out = root.join("try-lore");
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "try",
            "--lore",
            msgid,
            "--base",
            "rust-next",
            "--stage",
            "apply",
        ])
        .arg("--matrix")
        .arg(&mpath)
        .arg("--out")
        .arg(&try_out)
        .arg("--cache")
        .arg(root.join("cache"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let t: Value =
        serde_json::from_str(&std::fs::read_to_string(try_out.join("results.json")).unwrap())
            .unwrap();
    let tried = t["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["entry"] == "try")
        .unwrap_or_else(|| panic!("no try cell: {stderr}"));
    let fetch = tried["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "fetch")
        .unwrap();
    assert!(
        fetch["summary"]
            .as_str()
            .unwrap()
            .contains("series v2, 2 patches"),
        "{fetch}"
    );
    assert_eq!(tried["patchset"]["hash"], hash, "{tried}");
}

/// How the fault server answers a path (any other path: 404).
#[derive(Clone, Copy)]
enum Fault {
    ServerError,
    TruncatedGzip,
    Stall,
    /// 200 MiB of zeros, gzipped to a few hundred KB.
    GzipBomb,
}

/// A gzip bomb made by streaming 200 MiB of zeros through the encoder.
fn gzip_bomb() -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..200 {
        e.write_all(&zeros).unwrap();
    }
    e.finish().unwrap()
}

/// `xtask matrix --stage apply` on a matrix of the test's, with the run folder and the cache
/// in the test's own folder.
fn apply_only(mpath: &Path, out: &Path, cache: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.args(["matrix", "--stage", "apply", "--matrix"])
        .arg(mpath)
        .arg("--out")
        .arg(out)
        .arg("--cache")
        .arg(cache);
    c
}

fn serve_faults(routes: Vec<(String, Fault)>, life: Duration) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut held = Vec::new();
        while start.elapsed() < life {
            match l.accept() {
                Ok((mut s, _)) => {
                    let path = read_request(&s);
                    match routes.iter().find(|(p, _)| *p == path).map(|(_, f)| *f) {
                        Some(Fault::ServerError) => {
                            let _ = write!(s, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        }
                        Some(Fault::TruncatedGzip) => {
                            let gz =
                                gzip(&["From x\nSubject: [PATCH] a\n\nbody\n".repeat(50).as_str()]);
                            let half = &gz[..gz.len() / 2];
                            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", half.len());
                            let _ = s.write_all(half);
                        }
                        Some(Fault::Stall) => held.push(s),
                        Some(Fault::GzipBomb) => {
                            let gz = gzip_bomb();
                            let _ = write!(s, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", gz.len());
                            let _ = s.write_all(&gz);
                        }
                        _ => {
                            let _ = write!(s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        }
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    port
}

/// A one-commit repository (`README`) at `<root>/work`, with `with` run on it before it is
/// cloned bare to `<root>/<bare>`; returns the bare repository's path.
/// A run folder's results.json.
fn results(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap()
}

/// The stage `stage` of `entry`'s first cell in results `v`.
fn stage_of<'a>(v: &'a Value, entry: &str, stage: &str) -> &'a Value {
    v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["entry"] == entry)
        .unwrap_or_else(|| panic!("no cell of {entry}"))["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == stage)
        .unwrap_or_else(|| panic!("no {stage} stage for {entry}"))
}

fn small_upstream(root: &Path, bare: &str, with: impl FnOnce(&Path)) -> std::path::PathBuf {
    let work = root.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q", "-b", "master"]);
    commit(&work, "README", "base\n", "base");
    with(&work);
    let bare = root.join(bare);
    std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    bare
}

#[test]
fn lore_server_faults_become_fetch_failures_in_bounded_time() {
    let t = TempDir::new("faults");
    let root = &t.0;
    let bare = small_upstream(root, "korg/linux.git", |_| {});
    let routes = vec![
        ("/all/e500@x/t.mbox.gz".to_string(), Fault::ServerError),
        ("/all/trunc@x/t.mbox.gz".to_string(), Fault::TruncatedGzip),
        ("/all/stall@x/t.mbox.gz".to_string(), Fault::Stall),
        ("/all/bomb@x/t.mbox.gz".to_string(), Fault::GzipBomb),
    ];
    let port = serve_faults(routes, Duration::from_secs(90));
    let matrix = format!(
        "arches = [\"x86_64\"]\nchecks = []\n[mirrors]\n\"https://lore.kernel.org/\" = \"http://127.0.0.1:{port}/\"\n[bases.b]\nkind = \"branch\"\nurl = \"file://{}\"\nref = \"master\"\n{}",
        bare.display(),
        ["e404@x", "e500@x", "trunc@x", "stall@x", "bomb@x"].iter().enumerate().map(|(i, id)| format!("[[entry]]\nid = \"e{i}\"\nsource = {{ lore = \"{id}\" }}\nbase = \"b\"\n")).collect::<String>()
    );
    let mpath = root.join("m.toml");
    std::fs::write(&mpath, matrix).unwrap();
    let out = root.join("out");
    let started = Instant::now();
    let o = apply_only(&mpath, &out, &root.join("cache"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("thread 'main' panicked"), "{stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    // Errors of the remote or the source are no code's failure, and no entry cell could run
    // (every one is error or unreachable): exit 3, said on stderr.
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("matrix: no entry cell could run"),
        "{stderr}"
    );
    let v = results(&out);
    // Each fault by its kind: the stage's fault (`source`: the remote answered; `remote`: it
    // did not) and what the summary says went wrong, not only that the fetch failed.
    let fetch = |e: &str| -> (String, String) {
        let s = stage_of(&v, e, "fetch");
        assert_eq!(s["status"], "error", "{e}: {s}\n{stderr}");
        (
            s["fault"].as_str().unwrap_or("").to_string(),
            s["summary"].as_str().unwrap().to_string(),
        )
    };
    let kind = |e: &str, fault: &str, says: &[&str]| {
        let (f, summary) = fetch(e);
        assert_eq!(f, fault, "{e}: {summary}");
        for w in says {
            assert!(summary.contains(w), "{e}: {w:?} not in {summary:?}");
        }
    };
    kind("e0", "source", &["HTTP 404", "/all/e404@x/t.mbox.gz"]);
    // A server error is the remote's, as a timeout is.
    kind("e1", "remote", &["HTTP 500", "the server failed"]);
    // The truncated body is refused for what it is, not read as a short thread.
    kind("e2", "source", &["bad gzip", "/all/trunc@x/t.mbox.gz"]);
    kind("e3", "remote", &["timed out", "/all/stall@x/t.mbox.gz"]);
    // The gzip bomb is a fetch failure that names the limit and the URL, not 200 MiB in memory.
    kind(
        "e4",
        "source",
        &["more than 64 MiB", "/all/bomb@x/t.mbox.gz"],
    );
    // The base cell ran regardless.
    assert!(v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["entry"] == "base"));
}

/// Two runs on one cache: the second waits for the first's lock (and says so), both finish,
/// they agree, the object store comes out whole, and nothing half-written is left.
#[test]
fn a_second_run_on_the_same_cache_waits_and_nothing_is_corrupted() {
    let t = TempDir::new("concurrent");
    let root = &t.0;
    let bare = small_upstream(root, "github/someone/linux.git", |work| {
        git(work, &["checkout", "-q", "-b", "feature"]);
        commit(work, "rust/kernel/feature.rs", "// feature\n", "feature");
        git(work, &["checkout", "-q", "master"]);
    });
    // A lore server that never answers keeps the first run busy for its receive timeout.
    let port = serve_faults(
        vec![("/all/stall@x/t.mbox.gz".to_string(), Fault::Stall)],
        Duration::from_secs(90),
    );
    let matrix = format!(
        "arches = [\"x86_64\"]\nchecks = []\n[mirrors]\n\"https://lore.kernel.org/\" = \"http://127.0.0.1:{port}/\"\n\"https://github.com/\" = \"file://{1}/github/\"\n[bases.b]\nkind = \"branch\"\nurl = \"file://{0}\"\nref = \"master\"\n\
         [[entry]]\nid = \"slow\"\nsource = {{ lore = \"stall@x\" }}\nbase = \"b\"\n[[entry]]\nid = \"feature\"\nsource = {{ branch = \"https://github.com/someone/linux/tree/feature\" }}\nbase = \"b\"\n",
        bare.display(),
        root.display()
    );
    let mpath = root.join("m.toml");
    std::fs::write(&mpath, matrix).unwrap();
    let cache = root.join("cache");
    let start = |out: &str| {
        apply_only(&mpath, &root.join(out), &cache)
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let first = start("out1");
    // The first run holds the lock once its pid is in the lock file.
    let until = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(cache.join("lock"))
        .unwrap_or_default()
        .contains("pid")
    {
        assert!(Instant::now() < until, "the first run never took the lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    let second = start("out2");
    let a = first.wait_with_output().unwrap();
    let a_done = Instant::now();
    let b = second.wait_with_output().unwrap();
    let (ea, eb) = (
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr),
    );
    assert!(
        !ea.contains("panicked") && !eb.contains("panicked"),
        "{ea}\n{eb}"
    );
    assert!(
        eb.contains("waiting for the cache lock") && eb.contains("held by pid"),
        "the second run did not say it waits:\n{eb}"
    );
    assert!(!ea.contains("waiting for the cache lock"), "{ea}");
    assert!(
        a_done.elapsed() < Duration::from_secs(30),
        "the second run ended long after the first"
    );
    // Both runs have every cell, with the same verdicts.
    let verdicts = |out: &str| {
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join(out).join("results.json")).unwrap(),
        )
        .unwrap();
        let mut cells: Vec<(String, String)> = v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let stages: Vec<String> = c["stages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| format!("{}={}", s["stage"], s["status"]))
                    .collect();
                (c["entry"].as_str().unwrap().to_string(), stages.join(","))
            })
            .collect();
        cells.sort();
        cells
    };
    let (v1, v2) = (verdicts("out1"), verdicts("out2"));
    assert_eq!(v1, v2);
    assert_eq!(
        v1.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>(),
        ["base", "feature", "slow"]
    );
    assert!(
        v1.iter()
            .any(|(e, s)| e == "feature" && s.contains("\"apply\"=\"pass\"")),
        "{v1:?}"
    );
    // The shared object store is whole, and no half-written result is left.
    let fsck = Command::new("git")
        .arg("--git-dir")
        .arg(cache.join("store.git"))
        .args(["fsck", "--no-dangling"])
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "git fsck: {}",
        String::from_utf8_lossy(&fsck.stderr)
    );
    // `--stage` never stores a result: the result cache holds nothing of these runs; and
    // nowhere in the cache is a half-written file (`*.tmp`) left.
    let stored = std::fs::read_dir(cache.join("results"))
        .map(|rd| rd.count())
        .unwrap_or(0);
    assert_eq!(stored, 0, "an apply-only run stored a result");
    let mut seen = 0;
    let mut dirs = vec![cache.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            seen += 1;
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(!name.ends_with(".tmp"), "left over: {:?}", e.path());
            // The store's objects are git's, checked by fsck above.
            if e.file_type().unwrap().is_dir() && name != "objects" {
                dirs.push(e.path());
            }
        }
    }
    assert!(seen > 10, "only {seen} files in the cache");
}

/// On a terminal the run draws live lines (a cell's stage, the overall bar with an ETA);
/// without one it writes plain timestamped lines with no terminal codes.
#[test]
fn progress_is_bars_on_a_terminal_and_plain_lines_elsewhere() {
    let t = TempDir::new("progress");
    let root = &t.0;
    let bare = small_upstream(root, "korg/linux.git", |_| {});
    // A stalled lore fetch keeps the run up long enough to be drawn a few times.
    let port = serve_faults(
        vec![("/all/stall@x/t.mbox.gz".to_string(), Fault::Stall)],
        Duration::from_secs(90),
    );
    let matrix = format!(
        "arches = [\"x86_64\", \"arm64\"]\nchecks = []\n[mirrors]\n\"https://lore.kernel.org/\" = \"http://127.0.0.1:{port}/\"\n[bases.b]\nkind = \"branch\"\nurl = \"file://{}\"\nref = \"master\"\n[[entry]]\nid = \"slow\"\nsource = {{ lore = \"stall@x\" }}\nbase = \"b\"\n",
        bare.display()
    );
    let mpath = root.join("m.toml");
    std::fs::write(&mpath, matrix).unwrap();
    let xtask = env!("CARGO_BIN_EXE_xtask");
    let args = format!(
        "matrix --stage apply --matrix {} --cache {}",
        mpath.display(),
        root.join("cache").display()
    );
    // script(1) gives the run a pseudo-terminal; its output is what a terminal would show.
    let tty = Command::new("script")
        .args([
            "-qefc",
            &format!("{xtask} {args} --out {}", root.join("o1").display()),
            "/dev/null",
        ])
        .env_remove("GITHUB_ACTIONS")
        .env("COLUMNS", "120")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&tty.stdout);
    // The one entry's lore series never comes: no entry cell could run, exit 3.
    assert_eq!(tty.status.code(), Some(3), "{shown}");
    assert!(
        shown.contains("slow.x86_64") && shown.contains("slow.arm64"),
        "{shown}"
    );
    assert!(
        shown.contains("fetch"),
        "no stage on the cell lines: {shown}"
    );
    assert!(
        shown.contains("cells") && shown.contains("ETA"),
        "no overall bar: {shown}"
    );
    assert!(shown.contains("\x1b["), "nothing redrawn in place: {shown}");
    let plain = Command::new(xtask)
        .args(args.split(' '))
        .arg("--out")
        .arg(root.join("o2"))
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&plain.stderr);
    assert_eq!(plain.status.code(), Some(3), "{log}");
    assert!(
        !log.contains("\x1b["),
        "terminal codes in a plain log: {log:?}"
    );
    let stamped = regex_like_stamp(&log);
    assert!(stamped >= 4, "too few timestamped lines: {log}");
    assert!(log.contains("cell slow.arm64: UNREACHABLE fetch"), "{log}");
    // Under GitHub Actions the entry's cells are one collapsible group.
    let gha = Command::new(xtask)
        .args(args.split(' '))
        .arg("--out")
        .arg(root.join("o3"))
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&gha.stderr);
    assert!(
        log.contains("::group::slow on b") && log.contains("::endgroup::"),
        "{log}"
    );
}

/// Lines that start with `[hh:mm:ss] `.
fn regex_like_stamp(log: &str) -> usize {
    log.lines()
        .filter(|l| {
            let b = l.as_bytes();
            b.len() > 11
                && b[0] == b'['
                && b[3] == b':'
                && b[6] == b':'
                && b[9] == b']'
                && b[1..9].iter().all(|c| c.is_ascii_digit() || *c == b':')
        })
        .count()
}

/// A patch whose subject carries terminal escape sequences (a title change, a screen clear)
/// and a bidi override: its conflict line reaches the plain progress log and the text
/// report as visible escapes, never as the codes themselves.
#[test]
fn a_hostile_patch_subject_is_escaped_on_the_terminal() {
    let t = TempDir::new("hostile-subject");
    let root = &t.0;
    let bare = small_upstream(root, "korg/linux.git", |_| {});
    let evil = "\u{1b}]0;pwned\u{7}\u{1b}[2J \u{202e}evil";
    let patch = format!(
        "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\nFrom: A <a@x>\nDate: Thu, 1 Jan 2026 00:00:00 +0000\nSubject: [PATCH] {evil}\n\n---\n README | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n\ndiff --git a/README b/README\n--- a/README\n+++ b/README\n@@ -1 +1 @@\n-not what the base has\n+x\n"
    );
    std::fs::write(root.join("evil.mbox"), patch).unwrap();
    let matrix = format!(
        "arches = [\"x86_64\"]\nchecks = []\n[bases.b]\nkind = \"branch\"\nurl = \"file://{}\"\nref = \"master\"\n[[entry]]\nid = \"evil\"\nsource = {{ mbox = \"evil.mbox\" }}\nbase = \"b\"\n",
        bare.display()
    );
    let mpath = root.join("m.toml");
    std::fs::write(&mpath, matrix).unwrap();
    let out = root.join("out");
    let o = apply_only(&mpath, &out, &root.join("cache"))
        .env_remove("GITHUB_ACTIONS")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&o.stderr);
    // A conflict is the entry's failure: `--fail-on fail` (the default) exits 1.
    assert_eq!(o.status.code(), Some(1), "{log}");
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let cell = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["entry"] == "evil")
        .unwrap_or_else(|| panic!("{log}"));
    let apply = cell["stages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stage"] == "apply")
        .unwrap();
    // The hostile subject really is in the verdict (so the checks below can fail).
    assert!(apply["summary"].as_str().unwrap().contains(evil), "{apply}");
    let shown = "\\x1b]0;pwned\\x07\\x1b[2J \\u{202e}evil";
    assert!(!log.contains(['\u{1b}', '\u{7}', '\u{202e}']), "{log:?}");
    assert!(
        log.contains(&format!(
            "cell evil.x86_64: FAIL apply: conflict: Patch failed at 0001 {shown}"
        )),
        "{log}"
    );
    let text = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "report",
            "--fail-on",
            "never",
            "--format",
            "text",
            "--results",
        ])
        .arg(out.join("results.json"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(!text.contains(['\u{1b}', '\u{7}', '\u{202e}']), "{text:?}");
    assert!(text.contains(shown), "{text}");
}

/// Two patchsets that differ only in bytes that are not UTF-8 get different patchset hashes,
/// neither of them the hash of nothing (the diff used to be decoded as text, the decoding
/// error dropped, and both hashed as the empty string: the second took the first's verdict).
#[test]
fn patchsets_differing_only_in_non_utf8_bytes_hash_apart() {
    let t = TempDir::new("non-utf8");
    let root = &t.0;
    let patches = root.join("m");
    std::fs::create_dir_all(&patches).unwrap();
    let bare = small_upstream(root, "base.git", |work| {
        for (name, bytes) in [
            ("a", b"\xff\xfe latin-1 \xe9\n"),
            ("b", b"\xfe\xff latin-1 \xe8\n"),
        ] {
            git(work, &["checkout", "-q", "-b", name, "master"]);
            std::fs::create_dir_all(work.join("rust")).unwrap();
            std::fs::write(work.join("rust/data.txt"), bytes).unwrap();
            git(work, &["add", "-A"]);
            git(work, &["commit", "-q", "-m", "rust: add data"]);
            let o = Command::new("git")
                .arg("-C")
                .arg(work)
                .args(["format-patch", "-1", "--stdout"])
                .output()
                .unwrap();
            assert!(o.status.success());
            std::fs::write(patches.join(format!("{name}.patch")), o.stdout).unwrap();
            git(work, &["checkout", "-q", "master"]);
        }
    });
    let matrix = format!(
        "arches = [\"x86_64\"]\nchecks = []\n[bases.b]\nkind = \"branch\"\nurl = \"file://{}\"\nref = \"master\"\n\
         [[entry]]\nid = \"a\"\nsource = {{ mbox = \"a.patch\" }}\nbase = \"b\"\n[[entry]]\nid = \"b\"\nsource = {{ mbox = \"b.patch\" }}\nbase = \"b\"\n",
        bare.display()
    );
    std::fs::write(patches.join("m.toml"), matrix).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "matrix", "--stage", "apply", "--entry", "a", "--entry", "b", "--matrix",
        ])
        .arg(patches.join("m.toml"))
        .arg("--out")
        .arg(root.join("out"))
        .arg("--cache")
        .arg(root.join("cache"))
        .output()
        .unwrap();
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("out/results.json")).unwrap_or_default(),
    )
    .unwrap_or_else(|e| {
        panic!(
            "no results.json ({e}): {}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    let hash = |entry: &str| {
        let c = v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["entry"] == entry)
            .unwrap_or_else(|| panic!("no cell for {entry}: {v}"));
        let apply = c["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == "apply")
            .unwrap();
        assert_eq!(apply["status"], "pass", "{entry}: {apply}");
        c["patchset"]["hash"]
            .as_str()
            .unwrap_or_else(|| panic!("{entry} has no patchset hash: {c}"))
            .to_string()
    };
    let (a, b) = (hash("a"), hash("b"));
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_ne!(a, b, "two different patchsets share a hash");
    assert!(
        a != empty && b != empty,
        "a patchset hashed as the empty string: {a} {b}"
    );
}

/// The patch of one commit, as `git format-patch` writes it.
fn format_patch(work: &Path, commit: &str) -> String {
    git(work, &["format-patch", "-1", "--stdout", commit]) + "\n"
}

/// A series whose every patch is already in its base is `in-base`, whichever way that shows:
/// its patch-ids are commits of the base's history (the diff no longer reverse-applies: a later
/// commit changed the same line), its diff reverse-applies, `git am` finds every patch applied,
/// or a branch's head is an ancestor of the base. Nothing after apply runs, and the registry
/// table flags the row whose registry status is not `merged`. A real conflict stays a
/// conflict, and a series only partly in the base applies the rest.
#[test]
fn a_series_already_in_its_base_is_in_base_and_nothing_is_built() {
    let t = TempDir::new("in-base");
    let root = &t.0;
    let mut shas = std::collections::BTreeMap::new();
    let bare = small_upstream(root, "korg/linux.git", |work| {
        let c0 = commit(work, "rust/f.rs", "a\nb\nc\n", "rust: add f");
        git(work, &["branch", "old", &c0]);
        shas.insert("x", commit(work, "rust/f.rs", "a\nB\nc\n", "rust: x"));
        commit(work, "rust/f.rs", "a\nBB\nc\n", "rust: y");
        commit(
            work,
            "rust/g.rs",
            "1\n2\n3\n4\n5\n6\n7\n8\n9\n",
            "rust: add g",
        );
        shas.insert(
            "v",
            commit(
                work,
                "rust/g.rs",
                "1\ntwo\n3\n4\n5\n6\n7\n8\n9\n",
                "rust: v",
            ),
        );
        commit(
            work,
            "rust/g.rs",
            "1\ntwo\n3\n4\n5\n6\n7\n8\nnine\n",
            "rust: v2",
        );
        shas.insert("w", commit(work, "README", "base 2\n", "readme: w"));
        // Branches of a fork: X picked onto the old point (another commit, the same patch),
        // and a real conflict there.
        git(work, &["checkout", "-q", "-b", "picked", "old"]);
        git(work, &["cherry-pick", "-x", shas["x"].as_str()]);
        git(work, &["checkout", "-q", "-b", "clash", "old"]);
        commit(work, "rust/f.rs", "a\nQ\nc\n", "rust: q");
        git(work, &["checkout", "-q", "-b", "merged", &shas["x"]]);
        git(work, &["checkout", "-q", "master"]);
        // Mails: X as it was; V without its `index` lines (no 3-way fallback); W, which `git
        // am -3` finds applied; W then a new file; and a change of the line X changed.
        let x = format_patch(work, &shas["x"]);
        let v: String = format_patch(work, &shas["v"])
            .lines()
            .filter(|l| !l.starts_with("index "))
            .map(|l| format!("{l}\n"))
            .collect();
        let w = format_patch(work, &shas["w"]);
        git(work, &["checkout", "-q", "-b", "more", "master"]);
        let p = commit(work, "rust/p.rs", "// p\n", "rust: p");
        git(work, &["checkout", "-q", "clash"]);
        let q = format_patch(work, "HEAD");
        git(work, &["checkout", "-q", "master"]);
        let dir = root.join("m");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("x.mbox"), x).unwrap();
        std::fs::write(dir.join("v.patch"), v).unwrap();
        std::fs::write(dir.join("w.mbox"), &w).unwrap();
        std::fs::write(dir.join("half.mbox"), w + &format_patch(work, &p)).unwrap();
        std::fs::write(dir.join("q.mbox"), q).unwrap();
    });
    let fork = root.join("github/someone/linux.git");
    std::fs::create_dir_all(fork.parent().unwrap()).unwrap();
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            root.join("work").to_str().unwrap(),
            fork.to_str().unwrap(),
        ],
    );
    let entry = |id: &str, source: &str| {
        format!("[[entry]]\nid = \"{id}\"\narea = \"{id}\"\nstatus = \"testing\"\nsource = {{ {source} }}\nbase = \"b\"\n")
    };
    let branch = |b: &str| format!("branch = \"https://github.com/someone/linux/tree/{b}\"");
    let matrix = format!(
        "arches = [\"x86_64\"]\nchecks = []\n[mirrors]\n\"https://github.com/\" = \"file://{}/github/\"\n[bases.b]\nkind = \"branch\"\nurl = \"file://{}\"\nref = \"master\"\n{}",
        root.display(),
        bare.display(),
        [
            entry("by-patch-id", "mbox = \"x.mbox\""),
            entry("reverse", "mbox = \"v.patch\""),
            entry("found-applied", "mbox = \"w.mbox\""),
            entry("picked", &branch("picked")),
            entry("ancestor", &branch("merged")),
            entry("clash", &branch("clash")),
            entry("clash-mail", "mbox = \"q.mbox\""),
            entry("half", "mbox = \"half.mbox\""),
        ]
        .concat()
    );
    let mpath = root.join("m/m.toml");
    std::fs::write(&mpath, matrix).unwrap();
    let out = root.join("out");
    let o = apply_only(&mpath, &out, &root.join("cache"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    // The two conflicts fail the run (`--fail-on fail`); a series in its base fails nothing.
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let cell = |e: &str| {
        v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["entry"] == e)
            .unwrap_or_else(|| panic!("no {e}: {stderr}"))
            .clone()
    };
    let stage = |e: &str, s: &str| {
        cell(e)["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["stage"] == s)
            .unwrap()
            .clone()
    };
    let x12 = &shas["x"][..12];
    for (e, how) in [
        (
            "by-patch-id",
            format!("already in the base (commits {x12})"),
        ),
        (
            "reverse",
            "already in the base: its patch reverse-applies to it".to_string(),
        ),
        (
            "found-applied",
            "already in the base: every patch was found applied".to_string(),
        ),
        ("picked", format!("already in the base (commits {x12})")),
        (
            "ancestor",
            format!("already in the base: {x12} is an ancestor of it"),
        ),
    ] {
        let apply = stage(e, "apply");
        assert_eq!(
            (&apply["status"], &apply["summary"], &apply["in_base"]),
            (&Value::from("pass"), &Value::from(how), &Value::from(true)),
            "{e}: {apply}\n{stderr}"
        );
        for s in ["toolchain", "config", "build", "boot", "kunit"] {
            assert_eq!(
                stage(e, s)["summary"],
                "the series is already in the base",
                "{e} {s}"
            );
        }
        assert_eq!(cell(e)["health"]["verdict"], "in-base", "{e}");
    }
    for e in ["clash", "clash-mail"] {
        let apply = stage(e, "apply");
        assert_eq!(apply["status"], "fail", "{e}: {apply}");
        assert!(
            apply["summary"].as_str().unwrap().starts_with("conflict"),
            "{e}: {apply}"
        );
        assert!(apply.get("in_base").is_none(), "{e}: {apply}");
    }
    let half = stage("half", "apply");
    assert_eq!(half["summary"], "applied 1 commits", "{half}");
    assert_eq!(cell("half")["health"]["verdict"], "pass");
    assert!(!root
        .join("out/cells/by-patch-id.x86_64/in-base.tmp")
        .exists());
    // The registry table: every in-base row is flagged, its registry says `testing`.
    let md = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["report", "--format", "markdown", "--results"])
        .arg(out.join("results.json"))
        .output()
        .unwrap();
    let md = String::from_utf8_lossy(&md.stdout);
    let flagged: Vec<&str> = md
        .lines()
        .filter(|l| l.contains("(stale: already in the base)"))
        .map(|l| l.split(" | ").next().unwrap().trim_start_matches("| "))
        .collect();
    assert_eq!(
        flagged,
        [
            "by-patch-id",
            "reverse",
            "found-applied",
            "picked",
            "ancestor"
        ],
        "{md}"
    );
}

/// `try` runs a series in hand as `matrix` runs an entry, without a word of it in the matrix:
/// the matrix's base cell and not its entries, the same stages and results.json, a repro line
/// that runs the same `try` again. An mbox may be anywhere; a git source is a branch or a
/// commit of any allowed URL; a ref already in the base is `in-base`.
#[test]
fn try_runs_a_series_in_hand_with_the_matrix_base_and_not_its_entries() {
    let t = TempDir::new("try");
    let root = &t.0;
    let mut feature = String::new();
    let bare = small_upstream(root, "up/linux.git", |work| {
        git(work, &["checkout", "-q", "-b", "feature"]);
        feature = commit(
            work,
            "rust/kernel/feature.rs",
            "// feature\n",
            "rust: feature",
        );
        std::fs::write(root.join("series.mbox"), format_patch(work, "HEAD")).unwrap();
        git(work, &["checkout", "-q", "master"]);
    });
    let dir = root.join("m");
    std::fs::create_dir_all(&dir).unwrap();
    let mpath = dir.join("m.toml");
    std::fs::write(
        &mpath,
        format!(
            "arches = [\"x86_64\", \"arm64\"]\nchecks = []\n[bases.b]\nkind = \"branch\"\nurl = \"file://{}\"\nref = \"master\"\n[[entry]]\nid = \"other\"\nsource = {{ lore = \"x@y\" }}\nbase = \"b\"\n",
            bare.display()
        ),
    )
    .unwrap();
    let url = format!("file://{}", bare.display());
    let try_run = |out: &str, series: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("try")
            .args(series)
            .args([
                "--base", "b", "--arch", "x86_64", "--stage", "apply", "--matrix",
            ])
            .arg(&mpath)
            .arg("--out")
            .arg(root.join(out))
            .arg("--cache")
            .arg(root.join("cache"))
            .env("RFL_TODAY", "2026-12-07")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{series:?}: {stderr}");
        let v: Value = serde_json::from_str(
            &std::fs::read_to_string(root.join(out).join("results.json")).unwrap(),
        )
        .unwrap();
        let cells: Vec<String> = v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                format!(
                    "{}.{}",
                    c["entry"].as_str().unwrap(),
                    c["arch"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(cells, ["base.x86_64", "try.x86_64"], "{stderr}");
        let cell = v["cells"][1].clone();
        let apply = cell["stages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["stage"] == "apply")
            .unwrap()
            .clone();
        (v, cell, apply)
    };
    let mbox = root.join("series.mbox");
    let (v, cell, apply) = try_run("o1", &["--mbox", mbox.to_str().unwrap()]);
    assert_eq!(apply["summary"], "applied 1 commits", "{apply}");
    assert_eq!(v["entries"][0]["id"], "try");
    assert_eq!(v["entries"][0]["source_kind"], "mbox");
    assert_eq!(
        cell["repro"],
        format!(
            "cargo xtask try --mbox {} --base b --matrix {} --arch x86_64",
            std::fs::canonicalize(&mbox).unwrap().display(),
            mpath.display()
        )
    );
    for r in ["feature", feature.as_str()] {
        let (v, cell, apply) = try_run("o2", &["--git", &url, "--ref", r]);
        assert_eq!(apply["summary"], "applied 1 commits", "{r}: {apply}");
        assert_eq!(cell["patchset"]["head"], feature.as_str());
        assert_eq!(v["entries"][0]["source"], format!("{url} {r}"));
    }
    let (_, cell, apply) = try_run("o3", &["--git", &url, "--ref", "master"]);
    assert_eq!(apply["in_base"], true, "{apply}");
    assert_eq!(cell["health"]["verdict"], "in-base");
    // An expectations file beside the matrix may name the matrix's own entries: `try` checks
    // it against them, not against the series that takes their place (it used to stop, exit 2).
    std::fs::write(
        dir.join("expectations.toml"),
        "[[expect]]\nid = \"other-known\"\nentry = \"other\"\nstage = \"build\"\noutcome = \"fail\"\nreason = \"known\"\nlink = \"https://lore.kernel.org/x\"\nadded = 2026-12-01\nexpires = 2027-06-01\n",
    )
    .unwrap();
    let (_, _, apply) = try_run("o4", &["--mbox", mbox.to_str().unwrap()]);
    assert_eq!(apply["summary"], "applied 1 commits", "{apply}");
}

/// A harness fault is exit 3 (as is a run whose entry cells could none of them run): here no
/// worktree can be made for the one entry (a file sits where the cache's build slots go). The cell's apply stage is an
/// error whose fault is the harness's, and a kernel failure never gives 3 (the other tests).
#[test]
fn a_harness_fault_is_exit_3_and_named_the_harnesss() {
    let t = TempDir::new("exit3");
    let root = &t.0;
    let bare = small_upstream(root, "github/someone/linux.git", |work| {
        git(work, &["checkout", "-q", "-b", "feature"]);
        commit(work, "rust/kernel/feature.rs", "// feature\n", "feature");
        git(work, &["checkout", "-q", "master"]);
    });
    let matrix = format!(
        "arches = [\"x86_64\"]\nchecks = []\n[mirrors]\n\"https://github.com/\" = \"file://{1}/github/\"\n[bases.b]\nkind = \"branch\"\nurl = \"file://{0}\"\nref = \"master\"\n\
         [[entry]]\nid = \"feature\"\nsource = {{ branch = \"https://github.com/someone/linux/tree/feature\" }}\nbase = \"b\"\n",
        bare.display(),
        root.display()
    );
    let mpath = root.join("m.toml");
    std::fs::write(&mpath, matrix).unwrap();
    let cache = root.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::fs::write(cache.join("slots"), "not a folder\n").unwrap();
    let out = root.join("out");
    let o = apply_only(&mpath, &out, &cache).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    let v = results(&out);
    let apply = stage_of(&v, "feature", "apply");
    assert_eq!(
        (&apply["status"], &apply["fault"]),
        (&Value::from("error"), &Value::from("harness")),
        "{apply}"
    );
    let c = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["entry"] == "feature")
        .unwrap();
    assert_eq!(c["health"]["verdict"], "error", "{c}");
}

/// A fake toolchain in `dir`: every tool answers `--version`, rustc has a sysroot with
/// rust-src. Returns the matrix's `[toolchains.fake]` table.
fn fake_toolchain(dir: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    let lib = dir.join("sysroot/lib/rustlib/src/rust/library/core/src");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(lib.join("lib.rs"), "").unwrap();
    for (tool, version) in [
        ("rustc", "rustc 1.96.0"),
        ("rustdoc", "rustdoc 1.96.0"),
        ("clippy-driver", "clippy 0.1.96"),
        ("rustfmt", "rustfmt 1.8.0"),
        ("bindgen", "bindgen 0.72.1"),
        ("clang", "Debian clang version 19.1.7"),
        ("ld.lld", "Debian LLD 19.1.7"),
    ] {
        let p = bin.join(tool);
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\n[ \"$1\" = --print ] && {{ echo {}; exit 0; }}\necho '{version}'\n",
                dir.join("sysroot").display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let b = bin.display();
    format!(
        "[toolchains.fake]\nrustc = \"{b}/rustc\"\nrustdoc = \"{b}/rustdoc\"\nclippy_driver = \"{b}/clippy-driver\"\nrustfmt = \"{b}/rustfmt\"\nbindgen = \"{b}/bindgen\"\nllvm = \"{b}/\"\n"
    )
}

/// Is process `pid` still running (not gone, not a zombie)?
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

/// A tree's Makefile, run by the toolchain stage (`make rustavailable`), starts processes
/// that leave its process group every way a shell can: `setsid`, a double fork, `nohup … &`,
/// and one that ignores SIGTERM. None outlives the harness, and the stage does not wait for
/// them (they sleep ten minutes).
#[test]
fn nothing_a_trees_makefile_starts_outlives_its_cell() {
    let t = TempDir::new("escapes");
    let root = &t.0;
    let pids = root.join("pids");
    std::fs::create_dir_all(&pids).unwrap();
    let p = pids.display();
    let makefile = format!(
        "rustavailable:\n\
         \tsetsid sh -c 'echo $$$$ > {p}/setsid; exec sleep 599' </dev/null >/dev/null 2>&1 &\n\
         \tsh -c \"sh -c 'echo \\$$\\$$ > {p}/double; exec sleep 599' </dev/null >/dev/null 2>&1 &\"\n\
         \tnohup sh -c 'echo $$$$ > {p}/nohup; exec sleep 599' </dev/null >/dev/null 2>&1 &\n\
         \tsetsid sh -c 'trap \"\" TERM INT HUP; echo $$$$ > {p}/noterm; exec sleep 599' </dev/null >/dev/null 2>&1 &\n\
         \tsleep 0.5\n\
         \t@echo Rust is available!\n"
    );
    let bare = small_upstream(root, "github/someone/linux.git", |work| {
        commit(
            work,
            "Makefile",
            &makefile,
            "a Makefile that leaves processes",
        );
        git(work, &["checkout", "-q", "-b", "feature"]);
        commit(work, "rust/kernel/feature.rs", "// feature\n", "feature");
        git(work, &["checkout", "-q", "master"]);
    });
    let matrix = format!(
        "arches = [\"x86_64\"]\nchecks = []\ntoolchain = \"fake\"\n[mirrors]\n\"https://github.com/\" = \"file://{2}/github/\"\n{0}[bases.b]\nkind = \"branch\"\nurl = \"file://{1}\"\nref = \"master\"\n\
         [[entry]]\nid = \"feature\"\nsource = {{ branch = \"https://github.com/someone/linux/tree/feature\" }}\nbase = \"b\"\n",
        fake_toolchain(&root.join("tc")),
        bare.display(),
        root.display(),
    );
    let mpath = root.join("m.toml");
    std::fs::write(&mpath, matrix).unwrap();
    let (out, cache) = (root.join("out"), root.join("cache"));
    let started = Instant::now();
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "matrix",
            "--stage",
            "toolchain",
            "--fail-on",
            "never",
            "--matrix",
        ])
        .arg(&mpath)
        .arg("--out")
        .arg(&out)
        .arg("--cache")
        .arg(&cache)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(120), "{stderr}");
    let v = results(&out);
    let toolchain = stage_of(&v, "feature", "toolchain");
    assert_eq!(toolchain["status"], "pass", "{toolchain}");
    assert!(
        toolchain["duration_s"].as_f64().unwrap() < 60.0,
        "{toolchain}"
    );
    for how in ["setsid", "double", "nohup", "noterm"] {
        // The base cell and the entry's each ran the Makefile: the last pid written is read.
        let pid: i32 = std::fs::read_to_string(pids.join(how))
            .unwrap_or_else(|e| panic!("{how}: the Makefile's process never ran: {e}"))
            .trim()
            .parse()
            .unwrap();
        assert!(!alive(pid), "{how}: process {pid} outlived the run");
    }
}

/// A fake kernel tree (as tuxmake's `test/fakelinux`): the make targets the harness runs up to
/// the build, where `all` "compiles" each `src/*.c` into `obj/*.o` in the output folder and
/// prints kbuild's `CC` line for each, so a build log says what was rebuilt.
fn fakelinux(work: &Path) {
    let makefile = "\
rustavailable:\n\t@echo Rust is available!\n\
tinyconfig:\n\t@mkdir -p $(O) && echo '# tiny' > $(O)/.config\n\
olddefconfig:\n\t@true\n\
headers_install:\n\t@true\n\
OBJS := $(patsubst src/%.c,$(O)/obj/%.o,$(wildcard src/*.c))\n\
all: $(OBJS)\n\t@mkdir -p $(O)/arch/x86/boot && cat $(OBJS) > $(O)/arch/x86/boot/bzImage\n\
$(O)/obj/%.o: src/%.c\n\t@mkdir -p $(O)/obj && cp $< $@ && echo '  CC      obj/$*.o'\n";
    common::write(work, "Makefile", makefile);
    // merge_config.sh -m -O DIR CONFIG FRAGMENTS…: the fragments appended.
    common::write(
        work,
        "scripts/kconfig/merge_config.sh",
        "shift; shift; shift; cfg=$1; shift; cat \"$@\" >> \"$cfg\"\n",
    );
    for f in ["a", "b", "c"] {
        common::write(work, &format!("src/{f}.c"), &format!("int {f};\n"));
    }
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", "fakelinux"]);
}

/// The objects a cell's build compiled, from its build log.
fn compiled(out: &Path, cell: &str) -> Vec<String> {
    std::fs::read_to_string(out.join("cells").join(cell).join("build.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("CC").map(|o| o.trim().to_string()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The build cache on a fake tree: a base cell saves its build; a cold slot restores its own
/// commit's build and compiles nothing, and after the base moved by a commit compiles only
/// the file that commit changed; a run with entry cells may not save, nor may a base cell
/// whose folder saw an entry's build.
#[test]
fn a_saved_base_build_restores_into_a_cold_slot_and_rebuilds_only_what_changed() {
    let t = TempDir::new("build-cache");
    let root = &t.0;
    let bare = small_upstream(root, "github/someone/linux.git", |work| {
        fakelinux(work);
        git(work, &["checkout", "-q", "-b", "feature"]);
        commit(work, "src/a.c", "int a = 1;\n", "feature");
        git(work, &["checkout", "-q", "master"]);
    });
    let matrix = format!(
        "arches = [\"x86_64\"]\nchecks = []\ntoolchain = \"fake\"\n[mirrors]\n\"https://github.com/\" = \"file://{2}/github/\"\n{0}[bases.b]\nkind = \"branch\"\nurl = \"file://{1}\"\nref = \"master\"\n\
         [[entry]]\nid = \"feature\"\nsource = {{ branch = \"https://github.com/someone/linux/tree/feature\" }}\nbase = \"b\"\n",
        fake_toolchain(&root.join("tc")),
        bare.display(),
        root.display(),
    );
    let mpath = root.join("m.toml");
    std::fs::write(&mpath, matrix).unwrap();
    let (cache, bc) = (root.join("cache"), root.join("build-cache"));
    let run = |name: &str, extra: &[&str]| {
        let out = root.join(name);
        let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args([
                "matrix",
                "--stage",
                "build",
                "--fail-on",
                "never",
                "--matrix",
            ])
            .arg(&mpath)
            .arg("--out")
            .arg(&out)
            .arg("--cache")
            .arg(&cache)
            .arg("--build-cache")
            .arg(&bc)
            .args(extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        (o.status.code(), out, stderr)
    };
    let base = ["--entry", "base", "--save-build-cache"];
    let cell = "base-b.x86_64";

    let (code, out, stderr) = run("cold", &base);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        compiled(&out, cell),
        ["obj/a.o", "obj/b.o", "obj/c.o"],
        "{stderr}"
    );
    assert!(stderr.contains("build cache: saved its build"), "{stderr}");
    let archives = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&bc)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        archives().len(),
        2,
        "an archive and its manifest: {:?}",
        archives()
    );

    // A machine without the build (the same cache path, as on every CI runner): its own
    // commit's build, nothing compiled.
    std::fs::remove_dir_all(cache.join("slots")).unwrap();
    let (code, out, stderr) = run("exact", &base);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("restored its own commit's build"),
        "{stderr}"
    );
    assert_eq!(compiled(&out, cell), Vec::<String>::new(), "{stderr}");

    // The base moves by a commit that changes b.c: only b.o is compiled again, and the new
    // commit's archive replaces the old one.
    let work = root.join("work");
    commit(&work, "src/b.c", "int b = 2;\n", "move the base");
    git(&work, &["push", "-q", bare.to_str().unwrap(), "master"]);
    std::fs::remove_dir_all(cache.join("slots")).unwrap();
    let (code, out, stderr) = run("moved", &base);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("1 files differ"), "{stderr}");
    assert_eq!(compiled(&out, cell), ["obj/b.o"], "{stderr}");
    assert_eq!(archives().len(), 2, "{:?}", archives());

    // A run with entry cells may not save.
    let (code, _, stderr) = run("with-entries", &["--save-build-cache"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("--save-build-cache: the run holds entry cells"),
        "{stderr}"
    );
    // An entry built in the base's folder by the next run compiles only what it changes: the
    // restored tree's times stand (git's index was refreshed after they were set, so the
    // run's checkout of the base rewrites nothing).
    let (code, out, stderr) = run("entry", &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(compiled(&out, cell), Vec::<String>::new(), "{stderr}");
    assert_eq!(compiled(&out, "feature.x86_64"), ["obj/a.o"], "{stderr}");
    // An entry built in the base's folder: its base cell is never saved from there again.
    let before = std::fs::read(bc.join(archives()[0].clone())).unwrap();
    let (code, _, stderr) = run(
        "tainted",
        &["--entry", "base", "--save-build-cache", "--force"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("not saved: an entry's patch was built in this slot"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(bc.join(archives()[0].clone())).unwrap(),
        before
    );
}

/// A remote base is fetched shallow: the store holds its commit alone, and an entry branch on
/// top of it gives the patchset a base fetched with its whole history gives. What reads the
/// base's history fetches it then: a mail series several commits back in the base is
/// `in-base`, a branch from a thousand commits back applies as it does on a full base, and a
/// commit that shares no history with the base still fails, saying so. The remote is
/// generated (`git fast-import`) with a few thousand commits and reached through `file://`,
/// so that git honours the depth.
#[test]
fn a_shallow_remote_base_gives_the_answers_of_a_full_one() {
    let t = TempDir::new("shallow");
    let root = &t.0;
    let remote = root.join("korg/linux.git");
    let shape = xtask::commands::fetch_bench::Shape {
        commits: 3000,
        files: 200,
        lines: 40,
        files_per_commit: 2,
        lines_per_edit: 4,
    };
    xtask::commands::fetch_bench::generate(&remote, &shape).unwrap();
    let url = format!("file://{}", remote.display());
    let work = root.join("work");
    git(root, &["clone", "-q", &url, work.to_str().unwrap()]);
    // X changes a line that Y changes again: X no longer applies, nor reverse-applies; five
    // commits follow it.
    let x = commit(&work, "rust/x.rs", "a\nB\nc\n", "rust: x");
    commit(&work, "rust/x.rs", "a\nBB\nc\n", "rust: y");
    for i in 0..5 {
        commit(
            &work,
            &format!("rust/later{i}.rs"),
            "later\n",
            "rust: later",
        );
    }
    let mbox = root.join("x.mbox");
    std::fs::write(&mbox, format_patch(&work, &x)).unwrap();
    git(&work, &["checkout", "-q", "-b", "feature"]);
    commit(&work, "rust/feature.rs", "// one\n", "rust: feature one");
    commit(&work, "rust/feature.rs", "// two\n", "rust: feature two");
    git(&work, &["checkout", "-q", "-b", "old", "master~1000"]);
    commit(&work, "rust/old.rs", "// old\n", "rust: old");
    git(&work, &["checkout", "-q", "--orphan", "orphan"]);
    git(&work, &["rm", "-q", "-r", "-f", "."]);
    commit(&work, "rust/orphan.rs", "// alone\n", "rust: alone");
    git(&work, &["push", "-q", &url, "master"]);
    // The entries' branches in a fork, reached through the mirror of GitHub.
    let fork = root.join("github/someone/linux.git");
    git(
        root,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            fork.to_str().unwrap(),
        ],
    );
    let base_commit = git(&work, &["rev-parse", "master"]);

    let entry = |id: &str, source: &str| {
        format!("[[entry]]\nid = \"{id}\"\narea = \"{id}\"\nstatus = \"testing\"\nsource = {{ {source} }}\nbase = \"b\"\n")
    };
    let branch = |b: &str| format!("branch = \"https://github.com/someone/linux/tree/{b}\"");
    let matrix = format!(
        "arches = [\"x86_64\"]\nchecks = []\n[mirrors]\n\"https://github.com/\" = \"file://{}/github/\"\n[bases.b]\nkind = \"branch\"\nurl = \"{url}\"\nref = \"master\"\n{}",
        root.display(),
        [
            entry("feature", &branch("feature")),
            entry("in-base", "mbox = \"x.mbox\""),
            entry("old", &branch("old")),
            entry("orphan", &branch("orphan")),
        ]
        .concat()
    );
    let mpath = root.join("m.toml");
    std::fs::write(&mpath, matrix).unwrap();
    let run = |cache: &Path, out: &str, entry: &str| {
        let out = root.join(out);
        let o = apply_only(&mpath, &out, cache)
            .args(["--entry", entry])
            .output()
            .unwrap();
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        results(&out)
    };
    let store_git = |cache: &Path, args: &[&str]| {
        let o = Command::new("git")
            .arg("--git-dir")
            .arg(cache.join("store.git"))
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };

    // Shallow: the entry on top of the base is fetched down to the base, and the store holds
    // the base's commit alone.
    let shallow = root.join("cache-shallow");
    let a = run(&shallow, "out-feature", "feature");
    let shallow_file = std::fs::read_to_string(shallow.join("store.git/shallow")).unwrap();
    assert_eq!(shallow_file.trim(), base_commit);
    let base_ref = format!("refs/rfl/remote/{}/b", xtask::sources::git::url_key(&url));
    assert_eq!(
        store_git(&shallow, &["rev-list", "--count", &base_ref]),
        "1"
    );
    assert_eq!(
        stage_of(&a, "feature", "apply")["summary"],
        "applied 2 commits"
    );

    // Full: the same store with the base's whole history fetched first, which the harness
    // then keeps.
    let full = root.join("cache-full");
    let fs = full.join("store.git");
    git(root, &["init", "-q", "--bare", fs.to_str().unwrap()]);
    git(
        &fs,
        &[
            "fetch",
            "-q",
            &url,
            &format!("+refs/heads/master:{base_ref}"),
        ],
    );
    let b = run(&full, "out-feature-full", "feature");
    assert!(!full.join("store.git/shallow").exists());
    let patchset = |v: &Value, e: &str| {
        v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["entry"] == e)
            .unwrap()["patchset"]
            .clone()
    };
    assert!(
        patchset(&a, "feature")["patch_hashes"]
            .as_array()
            .unwrap()
            .len()
            == 2
    );
    assert_eq!(patchset(&a, "feature"), patchset(&b, "feature"));

    // What reads the history fetches it, and answers as on the full base.
    let a = run(&shallow, "out-all", "*");
    let b = run(&full, "out-all-full", "*");
    assert!(!shallow.join("store.git/shallow").exists());
    let x12 = &x[..12];
    let apply = stage_of(&a, "in-base", "apply");
    assert_eq!(
        (&apply["summary"], &apply["in_base"]),
        (
            &Value::from(format!("already in the base (commits {x12})")),
            &Value::from(true)
        ),
        "{apply}"
    );
    assert_eq!(stage_of(&a, "old", "apply")["summary"], "applied 1 commits");
    let orphan = stage_of(&a, "orphan", "apply");
    assert_eq!(orphan["status"], "fail", "{orphan}");
    assert!(
        orphan["summary"]
            .as_str()
            .unwrap()
            .ends_with("shares no history with the base"),
        "{orphan}"
    );
    for e in ["feature", "in-base", "old", "orphan"] {
        let (sa, sb) = (stage_of(&a, e, "apply"), stage_of(&b, e, "apply"));
        for k in ["status", "summary", "in_base", "fault"] {
            assert_eq!(sa.get(k), sb.get(k), "{e} {k}");
        }
        assert_eq!(patchset(&a, e), patchset(&b, e), "{e}");
    }
}
