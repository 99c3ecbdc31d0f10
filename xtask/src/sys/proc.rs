//! Child processes: each in its own process group, output to a log file or captured, under a
//! deadline after which the whole group gets SIGTERM then SIGKILL. No orphaned qemu or make.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::sys::signal;

/// When each child ran, by program name (for the harness-overhead benchmark).
static CHILD_TIME: Mutex<Vec<(String, Instant, Instant)>> = Mutex::new(Vec::new());

fn account(cmd: &Command, elapsed: Duration) {
    let prog = Path::new(cmd.get_program())
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let end = Instant::now();
    let mut g = CHILD_TIME.lock().unwrap_or_else(|e| e.into_inner());
    g.push((prog, end - elapsed, end));
}

/// Wall time during which at least one child whose program name starts with one of
/// `prefixes` ran (overlapping children count once), since `since`.
pub fn child_time(prefixes: &[&str], since: Instant) -> Duration {
    let g = CHILD_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut spans: Vec<(Instant, Instant)> = g
        .iter()
        .filter(|(p, _, _)| prefixes.iter().any(|x| p.starts_with(x)))
        .map(|(_, a, b)| ((*a).max(since), *b))
        .filter(|(a, b)| b > a)
        .collect();
    union_length(&mut spans)
}

fn union_length(spans: &mut [(Instant, Instant)]) -> Duration {
    spans.sort();
    let mut total = Duration::ZERO;
    let mut cur: Option<(Instant, Instant)> = None;
    for &(a, b) in spans.iter() {
        cur = match cur {
            Some((ca, cb)) if a <= cb => Some((ca, cb.max(b))),
            Some((ca, cb)) => {
                total += cb - ca;
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    if let Some((a, b)) = cur {
        total += b - a;
    }
    total
}

/// When set, every command run is also written down as a shell line (for `repro.sh`).
static RECORD: Mutex<Option<Vec<String>>> = Mutex::new(None);

pub fn start_recording() {
    *RECORD.lock().unwrap_or_else(|e| e.into_inner()) = Some(Vec::new());
}

pub fn take_recording() -> Vec<String> {
    RECORD
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_default()
}

fn record(cmd: &Command, redirect: Option<(&Path, bool)>, deadline: Option<Duration>) {
    let mut g = RECORD.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(lines) = g.as_mut() {
        let mut line = display_command(cmd);
        if let Some(d) = deadline {
            // `timeout` goes right before the program, after any `cd … &&` and variables.
            let prog = shell_quote(cmd.get_program());
            if let Some(i) = line
                .find(&format!(" {prog} "))
                .map(|i| i + 1)
                .or_else(|| line.starts_with(&prog).then_some(0))
            {
                line.insert_str(i, &format!("timeout -k 5 {} ", d.as_secs().max(1)));
            }
        }
        if let Some((p, append)) = redirect {
            line.push_str(&format!(
                " {} {} 2>&1",
                if append { ">>" } else { ">" },
                shell_quote(p)
            ));
        }
        lines.push(line);
    }
}

/// How a child ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Option<ExitStatus>,
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn success(&self) -> bool {
        !self.timed_out && self.status.is_some_and(|s| s.success())
    }
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
    pub fn describe(&self) -> String {
        if self.timed_out {
            format!("timed out after {:.0?}", self.elapsed)
        } else {
            match self.status {
                Some(s) => s.to_string(),
                None => "did not run".into(),
            }
        }
    }
}

/// Kill a whole process group: SIGTERM, a moment's grace, then SIGKILL.
pub fn kill_group(pgid: i32) {
    unsafe {
        libc::kill(-pgid, libc::SIGTERM);
    }
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        if unsafe { libc::kill(-pgid, 0) } != 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

/// Where the process groups of running children are written down, so that the next run can
/// end what a `kill -9`ed run left behind.
static GROUP_FILE: Mutex<Option<std::path::PathBuf>> = Mutex::new(None);

fn save_groups(groups: &[i32]) {
    if let Some(p) = GROUP_FILE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_ref()
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let text: String = groups.iter().map(|g| format!("{g}\n")).collect();
        // Not through a link planted in the cache: that would overwrite the link's target.
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(p);
        let _ = f.and_then(|mut f| f.write_all(text.as_bytes()));
    }
}

/// Kill the process groups a previous run recorded in `path` (it may have died with
/// children running), then record this run's there.
pub fn adopt_group_file(path: &Path) {
    if let Ok(text) = std::fs::read_to_string(path) {
        let stale: Vec<i32> = text
            .lines()
            .filter_map(|l| l.trim().parse::<i32>().ok())
            .filter(|g| *g > 1)
            .collect();
        // Process ids are reused: only processes that carry the harness's marker in their
        // environment and sit in a recorded group are ended.
        for pid in leftover_children(&stale) {
            eprintln!("ending process {pid} left by an earlier run");
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
    *GROUP_FILE.lock().unwrap_or_else(|e| e.into_inner()) = Some(path.to_path_buf());
    save_groups(&[]);
}

/// The environment variable every child carries, so leftovers can be told from others.
const MARKER: &str = "RFL_HARNESS_CHILD";

/// Every process in /proc, with its parent and process group (`stat`'s fields after the
/// parenthesised command: state ppid pgrp …).
fn processes() -> Vec<(i32, i32, i32)> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let pid = e.file_name().to_string_lossy().parse::<i32>().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let mut f = stat.rsplit_once(')')?.1.split_whitespace().skip(1);
            let ppid = f.next()?.parse().ok()?;
            let pgrp = f.next()?.parse().ok()?;
            Some((pid, ppid, pgrp))
        })
        .collect()
}

fn leftover_children(groups: &[i32]) -> Vec<i32> {
    // A child of this very process is not a leftover (the marker holds the harness's pid).
    let ours = format!("{MARKER}={}", std::process::id());
    processes()
        .into_iter()
        .filter(|(_, _, pgrp)| groups.contains(pgrp))
        .filter(|(pid, _, _)| {
            let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
            env.split(|b| *b == 0)
                .any(|kv| kv.starts_with(MARKER.as_bytes()) && kv != ours.as_bytes())
        })
        .map(|(pid, _, _)| pid)
        .collect()
}

/// Whether this process adopts what its children leave behind (see [`contain_descendants`]).
static SUBREAPER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Make the harness the reaper of every process its children start: a process that leaves
/// its parent's process group and session (`setsid`, a double fork, `nohup … &`) is
/// re-parented to the harness rather than to init when its parent ends, and is ended with
/// the command that started it ([`sweep_orphans`]). A PID namespace or a cgroup would need
/// privileges the harness does not ask for; a subreaper needs none. True when it holds.
pub fn contain_descendants() -> bool {
    let ok = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } == 0;
    SUBREAPER.store(ok, std::sync::atomic::Ordering::SeqCst);
    ok
}

/// Is this process its descendants' subreaper?
pub fn containing() -> bool {
    SUBREAPER.load(std::sync::atomic::Ordering::SeqCst)
}

/// The processes whose parent is this one.
fn children_of_self() -> Vec<i32> {
    let me = std::process::id() as i32;
    processes()
        .into_iter()
        .filter(|(_, ppid, _)| *ppid == me)
        .map(|(pid, _, _)| pid)
        .collect()
}

/// End every process re-parented to the harness: a child of this process that the harness
/// did not start itself (those are the leaders in [`signal::groups`]) is what a command left
/// behind. Each is killed and reaped; its own children come to the harness in turn and go
/// the same way, until none is left (or a bounded number of rounds). `settle`: look again a
/// few times over some milliseconds, for a parent still exiting (a cell's end, the harness's);
/// after each command one look suffices, the next sweep finding any latecomer. Returns how
/// many ended.
pub fn sweep_orphans(settle: bool) -> usize {
    if !containing() {
        return 0;
    }
    let mut ended = 0;
    let mut quiet = 0;
    for _ in 0..200 {
        // Held while looking and killing: a child being spawned is registered under the same
        // lock, so it is never taken for an orphan.
        let g = signal::groups();
        let orphans: Vec<i32> = children_of_self()
            .into_iter()
            .filter(|p| !g.contains(p))
            .collect();
        drop(g);
        if orphans.is_empty() {
            quiet += 1;
            if !settle || quiet > 3 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        quiet = 0;
        for pid in orphans {
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            // Reap it (it is ours now), waiting a moment for the kill to land.
            let until = Instant::now() + Duration::from_millis(500);
            let mut st = 0;
            while unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) } == 0
                && Instant::now() < until
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            ended += 1;
        }
    }
    ended
}

fn spawn_in_group(cmd: &mut Command) -> std::io::Result<Child> {
    cmd.process_group(0);
    cmd.env(MARKER, std::process::id().to_string());
    // The direct child dies with the harness even on SIGKILL; the rest of its group is
    // ended by the next run (see adopt_group_file).
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    // Spawned under the lock the orphan sweep holds: a new child is never taken for an orphan.
    let mut g = signal::groups();
    let child = cmd.spawn()?;
    g.push(child.id() as i32);
    save_groups(&g);
    Ok(child)
}

fn forget_group(pgid: i32) {
    let mut g = signal::groups();
    g.retain(|&x| x != pgid);
    save_groups(&g);
}

/// Wait for `child` until `deadline`; past it (or on interrupt), kill its group. `watch` is
/// polled while waiting and may end the wait early by returning true (the group is then
/// killed and the outcome is not a timeout).
pub fn wait_deadline(
    mut child: Child,
    deadline: Option<Duration>,
    mut watch: impl FnMut() -> bool,
) -> std::io::Result<Outcome> {
    let start = Instant::now();
    let pgid = child.id() as i32;
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Some(s);
        }
        if watch() {
            kill_group(pgid);
            break child.wait().ok();
        }
        if deadline.is_some_and(|d| start.elapsed() >= d) || signal::interrupted() {
            timed_out = !signal::interrupted();
            kill_group(pgid);
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    // Whatever the leader did, nothing of its group may outlive it, nor anything it started
    // that left the group.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    forget_group(pgid);
    sweep_orphans(false);
    Ok(Outcome {
        status,
        timed_out,
        elapsed: start.elapsed(),
    })
}

/// Run with stdout and stderr appended to `log`, under a deadline.
pub fn run_logged(
    cmd: &mut Command,
    log: &Path,
    deadline: Option<Duration>,
) -> anyhow::Result<Outcome> {
    run_logged_watch(cmd, log, deadline, || false)
}

pub fn run_logged_watch(
    cmd: &mut Command,
    log: &Path,
    deadline: Option<Duration>,
    watch: impl FnMut() -> bool,
) -> anyhow::Result<Outcome> {
    run_into(cmd, log, true, deadline, watch)
}

/// Run with stdout and stderr going to `path` as they are (no command line on top): for a
/// console that parsers read.
pub fn run_to_file(
    cmd: &mut Command,
    path: &Path,
    deadline: Option<Duration>,
    watch: impl FnMut() -> bool,
) -> anyhow::Result<Outcome> {
    run_into(cmd, path, false, deadline, watch)
}

fn run_into(
    cmd: &mut Command,
    log: &Path,
    header: bool,
    deadline: Option<Duration>,
    watch: impl FnMut() -> bool,
) -> anyhow::Result<Outcome> {
    use std::io::Write;
    record(cmd, Some((log, header)), deadline);
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("open log {}", log.display()))?;
    if header {
        let _ = writeln!(f, "$ {}", display_command(cmd));
    }
    let f2 = f.try_clone()?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(f))
        .stderr(Stdio::from(f2));
    let child = spawn_in_group(cmd).with_context(|| format!("spawn {}", display_command(cmd)))?;
    let o = wait_deadline(child, deadline, watch)?;
    account(cmd, o.elapsed);
    Ok(o)
}

/// Run and capture stdout (stderr kept for the error message), under a deadline.
pub struct Captured {
    pub outcome: Outcome,
    /// Stdout as the child wrote it: what is hashed or written out whole.
    pub stdout_bytes: Vec<u8>,
    /// Stdout as text for parsing (bytes that are not UTF-8 become U+FFFD).
    pub stdout: String,
    pub stderr: String,
}

pub fn run_captured(cmd: &mut Command, deadline: Option<Duration>) -> anyhow::Result<Captured> {
    use std::io::{Seek, SeekFrom};
    record(cmd, None, deadline);
    // Output goes through temporary files rather than pipes so that a child that fills a
    // pipe can never deadlock against the deadline loop. The files are anonymous (unlinked or
    // O_TMPFILE, made with O_EXCL): no name in /tmp that another user could plant a link at.
    let mut out = tempfile::tempfile().context("create a temporary file for a child's stdout")?;
    let mut err = tempfile::tempfile().context("create a temporary file for a child's stderr")?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(err.try_clone()?));
    let child = spawn_in_group(cmd).with_context(|| format!("spawn {}", display_command(cmd)))?;
    let outcome = wait_deadline(child, deadline, || false)?;
    account(cmd, outcome.elapsed);
    // A capture that cannot be read back is an error: an empty string in its place would be
    // taken for real (empty) output, and hashed as such.
    let read_back = |f: &mut File, what: &str| -> anyhow::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        f.seek(SeekFrom::Start(0))
            .and_then(|_| f.read_to_end(&mut bytes))
            .with_context(|| format!("read the {what} of {}", display_command(cmd)))?;
        Ok(bytes)
    };
    let stdout_bytes = read_back(&mut out, "stdout")?;
    let stderr = String::from_utf8_lossy(&read_back(&mut err, "stderr")?).into_owned();
    let stdout = String::from_utf8_lossy(&stdout_bytes).into_owned();
    Ok(Captured {
        outcome,
        stdout_bytes,
        stdout,
        stderr,
    })
}

/// Run to completion and return stdout; a non-zero exit is an error carrying stderr.
pub fn output(cmd: &mut Command) -> anyhow::Result<String> {
    let c = run_captured(cmd, None)?;
    if !c.outcome.success() {
        anyhow::bail!(
            "`{}` failed ({}): {}",
            display_command(cmd),
            c.outcome.describe(),
            c.stderr.trim()
        );
    }
    Ok(c.stdout)
}

/// Run to completion and return stdout as the bytes the child wrote; a non-zero exit is an
/// error carrying stderr. For output that is hashed or stored, where decoding would lose bytes.
pub fn output_bytes(cmd: &mut Command) -> anyhow::Result<Vec<u8>> {
    let c = run_captured(cmd, None)?;
    if !c.outcome.success() {
        anyhow::bail!(
            "`{}` failed ({}): {}",
            display_command(cmd),
            c.outcome.describe(),
            c.stderr.trim()
        );
    }
    Ok(c.stdout_bytes)
}

/// A shell-quoted rendering of a command, for logs and reproducers.
pub fn display_command(cmd: &Command) -> String {
    let mut parts = Vec::new();
    let mut jobs = None;
    for (k, v) in cmd.get_envs() {
        if k == MARKER {
            continue;
        }
        if let Some(v) = v {
            if k == "MAKEFLAGS" {
                if let Some(j) = crate::sys::jobs::display_makeflags(&v.to_string_lossy()) {
                    jobs = Some(j);
                    continue;
                }
            }
            parts.push(format!("{}={}", k.to_string_lossy(), shell_quote(v)));
        }
    }
    if let Some(dir) = cmd.get_current_dir() {
        parts.insert(0, format!("cd {} &&", shell_quote(dir.as_os_str())));
    }
    parts.push(shell_quote(cmd.get_program()));
    parts.extend(jobs);
    parts.extend(cmd.get_args().map(shell_quote));
    parts.join(" ")
}

pub fn shell_quote(s: impl AsRef<OsStr>) -> String {
    let s = s.as_ref().to_string_lossy();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Look a program up on PATH (or take it as is when it holds a slash).
pub fn which(name: &str) -> Option<std::path::PathBuf> {
    if name.contains('/') {
        let p = Path::new(name);
        return p.is_file().then(|| p.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_kills_the_whole_group() {
        let dir = std::env::temp_dir().join(format!("rfl-proc-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("log");
        // The shell starts a grandchild that would outlive a plain kill of the shell.
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg("sleep 30 & echo started; wait");
        let o = run_logged(&mut cmd, &log, Some(Duration::from_millis(300))).unwrap();
        assert!(o.timed_out);
        assert!(o.elapsed < Duration::from_secs(5));
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("started"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn captured_output_and_failure() {
        let c = run_captured(
            Command::new("sh")
                .arg("-c")
                .arg("echo out; echo err >&2; exit 3"),
            None,
        )
        .unwrap();
        assert_eq!(c.stdout, "out\n");
        assert_eq!(c.stderr, "err\n");
        assert_eq!(c.outcome.code(), Some(3));
        assert!(output(Command::new("false").arg("x")).is_err());
    }

    /// Output that is not UTF-8 is kept byte for byte (it used to come back as an empty
    /// string, so two different outputs looked the same).
    #[test]
    fn captured_bytes_are_kept_as_written() {
        let a = output_bytes(Command::new("printf").arg(r"diff \377\376\n")).unwrap();
        let b = output_bytes(Command::new("printf").arg(r"diff \376\377\n")).unwrap();
        assert_eq!(a, b"diff \xff\xfe\n");
        assert_eq!(b, b"diff \xfe\xff\n");
        let c = run_captured(Command::new("printf").arg(r"x\377"), None).unwrap();
        assert_eq!(c.stdout, "x\u{fffd}");
        assert!(output_bytes(Command::new("sh").arg("-c").arg("printf x; exit 1")).is_err());
    }

    /// Captures have no predictable name: links planted where the old `/tmp/rfl-<pid>-<n>`
    /// files went are not written through.
    #[test]
    fn captures_do_not_write_through_planted_links() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        let tmp = std::env::temp_dir();
        let mut planted = Vec::new();
        for n in 0..64 {
            for ext in ["out", "err"] {
                let p = tmp.join(format!("rfl-{}-{n}.{ext}", std::process::id()));
                if std::os::unix::fs::symlink(&victim, &p).is_ok() {
                    planted.push(p);
                }
            }
        }
        for _ in 0..4 {
            let c = run_captured(
                Command::new("sh")
                    .arg("-c")
                    .arg("echo overwritten; echo overwritten >&2"),
                None,
            )
            .unwrap();
            assert_eq!(c.stdout, "overwritten\n");
        }
        let after = std::fs::read_to_string(&victim).unwrap();
        for p in planted {
            let _ = std::fs::remove_file(p);
        }
        assert_eq!(after, "precious\n");
    }

    #[test]
    fn overlapping_children_count_once() {
        let t = Instant::now();
        let s = |a: u64, b: u64| (t + Duration::from_secs(a), t + Duration::from_secs(b));
        assert_eq!(
            union_length(&mut [s(0, 10), s(5, 12), s(20, 25), s(21, 22)]),
            Duration::from_secs(17)
        );
        assert_eq!(union_length(&mut []), Duration::ZERO);
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("LLVM=1"), "LLVM=1");
    }
}
