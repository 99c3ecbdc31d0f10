//! Boot: a nolibc init per arch, an initramfs written by the kernel's own gen_init_cpio,
//! QEMU under a deadline, and a pure classifier of the console.

pub mod run;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::model::arch::Profile;
use crate::model::outcome::{BootFinding, BootKind, Fault, Stage, StageResult, Status};
use crate::stages::frames::{self, Frame};
use crate::sys::proc;

/// Markers the init prints; the classifier reads them back.
pub const MARK: &str = "RFL-INIT:";

/// The init: load and unload every module in the list, a marker per step, then reboot.
const INIT_C: &str = include_str!("init.c");

/// A Rust module the build produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The name the kernel knows it by (file stem, `-` as `_`).
    pub name: String,
    /// Path of the `.ko` in the output folder.
    pub ko: PathBuf,
}

/// Every module this build produced (Kbuild's `modules.order`, so stale `.ko` files of an
/// earlier build in the same folder are never loaded) whose objects include Rust: its `.mod`
/// file names an object with a `.rs` source, or a `.rs` of the module's name exists.
pub fn rust_modules(src: &Path, out: &Path) -> Vec<Module> {
    let mut found = Vec::new();
    let order = std::fs::read_to_string(out.join("modules.order")).unwrap_or_default();
    let listed: Vec<PathBuf> = order
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| out.join(l).with_extension("ko"))
        .collect();
    let candidates: Vec<PathBuf> = if listed.is_empty() {
        let mut all = Vec::new();
        walk(out, &mut |p| {
            if p.extension().is_some_and(|e| e == "ko") {
                all.push(p.to_path_buf());
            }
        });
        all
    } else {
        listed
    };
    for p in candidates.iter().filter(|p| p.is_file()) {
        if let (Ok(rel), Some(stem)) = (p.strip_prefix(out), p.file_stem()) {
            let mut objects: Vec<String> = std::fs::read_to_string(p.with_extension("mod"))
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string)
                .collect();
            objects.push(rel.with_extension("o").to_string_lossy().into_owned());
            if objects
                .iter()
                .any(|o| src.join(Path::new(o).with_extension("rs")).is_file())
            {
                found.push(Module {
                    name: stem.to_string_lossy().replace('-', "_"),
                    ko: p.clone(),
                });
            }
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found
}

/// The Rust modules built into this kernel: the modules of Kbuild's `modules.builtin` whose
/// init is a symbol `__<name>_init` in `System.map`, the name the `module!` macro gives a
/// built-in module's initcall (a module of several objects, such as `rust_print`, included).
pub fn builtin_rust_modules(out: &Path) -> Vec<String> {
    use std::io::{BufRead, Read};
    let list = crate::stages::config::read_tree_text(&out.join("modules.builtin"));
    let names: Vec<String> = list
        .lines()
        .filter_map(|l| Path::new(l.trim()).file_stem())
        .map(|s| s.to_string_lossy().replace('-', "_"))
        .filter(|n| frames::is_module_name(n))
        .collect();
    if names.is_empty() {
        return names;
    }
    let mut inits = std::collections::BTreeSet::new();
    if let Ok(f) = std::fs::File::open(out.join("System.map")) {
        // A full kernel's System.map is tens of MiB; a bigger one is not a kernel's.
        for line in std::io::BufReader::new(f.take(256 << 20)).lines() {
            let Ok(line) = line else { break };
            if let Some(sym) = line.split_whitespace().nth(2) {
                if let Some(n) = sym.strip_prefix("__").and_then(|s| s.strip_suffix("_init")) {
                    inits.insert(n.to_string());
                }
            }
        }
    }
    let mut found: Vec<String> = names.into_iter().filter(|n| inits.contains(n)).collect();
    found.sort();
    found.dedup();
    found
}

/// The kernel command line a boot with built-in Rust modules adds: every initcall's return
/// is printed (`initcall_debug`, at the debug level, hence `loglevel=8`), so a built-in init
/// that fails is seen as a loaded one's `finit_module` error is.
pub const BUILTIN_APPEND: &str = "initcall_debug loglevel=8";

/// What the console says of each built-in Rust module the init named (`RFL-INIT: builtin
/// NAME`): the value its initcall returned, `None` when no `initcall __NAME_init… returned`
/// line is on the console (its init was not checked).
pub fn builtin_inits(console: &str) -> Vec<(String, Option<i64>)> {
    let lines = crate::stages::ktap::split_lines(console);
    builtin_returns(&lines)
}

fn builtin_returns(lines: &[&str]) -> Vec<(String, Option<i64>)> {
    let mut names: Vec<String> = Vec::new();
    for l in lines {
        if let Some(n) = marker(l).and_then(|m| m.strip_prefix("builtin ")) {
            let n = n.trim();
            if !n.is_empty() && !names.iter().any(|x| x == n) && names.len() < MAX_FINDINGS {
                names.push(n.to_string());
            }
        }
    }
    names
        .into_iter()
        .map(|n| {
            let sym = format!("initcall __{n}_init+");
            let ret = lines.iter().find_map(|l| {
                let rest = &l[l.find(&sym)? + sym.len()..];
                let after = &rest[rest.find(" returned ")? + " returned ".len()..];
                after.split_whitespace().next()?.parse::<i64>().ok()
            });
            (n, ret)
        })
        .collect()
}

fn walk(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.filter_map(Result::ok) {
        let p = e.path();
        match e.file_type() {
            Ok(t) if t.is_dir() => {
                // Skip the folders that can never hold modules, for speed.
                let n = e.file_name();
                if n != "include" && n != "usr" && n != "Documentation" && n != "scripts" {
                    walk(&p, f);
                }
            }
            Ok(t) if t.is_file() => f(&p),
            _ => {}
        }
    }
}

fn c_string(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if c.is_ascii_graphic() || c == ' ' => o.push(c),
            c => o.push_str(&format!("\\x{:02x}", c as u32 & 0xff)),
        }
    }
    o.push('"');
    o
}

/// Build the init and the initramfs into `work` (its log beside it, `work` + `.log`); returns
/// the initramfs path.
pub fn make_initramfs(
    src: &Path,
    out: &Path,
    profile: &Profile,
    clang: &str,
    modules: &[Module],
    builtin: &[String],
    work: &Path,
) -> Result<PathBuf, String> {
    // Beside the folder: `initramfs/` logs to `initramfs.log`.
    let log = &work.with_extension("log");
    std::fs::create_dir_all(work).map_err(|e| format!("create {}: {e}", work.display()))?;
    // A module's name comes from a file name the patched tree chose: it becomes a file name
    // in the initramfs and a word of its list, so only a kernel module name is taken.
    if let Some(m) = modules
        .iter()
        .find(|m| m.name.len() > 64 || !frames::is_module_name(&m.name))
    {
        return Err(format!(
            "the module {} ({}) has no kernel module name",
            crate::model::text::one_line(&format!("{:?}", m.name)),
            m.ko.display()
        ));
    }
    let mut header = String::from("struct rfl_module { const char *name; const char *path; };\nstatic const struct rfl_module modules[] = {\n");
    for m in modules {
        header.push_str(&format!(
            "\t{{ {}, {} }},\n",
            c_string(&m.name),
            c_string(&format!("/modules/{}.ko", m.name))
        ));
    }
    header.push_str("\t{ 0, 0 },\n};\nstatic const char *const builtin[] = {\n");
    for b in builtin {
        header.push_str(&format!("\t{},\n", c_string(b)));
    }
    header.push_str("\t0,\n};\n");
    let write = |name: &str, text: &str| {
        std::fs::write(work.join(name), text).map_err(|e| format!("write {name}: {e}"))
    };
    write("modules.h", &header)?;
    write("init.c", INIT_C)?;
    let mut cc = Command::new(clang);
    cc.arg(format!("--target={}", profile.clang_target))
        .args([
            "-Os",
            "-static",
            "-nostdlib",
            "-nostdinc",
            "-fno-builtin",
            "-fno-stack-protector",
            "-fuse-ld=lld",
            "-Wno-unused-command-line-argument",
        ])
        .arg("-isystem")
        .arg(src.join("tools/include/nolibc"))
        .arg("-isystem")
        .arg(out.join("usr/include"))
        .arg("-I")
        .arg(work)
        .args(["-include", "nolibc.h", "-o"])
        .arg(work.join("init"))
        .arg(work.join("init.c"));
    cc.args(&profile.init_cflags);
    match proc::run_logged(&mut cc, log, Some(Duration::from_secs(120))) {
        Ok(o) if o.success() => {}
        Ok(o) => {
            return Err(format!(
                "building the init with clang failed ({})",
                o.describe()
            ))
        }
        Err(e) => return Err(format!("could not run clang: {e:#}")),
    }
    let mut list = String::from("dir /dev 0755 0 0\nnod /dev/console 0600 0 0 c 5 1\nnod /dev/kmsg 0600 0 0 c 1 11\ndir /proc 0755 0 0\ndir /modules 0755 0 0\n");
    // gen_init_cpio splits its lines at white space and has no quoting: every location is
    // relative to `work` (its working folder), the modules copied in under their checked
    // names, so no folder name (an `--out` with a space) can break a line.
    list.push_str("file /init init 0755 0 0\n");
    let copies = work.join("modules");
    std::fs::create_dir_all(&copies).map_err(|e| format!("create {}: {e}", copies.display()))?;
    for m in modules {
        let to = copies.join(format!("{}.ko", m.name));
        std::fs::copy(&m.ko, &to)
            .map_err(|e| format!("copy {} to {}: {e}", m.ko.display(), to.display()))?;
        list.push_str(&format!(
            "file /modules/{0}.ko modules/{0}.ko 0644 0 0\n",
            m.name
        ));
    }
    write("initramfs.list", &list)?;
    let cpio = work.join("initramfs.cpio");
    let gen = out.join("usr/gen_init_cpio");
    if !gen.is_file() {
        return Err(format!(
            "{} was not built (is CONFIG_BLK_DEV_INITRD set?)",
            gen.display()
        ));
    }
    let mut g = Command::new(&gen);
    g.current_dir(work)
        .arg("-o")
        .arg(&cpio)
        .arg(work.join("initramfs.list"));
    match proc::run_logged(&mut g, log, Some(Duration::from_secs(60))) {
        Ok(o) if o.success() => Ok(cpio),
        Ok(_) => {
            // Older gen_init_cpio has no -o: it writes to stdout.
            let c = proc::run_captured(
                Command::new(&gen)
                    .current_dir(work)
                    .arg(work.join("initramfs.list")),
                Some(Duration::from_secs(60)),
            )
            .map_err(|e| e.to_string())?;
            if !c.outcome.success() {
                return Err(format!("gen_init_cpio failed: {}", c.stderr.trim()));
            }
            // run_captured decodes as text; read the raw bytes instead.
            let mut raw = Command::new("sh");
            raw.current_dir(work).arg("-c").arg(format!(
                "{} {} > {}",
                proc::shell_quote(&gen),
                proc::shell_quote(work.join("initramfs.list")),
                proc::shell_quote(&cpio)
            ));
            proc::output(&mut raw).map_err(|e| e.to_string())?;
            Ok(cpio)
        }
        Err(e) => Err(format!("could not run gen_init_cpio: {e:#}")),
    }
}

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

/// The init's markers (`init.c`'s `say`), each a line `RFL-INIT: <word> …` on the console.
pub mod markers {
    /// The init finished its list and reboots.
    pub const DONE: &str = "RFL-INIT: done";
    /// The init's reboot call failed.
    pub const REBOOT_FAILED: &str = "RFL-INIT: reboot-failed";
    /// The init loads a module (the module's name follows).
    pub const LOAD: &str = "RFL-INIT: load ";
}

/// The init's markers that end a boot.
const END_MARKERS: [&str; 2] = [markers::DONE, markers::REBOOT_FAILED];

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

/// Classify a finished QEMU run. A console that reached its cap is the kernel's fault (it is
/// the patch's kernel that printed without end); a panic or an oops on it is still named
/// first, since that is usually why it printed.
pub fn classify_run(console: &str, end: &QemuEnd, kunit_spans: &[(usize, usize)]) -> BootVerdict {
    let o = &end.outcome;
    let Some(cap) = end.console_full else {
        return classify(
            console,
            o.success(),
            o.timed_out,
            end.stopped_by_us,
            kunit_spans,
        );
    };
    let why = format!(
        "console exceeded {} MiB: the kernel printed without end; QEMU killed",
        cap / (1024 * 1024)
    );
    let c = Console::read(console, kunit_spans);
    let flood = Ending {
        kind: BootKind::ConsoleFlood,
        summary: why.clone(),
        module: None,
    };
    let findings = c.findings(Some(&flood));
    let (kind, summary) = match c.main_report() {
        Some(r) if matches!(r.finding.kind, BootKind::Panic | BootKind::Oops) => {
            (r.finding.kind, format!("{}\n({why})", c.summary(r)))
        }
        _ => (BootKind::ConsoleFlood, why),
    };
    BootVerdict {
        status: Status::Fail,
        kind,
        summary,
        findings,
    }
}

/// The text after an init marker, wherever the line has it (a console timestamp or caller
/// prefix may come first).
fn marker(line: &str) -> Option<&str> {
    line.find(MARK).map(|i| line[i + MARK.len()..].trim())
}

/// The console line (from 1) where lock checking stopped before the init loaded its first
/// module, if it did: an oops turns every lock check off (`oops_enter` calls
/// `debug_locks_off`), and lockdep turns itself off after its first report. Modules loaded
/// after that line were never checked for lock misuse, whatever their boot says.
pub fn lockdep_lost_before_modules(console: &str) -> Option<usize> {
    const STOPS: [&str; 6] = [
        "turning off the locking correctness validator",
        "possible circular locking dependency detected",
        "possible recursive locking detected",
        "inconsistent lock state",
        "bad unlock balance detected",
        "trying to register non-static key",
    ];
    for (i, l) in console.lines().enumerate() {
        if marker(l).is_some_and(|m| m.starts_with("load ")) {
            return None;
        }
        if oops_header(l) || STOPS.iter().any(|s| l.contains(s)) {
            return Some(i + 1);
        }
    }
    None
}

/// What a boot console says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootVerdict {
    pub status: Status,
    pub kind: BootKind,
    pub summary: String,
    /// Every problem the console shows, each once (see [`BootFinding`]): what the boot is
    /// compared with its base's by.
    pub findings: Vec<BootFinding>,
}

/// The most findings one console gives (the first of each kind is always kept): a kernel
/// that prints WARNINGs without end gives one finding per distinct WARNING, up to this.
const MAX_FINDINGS: usize = 32;

/// How many lines of a report may name the faulting function's module (`RIP:` or `pc :`
/// comes within the first dozen).
const REPORT_HEAD: usize = 12;

/// Classify a console. `kunit_spans` are the console line ranges of KTAP blocks: an oops or
/// a WARNING inside one belongs to the KUnit test that was running, not to the boot.
pub fn classify(
    console: &str,
    qemu_exit_ok: bool,
    timed_out: bool,
    stopped_by_us: bool,
    kunit_spans: &[(usize, usize)],
) -> BootVerdict {
    let c = Console::read(console, kunit_spans);
    let ending = c.ending(qemu_exit_ok, timed_out);
    let findings = c.findings(ending.as_ref());
    let failed = |kind, summary| (Status::Fail, kind, summary);
    let (status, kind, summary) = match (c.main_report(), ending) {
        (Some(r), _) => failed(r.finding.kind, c.summary(r)),
        (None, Some(e)) if e.kind == BootKind::Hang => failed(e.kind, e.summary),
        (None, _) if !c.module_failures.is_empty() => failed(
            BootKind::ModuleFailure,
            c.module_failures
                .iter()
                .map(|f| f.identity.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        ),
        (None, Some(e)) => failed(e.kind, e.summary),
        (None, None) => {
            let how = if stopped_by_us {
                "; QEMU did not exit after reboot and was stopped"
            } else {
                ""
            };
            (
                Status::Pass,
                BootKind::Clean,
                format!("booted, every module loaded and unloaded{how}"),
            )
        }
    };
    BootVerdict {
        status,
        kind,
        summary,
        findings,
    }
}

/// A console read once: its lines, the kernel's reports outside KUnit, the modules the init
/// could not load or unload, and how far the init got.
struct Console<'a> {
    lines: Vec<&'a str>,
    reports: Vec<Report>,
    module_failures: Vec<BootFinding>,
    /// Any marker says the init ran (a marker split by a kernel message must not read as an
    /// init that never started).
    started: bool,
    done: bool,
}

/// A kernel report (panic, oops, WARNING): the line its text starts at, and what it is.
struct Report {
    at: usize,
    finding: BootFinding,
    /// The finding is named by the report's guilty frame (see [`frames`]).
    by_frame: bool,
    /// A panic: the kernel is dead, nothing after it is a finding of its own.
    fatal: bool,
}

/// How a boot ended when it did not finish, in the verdict's words.
struct Ending {
    kind: BootKind,
    summary: String,
    module: Option<String>,
}

impl<'a> Console<'a> {
    fn read(console: &'a str, kunit_spans: &[(usize, usize)]) -> Console<'a> {
        let lines = crate::stages::ktap::split_lines(console);
        let in_kunit = |i: usize| kunit_spans.iter().any(|(a, b)| i >= *a && i < *b);
        Console {
            reports: reports(&lines, &in_kunit),
            module_failures: module_failures(&lines),
            started: console.contains(MARK),
            done: console.contains(markers::DONE),
            lines,
        }
    }

    /// The report's first lines, Rust symbols demangled, at most [`MAX_SUMMARY`] bytes.
    ///
    /// [`MAX_SUMMARY`]: crate::model::text::MAX_SUMMARY
    fn excerpt(&self, i: usize) -> String {
        use crate::model::text::{clip, MAX_SUMMARY};
        let s = self.lines[i..]
            .iter()
            .take(8)
            .map(|l| frames::demangle(&clip(l.trim_end(), MAX_SUMMARY)).into_owned())
            .collect::<Vec<_>>()
            .join("\n");
        clip(&s, MAX_SUMMARY).into_owned()
    }

    /// What the verdict says of a report: a report named by its guilty frame says so first
    /// (`BUG: sleeping function called from invalid context in <m::M as kernel::Module>::init
    /// [m]`), then its first lines.
    fn summary(&self, r: &Report) -> String {
        let excerpt = self.excerpt(r.at);
        if r.by_frame {
            format!("{}\n{excerpt}", r.finding.what())
        } else {
            excerpt
        }
    }

    /// The report the verdict names: a panic, else the first oops, else the first WARNING.
    fn main_report(&self) -> Option<&Report> {
        let first = |k: BootKind| self.reports.iter().find(|r| r.finding.kind == k);
        self.reports
            .iter()
            .find(|r| r.fatal)
            .or_else(|| first(BootKind::Oops))
            .or_else(|| first(BootKind::Warning))
    }

    /// Why the init did not finish, if it did not.
    fn ending(&self, qemu_exit_ok: bool, timed_out: bool) -> Option<Ending> {
        let end = |kind, summary: &str| Ending {
            kind,
            summary: summary.to_string(),
            module: None,
        };
        if timed_out && !self.done {
            return Some(self.hang());
        }
        if !self.started {
            return Some(end(
                BootKind::InitFailure,
                "the init never printed its start marker",
            ));
        }
        if !self.done {
            let kind = if qemu_exit_ok {
                BootKind::InitFailure
            } else {
                BootKind::QemuError
            };
            return Some(end(kind, "the init did not finish"));
        }
        None
    }

    /// A boot past its deadline, named by the init's last marker.
    fn hang(&self) -> Ending {
        let last = self
            .lines
            .iter()
            .rev()
            .find_map(|l| marker(l))
            .map(|m| format!("{MARK} {}", m.trim()));
        let loading = last
            .as_deref()
            .and_then(|l| l.strip_prefix(markers::LOAD))
            .map(|m| m.trim().to_string());
        let stuck = match &loading {
            Some(m) => format!("; stuck loading module {m}"),
            None => last
                .map(|l| format!("; last marker: {l}"))
                .unwrap_or_else(|| "; the init never started".into()),
        };
        Ending {
            kind: BootKind::Hang,
            summary: format!("deadline hit, QEMU killed{stuck}"),
            module: loading,
        }
    }

    /// Every problem the console shows, each once: its reports, the modules that failed,
    /// and how the boot ended, unless a panic ended it.
    fn findings(&self, ending: Option<&Ending>) -> Vec<BootFinding> {
        let panicked = self.reports.iter().any(|r| r.fatal);
        let end = ending.filter(|_| !panicked).map(|e| BootFinding {
            kind: e.kind,
            identity: e.summary.clone(),
            module: e.module.clone(),
        });
        let mut out: Vec<BootFinding> = Vec::new();
        let all = self.reports.iter().map(|r| &r.finding);
        for f in all.chain(&self.module_failures).chain(end.as_ref()) {
            if out.len() < MAX_FINDINGS && !out.contains(f) {
                out.push(f.clone());
            }
        }
        out
    }
}

/// The line an oops report opens with, as each arch's `die()` words it: `Oops: 0000 [#1]`
/// (x86_64), `Internal error: Oops: 96000004 [#1]` (arm64), `Oops [#1]` (riscv64),
/// `Oops[#1]:` or `Oops - BUG[#2]:` (loongarch64).
fn oops_header(l: &str) -> bool {
    l.find("Oops").is_some_and(|i| l[i..].contains("[#"))
}

fn is_oops(l: &str) -> bool {
    l.contains("Oops")
        || l.contains("BUG:")
        || l.contains("Unable to handle kernel")
        || l.contains("general protection fault")
        || l.contains("panicked at")
}

fn is_warning(l: &str) -> bool {
    l.contains("] WARNING:") || l.trim_start().starts_with("WARNING:")
}

/// The kernel's reports outside KUnit, in console order, one per distinct finding (the first
/// of each kind always): an oops report runs to its `---[ end trace` line, and nothing after
/// a panic is read.
fn reports(lines: &[&str], in_kunit: &dyn Fn(usize) -> bool) -> Vec<Report> {
    let mut out: Vec<Report> = Vec::new();
    let mut in_oops = false;
    // The module the init was loading or unloading (its last marker), for reports that name
    // none.
    let mut busy_with: Option<&str> = None;
    for (i, l) in lines.iter().enumerate() {
        if let Some(m) = marker(l) {
            busy_with = m
                .strip_prefix("load ")
                .or_else(|| m.strip_prefix("loaded "))
                .map(str::trim);
        }
        if in_kunit(i) {
            continue;
        }
        if l.contains("Kernel panic - not syncing") {
            let p = panic_report(lines, i, in_kunit, busy_with);
            // The oops that caused the panic is the panic.
            out.retain(|r| {
                !(r.finding.kind == BootKind::Oops
                    && (&r.finding.identity, &r.finding.module)
                        == (&p.finding.identity, &p.finding.module))
            });
            out.push(p);
            break;
        }
        let kind = if is_oops(l) {
            if in_oops {
                continue;
            }
            in_oops = true;
            BootKind::Oops
        } else if is_warning(l) {
            BootKind::Warning
        } else {
            if l.contains("---[ end trace") {
                in_oops = false;
            }
            continue;
        };
        let r = report_at(lines, i, kind, busy_with, false);
        let first_of_kind = !out.iter().any(|o| o.finding.kind == kind);
        if first_of_kind || out.len() < MAX_FINDINGS && !out.iter().any(|o| o.finding == r.finding)
        {
            out.push(r);
        }
    }
    out
}

/// The panic at line `i`: an oops or a Rust panic before it is the cause (a module's init
/// that panicked kills the init process that loaded it); without one, the init itself died.
fn panic_report(
    lines: &[&str],
    i: usize,
    in_kunit: &dyn Fn(usize) -> bool,
    busy_with: Option<&str>,
) -> Report {
    let l = lines[i].trim();
    let init_died = l.contains("Attempted to kill init")
        || l.contains("No working init found")
        || l.contains("VFS: Unable to mount root");
    let cause = lines[..i]
        .iter()
        .enumerate()
        .rev()
        .find(|(j, x)| is_oops(x) && !in_kunit(*j))
        .map(|(j, _)| j);
    let (kind, at) = match cause {
        None if init_died => (BootKind::InitFailure, i),
        _ => (
            BootKind::Panic,
            cause.map_or(i, |c| first_of_report(lines, c)),
        ),
    };
    report_at(lines, at, kind, busy_with, true)
}

/// The report starting at line `at`. With a call trace it is known by its title and its
/// guilty frame, the way syzbot titles a crash; else by its location or first line.
fn report_at(
    lines: &[&str],
    at: usize,
    kind: BootKind,
    busy_with: Option<&str>,
    fatal: bool,
) -> Report {
    // The report's head, not past its end or the next WARNING (which may name another
    // module; and a flood of WARNINGs is then read once, not a dozen times).
    let rest = lines[at + 1..]
        .iter()
        .take(REPORT_HEAD - 1)
        .take_while(|l| !(l.contains("---[ end") || is_warning(l)));
    let named = std::iter::once(&lines[at])
        .chain(rest)
        .find_map(|l| faulting_module(l))
        .or(busy_with)
        .map(str::to_string);
    let body = report_body(lines, at);
    // An init that died is known by how it exited, not by the exit path.
    let culprit = (kind != BootKind::InitFailure)
        .then(|| call_trace(body))
        .flatten()
        .and_then(|f| frames::guilty(&f).cloned());
    let by_frame = culprit.is_some();
    let finding = match culprit {
        Some(g) => BootFinding {
            kind,
            identity: format!("{} in {}", title(body), g.function)
                .chars()
                .take(MAX_IDENTITY)
                .collect(),
            module: g.module.or(named),
        },
        None => BootFinding {
            kind,
            identity: identity(lines[at]),
            module: named,
        },
    };
    Report {
        at,
        finding,
        by_frame,
        fatal,
    }
}

/// The most lines one report is read over for its call trace (a lockdep report prints its
/// chains first).
const REPORT_MAX: usize = 300;

/// The lines of the report that starts at `at`: up to its end marker, the next report, a
/// panic, an init marker, or [`REPORT_MAX`] lines.
fn report_body<'l>(lines: &'l [&'l str], at: usize) -> &'l [&'l str] {
    let end = lines[at + 1..]
        .iter()
        .take(REPORT_MAX)
        .position(|l| {
            l.contains("---[ end")
                || is_warning(l)
                || console_text(l).trim_start().starts_with("BUG:")
                || l.contains("Kernel panic - not syncing")
                || l.contains(MARK)
        })
        .map_or((at + 1 + REPORT_MAX).min(lines.len()), |p| at + 1 + p);
    &lines[at..end]
}

/// A console line without printk's timestamp and caller (`[    1.234567] [   T93] `).
fn console_text(line: &str) -> &str {
    let mut t = line;
    loop {
        let Some(r) = t.trim_start().strip_prefix('[') else {
            return t;
        };
        let Some(end) = r.find(']') else { return t };
        let inner = r[..end].trim();
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        let stamp = digits(inner) || inner.strip_prefix(['T', 'C']).is_some_and(digits);
        if !stamp {
            return t;
        }
        t = &r[end + 1..];
    }
}

/// The frames of a report that has a call trace, in order: the function its first line
/// names (a WARNING's, a KASAN report's), the one its registers name (`RIP:`, `pc :`,
/// `epc :`, `ERA:`), then the trace's. None without a trace.
fn call_trace(body: &[&str]) -> Option<Vec<Frame>> {
    // Lockdep prints the dependency chains it found before the stack of the task.
    let from = body
        .iter()
        .position(|l| l.contains("stack backtrace:"))
        .map_or(0, |i| i + 1);
    let rest = &body[from..];
    let is_header = |l: &&str| matches!(console_text(l).trim(), "Call Trace:" | "Call trace:");
    let start = match rest.iter().position(is_header) {
        Some(h) => h + 1,
        // riscv's register dump is followed by its frames with no header.
        None => rest.iter().position(|l| {
            let t = console_text(l).trim_start();
            t.starts_with("[<") && frames::frame_line(t).is_some()
        })?,
    };
    let mut out = Vec::new();
    let mut head = console_text(body[0]).split_whitespace();
    if let Some(w) = head.by_ref().find(|w| w.contains("+0x")) {
        out.extend(frames::frame_word(w, head.next()));
    }
    out.extend(rest[..start].iter().filter_map(|l| register_frame(l)));
    // A frame seen before (recursion, a loop's unwinding) is dropped before it is demangled.
    let mut seen = std::collections::HashSet::new();
    for l in &rest[start..] {
        let t = console_text(l).trim();
        // x86's context markers: <TASK>, <IRQ>, </IRQ>, <EOI>.
        if t.starts_with('<') && t.ends_with('>') && !t.contains(' ') {
            continue;
        }
        if !seen.insert(t) {
            continue;
        }
        match frames::frame_line(t) {
            Some(f) => out.push(f),
            None => break,
        }
    }
    Some(out)
}

/// The function a register line names: the faulting or warning instruction's.
fn register_frame(line: &str) -> Option<Frame> {
    let t = console_text(line).trim_start();
    let rest = ["RIP:", "EIP:", "pc :", "epc :", "ERA:"]
        .iter()
        .find_map(|p| t.strip_prefix(p))?;
    let mut words = rest.split_whitespace().skip_while(|w| !w.contains("+0x"));
    let word = words.next()?;
    // x86 puts the code segment first: `0010:func+0x4/0xb`.
    frames::frame_word(word.rsplit(':').next()?, words.next())
}

/// What a report is: its first line's words before its location, address, task or first
/// number (`BUG: sleeping function called from invalid context`, `Unable to handle kernel
/// paging request`, `WARNING`), and a KASAN report's access (`Read`, `Write`).
fn title(body: &[&str]) -> String {
    let t = headline(console_text(body[0]).trim());
    let access = body.get(1).and_then(|l| {
        let w = console_text(l).split_whitespace().next()?;
        matches!(w, "Read" | "Write").then_some(w)
    });
    match access {
        Some(a) if t.contains("KASAN:") => format!("{t} {a}"),
        _ => t,
    }
}

fn headline(line: &str) -> String {
    let mut text = line;
    // loongarch: `CPU 0 Unable to handle…`; a printk prefix: `rust_kernel: panicked at…`.
    if let Some(r) = text.strip_prefix("CPU ") {
        text = r
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start();
    }
    if let Some((first, r)) = text.split_once(": ") {
        if first
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            text = r;
        }
    }
    let mut words = Vec::new();
    for w in text.split_whitespace() {
        let stop = matches!(w, "at" | "in" | "for")
            || w.starts_with("CPU")
            || w.starts_with(|c: char| c.is_ascii_digit() || "[(<#".contains(c))
            || w.contains('/')
            || location(w).is_some();
        if stop {
            break;
        }
        words.push(w);
        if w.ends_with(',') {
            break;
        }
    }
    let joined = without_numbers(&words.join(" "));
    let before_brackets = joined.split('[').next().unwrap_or_default();
    before_brackets
        .trim_end_matches([' ', ':', ',', '-', '!'])
        .to_string()
}

/// The longest identity kept (a report line is rarely half of it).
const MAX_IDENTITY: usize = 240;

/// What stays the same when the same report comes again: its source location, else its line
/// with every number (address, PID, CPU, counter, timestamp) as `_`, Rust symbols demangled.
fn identity(line: &str) -> String {
    let line = frames::demangle(line);
    let id = location(&line).unwrap_or_else(|| without_numbers(&line));
    id.chars().take(MAX_IDENTITY).collect()
}

/// The first `file:line` a line names: `samples/rust/x.rs:5:9:` gives `samples/rust/x.rs:5`.
fn location(line: &str) -> Option<String> {
    line.split_whitespace().find_map(|w| {
        let mut parts = w.split(':');
        let (file, number) = (parts.next()?, parts.next()?);
        let source = file.contains('/') && file.rsplit('/').next().is_some_and(|n| n.contains('.'));
        let number_ok = !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit());
        (source && number_ok).then(|| format!("{file}:{number}"))
    })
}

/// A line without its `[  12.345]`/`[  T1]` prefixes and with every number as `_`: a word of
/// hex digits holding a decimal one (`0000`, `ffff8880…`), or `0x…`.
fn without_numbers(line: &str) -> String {
    let mut rest = line.trim();
    while let Some(r) = rest.strip_prefix('[') {
        match r.find(']') {
            Some(e) => rest = r[e + 1..].trim_start(),
            None => break,
        }
    }
    let mut out = String::with_capacity(rest.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let hex = word.strip_prefix("0x").unwrap_or(word);
        let number = !hex.is_empty()
            && hex.bytes().all(|b| b.is_ascii_hexdigit())
            && (hex.len() < word.len() || hex.bytes().any(|b| b.is_ascii_digit()));
        out.push_str(if number { "_" } else { word });
        word.clear();
    };
    for c in rest.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// The module after a faulting function (`rust_minimal_init+0x1a/0x30 [rust_minimal]`).
fn faulting_module(line: &str) -> Option<&str> {
    let words: Vec<&str> = line.split_whitespace().collect();
    words.windows(2).find_map(|w| {
        let name = w[1]
            .trim_end_matches(',')
            .strip_prefix('[')?
            .strip_suffix(']')?;
        (w[0].contains("+0x") && frames::is_module_name(name)).then_some(name)
    })
}

/// The init's `load-failed`/`unload-failed` markers, one finding per module.
fn module_failures(lines: &[&str]) -> Vec<BootFinding> {
    let builtin = builtin_returns(lines)
        .into_iter()
        .filter_map(|(name, ret)| {
            // The value is the console's: any i64, i64::MIN included, so no plain negation.
            let ret = ret.filter(|r| *r != 0)?;
            let errno = ret
                .checked_neg()
                .and_then(|e| i32::try_from(e).ok())
                .unwrap_or(0);
            Some(BootFinding {
                kind: BootKind::ModuleFailure,
                identity: format!("init-failed {name} (built in): {}", errno_name(errno)),
                module: Some(name),
            })
        });
    lines
        .iter()
        .filter_map(|l| {
            let rest = marker(l)?;
            let mut parts = rest.split_whitespace();
            let what = parts.next()?;
            if what != "load-failed" && what != "unload-failed" {
                return None;
            }
            let name = parts.next().unwrap_or("?");
            let errno: i32 = parts.next().and_then(|e| e.parse().ok()).unwrap_or(0);
            Some(BootFinding {
                kind: BootKind::ModuleFailure,
                identity: format!("{what} {name}: {}", errno_name(errno)),
                module: Some(name.to_string()),
            })
        })
        .chain(builtin)
        .collect()
}

/// The first line of the report a line belongs to (a Rust panic message comes just before
/// its oops).
fn first_of_report(lines: &[&str], i: usize) -> usize {
    let lo = i.saturating_sub(6);
    (lo..=i)
        .find(|&j| {
            lines[j].contains("panicked at")
                || lines[j].contains("BUG:")
                || lines[j].contains("Oops")
        })
        .unwrap_or(i)
}

pub fn errno_name(e: i32) -> String {
    let name = match e {
        1 => "EPERM",
        2 => "ENOENT",
        5 => "EIO",
        8 => "ENOEXEC",
        11 => "EAGAIN",
        12 => "ENOMEM",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        19 => "ENODEV",
        22 => "EINVAL",
        110 => "ETIMEDOUT",
        _ => "",
    };
    if name.is_empty() {
        format!("errno {e}")
    } else {
        format!("{name} ({e})")
    }
}

/// The boot stage for a console and how QEMU ended.
pub fn boot_stage(verdict: &BootVerdict, duration: f64, log: &str) -> StageResult {
    let mut r = StageResult::new(
        Stage::Boot,
        verdict.status,
        format!("{}: {}", verdict.kind.name(), verdict.summary),
    );
    r.duration_s = duration;
    r.log = Some(log.to_string());
    r.findings = verdict.findings.clone();
    if verdict.status != Status::Pass {
        let qemu = verdict.kind == BootKind::QemuError;
        r.fault = Some(if qemu { Fault::Harness } else { Fault::Code });
        if qemu {
            r.status = Status::Error;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The init's command-line test, compiled for the host: `rfl.hold` is a whole word, so a
    /// KUnit filter that spells it (`kunit.filter_glob=rfl.hold`) does not make the init hold.
    #[test]
    fn rfl_hold_is_a_whole_word_of_the_command_line() {
        let Some(cc) = ["cc", "clang-19", "clang"]
            .into_iter()
            .find(|c| Command::new(c).arg("--version").output().is_ok())
        else {
            panic!("no C compiler on this machine (setup installs clang-19)");
        };
        let from = INIT_C.find("static int has_word").unwrap();
        let to = INIT_C.find("/* Does the kernel command line").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("console=ttyS0 rfl.hold", 1),
            ("rfl.hold console=ttyS0\n", 1),
            ("a\trfl.hold\n", 1),
            ("rfl.hold", 1),
            ("kunit.filter_glob=rfl.hold", 0),
            ("kunit.filter_glob=rfl.hold* quiet", 0),
            ("xrfl.hold", 0),
            ("rfl.holder", 0),
            ("rfl.hold=0", 0),
            ("", 0),
        ];
        let mut main = String::from("#include <string.h>\n");
        main.push_str(&INIT_C[from..to]);
        main.push_str("int main(void)\n{\n\tint bad = 0;\n");
        for (i, (line, want)) in cases.iter().enumerate() {
            main.push_str(&format!(
                "\tif (has_word({0}, strlen({0}), \"rfl.hold\") != {want}) bad |= 1 << {i};\n",
                c_string(line)
            ));
        }
        main.push_str("\treturn bad;\n}\n");
        std::fs::write(dir.path().join("t.c"), main).unwrap();
        let built = Command::new(cc)
            .current_dir(dir.path())
            .args(["-o", "t", "t.c"])
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "{}",
            String::from_utf8_lossy(&built.stderr)
        );
        let ran = Command::new(dir.path().join("t")).status().unwrap();
        let bad = ran.code().unwrap();
        let wrong: Vec<_> = cases
            .iter()
            .enumerate()
            .filter(|(i, _)| bad & (1 << i) != 0)
            .map(|(_, c)| c)
            .collect();
        assert!(wrong.is_empty(), "judged wrongly: {wrong:?}");
    }

    /// gen_init_cpio splits its lines at white space: an output folder with a space in its
    /// path still gives a list every line of which is whole (a fake clang and gen_init_cpio
    /// that checks each `file` line's fields and opens its location, as the real one does).
    #[test]
    fn an_output_folder_with_a_space_still_makes_an_initramfs() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("a folder");
        let (src, out, work) = (root.join("src"), root.join("out dir"), root.join("work x"));
        std::fs::create_dir_all(out.join("usr")).unwrap();
        std::fs::create_dir_all(out.join("samples/rust")).unwrap();
        let script = |p: &Path, text: &str| {
            std::fs::write(p, text).unwrap();
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        let clang = root.join("clang");
        script(
            &clang,
            "#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = -o ] && { shift; echo init > \"$1\"; }; shift; done\n",
        );
        script(
            &out.join("usr/gen_init_cpio"),
            "#!/bin/sh\n[ \"$1\" = -o ] || exit 1\ncpio=\"$2\"\nwhile read -r kind name loc rest; do\n  [ \"$kind\" = file ] || continue\n  set -- $rest\n  [ $# -eq 3 ] || { echo \"bad line: $kind $name $loc $rest\" >&2; exit 1; }\n  [ -f \"$loc\" ] || { echo \"no $loc\" >&2; exit 1; }\ndone < \"$3\"\necho cpio > \"$cpio\"\n",
        );
        let ko = out.join("samples/rust/rust_minimal.ko");
        std::fs::write(&ko, "ko").unwrap();
        let profile = Profile::load(
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/..")),
            crate::model::arch::Arch::X86_64,
        )
        .unwrap();
        let module = |name: &str| Module {
            name: name.into(),
            ko: ko.clone(),
        };
        let cpio = make_initramfs(
            &src,
            &out,
            &profile,
            clang.to_str().unwrap(),
            &[module("rust_minimal")],
            &[],
            &work,
        )
        .unwrap();
        assert_eq!(std::fs::read_to_string(cpio).unwrap(), "cpio\n");
        let list = std::fs::read_to_string(work.join("initramfs.list")).unwrap();
        assert!(
            list.contains("file /modules/rust_minimal.ko modules/rust_minimal.ko 0644 0 0\n"),
            "{list}"
        );
        // A module name the tree chose that is no kernel module name is refused, not listed.
        for bad in ["a b", "x\nfile /etc/shadow", "../m", ""] {
            let e = make_initramfs(
                &src,
                &out,
                &profile,
                clang.to_str().unwrap(),
                &[module(bad)],
                &[],
                &work,
            )
            .unwrap_err();
            assert!(e.contains("has no kernel module name"), "{bad:?}: {e}");
        }
    }

    /// A splat whose every frame is a short symbol that demangles to megabytes: its summary
    /// and findings stay small, and the console is read in a blink.
    #[test]
    fn a_splat_of_exploding_symbols_gives_a_bounded_summary() {
        let sym = "_RINvC1a1fTuuuuETB7_B7_ETBd_Bd_ETBl_Bl_ETBt_Bt_ETBB_BB_ETBJ_BJ_ETBR_BR_ETBZ_BZ_ETB17_B17_ETB1f_B1f_ETB1p_B1p_ETB1z_B1z_ETB1J_B1J_ETB1T_B1T_ETB23_B23_ETB2d_B2d_ETB2n_B2n_EE";
        let mut console = format!(
            "RFL-INIT: start \nRFL-INIT: load m\nWARNING: CPU: 0 PID: 1 at {sym}+0x1/0x2 [m]\nepc : {sym}+0x1/0x2 [m]\nCall Trace:\n"
        );
        for i in 0..300 {
            console.push_str(&format!(
                "[<ffff{:04x}>] {sym}+0x{:x}/0x2 [m]\n",
                i % 3,
                i % 3
            ));
        }
        console.push_str("---[ end trace 0000000000000000 ]---\nRFL-INIT: loaded m\nRFL-INIT: unloaded m\nRFL-INIT: done \n");
        let t = Instant::now();
        let v = classify(&console, true, false, false, &[]);
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert_eq!(v.kind, BootKind::Warning);
        assert!(
            v.summary.len() <= crate::model::text::MAX_SUMMARY + 3,
            "{}",
            v.summary.len()
        );
        for f in &v.findings {
            assert!(
                f.render().len() <= 2 * crate::stages::frames::MAX_DEMANGLED,
                "{}",
                f.render()
            );
        }
    }

    const CLEAN: &str = "Linux version 7.2\nRFL-INIT: start \nRFL-INIT: load rust_minimal\nRFL-INIT: loaded rust_minimal\nRFL-INIT: unloaded rust_minimal\nRFL-INIT: done \nreboot: Restarting system\n";

    #[test]
    fn clean_boot() {
        let v = classify(CLEAN, true, false, false, &[]);
        assert_eq!(v.kind, BootKind::Clean);
        assert_eq!(v.status, Status::Pass);
    }

    #[test]
    fn failures() {
        let panic = "RFL-INIT: start \nRFL-INIT: load bad\nrust_kernel: panicked at samples/rust/bad.rs:5:9:\nKernel panic - not syncing: Oops: invalid opcode\n";
        assert_eq!(
            classify(panic, true, false, false, &[]).kind,
            BootKind::Panic
        );
        let killed_init = "RFL-INIT: start \nRFL-INIT: load bad\nrust_kernel: panicked at samples/rust/bad.rs:5:9:\nseeded\nOops: invalid opcode: 0000 [#1]\nKernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b\n";
        let v = classify(killed_init, true, false, false, &[]);
        assert_eq!(v.kind, BootKind::Panic);
        assert!(
            v.summary
                .starts_with("rust_kernel: panicked at samples/rust/bad.rs:5:9:"),
            "{}",
            v.summary
        );
        assert_eq!(classify("RFL-INIT: start \nKernel panic - not syncing: Attempted to kill init! exitcode=0x00000100\n", true, false, false, &[]).kind, BootKind::InitFailure);
        let hang = "RFL-INIT: start \nRFL-INIT: load forever\n";
        let v = classify(hang, false, true, false, &[]);
        assert_eq!(v.kind, BootKind::Hang);
        assert!(
            v.summary.contains("stuck loading module forever"),
            "{}",
            v.summary
        );
        let modfail = CLEAN.replace(
            "RFL-INIT: loaded rust_minimal",
            "RFL-INIT: load-failed rust_minimal 22",
        );
        let v = classify(&modfail, true, false, false, &[]);
        assert_eq!(
            (v.kind, v.summary.as_str()),
            (
                BootKind::ModuleFailure,
                "load-failed rust_minimal: EINVAL (22)"
            )
        );
        let warn = CLEAN.replace(
            "RFL-INIT: done",
            "[    1.0] WARNING: CPU: 0 PID: 1 at samples/rust/w.rs:9\nRFL-INIT: done",
        );
        assert_eq!(
            classify(&warn, true, false, false, &[]).kind,
            BootKind::Warning
        );
        assert_eq!(
            classify("no init here\n", true, false, false, &[]).kind,
            BootKind::InitFailure
        );
        assert_eq!(
            classify("", false, false, false, &[]).kind,
            BootKind::InitFailure
        );
    }

    #[test]
    fn an_oops_inside_kunit_is_not_the_boots() {
        let log = "KTAP version 1\n1..1\nOops: 0000 [#1]\nnot ok 1 t\nRFL-INIT: start \nRFL-INIT: done \n";
        assert_eq!(
            classify(log, true, false, false, &[(0, 4)]).kind,
            BootKind::Clean
        );
        assert_eq!(classify(log, true, false, false, &[]).kind, BootKind::Oops);
    }

    #[test]
    fn a_console_cut_mid_line_is_a_hang_that_names_where() {
        // QEMU killed at the deadline in the middle of a line.
        let cut = "RFL-INIT: start \nRFL-INIT: load rust_minimal\n[   12.3] rust_minimal: Am I the";
        let v = classify(cut, false, true, false, &[]);
        assert_eq!(v.kind, BootKind::Hang);
        assert_eq!(v.status, Status::Fail);
        assert!(v.summary.contains("rust_minimal"), "{}", v.summary);
    }

    #[test]
    fn binary_garbage_on_the_serial_console_is_a_clear_result() {
        let mut bytes: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        bytes.extend_from_slice(b"\nRFL-INIT: start \n\x00\xff\xfe\x1b[2J");
        let text = crate::stages::ktap::decode(&bytes);
        let v = classify(&text, false, true, false, &[]);
        assert_eq!(v.kind, BootKind::Hang, "{}", v.summary);
        // Garbage alone, with QEMU gone: the init never ran.
        let v = classify(
            &crate::stages::ktap::decode(&bytes[..4096]),
            true,
            false,
            false,
            &[],
        );
        assert_eq!(v.kind, BootKind::InitFailure);
        assert!(crate::stages::ktap::parse_all(&text)
            .iter()
            .all(|b| crate::stages::ktap::cases(b).is_empty()));
    }

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

    #[test]
    fn markers_with_a_prefix_or_split_by_a_kernel_message() {
        // What a real arm64 console showed when the init's marker was written in pieces.
        let split = "Run /init as init process\nRFL-INIT: rust_doctests_kernel: The value is: 42\nstart \nRFL-INIT: load m\nRFL-INIT: loaded m\nRFL-INIT: unloaded m\nRFL-INIT: done \n";
        assert_eq!(
            classify(split, true, false, true, &[]).kind,
            BootKind::Clean
        );
        let stamped = "[    1.0] RFL-INIT: start\n[    1.1] RFL-INIT: load forever\n";
        let v = classify(stamped, false, true, false, &[]);
        assert!(
            v.summary.contains("stuck loading module forever"),
            "{}",
            v.summary
        );
        let failed = "[    1.0] RFL-INIT: start\n[    1.1] RFL-INIT: load-failed m 2\n[    1.2] RFL-INIT: done\n";
        assert_eq!(
            classify(failed, true, false, true, &[]).summary,
            "load-failed m: ENOENT (2)"
        );
    }

    /// A built-in module's init is an initcall: with `initcall_debug` its return is on the
    /// console, and an error there fails the boot as a loaded module's `finit_module` error
    /// does; an initcall that is not of a module the init named is not judged.
    #[test]
    fn a_built_in_modules_failing_initcall_fails_the_boot() {
        let console = |ret: i64| {
            format!(
                "[    0.9] calling  __rust_minimal_init+0x0/0x50 @ 1\n[    0.9] rust_minimal: Rust minimal sample (init)\n[    0.9] initcall __rust_minimal_init+0x0/0x50 returned {ret} after 12 usecs\n[    0.9] initcall __other_init+0x0/0x10 returned -19 after 1 usecs\n[    1.0] RFL-INIT: start\n[    1.0] RFL-INIT: builtin rust_minimal\n[    1.1] RFL-INIT: done\n"
            )
        };
        let bad = classify(&console(-22), true, false, true, &[]);
        assert_eq!(bad.status, Status::Fail);
        assert_eq!(bad.kind, BootKind::ModuleFailure);
        assert_eq!(
            bad.summary,
            "init-failed rust_minimal (built in): EINVAL (22)"
        );
        assert_eq!(bad.findings[0].module.as_deref(), Some("rust_minimal"));
        let good = classify(&console(0), true, false, true, &[]);
        assert_eq!(good.status, Status::Pass, "{}", good.summary);
        assert_eq!(
            builtin_inits(&console(0)),
            vec![("rust_minimal".to_string(), Some(0))]
        );
        // Named by the init, but no initcall line: unknown, not a pass and not a failure here.
        // Whatever number the console prints, no overflow.
        let odd = console(i64::MIN);
        assert_eq!(
            classify(&odd, true, false, true, &[]).kind,
            BootKind::ModuleFailure
        );
        let unseen = "RFL-INIT: start\nRFL-INIT: builtin rust_print\nRFL-INIT: done\n";
        assert_eq!(
            builtin_inits(unseen),
            vec![("rust_print".to_string(), None)]
        );
        assert_eq!(
            classify(unseen, true, false, true, &[]).status,
            Status::Pass
        );
    }

    /// A boot console of `base` with `extra` kernel lines printed before the init's end.
    fn boot_with(extra: &str) -> String {
        CLEAN.replace("RFL-INIT: done", &format!("{extra}RFL-INIT: done"))
    }

    fn stage_of(console: &str) -> StageResult {
        boot_stage(
            &classify(console, true, false, false, &[]),
            1.0,
            "console.log",
        )
    }

    /// The base's own WARNING, printed with other timestamps, PIDs, CPUs and addresses, is
    /// the same finding on the entry's boot, so pre-existing; a WARNING anywhere else is new,
    /// even when the base's comes first on the console and names the verdict.
    #[test]
    fn the_same_warning_on_two_boots_is_preexisting_a_warning_elsewhere_is_not() {
        use crate::model::health::assess;
        use crate::model::outcome::{CellResult, Verdict};
        let base_warning = "[    0.500000] WARNING: CPU: 0 PID: 1 at kernel/time/clocksource.c:123 clocksource_watchdog+0x12/0x40\n[    0.500100] RIP: 0010:clocksource_watchdog+0x12/0x40\n[    0.500200] ---[ end trace 0000000000000000 ]---\n";
        let same = "[    0.612345] WARNING: CPU: 1 PID: 7 at kernel/time/clocksource.c:123 clocksource_watchdog+0x14/0x44\n[    0.612400] RIP: 0010:clocksource_watchdog+0x14/0x44\n[    0.612500] ---[ end trace 1a2b3c4d5e6f7a8b ]---\n";
        let new = "[    1.234890] WARNING: CPU: 0 PID: 93 at samples/rust/rust_minimal.rs:30 rust_minimal_init+0x1a/0x30 [rust_minimal]\n[    1.235000] Modules linked in: rust_minimal(+)\n[    1.235300] ---[ end trace 0000000000000000 ]---\n";
        let cell = |entry: &str, console: &str| -> CellResult {
            serde_json::from_value(serde_json::json!({"schema": 2, "entry": entry, "base": "b", "arch": "x86_64",
                "toolchain": {"name": "t", "versions": {}}, "stages": [stage_of(console)], "dir": "c", "started": "", "duration_s": 0.0}))
            .unwrap()
        };
        let base = cell("base", &boot_with(base_warning));
        assert_eq!(
            base.stages[0].findings,
            [BootFinding {
                kind: BootKind::Warning,
                identity: "kernel/time/clocksource.c:123".into(),
                module: None
            }]
        );
        let h = assess(&cell("e", &boot_with(same)), Some(&base));
        assert_eq!(h.verdict, Verdict::Pass);
        assert_eq!(
            h.preexisting,
            ["boot warning: kernel/time/clocksource.c:123"]
        );

        let both = stage_of(&boot_with(&format!("{same}{new}")));
        assert!(both.summary.starts_with("warning: [    0.612345] WARNING"));
        let h = assess(&cell("e", &boot_with(&format!("{same}{new}"))), Some(&base));
        assert_eq!((h.verdict, h.stage), (Verdict::Fail, Some(Stage::Boot)));
        assert_eq!(
            h.summary,
            "warning: samples/rust/rust_minimal.rs:30 [rust_minimal]"
        );
        // A module that failed to load is a finding too, even behind the base's WARNING.
        let modfail = boot_with(same).replace(
            "RFL-INIT: loaded rust_minimal",
            "RFL-INIT: load-failed rust_minimal 22",
        );
        let h = assess(&cell("e", &modfail), Some(&base));
        assert_eq!(h.verdict, Verdict::Fail);
        assert_eq!(
            h.summary,
            "module-failure: load-failed rust_minimal: EINVAL (22) [rust_minimal]"
        );
    }

    /// An oops that names no source line is known by its first line without numbers, and by
    /// the module it faulted in; a panic by the module the init was loading.
    #[test]
    fn findings_name_what_stays_the_same_from_boot_to_boot() {
        let oops = |addr: &str, module: &str| {
            format!("[    2.0] BUG: kernel NULL pointer dereference, address: {addr}\n[    2.0] #PF: supervisor read access in kernel mode\n[    2.0] Oops: 0000 [#1] SMP NOPTI\n[    2.0] CPU: 0 UID: 0 PID: 93 Comm: init\n[    2.0] RIP: 0010:{module}_init+0x1a/0x30 [{module}]\n[    2.0] ---[ end trace 0000000000000000 ]---\n")
        };
        let f = |console: &str| classify(&boot_with(console), true, false, false, &[]).findings;
        let a = f(&oops("0000000000000008", "rust_a"));
        assert_eq!(
            a,
            [BootFinding {
                kind: BootKind::Oops,
                identity: "BUG: kernel NULL pointer dereference, address: _".into(),
                module: Some("rust_a".into())
            }],
            "one finding for the whole report"
        );
        assert_eq!(f(&oops("0000000000000010", "rust_a")), a);
        assert_ne!(f(&oops("0000000000000008", "rust_b")), a);
        let panic = "RFL-INIT: start \nRFL-INIT: load bad\n[    3.1] rust_kernel: panicked at samples/rust/bad.rs:5:9:\n[    3.1] Oops: invalid opcode: 0000 [#1]\nKernel panic - not syncing: Attempted to kill init! exitcode=0x0000000b\n";
        assert_eq!(
            classify(panic, true, false, false, &[]).findings,
            [BootFinding {
                kind: BootKind::Panic,
                identity: "samples/rust/bad.rs:5".into(),
                module: Some("bad".into())
            }],
            "the oops that caused the panic is the panic"
        );
        let hang = classify(
            "RFL-INIT: start \nRFL-INIT: load forever\n",
            false,
            true,
            false,
            &[],
        );
        assert_eq!(hang.findings[0].module.as_deref(), Some("forever"));
    }

    /// Real boot consoles of this machine's base (a doctest that faults in
    /// `kernel::task::Task::pid`, read here as the boot's own): each arch's oops is named by
    /// the function its registers name, demangled, as the x86 trace holds only `?` frames.
    #[test]
    fn real_oopses_of_every_arch_are_named_by_the_faulting_function() {
        let pid = "<kernel::task::Task>::pid";
        for (arch, console, title) in [
            (
                "x86_64",
                include_str!("../testdata/boot-oops-x86_64.log"),
                "BUG: unable to handle page fault",
            ),
            (
                "arm64",
                include_str!("../testdata/boot-oops-arm64.log"),
                "Unable to handle kernel paging request",
            ),
            (
                "riscv64",
                include_str!("../testdata/boot-oops-riscv64.log"),
                "Unable to handle kernel paging request",
            ),
            (
                "loongarch64",
                include_str!("../testdata/boot-oops-loongarch64.log"),
                "Unable to handle kernel paging request",
            ),
        ] {
            let r = stage_of(&boot_with(console));
            let identity = format!("{title} in {pid}");
            assert_eq!(
                r.findings,
                [BootFinding {
                    kind: BootKind::Oops,
                    identity: identity.clone(),
                    module: None
                }],
                "{arch}"
            );
            assert_eq!(
                r.summary.lines().next(),
                Some(format!("oops: {identity}").as_str())
            );
            assert!(!r.summary.contains("_RNv"), "{arch}: {}", r.summary);
        }
        let x86 = stage_of(&boot_with(include_str!("../testdata/boot-oops-x86_64.log")));
        assert!(x86
            .summary
            .contains("RIP: 0010:<kernel::task::Task>::pid+0x4/0xb"));
    }

    /// The finding of each of `cases` (a console, its kind, identity and module) on a boot:
    /// the summary's first line names it, and no mangled name is left in the summary.
    fn assert_named(cases: &[(&str, BootKind, &str, &str)]) {
        for &(console, kind, identity, module) in cases {
            let finding = BootFinding {
                kind,
                identity: identity.into(),
                module: Some(module.into()),
            };
            let r = stage_of(&boot_with(console));
            assert!(r.findings.contains(&finding), "{:?}", r.findings);
            assert_eq!(r.summary.lines().next(), Some(finding.render().as_str()));
            assert!(!r.summary.contains("_RNv"), "{}", r.summary);
        }
    }

    /// The self-test's seeded WARNING and panic in `rust_minimal`'s init, as each arch's
    /// console printed them: named by the module's frame, past `rust_helper_WARN_ON`,
    /// `rust_helper_BUG`, the panic path and `kernel::fmt`, and x86's `?` frames when no
    /// frame is reliable. riscv and loongarch unwind through `init_module`, into which the
    /// init was inlined.
    #[test]
    fn real_warnings_and_panics_are_named_by_the_module_s_frame() {
        use BootKind::{Panic, Warning};
        let warning = "WARNING in <rust_minimal::RustMinimal as kernel::Module>::init";
        let m = "rust_minimal";
        assert_named(&[
            (
                include_str!("../testdata/boot-warning-x86_64.log"),
                Warning,
                warning,
                m,
            ),
            (
                include_str!("../testdata/boot-warning-arm64.log"),
                Warning,
                warning,
                m,
            ),
            (
                include_str!("../testdata/boot-warning-riscv64.log"),
                Warning,
                warning,
                m,
            ),
            (
                include_str!("../testdata/boot-warning-loongarch64.log"),
                Warning,
                warning,
                m,
            ),
            (
                include_str!("../testdata/boot-panic-x86_64.log"),
                Panic,
                "panicked in <rust_minimal::RustMinimal as kernel::Module>::init",
                m,
            ),
            (
                include_str!("../testdata/boot-panic-arm64.log"),
                Panic,
                "panicked in <rust_minimal::RustMinimal as kernel::InPlaceModule>::init",
                m,
            ),
            (
                include_str!("../testdata/boot-panic-riscv64.log"),
                Panic,
                "panicked in init_module",
                m,
            ),
            (
                include_str!("../testdata/boot-panic-loongarch64.log"),
                Panic,
                "panicked in init_module",
                m,
            ),
        ]);
        // arm64's dying init WARNs in the scheduler on its way out: a finding of its own.
        let arm64 = stage_of(&boot_with(include_str!("../testdata/boot-panic-arm64.log")));
        assert_eq!(
            (arm64.findings.len(), arm64.findings[0].render()),
            (2, "warning: WARNING in __switch_to [rust_minimal]".into())
        );
        let x86 = stage_of(&boot_with(include_str!(
            "../testdata/boot-warning-x86_64.log"
        )));
        assert_eq!(
            x86.summary.lines().nth(1),
            Some("WARNING: samples/rust/rust_minimal.rs:28 at <rust_minimal::RustMinimal as kernel::Module>::init+0x33/0x19f [rust_minimal], CPU#0: init/1")
        );
    }

    /// Real consoles of this machine (x86_64, the `debug` config variant, the self-test's
    /// atomic-sleep, kasan-oob and lockdep-order seeds, from `Run /init` on): each splat is
    /// named by its title and its guilty frame, demangled: past the allocator and the kernel
    /// crate's `KVec`, KASAN's reporting, lockdep and the kernel crate's lock, and never
    /// from lockdep's chains or KASAN's allocation stack.
    #[test]
    fn sleeping_kasan_and_lockdep_reports_are_named_by_their_guilty_frame() {
        use BootKind::{Oops, Warning};
        assert_named(&[
            (
                include_str!("../testdata/boot-sleeping.log"),
                Oops,
                "BUG: sleeping function called from invalid context in <rust_minimal::RustMinimal as kernel::Module>::init",
                "rust_minimal",
            ),
            (
                include_str!("../testdata/boot-kasan.log"),
                Oops,
                "BUG: KASAN: slab-out-of-bounds Read in <rust_minimal::RustMinimal as kernel::Module>::init",
                "rust_minimal",
            ),
            (
                include_str!("../testdata/boot-lockdep.log"),
                Warning,
                "WARNING: possible circular locking dependency detected in <rust_minimal::RustMinimal as kernel::Module>::init",
                "rust_minimal",
            ),
        ]);
        let sleeping = stage_of(&boot_with(include_str!("../testdata/boot-sleeping.log")));
        assert_eq!(
            sleeping.summary.lines().nth(1),
            Some("BUG: sleeping function called from invalid context at include/linux/sched/mm.h:323")
        );
    }

    /// A title keeps what a report is and drops where and when: its location, address,
    /// task, CPU and counters, in every headline format the kernel prints.
    #[test]
    fn titles_keep_what_a_report_is_and_drop_where_and_when() {
        for (headline, want) in [
            ("[    1.0] BUG: sleeping function called from invalid context at include/linux/sched/mm.h:323", "BUG: sleeping function called from invalid context"),
            ("WARNING: CPU: 0 PID: 1 at kernel/x.c:1 f+0x1/0x2", "WARNING"),
            ("WARNING: lib/refcount.c:28 at refcount_warn_saturate+0x82/0xf0, CPU#0: init/93", "WARNING"),
            ("WARNING: at f+0x1/0x2, CPU#0: init/93", "WARNING"),
            ("BUG: kernel NULL pointer dereference, address: 0000000000000008", "BUG: kernel NULL pointer dereference"),
            ("Oops: invalid opcode: 0000 [#1] SMP NOPTI", "Oops: invalid opcode"),
            ("Oops[#1]:", "Oops"),
            ("Internal error: Oops - BUG: 00000000f2000800 [#1]  SMP", "Internal error: Oops - BUG"),
            ("kernel BUG at mm/slub.c:1!", "kernel BUG"),
            ("Kernel panic - not syncing: boom", "Kernel panic - not syncing: boom"),
            ("BUG: scheduling while atomic: init/93/0x00000002", "BUG: scheduling while atomic"),
            ("CPU 0 Unable to handle kernel paging request at virtual address 000002ac000006c4, era == 9", "Unable to handle kernel paging request"),
            ("rust_kernel: panicked at samples/rust/x.rs:5:9:", "panicked"),
        ] {
            assert_eq!(title(&[headline]), want, "{headline}");
        }
        let kasan = [
            "BUG: KASAN: slab-out-of-bounds in f+0x1/0x2 [m]",
            "Write of size 4 at addr ffff888003c1a5c8 by task init/93",
        ];
        assert_eq!(title(&kasan), "BUG: KASAN: slab-out-of-bounds Write");
    }

    /// Every sleeping-in-atomic BUG names the same place (the allocator's `might_alloc`):
    /// the guilty frame tells two such bugs apart, and the same bug on another boot (other
    /// timestamps, PID and offsets) is the same finding, so the base's is pre-existing.
    #[test]
    fn two_bugs_at_the_same_place_are_told_apart_by_their_guilty_frame() {
        use crate::model::health::assess;
        use crate::model::outcome::{CellResult, Verdict};
        let cell = |entry: &str, console: &str| -> CellResult {
            serde_json::from_value(serde_json::json!({"schema": 2, "entry": entry, "base": "b", "arch": "x86_64",
                "toolchain": {"name": "t", "versions": {}}, "stages": [stage_of(&boot_with(console))], "dir": "c", "started": "", "duration_s": 0.0}))
            .unwrap()
        };
        let minimal = include_str!("../testdata/boot-sleeping.log");
        let again = minimal
            .replace("pid: 1, name: init", "pid: 97, name: init")
            .replace("+0xd2/0x3c3", "+0xd6/0x3c7");
        assert_ne!(again, minimal);
        let other = minimal
            .replace("12rust_minimal", "10rust_other")
            .replace("11RustMinimal", "9RustOther")
            .replace("rust_minimal", "rust_other");
        let base = cell("base", minimal);
        let h = assess(&cell("e", &again), Some(&base));
        assert_eq!(h.verdict, Verdict::Pass);
        assert_eq!(h.preexisting, ["boot oops: BUG: sleeping function called from invalid context in <rust_minimal::RustMinimal as kernel::Module>::init [rust_minimal]"]);
        let h = assess(&cell("e", &other), Some(&base));
        assert_eq!((h.verdict, h.stage), (Verdict::Fail, Some(Stage::Boot)));
        assert_eq!(
            h.summary.lines().next(),
            Some("oops: BUG: sleeping function called from invalid context in <rust_other::RustOther as kernel::Module>::init [rust_other]")
        );
    }

    /// The debug variant's base console (x86_64, real): a Rust doctest's oops inside KUnit
    /// turned lock checking off before the init loaded the modules; a console whose first
    /// report comes after the load never lost it.
    #[test]
    fn an_oops_before_the_modules_load_says_lockdep_was_off_for_them() {
        let off = include_str!("../testdata/boot-debug-lockdep-off.log");
        let line = lockdep_lost_before_modules(off).unwrap();
        assert!(
            off.lines()
                .nth(line - 1)
                .unwrap()
                .starts_with("Oops: general protection fault"),
            "{line}"
        );
        // Each arch words its oops its own way (the base's doctest oops, real consoles).
        for (arch, console) in [
            ("x86_64", include_str!("../testdata/boot-oops-x86_64.log")),
            ("arm64", include_str!("../testdata/boot-oops-arm64.log")),
            ("riscv64", include_str!("../testdata/boot-oops-riscv64.log")),
            (
                "loongarch64",
                include_str!("../testdata/boot-oops-loongarch64.log"),
            ),
        ] {
            let load = format!("{MARK} load rust_minimal\n");
            let line = lockdep_lost_before_modules(&format!("{console}{load}"));
            let line = line.unwrap_or_else(|| panic!("{arch}: lock checking not seen off"));
            assert!(
                console.lines().nth(line - 1).unwrap().contains("Oops"),
                "{arch}: {line}"
            );
            assert_eq!(
                lockdep_lost_before_modules(&format!("{load}{console}")),
                None,
                "{arch}"
            );
        }
        assert_eq!(
            lockdep_lost_before_modules(include_str!("../testdata/boot-lockdep.log")),
            None
        );
        assert_eq!(
            lockdep_lost_before_modules(include_str!("../testdata/boot-sleeping.log")),
            None
        );
    }

    /// A kernel that WARNs without end gives one finding per distinct WARNING, at most
    /// [`MAX_FINDINGS`], and the verdict still names the first.
    #[test]
    fn a_flood_of_warnings_gives_a_bounded_set_of_findings() {
        let same = "[ 1.0] WARNING: CPU: 0 PID: 1 at kernel/x.c:1 f+0x1/0x2\n".repeat(10_000);
        assert_eq!(
            classify(&boot_with(&same), true, false, false, &[])
                .findings
                .len(),
            1
        );
        let many: String = (0..10_000)
            .map(|i| format!("[ 1.0] WARNING: CPU: 0 PID: 1 at kernel/x.c:{i} f+0x1/0x2\n"))
            .collect();
        let v = classify(&boot_with(&many), true, false, false, &[]);
        assert_eq!(v.findings.len(), MAX_FINDINGS);
        assert_eq!(v.findings[0].identity, "kernel/x.c:0");
        assert_eq!(v.kind, BootKind::Warning);
    }
}
