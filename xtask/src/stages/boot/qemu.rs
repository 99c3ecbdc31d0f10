//! QEMU: the command line of a kernel image and its initramfs under an arch's profile, a run
//! under a deadline with the console to a file (watched for the init's end and capped), and
//! the console read back.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::model::arch::Profile;
use crate::stages::boot::marker::Marker;
use crate::sys::proc;

/// The QEMU command line for a kernel image and initramfs.
pub fn qemu_command(
    profile: &Profile,
    out: &Path,
    initramfs: &Path,
    accel: &str,
    extra_append: &str,
) -> Command {
    let mut c = Command::new(&profile.binary);
    c.args([
        "-nodefaults",
        "-nographic",
        "-no-reboot",
        "-serial",
        "stdio",
        "-monitor",
        "none",
    ]);
    c.args(["-M", &profile.machine]);
    if !profile.cpu.is_empty() {
        c.args(["-cpu", &profile.cpu]);
    }
    c.args(["-m", &profile.memory, "-accel", accel]);
    c.args(&profile.firmware);
    c.arg("-kernel").arg(out.join(&profile.image));
    c.arg("-initrd").arg(initramfs);
    // `printk.devkmsg=on`: the init's markers go through /dev/kmsg, which is otherwise
    // rate-limited to a burst of ten lines.
    let mut append = format!(
        "console={} printk.devkmsg=on {}",
        profile.console, profile.append
    );
    if !extra_append.is_empty() {
        append.push(' ');
        append.push_str(extra_append);
    }
    c.args(["-append", append.trim()]);
    c.args(&profile.extra_args);
    c
}

/// The most console a boot may print. A real boot with every KUnit suite prints a few MiB; a
/// kernel that prints without end (530 MB was seen) is stopped here, and the console kept
/// for parsing, the run folder and the result cache is never larger.
pub const MAX_CONSOLE: u64 = 64 * 1024 * 1024;

/// The init's markers that end a boot.
const END_MARKERS: [&str; 2] = [Marker::Done.line(), Marker::RebootFailed.line()];

/// How a QEMU run ended.
#[derive(Debug, Clone)]
pub struct QemuEnd {
    pub outcome: proc::Outcome,
    /// The init said it was done and QEMU, given a moment to exit, was stopped by us.
    pub stopped_by_us: bool,
    /// The console reached its cap (`Some(cap)`) and QEMU was killed for it.
    pub console_full: Option<u64>,
}

/// Watches a growing console file: each poll reads only the bytes written since the last one
/// (with a marker's length of overlap, for a marker split across two reads), so a console is
/// read once in all, not once per growth.
pub struct ConsoleWatch {
    path: std::path::PathBuf,
    cap: u64,
    offset: u64,
    /// The end of what was read so far, shorter than the longest marker.
    overlap: Vec<u8>,
    pub done_at: Option<Instant>,
    /// How long QEMU is given to exit by itself after the init's last marker.
    pub grace: Duration,
    pub stopped_by_us: bool,
    pub full: bool,
}

impl ConsoleWatch {
    pub fn new(path: &Path, cap: u64) -> ConsoleWatch {
        ConsoleWatch {
            path: path.to_path_buf(),
            cap,
            offset: 0,
            overlap: Vec::new(),
            done_at: None,
            grace: Duration::from_secs(5),
            stopped_by_us: false,
            full: false,
        }
    }

    /// Look at what the console gained; true when the child is to be stopped (the console is
    /// full, or the init finished and the grace time is over).
    pub fn poll(&mut self) -> bool {
        let len = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        if len >= self.cap {
            self.full = true;
            return true;
        }
        if self.done_at.is_none() && len > self.offset {
            self.scan(len);
        }
        if self.done_at.is_some_and(|t| t.elapsed() > self.grace) {
            self.stopped_by_us = true;
            return true;
        }
        false
    }

    fn scan(&mut self, len: u64) {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut new = Vec::new();
        if f.take(len - self.offset).read_to_end(&mut new).is_err() {
            return;
        }
        self.offset += new.len() as u64;
        let mut window = std::mem::take(&mut self.overlap);
        window.extend_from_slice(&new);
        if END_MARKERS
            .iter()
            .any(|m| window.windows(m.len()).any(|w| w == m.as_bytes()))
        {
            self.done_at = Some(Instant::now());
        }
        let keep = END_MARKERS.iter().map(|m| m.len()).max().unwrap_or(1) - 1;
        self.overlap = window[window.len().saturating_sub(keep)..].to_vec();
    }
}

/// Run QEMU with the console to `console_log`; stops early once the init said `done` and
/// QEMU has had a moment to exit by itself, and kills it when the console reaches
/// [`MAX_CONSOLE`].
pub fn run_qemu(
    cmd: &mut Command,
    console_log: &Path,
    deadline: Duration,
) -> anyhow::Result<QemuEnd> {
    run_console(cmd, console_log, deadline, MAX_CONSOLE)
}

/// [`run_qemu`] with a console cap of `cap` bytes; the console file is cut to `cap` after the
/// child is gone (it may have written a little more between two polls).
pub fn run_console(
    cmd: &mut Command,
    console_log: &Path,
    deadline: Duration,
    cap: u64,
) -> anyhow::Result<QemuEnd> {
    let _ = std::fs::remove_file(console_log);
    // QEMU (TCG, one vCPU) is a job like a compiler: it waits for a token.
    let _token = crate::sys::jobs::acquire(false);
    let mut w = ConsoleWatch::new(console_log, cap);
    let outcome = proc::run_to_file(cmd, console_log, Some(deadline), || w.poll())?;
    let full = w.full || std::fs::metadata(console_log).is_ok_and(|m| m.len() >= cap);
    if full {
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(console_log) {
            let _ = f.set_len(cap);
        }
    }
    Ok(QemuEnd {
        outcome,
        stopped_by_us: w.stopped_by_us,
        console_full: full.then_some(cap),
    })
}

/// Read a console file, at most [`MAX_CONSOLE`] bytes of it, decoded as `kunit.py` does.
pub fn read_console(path: &Path) -> String {
    use std::io::Read;
    let mut bytes = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(MAX_CONSOLE).read_to_end(&mut bytes);
    }
    crate::stages::ktap::decode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{BootKind, Fault, Status};
    use crate::stages::boot::console::classify_run;
    use crate::stages::boot::run::boot_stage;

    /// The watcher reads only what the console gained, and a marker written in two pieces
    /// (split between two polls) is still seen.
    #[test]
    fn the_console_watch_reads_increments_and_sees_a_split_marker() {
        use std::io::Write;
        let dir = std::env::temp_dir().join(format!("rfl-console-watch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("console.log");
        let mut f = std::fs::File::create(&path).unwrap();
        let mut w = ConsoleWatch::new(&path, 1 << 20);
        f.write_all(&b"x".repeat(1000)).unwrap();
        f.write_all(b"\nRFL-INIT: do").unwrap();
        assert!(!w.poll());
        assert_eq!(w.offset, 1013);
        assert!(w.done_at.is_none());
        f.write_all(b"ne \n").unwrap();
        assert!(!w.poll());
        assert_eq!(w.offset, 1017, "only the new bytes were read");
        assert!(w.done_at.is_some(), "the split marker was found");
        w.grace = Duration::ZERO;
        std::thread::sleep(Duration::from_millis(5));
        assert!(w.poll() && w.stopped_by_us && !w.full);
        // Past the cap the watcher says stop, whatever the markers.
        let mut w = ConsoleWatch::new(&path, 1000);
        assert!(w.poll() && w.full);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A child that prints without end (here `yes`, standing in for QEMU) is killed at the
    /// console's cap, fast; the file is cut to the cap and the verdict says why.
    #[test]
    fn a_console_that_never_ends_is_cut_at_the_cap() {
        // Its child takes a job token, as QEMU does: not while another test counts them.
        let _pool = crate::sys::jobs::exclusive();
        let dir = std::env::temp_dir().join(format!("rfl-console-flood-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("console.log");
        let cap = 1 << 20;
        let started = Instant::now();
        let mut cmd = Command::new("yes");
        cmd.arg("[    1.0] rust_minimal: again");
        let end = run_console(&mut cmd, &path, Duration::from_secs(60), cap).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "took {:?}",
            started.elapsed()
        );
        assert!(!end.outcome.timed_out);
        assert_eq!(end.console_full, Some(cap));
        assert!(
            std::fs::metadata(&path).unwrap().len() <= cap,
            "the file is cut to the cap"
        );
        let console = read_console(&path);
        assert!(console.len() as u64 <= cap);
        let v = classify_run(&console, &end, &[]);
        assert_eq!((v.status, v.kind), (Status::Fail, BootKind::ConsoleFlood));
        assert_eq!(
            v.summary,
            "console exceeded 1 MiB: the kernel printed without end; QEMU killed"
        );
        assert_eq!(boot_stage(&v, 1.0, "console.log").fault, Some(Fault::Code));
        // A panic before the flood is still the cause named.
        let panicked = format!("RFL-INIT: start \nKernel panic - not syncing: boom\n{console}");
        let v = classify_run(&panicked, &end, &[]);
        assert_eq!(v.kind, BootKind::Panic);
        assert!(
            v.summary.contains("console exceeded 1 MiB"),
            "{}",
            v.summary
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
