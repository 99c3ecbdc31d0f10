//! The GitHub Actions workflow played here, job by job: `.github/workflows/rfl-health.yml` with
//! its own `ci/` scripts and environment variables, on a small matrix of apply-stage cells over
//! local git trees. No kernel is built.
//!
//! GitHub Actions is emulated (nektos/act is not installed and cannot be downloaded here; see
//! ci/README.md): actions/checkout (a copy of this worktree), actions/cache and its restore and
//! save (folders; the exact key, then the key and each restore key as prefixes, newest first,
//! in the run's ref and then the pull request's base branch or main; a key is never written
//! twice; the `path` input is the cache's version), upload-artifact and download-artifact
//! (folders), `$GITHUB_OUTPUT`, `$GITHUB_ENV`, `$GITHUB_PATH` and `$GITHUB_STEP_SUMMARY`
//! (files), workflow commands (annotations, stop-commands), cancellation, and every `if:` and
//! `${{ }}` the workflow writes. An expression, context, function, action or key the emulator
//! does not know fails the test, so it cannot silently diverge from the workflow. The steps that
//! provision the machine (the package install, `cargo xtask setup`) are skipped: the test
//! machine is provisioned by `cargo xtask setup --tests`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

mod common;
use common::{commit, git, git_cmd, write, TempDir};

const WORKFLOW: &str = ".github/workflows/rfl-health.yml";

/// The `run:` scripts that are not calls of a ci/ script: they provision the machine, and the
/// emulator skips them.
const PROVISIONING: [&str; 2] = [
    "apt-get update -q\napt-get install -y -q --no-install-recommends ca-certificates curl git gcc libc6-dev zstd",
    "cargo xtask setup",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn workflow() -> Value {
    let text = std::fs::read_to_string(root().join(WORKFLOW)).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

/// Is this `run:` script one call of a ci/ script (`ci/NAME.sh` and plain words)?
fn is_ci_call(script: &str) -> bool {
    let mut words = script.trim().split(' ');
    let first = words.next().unwrap_or("");
    let name = first
        .strip_prefix("ci/")
        .and_then(|n| n.strip_suffix(".sh"))
        .unwrap_or("");
    !script.trim().contains('\n')
        && !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
        && root().join(first).is_file()
        && words.all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
}

// ---------------------------------------------------------------------------------------------
// Expressions: `${{ }}` templates and `if:` conditions, as GitHub evaluates them.

mod expr {
    use serde_json::Value;

    #[derive(Debug, Clone, PartialEq)]
    enum Tok {
        Str(String),
        Num(f64),
        Word(String),
        Dot,
        Open,
        Close,
        Comma,
        Not,
        And,
        Or,
        Eq,
        Ne,
    }

    fn lex(src: &str) -> Vec<Tok> {
        let c: Vec<char> = src.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        let two = |i: usize, want: char| c.get(i + 1) == Some(&want);
        while i < c.len() {
            match c[i] {
                ' ' | '\t' | '\n' => i += 1,
                '\'' => {
                    let mut s = String::new();
                    i += 1;
                    loop {
                        assert!(i < c.len(), "an unterminated string in `{src}`");
                        if c[i] == '\'' {
                            if two(i, '\'') {
                                s.push('\'');
                                i += 2;
                                continue;
                            }
                            i += 1;
                            break;
                        }
                        s.push(c[i]);
                        i += 1;
                    }
                    out.push(Tok::Str(s));
                }
                '.' => {
                    out.push(Tok::Dot);
                    i += 1
                }
                '(' => {
                    out.push(Tok::Open);
                    i += 1
                }
                ')' => {
                    out.push(Tok::Close);
                    i += 1
                }
                ',' => {
                    out.push(Tok::Comma);
                    i += 1
                }
                '!' if two(i, '=') => {
                    out.push(Tok::Ne);
                    i += 2
                }
                '!' => {
                    out.push(Tok::Not);
                    i += 1
                }
                '=' if two(i, '=') => {
                    out.push(Tok::Eq);
                    i += 2
                }
                '&' if two(i, '&') => {
                    out.push(Tok::And);
                    i += 2
                }
                '|' if two(i, '|') => {
                    out.push(Tok::Or);
                    i += 2
                }
                d if d.is_ascii_digit() => {
                    let start = i;
                    while i < c.len() && (c[i].is_ascii_digit() || c[i] == '.') {
                        i += 1;
                    }
                    let n: String = c[start..i].iter().collect();
                    out.push(Tok::Num(n.parse().unwrap()));
                }
                w if w.is_ascii_alphabetic() || w == '_' => {
                    let start = i;
                    while i < c.len()
                        && (c[i].is_ascii_alphanumeric() || c[i] == '_' || c[i] == '-')
                    {
                        i += 1;
                    }
                    out.push(Tok::Word(c[start..i].iter().collect()));
                }
                other => panic!("the emulator cannot read `{other}` in the expression `{src}`"),
            }
        }
        out
    }

    #[derive(Debug)]
    pub enum Ast {
        Lit(Value),
        Path(Vec<String>),
        Call(String, Vec<Ast>),
        Not(Box<Ast>),
        And(Box<Ast>, Box<Ast>),
        Or(Box<Ast>, Box<Ast>),
        Cmp(Box<Ast>, Box<Ast>, bool),
    }

    struct Parser<'a> {
        t: Vec<Tok>,
        i: usize,
        src: &'a str,
    }

    impl Parser<'_> {
        fn peek(&self) -> Option<&Tok> {
            self.t.get(self.i)
        }
        fn next(&mut self) -> Tok {
            let t = self.t.get(self.i).cloned();
            self.i += 1;
            t.unwrap_or_else(|| panic!("the expression `{}` ends too early", self.src))
        }
        fn or(&mut self) -> Ast {
            let mut a = self.and();
            while self.peek() == Some(&Tok::Or) {
                self.next();
                a = Ast::Or(Box::new(a), Box::new(self.and()));
            }
            a
        }
        fn and(&mut self) -> Ast {
            let mut a = self.cmp();
            while self.peek() == Some(&Tok::And) {
                self.next();
                a = Ast::And(Box::new(a), Box::new(self.cmp()));
            }
            a
        }
        fn cmp(&mut self) -> Ast {
            let mut a = self.unary();
            while let Some(t @ (Tok::Eq | Tok::Ne)) = self.peek().cloned() {
                self.next();
                a = Ast::Cmp(Box::new(a), Box::new(self.unary()), t == Tok::Ne);
            }
            a
        }
        fn unary(&mut self) -> Ast {
            if self.peek() == Some(&Tok::Not) {
                self.next();
                return Ast::Not(Box::new(self.unary()));
            }
            self.primary()
        }
        fn primary(&mut self) -> Ast {
            match self.next() {
                Tok::Str(s) => Ast::Lit(Value::String(s)),
                Tok::Num(n) => Ast::Lit(serde_json::json!(n)),
                Tok::Open => {
                    let a = self.or();
                    assert_eq!(self.next(), Tok::Close, "`{}`: a `)` is missing", self.src);
                    a
                }
                Tok::Word(w) if w == "true" || w == "false" => Ast::Lit(Value::Bool(w == "true")),
                Tok::Word(w) if w == "null" => Ast::Lit(Value::Null),
                Tok::Word(w) if self.peek() == Some(&Tok::Open) => {
                    self.next();
                    let mut args = Vec::new();
                    if self.peek() != Some(&Tok::Close) {
                        loop {
                            args.push(self.or());
                            if self.peek() == Some(&Tok::Comma) {
                                self.next();
                            } else {
                                break;
                            }
                        }
                    }
                    assert_eq!(self.next(), Tok::Close, "`{}`: a `)` is missing", self.src);
                    Ast::Call(w, args)
                }
                Tok::Word(w) => {
                    let mut path = vec![w];
                    while self.peek() == Some(&Tok::Dot) {
                        self.next();
                        match self.next() {
                            Tok::Word(p) => path.push(p),
                            t => panic!("`{}`: a property name expected, not {t:?}", self.src),
                        }
                    }
                    Ast::Path(path)
                }
                t => panic!("`{}`: unexpected {t:?}", self.src),
            }
        }
    }

    pub fn parse(src: &str) -> Ast {
        let mut p = Parser {
            t: lex(src),
            i: 0,
            src,
        };
        let a = p.or();
        assert_eq!(p.i, p.t.len(), "`{src}`: text after the expression");
        a
    }

    /// What an expression reads from the run: contexts, the status functions, files.
    pub trait Ctx {
        fn lookup(&self, path: &[String]) -> Value;
        /// `success`, `failure` or `cancelled`.
        fn status(&self, function: &str) -> bool;
        fn hash_files(&self, patterns: &[String]) -> String;
    }

    pub fn truthy(v: &Value) -> bool {
        match v {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
            Value::String(s) => !s.is_empty(),
            Value::Array(_) | Value::Object(_) => true,
        }
    }

    /// A value as `${{ }}` writes it into text.
    pub fn text(v: &Value) -> String {
        match v {
            Value::Null => String::new(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
                _ => n.to_string(),
            },
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    fn number(v: &Value) -> f64 {
        match v {
            Value::Null => 0.0,
            Value::Bool(b) => f64::from(u8::from(*b)),
            Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
            Value::String(s) if s.trim().is_empty() => 0.0,
            Value::String(s) => s.trim().parse().unwrap_or(f64::NAN),
            _ => f64::NAN,
        }
    }

    /// `==` as GitHub compares: strings without regard to case, other types as numbers.
    fn equal(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
            (Value::Null, Value::Null) => true,
            (Value::Bool(x), Value::Bool(y)) => x == y,
            (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => {
                false
            }
            _ => number(a) == number(b),
        }
    }

    pub fn eval(a: &Ast, cx: &dyn Ctx) -> Value {
        match a {
            Ast::Lit(v) => v.clone(),
            Ast::Path(p) => cx.lookup(p),
            Ast::Not(x) => Value::Bool(!truthy(&eval(x, cx))),
            Ast::And(x, y) => {
                let l = eval(x, cx);
                if truthy(&l) {
                    eval(y, cx)
                } else {
                    l
                }
            }
            Ast::Or(x, y) => {
                let l = eval(x, cx);
                if truthy(&l) {
                    l
                } else {
                    eval(y, cx)
                }
            }
            Ast::Cmp(x, y, ne) => Value::Bool(equal(&eval(x, cx), &eval(y, cx)) != *ne),
            Ast::Call(f, args) => {
                let arity = |n: usize| assert_eq!(args.len(), n, "{f}() takes {n} arguments");
                match f.to_ascii_lowercase().as_str() {
                    "always" => {
                        arity(0);
                        Value::Bool(true)
                    }
                    s @ ("success" | "failure" | "cancelled") => {
                        arity(0);
                        Value::Bool(cx.status(s))
                    }
                    "hashfiles" => {
                        let pats: Vec<String> = args.iter().map(|a| text(&eval(a, cx))).collect();
                        Value::String(cx.hash_files(&pats))
                    }
                    "fromjson" => {
                        arity(1);
                        let s = text(&eval(&args[0], cx));
                        serde_json::from_str(&s).unwrap_or_else(|e| panic!("fromJSON({s:?}): {e}"))
                    }
                    _ => panic!("the emulator does not know the function {f}()"),
                }
            }
        }
    }

    pub fn has_status_call(a: &Ast) -> bool {
        match a {
            Ast::Call(f, args) => {
                ["always", "success", "failure", "cancelled"]
                    .contains(&f.to_ascii_lowercase().as_str())
                    || args.iter().any(has_status_call)
            }
            Ast::Not(x) => has_status_call(x),
            Ast::And(x, y) | Ast::Or(x, y) | Ast::Cmp(x, y, _) => {
                has_status_call(x) || has_status_call(y)
            }
            Ast::Lit(_) | Ast::Path(_) => false,
        }
    }

    /// A string with `${{ }}` in it: the expression's own value when the whole string is one,
    /// else the text with each expression's value written in.
    pub fn template(s: &str, cx: &dyn Ctx) -> Value {
        let t = s.trim();
        if t.starts_with("${{") && t.ends_with("}}") && t.matches("${{").count() == 1 {
            return eval(&parse(&t[3..t.len() - 2]), cx);
        }
        let mut out = String::new();
        let mut rest = s;
        while let Some(at) = rest.find("${{") {
            out.push_str(&rest[..at]);
            let end = at
                + rest[at..]
                    .find("}}")
                    .unwrap_or_else(|| panic!("an unterminated ${{{{ in {s:?}"));
            out.push_str(&text(&eval(&parse(&rest[at + 3..end]), cx)));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        Value::String(out)
    }

    /// An `if:`, with or without `${{ }}`; one that calls no status function is
    /// `success() && (…)`, as GitHub reads it.
    pub fn condition(v: &Value, cx: &dyn Ctx) -> bool {
        let s = match v {
            Value::String(s) => s.trim(),
            other => panic!("the emulator reads an `if:` written as a string, not {other}"),
        };
        let inner = match s.strip_prefix("${{") {
            Some(rest) => rest
                .strip_suffix("}}")
                .unwrap_or_else(|| panic!("`if: {s}`: text after the expression")),
            None => s,
        };
        let ast = parse(inner);
        if !has_status_call(&ast) && !cx.status("success") {
            return false;
        }
        truthy(&eval(&ast, cx))
    }
}

// ---------------------------------------------------------------------------------------------
// The runner's pieces: caches, artifacts, files.

/// `from` copied into `to` (created), symlinks as symlinks, leaving out what `skip` matches.
fn copy_tree(from: &Path, to: &Path, skip: &[glob::Pattern]) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let (src, dst) = (e.path(), to.join(e.file_name()));
        if skip.iter().any(|p| p.matches_path(&src)) {
            continue;
        }
        let ty = e.file_type().unwrap();
        if ty.is_symlink() {
            let _ = std::fs::remove_file(&dst);
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if ty.is_dir() {
            copy_tree(&src, &dst, skip);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

fn copy_path(from: &Path, to: &Path) {
    if from.is_dir() {
        copy_tree(from, to, &[]);
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

fn fresh_dir(p: &Path) {
    if p.exists() {
        std::fs::remove_dir_all(p).unwrap();
    }
    std::fs::create_dir_all(p).unwrap();
}

/// `KEY=VALUE` and `KEY<<DELIM … DELIM` lines, as the runner reads `$GITHUB_OUTPUT` and
/// `$GITHUB_ENV`.
fn key_values(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        if let Some((k, delim)) = line.split_once("<<") {
            let mut v = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                v.push(l);
            }
            out.push((k.to_string(), v.join("\n")));
        } else {
            let (k, v) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not KEY=VALUE: {line:?}"));
            out.push((k.to_string(), v.to_string()));
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

#[derive(Debug, Clone)]
struct Annotation {
    level: String,
    title: String,
    message: String,
}

/// The annotations among a step's output lines; nothing between `::stop-commands::TOKEN` and
/// `::TOKEN::` is a command.
fn annotations(text: &str, out: &mut Vec<Annotation>) {
    let mut stopped: Option<String> = None;
    for line in text.lines() {
        if let Some(token) = &stopped {
            if line == format!("::{token}::") {
                stopped = None;
            }
            continue;
        }
        if let Some(token) = line.strip_prefix("::stop-commands::") {
            stopped = Some(token.to_string());
            continue;
        }
        for level in ["error", "warning", "notice"] {
            let Some(rest) = line.strip_prefix(&format!("::{level}")) else {
                continue;
            };
            let Some((props, message)) = rest.split_once("::") else {
                continue;
            };
            let title = props
                .trim()
                .split(',')
                .find_map(|p| p.strip_prefix("title="))
                .map(unescape)
                .unwrap_or_default();
            out.push(Annotation {
                level: level.into(),
                title,
                message: unescape(message),
            });
        }
    }
}

struct CacheEntry {
    key: String,
    version: String,
    scope: String,
    dir: PathBuf,
}

/// actions/cache's store: entries of (key, version, scope), oldest first.
struct Caches {
    dir: PathBuf,
    entries: Vec<CacheEntry>,
}

/// The `path` input: the folders and files to keep, and the `!` patterns left out.
fn cache_paths(input: &str, ws: &Path, home: &Path) -> (Vec<PathBuf>, Vec<glob::Pattern>) {
    let expand = |p: &str| -> PathBuf {
        if let Some(rest) = p.strip_prefix("~/") {
            home.join(rest)
        } else if Path::new(p).is_absolute() {
            PathBuf::from(p)
        } else {
            ws.join(p)
        }
    };
    let (mut keep, mut skip) = (Vec::new(), Vec::new());
    for line in input.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(p) = line.strip_prefix('!') {
            skip.push(glob::Pattern::new(expand(p).to_str().unwrap()).unwrap());
        } else {
            assert!(
                !line.contains(['*', '?', '[']),
                "the emulator caches folders and files, not patterns: {line}"
            );
            keep.push(expand(line));
        }
    }
    (keep, skip)
}

/// A cache's version: the `path` input as the action receives it (the toolkit hashes it).
fn cache_version(input: &str) -> String {
    input
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

impl Caches {
    /// The entry a restore finds: in each scope, the exact key, then the key and each restore
    /// key as a prefix, newest first. `true` when the key matched exactly.
    fn find(
        &self,
        version: &str,
        key: &str,
        prefixes: &[String],
        scopes: &[String],
    ) -> Option<(usize, bool)> {
        for scope in scopes {
            let newest = |hit: &dyn Fn(&str) -> bool| {
                self.entries
                    .iter()
                    .enumerate()
                    .rev()
                    .find(|(_, e)| &e.scope == scope && e.version == version && hit(&e.key))
                    .map(|(i, _)| i)
            };
            if let Some(i) = newest(&|k| k == key) {
                return Some((i, true));
            }
            for p in std::iter::once(key).chain(prefixes.iter().map(String::as_str)) {
                if let Some(i) = newest(&|k| k.starts_with(p)) {
                    return Some((i, false));
                }
            }
        }
        None
    }

    fn restore(
        &self,
        input: &str,
        key: &str,
        prefixes: &[String],
        scopes: &[String],
        ws: &Path,
        home: &Path,
    ) -> Option<(String, bool)> {
        let (i, exact) = self.find(&cache_version(input), key, prefixes, scopes)?;
        let e = &self.entries[i];
        let (keep, _) = cache_paths(input, ws, home);
        for (n, p) in keep.iter().enumerate() {
            let stored = e.dir.join(n.to_string());
            if stored.exists() {
                copy_path(&stored, p);
            }
        }
        Some((e.key.clone(), exact))
    }

    /// Save: `Ok(true)` saved, `Ok(false)` the key exists (keys are immutable), `Err` nothing
    /// to save (the action warns).
    fn save(
        &mut self,
        input: &str,
        key: &str,
        scope: &str,
        ws: &Path,
        home: &Path,
    ) -> Result<bool, String> {
        assert!(
            !key.is_empty() && key.len() <= 512 && !key.contains(','),
            "a cache key GitHub refuses: {key:?}"
        );
        let version = cache_version(input);
        if self
            .entries
            .iter()
            .any(|e| e.key == key && e.version == version && e.scope == scope)
        {
            return Ok(false);
        }
        let (keep, skip) = cache_paths(input, ws, home);
        if !keep.iter().any(|p| p.exists()) {
            return Err(format!(
                "Path Validation Error: no path of {input:?} exists"
            ));
        }
        let dir = self.dir.join(self.entries.len().to_string());
        for (n, p) in keep.iter().enumerate() {
            if p.is_dir() {
                copy_tree(p, &dir.join(n.to_string()), &skip);
            } else if p.exists() {
                copy_path(p, &dir.join(n.to_string()));
            }
        }
        std::fs::create_dir_all(&dir).unwrap();
        self.entries.push(CacheEntry {
            key: key.into(),
            version,
            scope: scope.into(),
            dir,
        });
        Ok(true)
    }

    /// The folder holding what a key saved under its first path.
    fn content(&self, key: &str) -> PathBuf {
        let e = self
            .entries
            .iter()
            .find(|e| e.key == key)
            .unwrap_or_else(|| panic!("no cache {key}"));
        e.dir.join("0")
    }
}

// ---------------------------------------------------------------------------------------------
// Runs and jobs.

#[derive(Clone)]
struct Event {
    name: &'static str,
    git_ref: String,
    base_ref: String,
}

impl Event {
    fn nightly() -> Event {
        Event {
            name: "schedule",
            git_ref: "refs/heads/main".into(),
            base_ref: String::new(),
        }
    }
    fn pull_request(n: u32) -> Event {
        Event {
            name: "pull_request",
            git_ref: format!("refs/pull/{n}/merge"),
            base_ref: "main".into(),
        }
    }
    fn ref_name(&self) -> String {
        let r = &self.git_ref;
        r.strip_prefix("refs/heads/")
            .or_else(|| r.strip_prefix("refs/pull/"))
            .unwrap_or(r)
            .to_string()
    }
    /// The refs whose caches a run may restore, in the order searched.
    fn cache_scopes(&self) -> Vec<String> {
        let mut s = vec![self.git_ref.clone()];
        if !self.base_ref.is_empty() {
            s.push(format!("refs/heads/{}", self.base_ref));
        }
        s.push("refs/heads/main".into());
        s.dedup();
        s
    }
}

type HookFn = Box<dyn Fn(&Path)>;

/// Something done to a job's workspace before or after one of its steps (by step id); on
/// every instance of a matrix job, or one.
struct Hook {
    job: &'static str,
    instance: Option<usize>,
    step: &'static str,
    before: bool,
    f: HookFn,
}

/// How a run goes besides its event: hooks, and where it is cancelled (the job, its
/// instance, and the step before which the cancellation arrives).
#[derive(Default)]
struct Play {
    hooks: Vec<Hook>,
    cancel: Option<(&'static str, usize, &'static str)>,
    /// The repository's variables (`vars.X`) during the run.
    vars: Vec<(&'static str, &'static str)>,
}

thread_local! {
    /// The repository's variables of the run being played (`Play::vars`).
    static VARS: std::cell::RefCell<Map<String, Value>> = std::cell::RefCell::new(Map::new());
}

/// The commit every emulated run is on (`GITHUB_SHA`).
const EMULATED_SHA: &str = "0123456789abcdef0123456789abcdef01234567";

impl Play {
    fn hook(
        mut self,
        job: &'static str,
        instance: Option<usize>,
        step: &'static str,
        before: bool,
        f: impl Fn(&Path) + 'static,
    ) -> Play {
        self.hooks.push(Hook {
            job,
            instance,
            step,
            before,
            f: Box::new(f),
        });
        self
    }
}

#[derive(Debug, Clone)]
struct StepRun {
    id: String,
    outcome: String,
    code: Option<i32>,
    outputs: Map<String, Value>,
}

#[derive(Debug)]
struct JobRun {
    job: String,
    name: String,
    result: String,
    steps: Vec<StepRun>,
    summary: String,
    annotations: Vec<Annotation>,
    log: String,
}

impl JobRun {
    fn step(&self, id: &str) -> &StepRun {
        self.steps
            .iter()
            .find(|s| s.id == id)
            .unwrap_or_else(|| panic!("{}: no step {id}", self.name))
    }
}

#[derive(Debug)]
struct Saved {
    job: String,
    step: usize,
    key: String,
}

struct RunReport {
    id: u64,
    event: &'static str,
    jobs: Vec<JobRun>,
    saved: Vec<Saved>,
    artifacts: PathBuf,
}

impl RunReport {
    fn job(&self, name: &str) -> &JobRun {
        self.jobs
            .iter()
            .find(|j| j.name == name || j.name.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("run {}: no job {name}", self.id))
    }
    fn colours(&self) -> Vec<(String, String)> {
        self.jobs
            .iter()
            .map(|j| (j.name.clone(), j.result.clone()))
            .collect()
    }
    fn saved_keys(&self) -> Vec<String> {
        self.saved.iter().map(|s| s.key.clone()).collect()
    }
    fn first_line(&self) -> String {
        self.job("report")
            .summary
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    }
    /// Everything the jobs printed, for a failing assertion's message.
    fn logs(&self) -> String {
        self.jobs
            .iter()
            .map(|j| {
                format!(
                    "==== {} ({})\n{}\n---- summary\n{}",
                    j.name, j.result, j.log, j.summary
                )
            })
            .collect()
    }
}

/// The status functions' answers at one point of a run.
#[derive(Clone, Copy)]
struct Status {
    success: bool,
    failure: bool,
    cancelled: bool,
}

/// What an expression may read at one point: the contexts, and which step ids and needs the
/// job declares (anything else is an error of the workflow, or of the emulator).
struct Cx<'a> {
    github: &'a Map<String, Value>,
    env: &'a Map<String, Value>,
    matrix: &'a Value,
    steps: &'a Map<String, Value>,
    step_ids: &'a [String],
    needs: &'a Map<String, Value>,
    status: Status,
    ws: &'a Path,
}

impl expr::Ctx for Cx<'_> {
    fn lookup(&self, p: &[String]) -> Value {
        let lower: Vec<String> = p.iter().map(|s| s.to_ascii_lowercase()).collect();
        let need = |n: usize| {
            assert_eq!(
                p.len(),
                n,
                "`{}`: not a property the emulator knows",
                p.join(".")
            )
        };
        match lower[0].as_str() {
            "github" => {
                need(2);
                self.github
                    .get(&lower[1])
                    .unwrap_or_else(|| panic!("the emulator has no github.{}", p[1]))
                    .clone()
            }
            "env" => {
                need(2);
                self.env
                    .get(&p[1])
                    .unwrap_or_else(|| panic!("env.{} is not set", p[1]))
                    .clone()
            }
            "matrix" => {
                need(2);
                self.matrix
                    .get(&p[1])
                    .unwrap_or_else(|| panic!("matrix.{} is not in this job's matrix", p[1]))
                    .clone()
            }
            "steps" => {
                assert!(
                    self.step_ids.contains(&p[1]),
                    "steps.{}: no step of this job has that id",
                    p[1]
                );
                let step = self.steps.get(&p[1]).cloned().unwrap_or(Value::Null);
                match lower.get(2).map(String::as_str) {
                    Some("outputs") => {
                        need(4);
                        step["outputs"].get(&p[3]).cloned().unwrap_or(Value::Null)
                    }
                    Some("outcome" | "conclusion") => {
                        need(3);
                        step[&lower[2]].clone()
                    }
                    _ => panic!("`{}`: not a property the emulator knows", p.join(".")),
                }
            }
            "needs" => {
                let job = self
                    .needs
                    .get(&p[1])
                    .unwrap_or_else(|| panic!("needs.{}: not a job this one needs", p[1]));
                match lower.get(2).map(String::as_str) {
                    Some("result") => {
                        need(3);
                        job["result"].clone()
                    }
                    Some("outputs") => {
                        need(4);
                        job["outputs"].get(&p[3]).cloned().unwrap_or(Value::Null)
                    }
                    _ => panic!("`{}`: not a property the emulator knows", p.join(".")),
                }
            }
            "vars" => {
                need(2);
                // An unset repository variable is empty, as on GitHub.
                VARS.with(|v| v.borrow().get(&p[1]).cloned())
                    .unwrap_or_else(|| Value::String(String::new()))
            }
            "secrets" => {
                need(2);
                // The emulator holds no secret: each is empty, as an unset one on GitHub.
                Value::String(String::new())
            }
            _ => panic!("the emulator has no context `{}`", p[0]),
        }
    }

    fn status(&self, f: &str) -> bool {
        match f {
            "success" => self.status.success,
            "failure" => self.status.failure,
            _ => self.status.cancelled,
        }
    }

    /// The files the patterns match (`DIR/**`: every file under DIR), hashed as one; empty
    /// when none matches.
    fn hash_files(&self, patterns: &[String]) -> String {
        use sha2::Digest;
        let mut files = Vec::new();
        for p in patterns {
            assert!(
                !p.starts_with('!'),
                "the emulator has no hashFiles exclusions: {p}"
            );
            if let Some(dir) = p.strip_suffix("/**") {
                fn walk(d: &Path, out: &mut Vec<PathBuf>) {
                    let Ok(rd) = std::fs::read_dir(d) else { return };
                    for e in rd {
                        let p = e.unwrap().path();
                        if p.is_dir() {
                            walk(&p, out);
                        } else {
                            out.push(p);
                        }
                    }
                }
                walk(&self.ws.join(dir), &mut files);
            } else {
                for m in glob::glob(self.ws.join(p).to_str().unwrap()).unwrap() {
                    let m = m.unwrap();
                    if m.is_file() {
                        files.push(m);
                    }
                }
            }
        }
        files.sort();
        files.dedup();
        if files.is_empty() {
            return String::new();
        }
        let mut all = sha2::Sha256::new();
        for f in files {
            all.update(sha2::Sha256::digest(std::fs::read(f).unwrap()));
        }
        all.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn string_map(v: &Value) -> Vec<(String, Value)> {
    match v {
        Value::Null => Vec::new(),
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        other => panic!("a mapping expected, not {other}"),
    }
}

fn check_keys(what: &str, v: &Value, known: &[&str]) {
    for (k, _) in string_map(v) {
        assert!(
            known.contains(&k.as_str()),
            "{what}: the emulator does not know `{k}`"
        );
    }
}

/// The emulated GitHub: one machine at a time (a job's workspace, home and temp folders at the
/// same paths in every job, as on GitHub's runners), the caches, and the runs' artifacts.
struct Github {
    dir: PathBuf,
    checkout: PathBuf,
    bin: PathBuf,
    caches: Caches,
    next_run: u64,
    /// The machine's own environment variables (what a repository variable would give).
    machine: Vec<(String, String)>,
}

struct RunState {
    id: u64,
    event: Event,
    cancelled: bool,
    artifacts: PathBuf,
    saved: Vec<Saved>,
}

impl Github {
    fn new(dir: &Path, machine: Vec<(String, String)>) -> Github {
        // The checkout: this worktree's files as they are (tracked, and new ones not ignored),
        // committed in a repository of their own.
        let checkout = dir.join("checkout");
        std::fs::create_dir_all(&checkout).unwrap();
        let o = Command::new("git")
            .arg("-C")
            .arg(root())
            .args([
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--exclude-standard",
            ])
            .output()
            .unwrap();
        assert!(o.status.success());
        for f in o.stdout.split(|&b| b == 0).filter(|f| !f.is_empty()) {
            let f = std::str::from_utf8(f).unwrap();
            let src = root().join(f);
            if src.is_file() {
                copy_path(&src, &checkout.join(f));
            }
        }
        for args in [
            &["init", "-q"][..],
            &["add", "-A"],
            &["commit", "-q", "-m", "checkout"],
        ] {
            let o = git_cmd(&checkout).args(args).output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        // The machine's cargo: `cargo xtask` is the harness built for this test, and the
        // harness build of the plan job has nothing to build.
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let cargo = bin.join("cargo");
        std::fs::write(
            &cargo,
            format!(
                "#!/bin/sh\ncase \"$*\" in\n  xtask*) shift; exec '{}' \"$@\" ;;\n  'build --locked --package xtask') exit 0 ;;\nesac\necho \"the test machine's cargo: unexpected: cargo $*\" >&2\nexit 97\n",
                env!("CARGO_BIN_EXE_xtask")
            ),
        )
        .unwrap();
        std::fs::set_permissions(&cargo, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let caches = dir.join("caches");
        std::fs::create_dir_all(&caches).unwrap();
        Github {
            dir: dir.to_path_buf(),
            checkout,
            bin,
            caches: Caches {
                dir: caches,
                entries: Vec::new(),
            },
            next_run: 1001,
            machine,
        }
    }

    fn ws(&self) -> PathBuf {
        self.dir.join("runner/work")
    }
    fn home(&self) -> PathBuf {
        self.dir.join("runner/home")
    }
    fn tmp(&self) -> PathBuf {
        self.dir.join("runner/tmp")
    }

    /// One run of the workflow: its jobs in the order of their needs, each `if:` evaluated.
    fn play(&mut self, event: Event, play: &Play) -> RunReport {
        VARS.with(|v| {
            *v.borrow_mut() = play
                .vars
                .iter()
                .map(|(k, x)| (k.to_string(), Value::String(x.to_string())))
                .collect()
        });
        let wf = workflow();
        check_keys(
            "the workflow",
            &wf,
            &[
                "name",
                "on",
                "permissions",
                "concurrency",
                "defaults",
                "env",
                "jobs",
            ],
        );
        assert_eq!(wf["defaults"]["run"]["shell"], "bash");
        let id = self.next_run;
        self.next_run += 1;
        let mut run = RunState {
            id,
            event,
            cancelled: false,
            artifacts: self.dir.join(format!("runs/{id}/artifacts")),
            saved: Vec::new(),
        };
        std::fs::create_dir_all(&run.artifacts).unwrap();
        let jobs = string_map(&wf["jobs"]);
        let mut done: BTreeMap<String, Value> = BTreeMap::new();
        let mut reports = Vec::new();
        while done.len() < jobs.len() {
            let before = done.len();
            for (name, job) in &jobs {
                if done.contains_key(name) {
                    continue;
                }
                let needs: Vec<String> = match &job["needs"] {
                    Value::Null => Vec::new(),
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
                    other => panic!("needs: {other}"),
                };
                if !needs.iter().all(|n| done.contains_key(n)) {
                    continue;
                }
                let needs_cx: Map<String, Value> =
                    needs.iter().map(|n| (n.clone(), done[n].clone())).collect();
                let (result, outputs, runs) =
                    self.play_job(&wf, &mut run, name, job, &needs_cx, play);
                done.insert(name.clone(), json!({"result": result, "outputs": outputs}));
                reports.extend(runs);
            }
            assert!(done.len() > before, "jobs whose needs never finish");
        }
        RunReport {
            id,
            event: run.event.name,
            jobs: reports,
            saved: run.saved,
            artifacts: run.artifacts,
        }
    }

    fn github_cx(&self, run: &RunState, job: &str) -> Map<String, Value> {
        let e = &run.event;
        json!({
            "event_name": e.name,
            "ref": e.git_ref,
            "ref_name": e.ref_name(),
            "base_ref": e.base_ref,
            "run_id": run.id.to_string(),
            "workspace": self.ws().to_str().unwrap(),
            "job": job,
            "token": "emulated-github-token",
        })
        .as_object()
        .unwrap()
        .clone()
    }

    /// A job: skipped, or each of its matrix's instances. Its result, outputs and runs.
    fn play_job(
        &mut self,
        wf: &Value,
        run: &mut RunState,
        name: &str,
        job: &Value,
        needs: &Map<String, Value>,
        play: &Play,
    ) -> (String, Value, Vec<JobRun>) {
        check_keys(
            &format!("job {name}"),
            job,
            &[
                "name",
                "needs",
                "if",
                "runs-on",
                "container",
                "timeout-minutes",
                "strategy",
                "outputs",
                "steps",
                "env",
                "permissions",
            ],
        );
        let github = self.github_cx(run, name);
        let empty = Map::new();
        let all_succeeded = needs.values().all(|n| n["result"] == "success");
        let cx = Cx {
            github: &github,
            env: &empty,
            matrix: &Value::Null,
            steps: &empty,
            step_ids: &[],
            needs,
            status: Status {
                success: all_succeeded && !run.cancelled,
                failure: needs.values().any(|n| n["result"] == "failure"),
                cancelled: run.cancelled,
            },
            ws: &self.ws(),
        };
        let cond = job.get("if").cloned().unwrap_or(json!("success()"));
        if !expr::condition(&cond, &cx) {
            let report = JobRun {
                job: name.into(),
                name: name.into(),
                result: "skipped".into(),
                steps: Vec::new(),
                summary: String::new(),
                annotations: Vec::new(),
                log: String::new(),
            };
            return ("skipped".into(), json!({}), vec![report]);
        }
        let instances: Vec<Value> = match job.get("strategy") {
            None => vec![json!({})],
            Some(s) => {
                check_keys("strategy", s, &["fail-fast", "matrix"]);
                assert_eq!(s["fail-fast"], false, "the emulator runs every instance");
                let m = expr::template(s["matrix"].as_str().unwrap(), &cx);
                check_keys("the matrix", &m, &["include"]);
                let list = m["include"].as_array().unwrap().clone();
                assert!(
                    !list.is_empty(),
                    "GitHub refuses a matrix with an empty include"
                );
                list
            }
        };
        if job.get("outputs").is_some() {
            assert_eq!(instances.len(), 1, "outputs of a matrix job");
        }
        // A job whose `if:` holds in a cancelled run (always()) still runs.
        let cancelled_before = run.cancelled;
        let mut runs = Vec::new();
        let mut outputs = json!({});
        for (k, matrix) in instances.iter().enumerate() {
            let (r, out) = self.run_job(
                wf,
                run,
                (name, job, k),
                matrix,
                needs,
                play,
                cancelled_before,
            );
            outputs = out;
            runs.push(r);
        }
        let result = if runs.iter().any(|r| r.result == "failure") {
            "failure"
        } else if runs.iter().any(|r| r.result == "cancelled") {
            "cancelled"
        } else {
            "success"
        };
        (result.into(), outputs, runs)
    }

    #[allow(clippy::too_many_arguments)]
    fn run_job(
        &mut self,
        wf: &Value,
        run: &mut RunState,
        (name, job, k): (&str, &Value, usize),
        matrix: &Value,
        needs: &Map<String, Value>,
        play: &Play,
        cancelled_before: bool,
    ) -> (JobRun, Value) {
        let (ws, home, tmp) = (self.ws(), self.home(), self.tmp());
        let t0 = Instant::now();
        for d in [&ws, &home, &tmp] {
            fresh_dir(d);
        }
        if std::env::var_os("RFL_WORKFLOW_TIMES").is_some() {
            eprintln!(
                "{:>6.2}s {name}: a fresh machine",
                t0.elapsed().as_secs_f64()
            );
        }
        let github = self.github_cx(run, name);
        let steps: Vec<Value> = job["steps"].as_array().unwrap().clone();
        let step_ids: Vec<String> = steps
            .iter()
            .filter_map(|s| s["id"].as_str().map(str::to_string))
            .collect();
        let mut steps_cx = Map::new();
        let mut env_cx = Map::new();
        let mut failed = false;
        let status = |failed: bool, run: &RunState| Status {
            success: !failed && !run.cancelled,
            failure: failed,
            cancelled: run.cancelled,
        };
        // The workflow's env, then the job's, each value evaluated.
        for level in [&wf["env"], &job["env"]] {
            for (key, v) in string_map(level) {
                let cx = Cx {
                    github: &github,
                    env: &env_cx,
                    matrix,
                    steps: &steps_cx,
                    step_ids: &step_ids,
                    needs,
                    status: status(false, run),
                    ws: &ws,
                };
                let val = Value::String(expr::text(&expr::template(v.as_str().unwrap(), &cx)));
                env_cx.insert(key, val);
            }
        }
        let title = {
            let cx = Cx {
                github: &github,
                env: &env_cx,
                matrix,
                steps: &steps_cx,
                step_ids: &step_ids,
                needs,
                status: status(false, run),
                ws: &ws,
            };
            expr::text(&expr::template(job["name"].as_str().unwrap_or(name), &cx))
        };
        let mut report = JobRun {
            job: name.into(),
            name: title,
            result: String::new(),
            steps: Vec::new(),
            summary: String::new(),
            annotations: Vec::new(),
            log: String::new(),
        };
        if run.cancelled && !cancelled_before {
            // Cancelled while an earlier instance of this matrix ran: this one never starts.
            report.result = "cancelled".into();
            return (report, json!({}));
        }
        let mut job_cancelled = false;
        let mut env_file: Vec<(String, String)> = Vec::new();
        let mut path_file: Vec<String> = Vec::new();
        let mut posts: Vec<(String, String)> = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            check_keys(
                &format!("{name} step {i}"),
                step,
                &["id", "name", "if", "uses", "run", "with", "env"],
            );
            let id = step["id"].as_str().map_or(format!("#{i}"), str::to_string);
            if play
                .cancel
                .is_some_and(|(j, inst, s)| j == name && inst == k && s == id)
            {
                run.cancelled = true;
                job_cancelled = true;
            }
            let cond = step.get("if").cloned().unwrap_or(json!("success()"));
            let go = {
                let cx = Cx {
                    github: &github,
                    env: &env_cx,
                    matrix,
                    steps: &steps_cx,
                    step_ids: &step_ids,
                    needs,
                    status: status(failed, run),
                    ws: &ws,
                };
                expr::condition(&cond, &cx)
            };
            if !go {
                steps_cx.insert(
                    id.clone(),
                    json!({"outcome": "skipped", "conclusion": "skipped", "outputs": {}}),
                );
                report.steps.push(StepRun {
                    id,
                    outcome: "skipped".into(),
                    code: None,
                    outputs: Map::new(),
                });
                continue;
            }
            for h in &play.hooks {
                if h.before && h.job == name && h.step == id && h.instance.is_none_or(|n| n == k) {
                    (h.f)(&ws);
                }
            }
            // The step's env, then its `with:` values (which may read it).
            let mut step_env = env_cx.clone();
            for (key, v) in string_map(&step["env"]) {
                let cx = Cx {
                    github: &github,
                    env: &env_cx,
                    matrix,
                    steps: &steps_cx,
                    step_ids: &step_ids,
                    needs,
                    status: status(failed, run),
                    ws: &ws,
                };
                let val = expr::text(&expr::template(v.as_str().unwrap(), &cx));
                step_env.insert(key, Value::String(val));
            }
            let with: BTreeMap<String, String> = {
                let cx = Cx {
                    github: &github,
                    env: &step_env,
                    matrix,
                    steps: &steps_cx,
                    step_ids: &step_ids,
                    needs,
                    status: status(failed, run),
                    ws: &ws,
                };
                string_map(&step["with"])
                    .into_iter()
                    .map(|(key, v)| {
                        let v = match v {
                            Value::String(s) => expr::text(&expr::template(&s, &cx)),
                            other => expr::text(&other),
                        };
                        (key, v)
                    })
                    .collect()
            };
            let (outcome, code, outputs) = if let Some(uses) = step["uses"].as_str() {
                let t0 = Instant::now();
                let (ok, outputs) = self.action(run, &mut report, &mut posts, i, uses, &with);
                if std::env::var_os("RFL_WORKFLOW_TIMES").is_some() {
                    eprintln!(
                        "{:>6.2}s {} {uses}",
                        t0.elapsed().as_secs_f64(),
                        report.name
                    );
                }
                (if ok { "success" } else { "failure" }, None, outputs)
            } else {
                let script = step["run"]
                    .as_str()
                    .expect("a step uses an action or runs a script");
                if PROVISIONING.contains(&script.trim()) {
                    report
                        .log
                        .push_str(&format!("[skipped: provisions the machine] {script}\n"));
                    ("success", Some(0), Map::new())
                } else {
                    assert!(
                        is_ci_call(script),
                        "{name}: a run: that is no ci/ script call: {script}"
                    );
                    let ScriptRun {
                        code,
                        outputs,
                        env: env_more,
                        path: path_more,
                    } = self.script(
                        run,
                        &mut report,
                        i,
                        script,
                        &step_env,
                        &env_file,
                        &path_file,
                    );
                    env_file.extend(env_more);
                    path_file.extend(path_more);
                    (
                        if code == Some(0) {
                            "success"
                        } else {
                            "failure"
                        },
                        code,
                        outputs,
                    )
                }
            };
            if outcome == "failure" {
                failed = true;
            }
            steps_cx.insert(
                id.clone(),
                json!({"outcome": outcome, "conclusion": outcome, "outputs": outputs}),
            );
            report.steps.push(StepRun {
                id: id.clone(),
                outcome: outcome.into(),
                code,
                outputs,
            });
            for h in &play.hooks {
                if !h.before && h.job == name && h.step == id && h.instance.is_none_or(|n| n == k) {
                    (h.f)(&ws);
                }
            }
        }
        // actions/cache's post step: it saves only when the job succeeded and the key missed.
        // It runs after every step, so its save counts as the job's last.
        for (path, key) in posts.into_iter().rev() {
            if !failed && !run.cancelled {
                self.save(run, &report.name, steps.len(), &path, &key);
            }
        }
        report.result = if job_cancelled {
            "cancelled"
        } else if failed {
            "failure"
        } else {
            "success"
        }
        .into();
        let cx = Cx {
            github: &github,
            env: &env_cx,
            matrix,
            steps: &steps_cx,
            step_ids: &step_ids,
            needs,
            status: status(failed, run),
            ws: &ws,
        };
        let outputs: Map<String, Value> = string_map(&job["outputs"])
            .into_iter()
            .map(|(key, v)| {
                (
                    key,
                    Value::String(expr::text(&expr::template(v.as_str().unwrap(), &cx))),
                )
            })
            .collect();
        (report, Value::Object(outputs))
    }

    fn save(&mut self, run: &mut RunState, job: &str, step: usize, path: &str, key: &str) {
        let (ws, home) = (self.ws(), self.home());
        // Not saved: the key exists, or no path does (the action only warns).
        if let Ok(true) = self.caches.save(path, key, &run.event.git_ref, &ws, &home) {
            run.saved.push(Saved {
                job: job.into(),
                step,
                key: key.into(),
            });
        }
    }

    /// One `uses:` step: whether it succeeded, and its outputs.
    fn action(
        &mut self,
        run: &mut RunState,
        report: &mut JobRun,
        posts: &mut Vec<(String, String)>,
        i: usize,
        uses: &str,
        with: &BTreeMap<String, String>,
    ) -> (bool, Map<String, Value>) {
        let (action, pin) = uses.split_once('@').expect("a pinned action");
        assert_eq!(pin.len(), 40, "{uses}: not pinned to a commit");
        let known = |keys: &[&str]| {
            for k in with.keys() {
                assert!(
                    keys.contains(&k.as_str()),
                    "{action}: the emulator does not know `{k}`"
                );
            }
        };
        let (ws, home) = (self.ws(), self.home());
        let mut out = Map::new();
        match action {
            "actions/checkout" => {
                known(&["persist-credentials"]);
                copy_tree(&self.checkout, &ws, &[]);
                (true, out)
            }
            "actions/cache" | "actions/cache/restore" => {
                known(&["path", "key", "restore-keys"]);
                let key = &with["key"];
                let prefixes: Vec<String> = with
                    .get("restore-keys")
                    .map(|r| {
                        r.lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                let hit = self.caches.restore(
                    &with["path"],
                    key,
                    &prefixes,
                    &run.event.cache_scopes(),
                    &ws,
                    &home,
                );
                out.insert("cache-primary-key".into(), json!(key));
                let exact = hit.as_ref().is_some_and(|h| h.1);
                out.insert("cache-hit".into(), json!(exact.to_string()));
                out.insert(
                    "cache-matched-key".into(),
                    json!(hit.map(|h| h.0).unwrap_or_default()),
                );
                report
                    .log
                    .push_str(&format!("[cache restore {key}] {out:?}\n"));
                if action == "actions/cache" && !exact {
                    posts.push((with["path"].clone(), key.clone()));
                }
                (true, out)
            }
            "actions/cache/save" => {
                known(&["path", "key"]);
                let name = report.name.clone();
                self.save(run, &name, i, &with["path"], &with["key"]);
                report
                    .log
                    .push_str(&format!("[cache save {}]\n", with["key"]));
                (true, out)
            }
            "actions/upload-artifact" => {
                known(&["name", "path", "if-no-files-found"]);
                let dest = run.artifacts.join(&with["name"]);
                if dest.exists() {
                    report.log.push_str("an artifact with this name exists\n");
                    return (false, out);
                }
                let paths: Vec<&str> = with["path"]
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect();
                let present: Vec<&&str> = paths.iter().filter(|p| ws.join(p).exists()).collect();
                if present.is_empty() {
                    let mode = with.get("if-no-files-found").map_or("warn", String::as_str);
                    report.annotations.push(Annotation {
                        level: "warning".into(),
                        title: String::new(),
                        message: format!("no files found for {paths:?}"),
                    });
                    return (mode != "error", out);
                }
                if paths.len() == 1 && ws.join(paths[0]).is_dir() {
                    copy_tree(&ws.join(paths[0]), &dest, &[]);
                } else {
                    for p in present {
                        copy_path(&ws.join(p), &dest.join(p));
                    }
                }
                (true, out)
            }
            "actions/download-artifact" => {
                known(&["pattern", "path"]);
                let pattern = glob::Pattern::new(&with["pattern"]).unwrap();
                let mut names: Vec<String> = std::fs::read_dir(&run.artifacts)
                    .unwrap()
                    .map(|e| e.unwrap().file_name().into_string().unwrap())
                    .filter(|n| pattern.matches(n))
                    .collect();
                names.sort();
                let into = ws.join(&with["path"]);
                std::fs::create_dir_all(&into).unwrap();
                for n in names {
                    copy_tree(&run.artifacts.join(&n), &into.join(&n), &[]);
                }
                (true, out)
            }
            _ => panic!("the emulator does not know the action {action}"),
        }
    }

    /// One `run:` step, as the runner runs it: `bash --noprofile --norc -eo pipefail FILE` in
    /// the workspace, with the runner's variables, the workflow's, job's and step's env, and
    /// what earlier steps wrote to `$GITHUB_ENV` and `$GITHUB_PATH`.
    #[allow(clippy::too_many_arguments)]
    fn script(
        &mut self,
        run: &RunState,
        report: &mut JobRun,
        i: usize,
        script: &str,
        env: &Map<String, Value>,
        env_file: &[(String, String)],
        path_file: &[String],
    ) -> ScriptRun {
        let (ws, home, tmp) = (self.ws(), self.home(), self.tmp());
        let file = |n: &str| {
            let p = tmp.join(format!("{n}-{i}"));
            std::fs::write(&p, "").unwrap();
            p
        };
        let (out_f, env_f, path_f, summary_f) =
            (file("output"), file("env"), file("path"), file("summary"));
        let script_f = tmp.join(format!("step-{i}.sh"));
        std::fs::write(&script_f, script).unwrap();
        let host_path = std::env::var("PATH").unwrap_or_default();
        let mut path: Vec<String> = path_file.iter().rev().cloned().collect();
        path.push(self.bin.to_str().unwrap().into());
        path.push(host_path);
        let rustup_home = std::env::var("RUSTUP_HOME")
            .unwrap_or_else(|_| format!("{}/.rustup", std::env::var("HOME").unwrap_or_default()));
        let e = &run.event;
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail"])
            .arg(&script_f)
            .current_dir(&ws)
            .env_clear()
            .env("PATH", path.join(":"))
            .env("HOME", &home)
            .env("RUSTUP_HOME", rustup_home)
            .env("LANG", "C.UTF-8")
            .env("CI", "true")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_WORKSPACE", &ws)
            .env("GITHUB_EVENT_NAME", e.name)
            .env("GITHUB_REF", &e.git_ref)
            .env("GITHUB_REF_NAME", e.ref_name())
            .env("GITHUB_BASE_REF", &e.base_ref)
            .env("GITHUB_RUN_ID", run.id.to_string())
            .env("GITHUB_REPOSITORY", "rust-for-linux/rfl-health")
            .env("GITHUB_SHA", EMULATED_SHA)
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_JOB", &report.job)
            .env("RUNNER_TEMP", &tmp)
            .env("GITHUB_OUTPUT", &out_f)
            .env("GITHUB_ENV", &env_f)
            .env("GITHUB_PATH", &path_f)
            .env("GITHUB_STEP_SUMMARY", &summary_f);
        for (k, v) in self.machine.iter().chain(env_file) {
            cmd.env(k, v);
        }
        for (k, v) in env {
            cmd.env(k, expr::text(v));
        }
        let (out_log, err_log) = (
            tmp.join(format!("stdout-{i}")),
            tmp.join(format!("stderr-{i}")),
        );
        let t0 = Instant::now();
        let code = run_bounded(
            cmd.stdout(std::fs::File::create(&out_log).unwrap())
                .stderr(std::fs::File::create(&err_log).unwrap()),
            STEP_DEADLINE,
        );
        if std::env::var_os("RFL_WORKFLOW_TIMES").is_some() {
            eprintln!(
                "{:>6.2}s {} {script}",
                t0.elapsed().as_secs_f64(),
                report.name
            );
        }
        let stdout = String::from_utf8_lossy(&std::fs::read(&out_log).unwrap()).into_owned();
        let stderr = String::from_utf8_lossy(&std::fs::read(&err_log).unwrap()).into_owned();
        report
            .log
            .push_str(&format!("[{script}] exit {code:?}\n{stdout}{stderr}"));
        annotations(&stdout, &mut report.annotations);
        annotations(&stderr, &mut report.annotations);
        let summary = std::fs::read_to_string(&summary_f).unwrap();
        assert!(
            summary.len() <= 1024 * 1024,
            "{script}: a step summary of {} bytes, over GitHub's 1 MiB",
            summary.len()
        );
        report.summary.push_str(&summary);
        let outputs = key_values(&std::fs::read_to_string(&out_f).unwrap())
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let env_more = key_values(&std::fs::read_to_string(&env_f).unwrap());
        let path_more = std::fs::read_to_string(&path_f)
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        ScriptRun {
            code,
            outputs,
            env: env_more,
            path: path_more,
        }
    }
}

/// What a `run:` step gave: its exit code, outputs, and what it wrote to `$GITHUB_ENV` and
/// `$GITHUB_PATH` for the steps after it.
struct ScriptRun {
    code: Option<i32>,
    outputs: Map<String, Value>,
    env: Vec<(String, String)>,
    path: Vec<String>,
}

/// The longest a step may take here: a hung step fails the test instead of hanging it.
const STEP_DEADLINE: Duration = Duration::from_secs(300);

/// Run a command in a process group of its own; past the deadline the whole group is killed
/// and the step fails (`None`, as for a signal).
fn run_bounded(cmd: &mut Command, deadline: Duration) -> Option<i32> {
    use std::os::unix::process::CommandExt;
    let mut child = cmd.process_group(0).spawn().unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if start.elapsed() > deadline {
            let pgid = child.id() as libc::pid_t;
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
            let _ = child.wait();
            panic!("a step ran past {deadline:?}: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The remotes the small matrix names: a fake kernel tree (a Makefile, a Rust file or two)
/// whose `rust-next` branch is the base, on git.kernel.org, and the entries' branches in a
/// fork on GitHub, both reached through the matrix's mirrors as local bare repositories.
struct Trees {
    work: PathBuf,
    korg: PathBuf,
    matrix: PathBuf,
}

impl Trees {
    fn new(dir: &Path) -> Trees {
        let work = dir.join("work");
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "-q", "-b", "master"]);
        write(
            &work,
            "Makefile",
            "VERSION = 7\nPATCHLEVEL = 2\nSUBLEVEL = 0\nEXTRAVERSION =\n",
        );
        write(&work, "rust/kernel/lib.rs", "// the kernel crate\n");
        let root = commit(&work, "samples/rust/minimal.rs", "fn init() {}\n", "base");
        // The entries, each a branch of the fork.
        git(&work, &["checkout", "-q", "-b", "good"]);
        commit(
            &work,
            "rust/kernel/new.rs",
            "// a new abstraction\n",
            "rust: add new",
        );
        git(&work, &["checkout", "-q", "-b", "old-bad", &root]);
        commit(
            &work,
            "samples/rust/minimal.rs",
            "fn init() { x(); }\n",
            "samples: x",
        );
        // The base: rust-next moved on in the file old-bad changes.
        git(&work, &["checkout", "-q", "-b", "rust-next", &root]);
        commit(
            &work,
            "samples/rust/minimal.rs",
            "fn init() { y(); }\n",
            "samples: y",
        );
        let korg = dir.join("korg/pub/scm/linux/kernel/git/ojeda/linux.git");
        let fork = dir.join("github/someone/linux.git");
        for bare in [&korg, &fork] {
            std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
            git(
                dir,
                &[
                    "clone",
                    "-q",
                    "--bare",
                    work.to_str().unwrap(),
                    bare.to_str().unwrap(),
                ],
            );
        }
        let matrix = dir.join("matrix.toml");
        let entry = |id: &str| {
            format!("[[entry]]\nid = \"{id}\"\nsource = {{ branch = \"https://github.com/someone/linux/tree/{id}\" }}\nbase = \"rust-next\"\n")
        };
        std::fs::write(
            &matrix,
            format!(
                "arches = [\"x86_64\", \"arm64\"]\nchecks = []\n[mirrors]\n\"https://github.com/\" = \"file://{d}/github/\"\n\"https://git.kernel.org/\" = \"file://{d}/korg/\"\n[bases.rust-next]\nkind = \"branch\"\nurl = \"https://git.kernel.org/pub/scm/linux/kernel/git/ojeda/linux.git\"\nref = \"rust-next\"\n{}{}",
                entry("good"),
                entry("old-bad"),
                d = dir.display()
            ),
        )
        .unwrap();
        Trees { work, korg, matrix }
    }

    /// rust-next takes a change `good` conflicts with.
    fn base_moves_against_good(&self) {
        git(&self.work, &["checkout", "-q", "rust-next"]);
        commit(
            &self.work,
            "rust/kernel/new.rs",
            "// another new abstraction\n",
            "rust: another new",
        );
        git(
            &self.work,
            &["push", "-q", self.korg.to_str().unwrap(), "rust-next"],
        );
    }
}

fn assert_colours(r: &RunReport, what: &str, want: &[(&str, &str)]) {
    let got = r.colours();
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want, "{what}: job colours\n{}", r.logs());
}

const RUN0: &str = "run 000-rust-next-x86_64-release";
const RUN1: &str = "run 001-rust-next-arm64-release";
const GREEN: [(&str, &str); 4] = [
    ("plan", "success"),
    (RUN0, "success"),
    (RUN1, "success"),
    ("report", "success"),
];
const RED_REPORT: [(&str, &str); 4] = [
    ("plan", "success"),
    (RUN0, "success"),
    (RUN1, "success"),
    ("report", "failure"),
];

fn ccache_keys(id: u64) -> Vec<String> {
    vec![
        format!("ccache-x86_64-000-rust-next-x86_64-release-{id}"),
        format!("ccache-arm64-001-rust-next-arm64-release-{id}"),
    ]
}

/// The small world a scenario plays in: the remotes, and GitHub with the machine's variables
/// naming the small matrix and the apply stage.
fn world(tag: &str) -> (TempDir, Trees, Github) {
    let t = TempDir::new(tag);
    let trees = Trees::new(&t.0.join("remotes"));
    let gh = Github::new(
        &t.0.join("github"),
        vec![
            ("RFL_MATRIX".into(), trees.matrix.to_str().unwrap().into()),
            ("RFL_STAGE".into(), "apply".into()),
        ],
    );
    (t, trees, gh)
}

/// Rule 6 in every run played: no run job saved a cache once its entry cells had started, and
/// a pull request saved none at all.
fn caches_come_only_from_trusted_steps(runs: &[&RunReport]) {
    for r in runs {
        for j in r.jobs.iter().filter(|j| j.job == "run") {
            let Some(at) = j.steps.iter().position(|s| s.id == "entries") else {
                continue;
            };
            for s in r.saved.iter().filter(|s| s.job == j.name) {
                assert!(
                    s.step < at,
                    "run {}: {} saved {} after its entry cells (step {} ≥ {at})",
                    r.id,
                    j.name,
                    s.key,
                    s.step
                );
            }
        }
        if r.event == "pull_request" {
            assert_eq!(
                r.saved_keys(),
                Vec::<String>::new(),
                "run {}: a pull request saved caches",
                r.id
            );
        }
    }
}

fn took(started: Instant, runs: usize) {
    let took = started.elapsed();
    eprintln!("{runs} runs of the workflow in {took:?}");
    assert!(took < Duration::from_secs(180), "took {took:?}");
}

/// Night 0 (no baseline), (a) a night with an old failing entry, (b) a night with a
/// regression, (g) who saved caches.
#[test]
fn nightly_runs_are_judged_against_the_last_baseline() {
    let started = Instant::now();
    let (_t, trees, mut gh) = world("wf-nights");

    // Night 0: no baseline yet. The report says so first and fails on the failing entry
    // (old-bad conflicts); the run jobs are green (a failing entry is data); the baseline and
    // each job's ccache (right after its base cells) are saved.
    let r0 = gh.play(Event::nightly(), &Play::default());
    assert_colours(&r0, "night 0", &RED_REPORT);
    assert!(
        r0.first_line()
            .starts_with("No baseline: no complete run of `main` is in the cache; any failing entry cell fails this run (`--fail-on fail`)"),
        "{}",
        r0.first_line()
    );
    let mut want = ccache_keys(r0.id);
    want.push(format!("baseline-main-{}", r0.id));
    assert_eq!(
        r0.saved_keys(),
        want,
        "night 0: saved caches\n{}",
        r0.logs()
    );
    for j in [RUN0, RUN1] {
        let job = r0.job(j);
        assert_eq!(job.step("entries").code, Some(0), "{}", r0.logs());
        assert!(
            job.annotations.iter().all(|a| a.level != "error"),
            "{:?}",
            job.annotations
        );
    }

    // (a) Night 1, the same trees: old-bad still fails, nothing regressed: green, compared
    // with night 0's baseline; ccache warmed from night 0's; a new baseline saved.
    let r1 = gh.play(Event::nightly(), &Play::default());
    assert_colours(&r1, "(a) night 1", &GREEN);
    assert!(
        r1.first_line()
            .starts_with(&format!("Baseline: `baseline-main-{}`", r0.id)),
        "{}",
        r1.first_line()
    );
    let mut want = ccache_keys(r1.id);
    want.push(format!("baseline-main-{}", r1.id));
    assert_eq!(r1.saved_keys(), want, "(a): saved caches");
    for (n, j) in [RUN0, RUN1].iter().enumerate() {
        assert_eq!(
            r1.job(j).step("ccache").outputs["cache-matched-key"],
            ccache_keys(r0.id)[n].as_str(),
            "(a): ccache restored from the night before"
        );
    }
    assert!(r1.job("report").summary.contains("## RFL patch health"));
    // Nothing turned: publish's dry run writes no request.
    assert_eq!(published(&r1, "github-status"), 0, "{}", r1.logs());

    // (b) Night 2: rust-next moved against `good`, which regresses on both arches: the report
    // is red and annotates the regression first; the baseline is still saved.
    trees.base_moves_against_good();
    let r2 = gh.play(Event::nightly(), &Play::default());
    assert_colours(&r2, "(b) night 2", &RED_REPORT);
    let first = &r2.job("report").annotations[0];
    assert!(
        first.level == "error"
            && first.title.starts_with("good.")
            && first.title.contains("regressed"),
        "(b): first annotation {first:?}\n{}",
        r2.logs()
    );
    assert!(r2
        .saved_keys()
        .contains(&format!("baseline-main-{}", r2.id)));
    // What turned is told in a dry run (no repository variable): a status and a check run for
    // `good` on each arch, uploaded; no comment outside a pull request.
    assert_eq!(r2.job("report").step("publish").outcome, "success");
    assert_eq!(published(&r2, "github-status"), 2, "{}", r2.logs());
    assert_eq!(published(&r2, "github-check"), 2);
    assert_eq!(published(&r2, "github-comment"), 0);

    caches_come_only_from_trusted_steps(&[&r0, &r1, &r2]);
    took(started, 3);
}

/// (c) A pull request compares with main's last baseline and saves nothing: green while
/// nothing regresses against it, red when a cell does.
#[test]
fn a_pull_request_is_judged_against_mains_baseline_and_saves_nothing() {
    let started = Instant::now();
    let (_t, trees, mut gh) = world("wf-pulls");
    let r0 = gh.play(Event::nightly(), &Play::default());
    assert_colours(&r0, "night 0", &RED_REPORT);
    let p1 = gh.play(Event::pull_request(7), &Play::default());
    assert_colours(&p1, "(c) pull request", &GREEN);
    assert!(
        p1.first_line().starts_with(&format!(
            "Baseline: `baseline-main-{}`, the last complete run of `main`",
            r0.id
        )),
        "{}",
        p1.first_line()
    );
    trees.base_moves_against_good();
    // A repository that opts in to sending still only writes what it would send for a pull
    // request: the sticky comment on it among them.
    let p2 = gh.play(
        Event::pull_request(7),
        &Play {
            vars: vec![("RFL_PUBLISH", "send")],
            ..Play::default()
        },
    );
    assert_colours(&p2, "(c) pull request with a regression", &RED_REPORT);
    assert_eq!(published(&p2, "github-comment"), 1, "{}", p2.logs());
    assert_eq!(published(&p2, "github-status"), 2);
    let first = &p2.job("report").annotations[0];
    assert!(
        first.title.starts_with("good.") && first.title.contains("regressed"),
        "{:?}",
        p2.job("report").annotations
    );
    // (g) Nothing saved from a pull request.
    caches_come_only_from_trusted_steps(&[&r0, &p1, &p2]);
    took(started, 3);
}

/// How many requests to `target` the report job's publish step wrote into its artifact.
fn published(r: &RunReport, target: &str) -> usize {
    let index = r.artifacts.join("publish/index.json");
    let text = std::fs::read_to_string(&index)
        .unwrap_or_else(|e| panic!("{}: {e}\n{}", index.display(), r.logs()));
    let v: Value = serde_json::from_str(&text).unwrap();
    v["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|q| q["target"] == target)
        .count()
}

/// The publish step sends only when the repository opts in (RFL_PUBLISH = send) and the run
/// is not a pull request's, and only then gets a token; the script itself refuses to send
/// for a pull request whatever it is told.
#[test]
fn publish_sends_only_when_opted_in_and_never_for_a_pull_request() {
    let wf = workflow();
    let step = wf["jobs"]["report"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "publish")
        .unwrap()
        .clone();
    let mut sends = Vec::new();
    for event in [Event::nightly(), Event::pull_request(7)] {
        for var in ["", "send", "dry-run", "SEND"] {
            VARS.with(|v| {
                *v.borrow_mut() = [("RFL_PUBLISH".to_string(), Value::String(var.into()))]
                    .into_iter()
                    .collect()
            });
            let env = |k: &str| {
                expr::text(&template_outside_a_run(
                    step["env"][k].as_str().unwrap(),
                    &event,
                    &Value::Null,
                    Path::new("/nonexistent"),
                ))
            };
            let (mode, token) = (env("MODE"), env("GITHUB_TOKEN"));
            assert_eq!(mode == "send", !token.is_empty(), "{} {var}", event.name);
            assert_eq!(env("PATCHWORK_TOKEN"), "", "the emulator has no secrets");
            if mode == "send" {
                sends.push(format!("{} {var}", event.name));
            }
        }
    }
    VARS.with(|v| v.borrow_mut().clear());
    // GitHub's `==` ignores case.
    assert_eq!(sends, ["schedule send", "schedule SEND"]);
    // The script's own guard: told to send for a pull request, it writes a dry run.
    let t = TempDir::new("wf-publish-guard");
    std::fs::create_dir_all(t.0.join("bin")).unwrap();
    let log = t.0.join("cargo.log");
    std::fs::write(
        t.0.join("bin/cargo"),
        format!("#!/bin/sh\necho \"$@\" >> {}\n", log.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        t.0.join("bin/cargo"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::create_dir_all(t.0.join("baseline")).unwrap();
    std::fs::write(t.0.join("baseline/results.json"), "{}").unwrap();
    let path = format!(
        "{}:{}",
        t.0.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = Command::new(root().join("ci/publish.sh"))
        .current_dir(&t.0)
        .env("PATH", path)
        .env("MODE", "send")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_REF", "refs/pull/7/merge")
        .env("GITHUB_REPOSITORY", "o/r")
        .env("GITHUB_SHA", EMULATED_SHA)
        .env("GITHUB_SERVER_URL", "https://github.com")
        .env("GITHUB_RUN_ID", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let called = std::fs::read_to_string(&log).unwrap();
    assert!(
        called.contains("--dry-run --out publish") && !called.contains("--send"),
        "{called}"
    );
    assert!(called.contains("--pr 7 --to github-comment"), "{called}");
}

/// (d) A cancelled run saves no baseline: cancelled in a run job, or in the report job.
#[test]
fn a_cancelled_run_saves_no_baseline() {
    let started = Instant::now();
    let (_t, _trees, mut gh) = world("wf-cancel");
    // Cancelled while the second run job waits for its entry cells: that job is cancelled,
    // the report job does not run, only ccache is saved (after the base cells).
    let d1 = gh.play(
        Event::nightly(),
        &Play {
            cancel: Some(("run", 1, "entries")),
            ..Play::default()
        },
    );
    assert_colours(
        &d1,
        "(d) cancelled in a run job",
        &[
            ("plan", "success"),
            (RUN0, "success"),
            (RUN1, "cancelled"),
            ("report", "skipped"),
        ],
    );
    assert_eq!(d1.job(RUN1).step("entries").outcome, "skipped");
    assert_eq!(d1.saved_keys(), ccache_keys(d1.id), "(d): only ccache");
    // Cancelled in the report job, after the report was written, before the baseline would
    // be saved: not saved; the reports are still published.
    let d2 = gh.play(
        Event::nightly(),
        &Play {
            cancel: Some(("report", 0, "keep")),
            ..Play::default()
        },
    );
    let report = d2.job("report");
    assert_eq!(report.result, "cancelled", "{}", d2.logs());
    assert_eq!(report.step("report").outputs["next"], "written");
    assert_eq!(report.step("keep").outcome, "skipped");
    assert!(d2.artifacts.join("reports/junit.xml").is_file());
    assert_eq!(d2.saved_keys(), ccache_keys(d2.id), "(d): no baseline");
    caches_come_only_from_trusted_steps(&[&d1, &d2]);
    took(started, 2);
}

/// (e) An unreadable baseline and a malformed shard; (f) nothing could run.
#[test]
fn unreadable_results_are_named_and_left_out_and_a_fault_is_red() {
    let started = Instant::now();
    let (_t, _trees, mut gh) = world("wf-faults");
    let r0 = gh.play(Event::nightly(), &Play::default());
    assert_colours(&r0, "night 0", &RED_REPORT);

    // (e) Night 0's baseline unreadable, and the second run job's results malformed: both
    // named (an annotation, a summary line) and left out; the report written from the rest,
    // red (a results file was left out), and the next baseline saved from what could be read.
    let b0 = format!("baseline-main-{}", r0.id);
    std::fs::write(gh.caches.content(&b0).join("results.json"), "{ not json").unwrap();
    let e = gh.play(
        Event::nightly(),
        &Play::default().hook("run", Some(1), "entries", false, |ws| {
            std::fs::write(
                ws.join("results/results.json"),
                "{\"schema\": 2, \"cells\": 7}",
            )
            .unwrap();
        }),
    );
    assert_colours(&e, "(e) unreadable baseline and shard", &RED_REPORT);
    assert!(
        e.first_line().starts_with(&format!(
            "No baseline: the restored baseline `{b0}` cannot be read; any failing entry cell fails this run"
        )),
        "{}",
        e.first_line()
    );
    let report = e.job("report");
    let seen = |title: &str, start: &str| {
        report
            .annotations
            .iter()
            .any(|a| a.level == "error" && a.title == title && a.message.starts_with(start))
    };
    assert!(
        seen("Unreadable baseline", &format!("the baseline {b0} "))
            && seen(
                "Unreadable results",
                "all/results-1-arm64/results.json cannot be read"
            ),
        "(e): {:?}",
        report.annotations
    );
    assert!(
        report
            .summary
            .contains("\n- Left out: `all/results-1-arm64/results.json` cannot be read")
            && report.summary.contains("## RFL patch health"),
        "{}",
        report.summary
    );
    assert!(
        e.artifacts.join("reports/junit.xml").is_file()
            && e.artifacts.join("reports/all/index.html").is_file()
    );
    let next = format!("baseline-main-{}", e.id);
    let mut want = ccache_keys(e.id);
    want.push(next.clone());
    assert_eq!(e.saved_keys(), want, "(e): saved caches");
    let kept = gh.caches.content(&next).join("results.json");
    let o = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "report",
            "--format",
            "json",
            "--fail-on",
            "never",
            "--results",
        ])
        .arg(&kept)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let arches: Vec<&str> = v["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["arch"].as_str().unwrap())
        .collect();
    assert!(
        !arches.is_empty() && arches.iter().all(|a| *a == "x86_64"),
        "{arches:?}"
    );

    // (f) Nothing can run: the machine's cache folder is broken under the slots, so every
    // cell errs in its apply stage (a harness or machine fault). The run jobs are red with
    // the harness's exit 3 and say so; (e)'s baseline is read; a cell that passed there and
    // now errs is a regression (pass → error), so the report is red too; no baseline comes
    // from a run with a red run job.
    let broken = |ws: &Path| {
        let slots = ws.join("rfl-cache/slots");
        std::fs::create_dir_all(&slots).unwrap();
        std::fs::write(slots.join("rust-next"), "not a folder\n").unwrap();
    };
    let f = gh.play(
        Event::nightly(),
        &Play::default().hook("run", None, "base", true, broken),
    );
    assert_colours(
        &f,
        "(f) nothing could run",
        &[
            ("plan", "success"),
            (RUN0, "failure"),
            (RUN1, "failure"),
            ("report", "failure"),
        ],
    );
    let first = &f.job("report").annotations[0];
    assert!(
        first.level == "error" && first.title.contains("regressed"),
        "(f): {:?}",
        f.job("report").annotations
    );
    for j in [RUN0, RUN1] {
        let job = f.job(j);
        assert_eq!(job.step("base").code, Some(3), "{}", f.logs());
        assert_eq!(job.step("entries").code, Some(3));
        assert!(
            job.annotations
                .iter()
                .any(|a| a.level == "error" && a.title == "Harness or machine fault"),
            "{:?}",
            job.annotations
        );
    }
    assert!(
        f.first_line().starts_with(&format!("Baseline: `{next}`")),
        "{}",
        f.first_line()
    );
    assert_eq!(f.saved_keys(), ccache_keys(f.id), "(f): no baseline");
    caches_come_only_from_trusted_steps(&[&r0, &e, &f]);
    took(started, 3);
}

/// A run where no entry cell could run (every remote unreachable) exits 3, and the run jobs
/// are red.
#[test]
fn nothing_reachable_is_a_red_run_job() {
    let (t, trees, _) = world("wf-unreachable");
    let text = std::fs::read_to_string(&trees.matrix)
        .unwrap()
        .replace("/github/", "/nowhere/")
        .replace("/korg/", "/nowhere/");
    let matrix = t.0.join("unreachable.toml");
    std::fs::write(&matrix, text).unwrap();
    let mut gh = Github::new(
        &t.0.join("github2"),
        vec![
            ("RFL_MATRIX".into(), matrix.to_str().unwrap().into()),
            ("RFL_STAGE".into(), "apply".into()),
        ],
    );
    let r = gh.play(Event::nightly(), &Play::default());
    for j in [RUN0, RUN1] {
        assert_eq!(r.job(j).result, "failure", "{}", r.logs());
        assert_eq!(r.job(j).step("entries").code, Some(3));
    }
}

/// Every `run:` is one call of a ci/ script, or provisions the machine (the package install
/// before the checkout, `cargo xtask setup`); every ci/ script is called.
#[test]
fn every_run_step_is_a_ci_script_call_or_provisions_the_machine() {
    let wf = workflow();
    let (mut provisioning, mut called) = (0, std::collections::BTreeSet::new());
    for (name, job) in string_map(&wf["jobs"]) {
        for step in job["steps"].as_array().unwrap() {
            let Some(run) = step["run"].as_str() else {
                continue;
            };
            if PROVISIONING.contains(&run.trim()) {
                provisioning += 1;
                continue;
            }
            assert!(
                is_ci_call(run),
                "job {name}: `{run}` is neither a ci/ script call nor on the provisioning list"
            );
            called.insert(run.split(' ').next().unwrap().to_string());
        }
    }
    assert_eq!(
        provisioning, 4,
        "the package install in each job, and setup"
    );
    for e in std::fs::read_dir(root().join("ci")).unwrap() {
        let name = format!("ci/{}", e.unwrap().file_name().to_string_lossy());
        if name.ends_with(".sh") {
            assert!(called.contains(&name), "{name} is called by no step");
        }
    }
}

/// A context where an `if:` of the workflow can be weighed: an event, the run's state, and
/// the outputs and needs it reads.
fn weigh(cond: &str, event: &Event, cancelled: bool, steps: Value, needs: Value) -> bool {
    let run = RunState {
        id: 1,
        event: event.clone(),
        cancelled,
        artifacts: PathBuf::new(),
        saved: Vec::new(),
    };
    let gh = Github {
        dir: PathBuf::from("/nonexistent"),
        checkout: PathBuf::new(),
        bin: PathBuf::new(),
        caches: Caches {
            dir: PathBuf::new(),
            entries: Vec::new(),
        },
        next_run: 1,
        machine: Vec::new(),
    };
    let github = gh.github_cx(&run, "job");
    let steps = steps.as_object().unwrap().clone();
    let ids: Vec<String> = steps.keys().cloned().collect();
    let cx = Cx {
        github: &github,
        env: &Map::new(),
        matrix: &Value::Null,
        steps: &steps,
        step_ids: &ids,
        needs: needs.as_object().unwrap(),
        status: Status {
            success: !cancelled,
            failure: false,
            cancelled,
        },
        ws: Path::new("/nonexistent"),
    };
    expr::condition(&json!(cond), &cx)
}

fn step_if(job: &str, id: &str) -> String {
    let wf = workflow();
    let step = wf["jobs"][job]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("job {job}: no step {id}"))
        .clone();
    step["if"].as_str().unwrap().to_string()
}

/// The baseline is saved only from a finished run (not cancelled, every run job green) on
/// main from a schedule or a manual run, when the report wrote it: every other combination
/// is weighed with the workflow's own `if:` and saves nothing.
#[test]
fn a_baseline_is_saved_only_from_a_finished_trusted_run_on_main() {
    let cond = step_if("report", "keep");
    let on = |name: &'static str, git_ref: &str| Event {
        name,
        git_ref: git_ref.into(),
        base_ref: if name == "pull_request" {
            "main".into()
        } else {
            String::new()
        },
    };
    let mut saves = Vec::new();
    for event in ["schedule", "workflow_dispatch", "pull_request", "push"] {
        for git_ref in ["refs/heads/main", "refs/heads/topic", "refs/pull/7/merge"] {
            for cancelled in [false, true] {
                for result in ["success", "failure", "cancelled", "skipped"] {
                    for next in ["written", ""] {
                        let yes = weigh(
                            &cond,
                            &on(event, git_ref),
                            cancelled,
                            json!({"baseline": {}, "report": {"outcome": "success", "outputs": {"next": next}}}),
                            json!({"run": {"result": result, "outputs": {}}}),
                        );
                        if yes {
                            saves.push(format!("{event} {git_ref} {cancelled} {result} {next}"));
                        }
                    }
                }
            }
        }
    }
    assert_eq!(
        saves,
        [
            "schedule refs/heads/main false success written",
            "workflow_dispatch refs/heads/main false success written"
        ],
        "{cond}"
    );
}

/// Every cache save is a step of its own (actions/cache saves at the job's end, after the
/// entry cells and only on success), never from a pull request, and in a run job before the
/// entry cells; ccache right after the base cells, whatever they gave.
#[test]
fn caches_are_saved_before_any_entry_is_built_and_never_from_a_pull_request() {
    let wf = workflow();
    for (name, job) in string_map(&wf["jobs"]) {
        let steps = job["steps"].as_array().unwrap();
        let entries = steps.iter().position(|s| s["id"] == "entries");
        assert_eq!(entries.is_some(), name == "run", "job {name}");
        for (i, s) in steps.iter().enumerate() {
            let uses = s["uses"].as_str().unwrap_or("");
            assert!(
                !uses.starts_with("actions/cache@"),
                "job {name}: actions/cache saves at the job's end; restore and save in steps of their own"
            );
            if uses.starts_with("actions/cache/save@") {
                let cond = s["if"].as_str().unwrap_or("");
                assert!(
                    cond.contains("github.event_name != 'pull_request'")
                        || cond.contains("(github.event_name == 'schedule' || github.event_name == 'workflow_dispatch')"),
                    "job {name} step {i}: a save a pull request may reach: if: {cond}"
                );
                assert!(
                    entries.is_none_or(|e| i < e),
                    "job {name} step {i}: saved after the entry cells"
                );
            }
        }
    }
    let cond = step_if("run", "ccache-save");
    for event in [Event::nightly(), Event::pull_request(7)] {
        for cancelled in [false, true] {
            for base in ["success", "failure", "skipped"] {
                for hit in ["true", "false"] {
                    let yes = weigh(
                        &cond,
                        &event,
                        cancelled,
                        json!({"ccache": {"outputs": {"cache-hit": hit}}, "base": {"outcome": base}}),
                        json!({}),
                    );
                    let want = event.name != "pull_request"
                        && !cancelled
                        && base != "skipped"
                        && hit == "false";
                    assert_eq!(
                        yes, want,
                        "{} cancelled={cancelled} base={base} hit={hit}: {cond}",
                        event.name
                    );
                }
            }
        }
    }
}

/// Rule 7: only a pull request's running run is cancelled by a newer one; each event and ref
/// is a group of its own; and the comment says what GitHub does with a pending run.
#[test]
fn concurrency_cancels_only_pull_requests_and_says_what_happens_to_a_pending_run() {
    let wf = workflow();
    let c = &wf["concurrency"];
    let group = c["group"].as_str().unwrap();
    let cancel = c["cancel-in-progress"].as_str().unwrap();
    let manual = Event {
        name: "workflow_dispatch",
        ..Event::nightly()
    };
    let value = |text: &str, e: &Event| -> String {
        expr::text(&template_outside_a_run(
            text,
            e,
            &Value::Null,
            Path::new("/nonexistent"),
        ))
    };
    let events = [
        Event::nightly(),
        manual,
        Event::pull_request(7),
        Event::pull_request(8),
    ];
    let groups: std::collections::BTreeSet<String> =
        events.iter().map(|e| value(group, e)).collect();
    assert_eq!(groups.len(), 4, "a group per event and ref: {groups:?}");
    for e in &events {
        assert_eq!(
            value(cancel, e),
            (e.name == "pull_request").to_string(),
            "{}",
            e.name
        );
    }
    let text = std::fs::read_to_string(root().join(WORKFLOW)).unwrap();
    let comment = text
        .split("concurrency:\n")
        .nth(1)
        .unwrap()
        .split("  group:")
        .next()
        .unwrap();
    assert!(
        comment.contains("at most one pending run per group")
            && comment.contains("cancels the waiting one")
            && !comment.contains("run is never cancelled."),
        "{comment}"
    );
}

/// A `cargo` for ci/report.sh alone: `report` refuses (exit 2) a results file holding `bad`,
/// writes a Markdown report of `MD_BYTES` bytes (the harness's cap), and empty others.
fn stub_cargo(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let cargo = bin.join("cargo");
    std::fs::write(
        &cargo,
        r#"#!/bin/bash
[ "$1 $2" = "xtask report" ] || exit 97
shift 2
format= out=
while [ $# -gt 0 ]; do
    case $1 in
        --results|--baseline) grep -q bad "$2" && { echo "error: $2: breaks the schema" >&2; exit 2; }; shift 2 ;;
        --format) format=$2; shift 2 ;;
        --output) out=$2; shift 2 ;;
        *) shift ;;
    esac
done
case $format in
    markdown) head -c "$MD_BYTES" /dev/zero | tr '\0' 'x' > "$out" ;;
    github) echo "::error title=cell::a failing cell" ;;
    *) [ -n "$out" ] && echo '{}' > "$out" ;;
esac
exit 0
"#,
    )
    .unwrap();
    std::fs::set_permissions(&cargo, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn report_sh(
    dir: &Path,
    path: &str,
    env: &[(&str, &str)],
) -> (Option<i32>, String, String, BTreeMap<String, String>) {
    let (summary, output) = (dir.join("summary.md"), dir.join("output"));
    std::fs::write(&summary, "").unwrap();
    std::fs::write(&output, "").unwrap();
    let mut c = Command::new("bash");
    c.arg(root().join("ci/report.sh"))
        .arg("all")
        .current_dir(dir)
        .env("PATH", path)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("GITHUB_OUTPUT", &output);
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    let outputs = key_values(&std::fs::read_to_string(&output).unwrap())
        .into_iter()
        .collect();
    (
        o.status.code(),
        std::fs::read_to_string(&summary).unwrap(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        outputs,
    )
}

/// Rule 8: with the harness's Markdown at its cap and three hundred results files it refuses
/// (one with a hostile name), the report step's summary stays under 1 MiB: its own lines are
/// at most twenty, shown without Markdown characters, then counted. Its annotations too.
#[test]
fn the_report_scripts_own_summary_text_is_bounded() {
    let t = TempDir::new("wf-bound");
    let path = stub_cargo(&t.0);
    let all = t.0.join("all");
    std::fs::create_dir_all(all.join("results-0-x86_64")).unwrap();
    std::fs::write(all.join("results-0-x86_64/results.json"), "{}").unwrap();
    for n in 1..=300 {
        let d = all.join(if n == 1 {
            "aaa `x` <b>|*[a](b)".to_string()
        } else {
            format!("results-{n}-arm64")
        });
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("results.json"), "bad").unwrap();
    }
    let (code, summary, stdout, outputs) = report_sh(
        &t.0,
        &path,
        &[("MD_BYTES", &(900 * 1024).to_string()), ("BRANCH", "main")],
    );
    assert_eq!(code, Some(0), "{stdout}");
    assert_eq!(outputs["verdict"], "1", "results left out fail the run");
    assert_eq!(outputs["next"], "written");
    assert!(summary.len() < 1024 * 1024, "{} bytes", summary.len());
    let own: Vec<&str> = summary
        .lines()
        .take_while(|l| !l.starts_with("xxx"))
        .collect();
    assert!(own.join("\n").len() < 16 * 1024, "{own:?}");
    assert!(
        own[0].starts_with("No baseline: no complete run of `main`"),
        "{}",
        own[0]
    );
    assert_eq!(
        own.iter().filter(|l| l.starts_with("- Left out:")).count(),
        20
    );
    assert!(own.contains(&"- and 280 more"), "{own:?}");
    assert!(
        own.iter()
            .any(|l| l.starts_with("- Left out: `all/aaa__x___b____a__b_/results.json`")),
        "{own:?}"
    );
    let errors = stdout.lines().filter(|l| l.starts_with("::error")).count();
    assert!(errors <= 6, "{errors} annotations:\n{stdout}");
}

/// A report job run again keeps the key it saved its baseline under: that baseline is its
/// own, not an earlier run's, and the report says there is none rather than compare the run
/// with itself.
#[test]
fn a_report_job_run_again_does_not_take_its_own_baseline() {
    let t = TempDir::new("wf-rerun");
    let path = stub_cargo(&t.0);
    std::fs::create_dir_all(t.0.join("all/results-0-x86_64")).unwrap();
    std::fs::write(t.0.join("all/results-0-x86_64/results.json"), "{}").unwrap();
    std::fs::create_dir_all(t.0.join("baseline")).unwrap();
    std::fs::write(t.0.join("baseline/results.json"), "{}").unwrap();
    let env = [
        ("MD_BYTES", "10"),
        ("BRANCH", "main"),
        ("BASELINE_KEY", "baseline-main-42"),
        ("OWN_KEY", "baseline-main-42"),
    ];
    let (code, summary, _, _) = report_sh(&t.0, &path, &env);
    assert_eq!(code, Some(0));
    assert!(
        summary.starts_with("No baseline: the newest one, `baseline-main-42`, is this run's own"),
        "{summary}"
    );
    // An earlier run's is taken.
    std::fs::remove_dir_all(t.0.join("baseline")).unwrap();
    std::fs::rename(t.0.join("baseline-old"), t.0.join("baseline")).unwrap();
    let env = [
        ("MD_BYTES", "10"),
        ("BRANCH", "main"),
        ("BASELINE_KEY", "baseline-main-41"),
        ("OWN_KEY", "baseline-main-42"),
    ];
    let (_, summary, _, _) = report_sh(&t.0, &path, &env);
    assert!(
        summary.starts_with("Baseline: `baseline-main-41`"),
        "{summary}"
    );
}

/// A workflow expression evaluated as in a step of run 1 of `e`, with no outputs, needs or
/// caches yet (the job's matrix values are `matrix`, its workspace `ws`).
fn template_outside_a_run(text: &str, e: &Event, matrix: &Value, ws: &Path) -> Value {
    let run = RunState {
        id: 1,
        event: e.clone(),
        cancelled: false,
        artifacts: PathBuf::new(),
        saved: Vec::new(),
    };
    let gh = Github {
        dir: PathBuf::from("/nonexistent"),
        checkout: PathBuf::new(),
        bin: PathBuf::new(),
        caches: Caches {
            dir: PathBuf::new(),
            entries: Vec::new(),
        },
        next_run: 1,
        machine: Vec::new(),
    };
    let github = gh.github_cx(&run, "x");
    let cx = Cx {
        github: &github,
        env: &Map::new(),
        matrix,
        steps: &Map::new(),
        step_ids: &[],
        needs: &Map::new(),
        status: Status {
            success: true,
            failure: false,
            cancelled: false,
        },
        ws,
    };
    expr::template(text, &cx)
}

/// The emulator's expressions as GitHub's: `&&` and `||` give a value, `==` ignores case and
/// compares other types as numbers, an `if:` without a status function needs success, and
/// what it does not know fails.
#[test]
fn the_emulators_expressions_follow_github() {
    let nightly = Event::nightly();
    let pr = Event::pull_request(3);
    let steps = json!({"s": {"outcome": "success", "outputs": {"hit": "TRUE"}}});
    let yes =
        |c: &str, e: &Event, cancelled: bool| weigh(c, e, cancelled, steps.clone(), json!({}));
    assert!(yes("steps.s.outputs.hit == 'true'", &nightly, false));
    assert!(yes("steps.s.outputs.missing == ''", &nightly, false));
    assert!(!yes("steps.s.outputs.missing == 'true'", &nightly, false));
    assert!(yes("github.base_ref == ''", &nightly, false));
    assert!(
        !yes("steps.s.outcome == 'success'", &nightly, true),
        "implicit success()"
    );
    assert!(yes(
        "${{ always() && steps.s.outcome == 'success' }}",
        &nightly,
        true
    ));
    assert!(yes("${{ !cancelled() || cancelled() }}", &pr, true));
    assert!(yes("(github.event_name == 'schedule' || github.event_name == 'pull_request') && github.ref_name == '3/merge'", &pr, false));
    let value = |text: &str, e: &Event| template_outside_a_run(text, e, &json!({"n": 2}), &root());
    assert_eq!(
        value(
            "${{ github.event_name == 'pull_request' && 'default' || 'all' }}",
            &pr
        ),
        "default"
    );
    assert_eq!(
        value(
            "${{ github.event_name == 'pull_request' && 'default' || 'all' }}",
            &nightly
        ),
        "all"
    );
    assert_eq!(
        value(
            "baseline-${{ github.base_ref || github.ref_name }}-${{ github.run_id }}",
            &pr
        ),
        "baseline-main-1"
    );
    assert_eq!(
        value(
            "baseline-${{ github.base_ref || github.ref_name }}-",
            &nightly
        ),
        "baseline-main-"
    );
    assert_eq!(
        value("${{ fromJSON('{\"a\": [1]}') }}", &nightly),
        json!({"a": [1]})
    );
    assert_eq!(value("x${{ matrix.n }}", &nightly), "x2");
    assert_eq!(value("${{ hashFiles('no/such/file') }}", &nightly), "");
    assert_eq!(
        value("${{ hashFiles('Cargo.lock', 'xtask/**') }}", &nightly)
            .as_str()
            .unwrap()
            .len(),
        64
    );
    // An unset variable or secret is empty, as on GitHub.
    assert_eq!(value("${{ secrets.X }}", &nightly), "");
    assert_eq!(value("${{ vars.X }}", &nightly), "");
    for unknown in [
        "${{ github.sha }}",
        "${{ format('{0}', 1) }}",
        "${{ steps.nope.outputs.x }}",
        "${{ a[0] }}",
    ] {
        let r = std::panic::catch_unwind(|| value(unknown, &nightly));
        assert!(r.is_err(), "{unknown} was evaluated");
    }
}
