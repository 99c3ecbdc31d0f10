//! One GNU make jobserver for the whole run, so that concurrent cells never ask for more CPUs
//! than `-j` says.
//!
//! The harness owns a pipe holding `-j` tokens. Before it starts a heavy child (a make, a
//! QEMU) it takes one token and holds it until the child exits: that is the child's "free"
//! job. Every make is started as a jobserver client (`MAKEFLAGS=-jN --jobserver-auth=R,W`
//! with the pipe's descriptors inherited), so each further job it runs takes a token from
//! the same pipe. At most `-j` jobs run at any moment, whatever the number of cells in flight.
//!
//! A make that is killed can take tokens with it. Whenever no make is running, the pool is
//! topped up again to what it should hold.
//!
//! Each thread adds up how long it waited in [`acquire`], so a stage's time splits into the
//! time it ran and the time it queued for a token ([`counting_waits`]). The tokens a make
//! takes for its further jobs are make's own business, not a wait of ours.

use std::cell::Cell;
use std::os::fd::RawFd;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

struct Server {
    size: usize,
    /// The ends the children inherit (blocking, as make expects).
    read: RawFd,
    write: RawFd,
    /// The harness's own non-blocking view of the read end, so a wait can notice an interrupt.
    poll_read: RawFd,
}

static SERVER: OnceLock<Server> = OnceLock::new();

/// What the harness holds, changed only under this lock together with the pipe reads and
/// writes that go with it, so the top-up never sees a token between the pipe and a count.
struct Held {
    /// Tokens the harness holds (one per running heavy child).
    tokens: usize,
    /// Running makes: while any runs, the pool's level says nothing about lost tokens.
    makes: usize,
}

static HELD: Mutex<Held> = Mutex::new(Held {
    tokens: 0,
    makes: 0,
});

fn held() -> std::sync::MutexGuard<'static, Held> {
    HELD.lock().unwrap_or_else(|e| e.into_inner())
}

/// Start the jobserver with `size` tokens (once per process; later calls keep the first).
pub fn init(size: usize) -> anyhow::Result<()> {
    if SERVER.get().is_some() {
        return Ok(());
    }
    let size = size.max(1);
    let mut fds = [0; 2];
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        anyhow::bail!("jobserver pipe: {}", std::io::Error::last_os_error());
    }
    let path =
        std::ffi::CString::new(format!("/proc/self/fd/{}", fds[0])).expect("no NUL in a path");
    let poll_read = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
        )
    };
    if poll_read < 0 {
        anyhow::bail!(
            "jobserver pipe (reopen): {}",
            std::io::Error::last_os_error()
        );
    }
    let s = Server {
        size,
        read: fds[0],
        write: fds[1],
        poll_read,
    };
    put(s.write, size);
    let _ = SERVER.set(s);
    Ok(())
}

fn put(fd: RawFd, n: usize) {
    let buf = vec![b'+'; n];
    let mut done = 0;
    while done < n {
        let w = unsafe { libc::write(fd, buf[done..].as_ptr().cast(), n - done) };
        if w <= 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        done += w as usize;
    }
}

fn pooled(fd: RawFd) -> usize {
    let mut n: libc::c_int = 0;
    if unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) } != 0 {
        return 0;
    }
    n.max(0) as usize
}

/// A token the harness holds for one child; given back on drop.
pub struct Token {
    make: bool,
}

thread_local! {
    /// How long this thread has waited in [`acquire`], in all.
    static WAITED: Cell<Duration> = const { Cell::new(Duration::ZERO) };
}

/// Run `f` and say how long this thread waited for tokens meanwhile.
pub fn counting_waits<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let before = WAITED.get();
    let r = f();
    (r, WAITED.get().saturating_sub(before))
}

/// Wait for a token for a child (`make` says whether the child is a make). Returns `None`
/// without a jobserver, or when the run is interrupted while waiting. The wait is added to
/// this thread's.
pub fn acquire(make: bool) -> Option<Token> {
    let s = SERVER.get()?;
    let start = Instant::now();
    let t = wait_for_token(s, make);
    WAITED.set(WAITED.get() + start.elapsed());
    t
}

fn wait_for_token(s: &Server, make: bool) -> Option<Token> {
    loop {
        {
            // The read and the count under one lock: a top-up in between would take the
            // token for lost and put another.
            let mut h = held();
            let mut b = 0u8;
            if unsafe { libc::read(s.poll_read, (&mut b as *mut u8).cast(), 1) } == 1 {
                h.tokens += 1;
                h.makes += usize::from(make);
                return Some(Token { make });
            }
        }
        if crate::sys::signal::interrupted() {
            return None;
        }
        let mut p = libc::pollfd {
            fd: s.poll_read,
            events: libc::POLLIN,
            revents: 0,
        };
        unsafe {
            libc::poll(&mut p, 1, 100);
        }
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        let Some(s) = SERVER.get() else { return };
        let mut h = held();
        h.tokens -= 1;
        h.makes -= usize::from(self.make);
        if self.make && h.makes == 0 {
            // No make holds a token now: the pool must hold every token but the harness's
            // own (this one included, put back below). A killed make's tokens come back here.
            let want = s.size.saturating_sub(h.tokens + 1);
            let have = pooled(s.read);
            if have < want {
                put(s.write, want - have);
            }
        }
        put(s.write, 1);
    }
}

/// Make `cmd` (a make) a client of the jobserver; without one, a plain `-jN`.
pub fn make_client(cmd: &mut Command, fallback_jobs: usize) {
    match SERVER.get() {
        Some(s) => {
            let (r, w) = (s.read, s.write);
            cmd.env(
                "MAKEFLAGS",
                format!("-j{} --jobserver-auth={r},{w}", s.size),
            );
            // The descriptors are close-on-exec for every other child; a make keeps them.
            unsafe {
                cmd.pre_exec(move || {
                    for fd in [r, w] {
                        if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    Ok(())
                });
            }
        }
        None => {
            cmd.arg(format!("-j{}", fallback_jobs.max(1)));
        }
    }
}

/// `MAKEFLAGS` as a shell line shows it: the descriptors mean nothing outside this process,
/// so a reproducer gets `-jN` instead.
pub fn display_makeflags(value: &str) -> Option<String> {
    let j = value.split_whitespace().find(|w| w.starts_with("-j"))?;
    value.contains("--jobserver-auth=").then(|| j.to_string())
}

/// For tests that take tokens (from a jobserver of two): one at a time, each with the whole
/// pool.
#[cfg(test)]
pub(crate) fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static ONE: Mutex<()> = Mutex::new(());
    let g = ONE.lock().unwrap_or_else(|e| e.into_inner());
    init(2).unwrap();
    g
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A make of `jobs` jobs of 0.4 s each, in a fresh folder; each job's start and end are
    /// written to the folder's `events`.
    fn makefile(tag: &str, jobs: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("rfl-jobs-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("events");
        std::fs::write(
            dir.join("Makefile"),
            format!("all: {jobs}\n{jobs}:\n\t@echo \"+ $$(date +%s%N)\" >> {0}; sleep 0.4; echo \"- $$(date +%s%N)\" >> {0}\n", log.display()),
        )
        .unwrap();
        dir
    }

    fn run_make(dir: &std::path::Path) {
        let mut c = Command::new("make");
        c.arg("-s").arg("-C").arg(dir);
        make_client(&mut c, 9);
        assert!(c.status().unwrap().success());
    }

    /// Two makes of six one-second jobs each, sharing two tokens: never more than two jobs at
    /// once (real GNU make), and the pool is whole again afterwards.
    #[test]
    fn concurrent_makes_share_the_tokens() {
        let _pool = exclusive();
        let dir = makefile("share", "a b c d e f");
        let log = dir.join("events");
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let dir = dir.clone();
                std::thread::spawn(move || {
                    let _t = acquire(true).unwrap();
                    run_make(&dir);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut events: Vec<(u128, i32)> = std::fs::read_to_string(&log)
            .unwrap()
            .lines()
            .map(|l| {
                let (k, t) = l.split_once(' ').unwrap();
                (t.parse().unwrap(), if k == "+" { 1 } else { -1 })
            })
            .collect();
        events.sort_by_key(|&(t, d)| (t, d));
        let (mut now, mut peak) = (0, 0);
        for (_, d) in &events {
            now += d;
            peak = peak.max(now);
        }
        assert_eq!(events.len(), 24, "all twelve jobs ran");
        assert_eq!(peak, 2, "two tokens, two jobs at most (and both used)");
        assert_eq!(SERVER.get().map(|s| pooled(s.read)), Some(2));
        assert_eq!(
            display_makeflags("-j2 --jobserver-auth=3,4").as_deref(),
            Some("-j2")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The thread that waits for a token has the wait counted, the one holding the tokens
    /// does not; and the tokens a make takes for its further jobs are not a wait of ours,
    /// though its jobs queue for them.
    #[test]
    fn only_our_own_waits_for_tokens_count() {
        let _pool = exclusive();
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let holder = std::thread::spawn(move || {
            counting_waits(|| {
                let both = [acquire(false), acquire(false)];
                held_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_secs(1));
                drop(both);
            })
            .1
        });
        held_rx.recv().unwrap();
        let (token, waited) = counting_waits(|| acquire(false));
        drop(token);
        assert!(waited > Duration::from_millis(800), "{waited:?}");
        assert!(holder.join().unwrap() < Duration::from_millis(200));

        // Four jobs of 0.4 s on two tokens: two rounds, the second queued inside make.
        let dir = makefile("own", "a b c d");
        let start = Instant::now();
        let ((), waited) = counting_waits(|| {
            let _t = acquire(true).unwrap();
            run_make(&dir);
        });
        assert!(start.elapsed() > Duration::from_millis(750));
        assert!(waited < Duration::from_millis(200), "{waited:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
