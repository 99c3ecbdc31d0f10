//! One kernel report on the console (panic, oops, BUG, WARNING, KASAN, lockdep): where it
//! starts and ends, its call trace, and what it is known by: its title and guilty frame, the
//! way syzbot titles a crash, else its source location or its first line without numbers.

use crate::model::outcome::{BootFinding, BootKind};
use crate::stages::boot::marker::MARK;
use crate::stages::frames::{self, Frame};

/// A kernel report (panic, oops, WARNING): the line its text starts at, and what it is.
pub(super) struct Report {
    pub(super) at: usize,
    pub(super) finding: BootFinding,
    /// The finding is named by the report's guilty frame (see [`frames`]).
    pub(super) by_frame: bool,
    /// A panic: the kernel is dead, nothing after it is a finding of its own.
    pub(super) fatal: bool,
}

/// How many lines of a report may name the faulting function's module (`RIP:` or `pc :`
/// comes within the first dozen).
const REPORT_HEAD: usize = 12;

/// The line an oops report opens with, as each arch's `die()` words it: `Oops: 0000 [#1]`
/// (x86_64), `Internal error: Oops: 96000004 [#1]` (arm64), `Oops [#1]` (riscv64),
/// `Oops[#1]:` or `Oops - BUG[#2]:` (loongarch64).
pub(super) fn oops_header(l: &str) -> bool {
    l.find("Oops").is_some_and(|i| l[i..].contains("[#"))
}

pub(super) fn is_oops(l: &str) -> bool {
    l.contains("Oops")
        || l.contains("BUG:")
        || l.contains("Unable to handle kernel")
        || l.contains("general protection fault")
        || l.contains("panicked at")
}

pub(super) fn is_warning(l: &str) -> bool {
    l.contains("] WARNING:") || l.trim_start().starts_with("WARNING:")
}

/// The panic at line `i`: an oops or a Rust panic before it is the cause (a module's init
/// that panicked kills the init process that loaded it); without one, the init itself died.
pub(super) fn panic_report(
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
pub(super) fn report_at(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{Stage, StageResult};
    use crate::stages::boot::console::classify;
    use crate::stages::boot::run::boot_stage;

    const CLEAN: &str = "Linux version 7.2\nRFL-INIT: start \nRFL-INIT: load rust_minimal\nRFL-INIT: loaded rust_minimal\nRFL-INIT: unloaded rust_minimal\nRFL-INIT: done \nreboot: Restarting system\n";

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
}
