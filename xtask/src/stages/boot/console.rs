//! The boot console's verdict: the kernel's reports outside KUnit (each one read by
//! `splat.rs`), the modules the init could not load or unload, the built-in ones whose
//! initcall failed, and how far the init got; from those, the findings and the verdict.

use crate::model::outcome::{BootFinding, BootKind, Status};
use crate::stages::boot::marker::{self, Marker, MARK};
use crate::stages::boot::qemu::QemuEnd;
use crate::stages::boot::splat::{
    is_oops, is_warning, oops_header, panic_report, report_at, Report,
};
use crate::stages::frames;

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
        if let Some(n) = marker::text(l).and_then(|m| Marker::Builtin.arg(m)) {
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
        if marker::text(l).is_some_and(|m| Marker::Load.arg(m).is_some()) {
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
pub(super) const MAX_FINDINGS: usize = 32;

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
            done: console.contains(Marker::Done.line()),
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
        let last = self.lines.iter().rev().find_map(|l| marker::text(l));
        let loading = last
            .and_then(|m| Marker::Load.arg(m))
            .map(|m| m.trim().to_string());
        let stuck = match &loading {
            Some(m) => format!("; stuck loading module {m}"),
            None => last
                .map(|m| format!("; last marker: {MARK} {m}"))
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
        if let Some(m) = marker::text(l) {
            busy_with = Marker::Load
                .arg(m)
                .or_else(|| Marker::Loaded.arg(m))
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
            let rest = marker::text(l)?;
            let mut parts = rest.split_whitespace();
            let what = parts.next()?;
            if what != Marker::LoadFailed.word() && what != Marker::UnloadFailed.word() {
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

/// An errno as the kernel names it, with its number: `EINVAL (22)`.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::outcome::{Stage, StageResult};
    use crate::stages::boot::run::boot_stage;
    use std::time::{Duration, Instant};

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
