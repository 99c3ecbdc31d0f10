//! `bench --fetch-only`: what a remote base's fetch costs, its whole history against the
//! harness's shallow fetch, on a generated local remote (`file://`, so that git honours the
//! depth) whose files change over a few thousand commits.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::Context;

use crate::sources::{git, history};
use crate::sys::paths::Cache;
use crate::sys::proc;
use crate::sys::store::Store;

/// The shape of a generated history.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub commits: usize,
    pub files: usize,
    /// Lines of each file.
    pub lines: usize,
    /// Files each commit changes, and lines in each.
    pub files_per_commit: usize,
    pub lines_per_edit: usize,
}

impl Shape {
    /// The bench's remote, in the kernel's proportions: over its history every line of the tip
    /// was changed about seven times (each commit a few lines in a few files), and every file
    /// by many commits.
    pub const BENCH: Shape = Shape {
        commits: 4000,
        files: 250,
        lines: 80,
        files_per_commit: 3,
        lines_per_edit: 12,
    };

    fn describe(&self) -> String {
        format!(
            "{} commits, {} files of {} lines, {} files × {} lines changed by each commit",
            self.commits, self.files, self.lines, self.files_per_commit, self.lines_per_edit
        )
    }
}

/// A small deterministic generator: the same shape gives the same repository anywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const WORDS: [&str; 24] = [
    "dev", "buf", "len", "ret", "ctx", "irq", "reg", "val", "page", "lock", "node", "list",
    "flags", "state", "count", "index", "offset", "queue", "inode", "entry", "range", "owner",
    "table", "data",
];

/// A line that reads like C: a call with arguments and a comment, so that git compresses and
/// deltifies it as it does a kernel's sources.
fn code_line(r: &mut Rng) -> String {
    let mut w = || WORDS[r.below(WORDS.len())];
    format!(
        "\t{} = {}_{}({}, {}, {}); /* {} the {} */\n",
        w(),
        w(),
        w(),
        w(),
        w(),
        w(),
        w(),
        w()
    )
}

/// A bare repository at `repo` whose branch `master` holds a history of `shape`, written with
/// `git fast-import` (seconds for thousands of commits), then packed as a server keeps it.
pub fn generate(repo: &Path, shape: &Shape) -> anyhow::Result<()> {
    std::fs::create_dir_all(repo)?;
    proc::output(
        Command::new("git")
            .args(["init", "--quiet", "--bare", "-b", "master"])
            .arg(repo),
    )?;
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut files: Vec<Vec<String>> = (0..shape.files)
        .map(|_| (0..shape.lines).map(|_| code_line(&mut r)).collect())
        .collect();
    let path = |i: usize| format!("drivers/d{:02}/f{i:03}.c", i % 16);
    let mut stream = String::new();
    for c in 0..shape.commits {
        let mut changed: Vec<usize> = Vec::new();
        if c == 0 {
            changed.extend(0..shape.files);
        } else {
            for _ in 0..shape.files_per_commit {
                let f = r.below(shape.files);
                let at = r.below(shape.lines);
                for l in 0..shape.lines_per_edit {
                    let n = (at + l) % shape.lines;
                    files[f][n] = code_line(&mut r);
                }
                changed.push(f);
            }
            changed.sort_unstable();
            changed.dedup();
        }
        let message = format!("d{:02}: change {c}\n", changed[0] % 16);
        let _ = write!(
            stream,
            "commit refs/heads/master\nmark :{}\nauthor A U Thor <a@example.org> {} +0000\ncommitter C O Mitter <c@example.org> {} +0000\ndata {}\n{message}",
            c + 1,
            1_600_000_000 + c * 600,
            1_600_000_000 + c * 600,
            message.len()
        );
        if c > 0 {
            let _ = writeln!(stream, "from :{c}");
        }
        for f in changed {
            let text: String = files[f].concat();
            let _ = write!(
                stream,
                "M 100644 inline {}\ndata {}\n{text}\n",
                path(f),
                text.len()
            );
        }
    }
    let input = repo.join("fast-import.stream");
    std::fs::write(&input, stream)?;
    let imported = proc::output(
        Command::new("sh")
            .arg("-c")
            .arg("git --git-dir=\"$1\" fast-import --quiet < \"$2\"")
            .arg("sh")
            .arg(repo)
            .arg(&input),
    );
    let _ = std::fs::remove_file(&input);
    imported.context("git fast-import")?;
    proc::output(
        Command::new("git")
            .arg("--git-dir")
            .arg(repo)
            .args(["repack", "-a", "-d", "-f", "-q"]),
    )?;
    Ok(())
}

/// Bytes under a folder (a store's `objects/`: what fetches wrote).
fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |rd| {
        rd.filter_map(Result::ok)
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => folder_bytes(&e.path()),
                Ok(_) => e.metadata().map_or(0, |m| m.len()),
                Err(_) => 0,
            })
            .sum()
    })
}

/// What one way of fetching cost: bytes written into an empty store and seconds.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    pub bytes: u64,
    pub seconds: f64,
}

/// The measured figures: the whole history, the shallow fetch, and the shallow fetch followed
/// by the history on demand (what a cell that reads it adds).
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub full: Cost,
    pub shallow: Cost,
    pub deepened: Cost,
}

/// The median of each cost over `runs` fetches into fresh stores under `work`.
pub fn measure(work: &Path, remote: &Path, runs: usize) -> anyhow::Result<Figures> {
    let url = format!("file://{}", remote.display());
    let src = "refs/heads/master";
    let dest = "refs/rfl/remote/bench/base";
    let mut full = Vec::new();
    let mut shallow = Vec::new();
    let mut deepened = Vec::new();
    let err = |e: crate::sources::remote::FetchError| anyhow::anyhow!(e.message());
    for i in 0..runs {
        let fresh = |what: &str| -> anyhow::Result<Store> {
            let dir = work.join(format!("{what}-{i}"));
            let _ = std::fs::remove_dir_all(&dir);
            Store::open(&Cache::new(Some(&dir)))
        };
        let store = fresh("full")?;
        let before = folder_bytes(&store.git_dir.join("objects"));
        let t = Instant::now();
        git::fetch_ref(&store, &url, src, dest).map_err(err)?;
        full.push(Cost {
            bytes: folder_bytes(&store.git_dir.join("objects")) - before,
            seconds: t.elapsed().as_secs_f64(),
        });
        let store = fresh("shallow")?;
        let before = folder_bytes(&store.git_dir.join("objects"));
        let t = Instant::now();
        let commit = history::fetch_base(&store, &url, src, dest).map_err(err)?;
        shallow.push(Cost {
            bytes: folder_bytes(&store.git_dir.join("objects")) - before,
            seconds: t.elapsed().as_secs_f64(),
        });
        history::complete(&store, &commit).map_err(err)?;
        deepened.push(Cost {
            bytes: folder_bytes(&store.git_dir.join("objects")) - before,
            seconds: t.elapsed().as_secs_f64(),
        });
        for what in ["full", "shallow"] {
            let _ = std::fs::remove_dir_all(work.join(format!("{what}-{i}")));
        }
    }
    let median = |mut v: Vec<Cost>| {
        v.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        let mut bytes: Vec<u64> = v.iter().map(|c| c.bytes).collect();
        bytes.sort_unstable();
        Cost {
            bytes: bytes[bytes.len() / 2],
            seconds: v[v.len() / 2].seconds,
        }
    };
    Ok(Figures {
        full: median(full),
        shallow: median(shallow),
        deepened: median(deepened),
    })
}

/// The fetch figure: the remote generated under `work`, then measured (median of three).
pub fn figure(work: &Path) -> anyhow::Result<(Figures, String)> {
    let remote = work.join("remote.git");
    let _ = std::fs::remove_dir_all(&remote);
    let t = Instant::now();
    generate(&remote, &Shape::BENCH)?;
    eprintln!(
        "bench: generated the remote ({}) in {:.1} s",
        Shape::BENCH.describe(),
        t.elapsed().as_secs_f64()
    );
    let f = measure(work, &remote, 3)?;
    let kib = |b: u64| format!("{} KiB", (b + 512) / 1024);
    let detail = format!(
        "shallow fetch of a remote base {} in {:.2} s / its whole history {} in {:.2} s (bytes the fetch wrote into an empty store, median of 3; a generated `file://` remote: {}); the history fetched on demand afterwards makes the shallow store {} in {:.2} s in all",
        kib(f.shallow.bytes),
        f.shallow.seconds,
        kib(f.full.bytes),
        f.full.seconds,
        Shape::BENCH.describe(),
        kib(f.deepened.bytes),
        f.deepened.seconds
    );
    Ok((f, detail))
}

/// `bench --fetch-only`: the fetch figures, printed as `NAME VALUE` lines and as the table
/// row BENCHMARKS.md takes; nothing is built and BENCHMARKS.md is left alone.
pub fn fetch_only(cache: &Cache) -> anyhow::Result<()> {
    let work = cache.root.join("bench-fetch");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    let (f, detail) = figure(&work)?;
    let _ = std::fs::remove_dir_all(&work);
    let ratio = f.shallow.bytes as f64 / f.full.bytes.max(1) as f64;
    println!("fetch-bytes-ratio {ratio:.3}");
    println!(
        "fetch-seconds-ratio {:.3}",
        f.shallow.seconds / f.full.seconds.max(1e-9)
    );
    println!("fetch-full-bytes {}", f.full.bytes);
    println!("fetch-shallow-bytes {}", f.shallow.bytes);
    println!("fetch-deepened-bytes {}", f.deepened.bytes);
    println!("| remote base fetch | {ratio:.3} | {detail} | ≤ 0.10 |");
    Ok(())
}
