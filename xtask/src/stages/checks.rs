//! Diagnostics out of the logs of the tools a kernel build runs (rustc, clang, bindgen,
//! ld.lld, objtool, modpost, Kconfig, `make rustavailable`) and of clippy, rustdoc and
//! rustfmt, as file:line:message. Pure.

use std::sync::OnceLock;

use regex::Regex;

use crate::model::outcome::{Diagnostic, Level};

struct Res {
    rust_head: Regex,
    rust_loc: Regex,
    clang: Regex,
    clang_driver: Regex,
    kconfig_warning: Regex,
    kconfig_error: Regex,
    objtool: Regex,
    modpost: Regex,
    modpost_symbol: Regex,
    modpost_object: Regex,
    modpost_module: Regex,
    ld: Regex,
    ld_source: Regex,
    bindgen: Regex,
    panic: Regex,
    make_no_rule: Regex,
    make_err: Regex,
    fmt_diff: Regex,
}

fn res() -> &'static Res {
    static R: OnceLock<Res> = OnceLock::new();
    R.get_or_init(|| Res {
        // `warning: unused variable: `x`` / `error[E0425]: cannot find …`
        rust_head: Regex::new(r"^(error|warning)(\[[A-Za-z0-9_:]+\])?: (.*)$").unwrap(),
        rust_loc: Regex::new(r"^\s*--> ([^:\s]+):(\d+):(\d+)").unwrap(),
        // `drivers/x.c:12:5: error: …` (clang), also `warning:`
        clang: Regex::new(
            r"^([^\s:]+\.(?:c|h|S|rs|lds)):(\d+):(\d+): (error|warning|fatal error): (.*)$",
        )
        .unwrap(),
        // The driver itself: `clang-19: error: unknown argument: '-fno-such'`
        clang_driver: Regex::new(r"^clang(?:-\d+)?: (error|warning): (.*)$").unwrap(),
        // conf_warning() and menu.c: `.config:2:warning: symbol value 'maybe' invalid for RUST`
        kconfig_warning: Regex::new(r"^(\S+):(\d+):warning: (.*)$").unwrap(),
        // The Kconfig parser and preprocessor stop at `scripts/Kconfig.include:51: Sorry, …`
        // or `arch/x86/Kconfig:12: error: choice member must be bool`.
        kconfig_error: Regex::new(r"^(\S*Kconfig[^\s:]*):(\d+): (?:error: )?(.+)$").unwrap(),
        // tools/objtool/include/objtool/warn.h: "%s: %s: objtool[ [file:line]]: %s"
        objtool: Regex::new(r"^(\S+): (warning|error): objtool(?: \[[^\]]*\])?: (.*)$").unwrap(),
        // scripts/mod/modpost.c modpost_log(): "ERROR: " or "WARNING: ", then "modpost: "
        modpost: Regex::new(r"^(ERROR|WARNING): modpost: (.*)$").unwrap(),
        // `"sym" [samples/rust/rust_minimal.ko] undefined!` and the other per-symbol messages
        modpost_symbol: Regex::new(r#"^("[^"]+") \[([^\]\s]+\.ko)\] (.*)$"#).unwrap(),
        // `missing MODULE_LICENSE() in drivers/x/nolic.o`
        modpost_object: Regex::new(r"^(.*) in (\S+\.o)$").unwrap(),
        // `samples/rust/rust_minimal: section mismatch in reference: …`
        modpost_module: Regex::new(r#"^([^\s:"]+): (.*)$"#).unwrap(),
        // `ld.lld: error: undefined symbol: foo`, also as `ld.lld-19` when called by that name
        ld: Regex::new(r"^ld\.lld(?:-\d+)?: (error|warning): (.*)$").unwrap(),
        // `>>> referenced by use.c:4 (/src/drivers/x/use.c:4)`, `>>> defined at …`
        ld_source: Regex::new(r"^(?:referenced by|defined at) .*\(([^()\s]+):(\d+)\)$").unwrap(),
        // bindgen's own failures; libclang's come before it in clang's form.
        bindgen: Regex::new(r"^Unable to generate bindings: (.*)$").unwrap(),
        // A Rust host tool (bindgen, a proc macro, rustc itself) that panicked:
        // `thread 'main' (24691) panicked at main.rs:3:14:` then the message on the next line.
        panic: Regex::new(r"^thread '([^']+)'(?: \(\d+\))? panicked at (.*?)(:?)$").unwrap(),
        // GNU make's own reason, e.g. a Makefile naming an object that has no source.
        make_no_rule: Regex::new(
            r"^make(?:\[\d+\])?: \*\*\* (No rule to make target .*?)\.?\s+Stop\.$",
        )
        .unwrap(),
        make_err: Regex::new(r"^make\[\d+\]: \*\*\* \[(?:[^\]]*?):\d+: ([^\]]+)\] Error").unwrap(),
        // rustfmt --check: `Diff in /abs/path/file.rs:12:` or `Diff in /abs/file.rs at line 12:`
        fmt_diff: Regex::new(r"^Diff in (\S+?)(?::(\d+):| at line (\d+):)").unwrap(),
    })
}

/// Strip a build's absolute source prefix so that paths read as in the kernel tree.
fn rel(path: &str, src_prefix: &str) -> String {
    let p = path.strip_prefix(src_prefix).unwrap_or(path);
    let p = p.trim_start_matches('/');
    p.strip_prefix("./").unwrap_or(p).to_string()
}

/// A diagnostic that names no source line: the file, if any, is an object or a module.
fn said(file: Option<String>, level: Level, message: String) -> Diagnostic {
    Diagnostic {
        file,
        line: None,
        col: None,
        level,
        message,
        log_line: None,
    }
}

/// Line `i` (from 0) of a log as a diagnostic's `log_line` (from 1).
fn log_line(i: usize) -> Option<u32> {
    u32::try_from(i + 1).ok()
}

/// Each finding once, where the log first showed it.
fn push_new(out: &mut Vec<Diagnostic>, d: Diagnostic) {
    if !out.iter().any(|x| x.same_as(&d)) {
        out.push(d);
    }
}

/// Rust (rustc, clippy, rustdoc) diagnostics: a header line then a `-->` location.
/// Summary lines such as "warning: 3 warnings emitted" are not diagnostics.
pub fn rust_diagnostics(log: &str, src_prefix: &str) -> Vec<Diagnostic> {
    let lines: Vec<&str> = log.lines().collect();
    let mut out = Vec::new();
    for i in 0..lines.len() {
        if let Some(d) = rust_at(&lines, i, src_prefix) {
            push_new(&mut out, d);
        }
    }
    out
}

/// The Rust diagnostic whose header is line `i`; its location follows within 4 lines.
fn rust_at(lines: &[&str], i: usize, src_prefix: &str) -> Option<Diagnostic> {
    let r = res();
    let c = r.rust_head.captures(lines[i])?;
    let msg = c[3].trim().to_string();
    if is_summary(&msg) {
        return None;
    }
    let loc = lines[i + 1..]
        .iter()
        .take(4)
        .find_map(|n| r.rust_loc.captures(n));
    Some(Diagnostic {
        file: loc.as_ref().map(|m| rel(&m[1], src_prefix)),
        line: loc.as_ref().and_then(|m| m[2].parse().ok()),
        col: loc.as_ref().and_then(|m| m[3].parse().ok()),
        level: Level::of(&c[1]),
        message: match c.get(2) {
            Some(code) if msg.is_empty() => code.as_str().to_string(),
            Some(code) => format!("{} {msg}", code.as_str()),
            None => msg,
        },
        log_line: log_line(i),
    })
}

fn is_summary(msg: &str) -> bool {
    let m = msg.to_lowercase();
    (m.contains("warning") && m.contains("emitted"))
        || m.starts_with("aborting due to")
        || m.starts_with("could not compile")
        || m.contains("generated") && m.contains("warning")
}

/// Build log → diagnostics, each tool's in the order it printed them. make's own
/// `*** [...] Error` lines only echo a failure that a tool explained above them, so they are
/// kept only when no tool said anything at error level.
pub fn build_diagnostics(log: &str, src_prefix: &str) -> Vec<Diagnostic> {
    let mut out = tool_diagnostics(log, src_prefix);
    if !out.iter().any(|d| d.level == Level::Error) {
        out.extend(make_failures(log));
    }
    out
}

/// What the tools a kernel build runs said, without make's echo of their failures.
pub fn tool_diagnostics(log: &str, src_prefix: &str) -> Vec<Diagnostic> {
    let lines: Vec<&str> = log.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (found, spans) = tool_at(&lines, i, src_prefix);
        if let Some(d) = found {
            push_new(&mut out, d);
        }
        i += spans;
    }
    fail_section_mismatches(&mut out);
    out
}

/// The diagnostic a tool starts on line `i`, if any, and how many lines it spans (at least 1).
fn tool_at(lines: &[&str], i: usize, src_prefix: &str) -> (Option<Diagnostic>, usize) {
    let spanning = ld_at(lines, i, src_prefix)
        .or_else(|| panic_at(lines, i))
        .or_else(|| stars_at(lines, i));
    if let Some((d, n)) = spanning {
        return (
            Some(Diagnostic {
                log_line: log_line(i),
                ..d
            }),
            n,
        );
    }
    let l = lines[i];
    let d = rust_at(lines, i, src_prefix)
        .or_else(|| clang(l, src_prefix))
        .or_else(|| kconfig(l, src_prefix))
        .or_else(|| objtool(l, src_prefix))
        .or_else(|| modpost(l))
        .or_else(|| bindgen(l))
        .or_else(|| make_no_rule(l));
    (
        d.map(|d| Diagnostic {
            log_line: log_line(i),
            ..d
        }),
        1,
    )
}

/// clang on a file (`x.c:4:9: error: …`), or the clang driver (`clang-19: error: …`).
fn clang(l: &str, src_prefix: &str) -> Option<Diagnostic> {
    let r = res();
    if let Some(c) = r.clang_driver.captures(l) {
        return Some(said(
            None,
            Level::of(&c[1]),
            format!("clang: {}", c[2].trim()),
        ));
    }
    let c = r.clang.captures(l)?;
    Some(Diagnostic {
        file: Some(rel(&c[1], src_prefix)),
        line: c[2].parse().ok(),
        col: c[3].parse().ok(),
        level: Level::of(&c[4]),
        message: c[5].trim().to_string(),
        log_line: None,
    })
}

/// Kconfig's warnings on a Kconfig file or a .config (`.config:2:warning: …`), and the
/// parser's and preprocessor's errors, which stop it (`scripts/Kconfig.include:51: Sorry, …`).
fn kconfig(l: &str, src_prefix: &str) -> Option<Diagnostic> {
    let r = res();
    let (c, level) = match r.kconfig_warning.captures(l) {
        Some(c) => (c, Level::Warning),
        None => (r.kconfig_error.captures(l)?, Level::Error),
    };
    Some(Diagnostic {
        file: Some(rel(&c[1], src_prefix)),
        line: c[2].parse().ok(),
        col: None,
        level,
        message: c[3].trim().to_string(),
        log_line: None,
    })
}

/// `samples/rust/rust_minimal.o: error: objtool: sym+0x5: unannotated intra-function call`:
/// the object is the file, the symbol (a Rust one demangled) and offset stay in the message.
fn objtool(l: &str, src_prefix: &str) -> Option<Diagnostic> {
    let c = res().objtool.captures(l)?;
    let msg = &c[3];
    // --verbose adds an indented backtrace under a finding and a count of the warnings
    // --werror upgraded: neither is a finding of its own.
    if msg.starts_with(' ') || msg.ends_with("upgraded to errors") {
        return None;
    }
    Some(said(
        Some(rel(&c[1], src_prefix)),
        Level::of(&c[2]),
        format!("objtool: {}", crate::stages::frames::demangle(msg.trim())),
    ))
}

/// `ERROR: modpost: "sym" [m.ko] undefined!` and modpost's other messages; the module or
/// object they name becomes the file.
fn modpost(l: &str) -> Option<Diagnostic> {
    let r = res();
    let c = r.modpost.captures(l)?;
    let level = Level::of(&c[1]);
    let text = c[2].trim();
    let (file, msg) = if let Some(s) = r.modpost_symbol.captures(text) {
        (Some(s[2].to_string()), format!("{} {}", &s[1], &s[3]))
    } else if let Some(o) = r.modpost_object.captures(text) {
        (Some(o[2].to_string()), o[1].to_string())
    } else if let Some(m) = r.modpost_module.captures(text) {
        (Some(m[1].to_string()), m[2].to_string())
    } else {
        (None, text.to_string())
    };
    Some(said(file, level, format!("modpost: {msg}")))
}

/// modpost reports each section mismatch as a warning, then fails the build with
/// "Section mismatches detected." unless CONFIG_SECTION_MISMATCH_WARN_ONLY: the mismatches
/// are then the errors, and that closing line adds nothing to them.
fn fail_section_mismatches(out: &mut Vec<Diagnostic>) {
    let Some(closing) = out
        .iter()
        .position(|d| d.message == "modpost: Section mismatches detected.")
    else {
        return;
    };
    let mut mismatches = out
        .iter_mut()
        .filter(|d| {
            d.message
                .starts_with("modpost: section mismatch in reference")
        })
        .peekable();
    if mismatches.peek().is_none() {
        return;
    }
    mismatches.for_each(|d| d.level = Level::Error);
    out.remove(closing);
}

/// ld.lld's diagnostic and the `>>>` lines under it, folded in: the first source location
/// they give becomes the file:line, the objects and functions go into the message.
fn ld_at(lines: &[&str], i: usize, src_prefix: &str) -> Option<(Diagnostic, usize)> {
    let r = res();
    let c = r.ld.captures(lines[i])?;
    let mut d = said(None, Level::of(&c[1]), format!("ld.lld: {}", c[2].trim()));
    let more: Vec<&str> = lines[i + 1..]
        .iter()
        .map_while(|l| l.strip_prefix(">>>"))
        .map(str::trim)
        .collect();
    let mut places = Vec::new();
    for m in &more {
        if let Some(s) = r.ld_source.captures(m) {
            if d.file.is_none() {
                d.file = Some(rel(&s[1], src_prefix));
                d.line = s[2].parse().ok();
            }
        } else if !m.starts_with("referenced by ") && !m.starts_with("defined at ") {
            // Without debug info those name only a file's base name; the object follows.
            places.push(*m);
        }
    }
    if !places.is_empty() {
        d.message = format!("{} ({})", d.message, places.join(", "));
    }
    Some((d, 1 + more.len()))
}

/// A Rust host tool that panicked. Since Rust 1.73 the message is on the line after
/// `thread 'main' panicked at <location>:`; before, it was on the same line.
fn panic_at(lines: &[&str], i: usize) -> Option<(Diagnostic, usize)> {
    let c = res().panic.captures(lines[i])?;
    let next = lines.get(i + 1).map(|m| m.trim()).filter(|m| !m.is_empty());
    let (what, n) = match next {
        Some(m) if !c[3].is_empty() => (format!("{}: {m}", &c[2]), 2),
        _ => (c[2].to_string(), 1),
    };
    let msg = format!("thread '{}' panicked at {what}", &c[1]);
    Some((said(None, Level::Error, msg), n))
}

/// A paragraph of `***` lines, as Kconfig, the top Makefile and `make rustavailable`
/// (scripts/rust_is_available.sh) write them; a bare `***` ends it. Advice ("Please see …")
/// is a note, anything else says what failed.
fn stars_at(lines: &[&str], i: usize) -> Option<(Diagnostic, usize)> {
    let paragraph: Vec<&str> = lines[i..].iter().map_while(|l| stars_text(l)).collect();
    let first = paragraph.first()?;
    let level = if first.starts_with("Please ") {
        Level::Note
    } else {
        Level::Error
    };
    let words: Vec<&str> = paragraph
        .iter()
        .flat_map(|t| t.split_whitespace())
        .collect();
    Some((said(None, level, words.join(" ")), paragraph.len()))
}

/// The text of a `***` line, None for a bare one or any other line.
fn stars_text(l: &str) -> Option<&str> {
    l.strip_prefix("***")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// bindgen's own failure. When libclang diagnosed the header, bindgen repeats clang's lines,
/// which were already taken as they came.
fn bindgen(l: &str) -> Option<Diagnostic> {
    let c = res().bindgen.captures(l)?;
    let msg = c[1].trim();
    (!msg.starts_with("clang diagnosed error:"))
        .then(|| said(None, Level::Error, format!("bindgen: {msg}")))
}

/// make's own reason to stop, as opposed to its echo of a recipe that failed.
fn make_no_rule(l: &str) -> Option<Diagnostic> {
    let c = res().make_no_rule.captures(l)?;
    Some(said(None, Level::Error, format!("make: {}", &c[1])))
}

/// make's `*** [...] Error` lines, the failing targets from the innermost make outwards.
fn make_failures(log: &str) -> Vec<Diagnostic> {
    log.lines()
        .enumerate()
        .filter_map(|(i, l)| Some((i, res().make_err.captures(l)?)))
        .map(|(i, c)| Diagnostic {
            log_line: log_line(i),
            ..said(None, Level::Error, format!("make target {} failed", &c[1]))
        })
        .collect()
}

/// rustfmtcheck output → one diagnostic per reported hunk.
pub fn rustfmt_diagnostics(log: &str, src_prefix: &str) -> Vec<Diagnostic> {
    let r = res();
    log.lines()
        .enumerate()
        .filter_map(|(i, l)| Some((i, r.fmt_diff.captures(l)?)))
        .map(|(i, c)| Diagnostic {
            file: Some(rel(&c[1], src_prefix)),
            line: c
                .get(2)
                .or_else(|| c.get(3))
                .and_then(|m| m.as_str().parse().ok()),
            col: None,
            level: Level::Warning,
            message: "not formatted as rustfmt would".into(),
            log_line: log_line(i),
        })
        .collect()
}

/// Errors first, then the rest; at most `n` rendered for a summary line.
pub fn summarise(diags: &[Diagnostic], n: usize) -> String {
    let mut sorted: Vec<&Diagnostic> = diags.iter().filter(|d| d.level == Level::Error).collect();
    sorted.extend(diags.iter().filter(|d| d.level != Level::Error));
    let shown: Vec<String> = sorted.iter().take(n).map(|d| d.render()).collect();
    let more = diags.len().saturating_sub(n);
    if more > 0 {
        format!("{} (+{more} more)", shown.join("; "))
    } else {
        shown.join("; ")
    }
}

/// A failed step's summary: the first error a tool printed, as the tool put it, and how many
/// more errors followed. None when no error was recognised.
pub fn cause(diags: &[Diagnostic]) -> Option<String> {
    let errors: Vec<Diagnostic> = diags
        .iter()
        .filter(|d| d.level == Level::Error)
        .cloned()
        .collect();
    (!errors.is_empty()).then(|| summarise(&errors, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUSTC: &str = "  RUSTC [M] samples/rust/rust_minimal.o
error[E0425]: cannot find value `nope` in this scope
  --> /src/samples/rust/rust_minimal.rs:25:9
   |
25 |         nope;
   |         ^^^^ not found in this scope

warning: unused variable: `x`
 --> samples/rust/rust_minimal.rs:30:13
  |
error: aborting due to 1 previous error
warning: 1 warning emitted
make[4]: *** [/src/scripts/Makefile.build:300: samples/rust/rust_minimal.o] Error 1
";

    #[test]
    fn rustc_errors_and_warnings() {
        let d = build_diagnostics(RUSTC, "/src");
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].render(), "samples/rust/rust_minimal.rs:25: error: [E0425] cannot find value `nope` in this scope");
        assert_eq!(d[1].file.as_deref(), Some("samples/rust/rust_minimal.rs"));
        assert_eq!(d[1].line, Some(30));
    }

    #[test]
    fn clang_and_make() {
        let log = "/src/drivers/x.c:12:5: error: use of undeclared identifier 'y'\nld.lld: error: undefined symbol: foo\n";
        let d = build_diagnostics(log, "/src/");
        assert_eq!(
            d[0].render(),
            "drivers/x.c:12: error: use of undeclared identifier 'y'"
        );
        assert_eq!(d[1].message, "ld.lld: undefined symbol: foo");
        let d = build_diagnostics(
            "make[2]: *** [scripts/Makefile.build:1: vmlinux.o] Error 2\n",
            "/src",
        );
        assert_eq!(d[0].message, "make target vmlinux.o failed");
    }

    #[test]
    fn rustfmt_forms() {
        let d = rustfmt_diagnostics(
            "Diff in /src/samples/rust/a.rs:12:\nDiff in /src/rust/b.rs at line 3:\n",
            "/src",
        );
        assert_eq!(
            d[0].render(),
            "samples/rust/a.rs:12: warning: not formatted as rustfmt would"
        );
        assert_eq!(d[1].line, Some(3));
    }

    /// Each diagnostic says on which line of its log the tool printed it (the first time,
    /// when it printed it twice), so a report can point at it.
    #[test]
    fn diagnostics_name_the_log_line_they_were_read_from() {
        let lines = |d: Vec<Diagnostic>| d.iter().map(|d| d.log_line).collect::<Vec<_>>();
        assert_eq!(lines(build_diagnostics(RUSTC, "/src")), [Some(2), Some(8)]);
        let twice = format!("{RUSTC}{RUSTC}");
        assert_eq!(lines(build_diagnostics(&twice, "/src")), [Some(2), Some(8)]);
        assert_eq!(
            lines(build_diagnostics(
                "  LD vmlinux\nmake[2]: *** [scripts/Makefile.build:1: vmlinux.o] Error 2\n",
                "/src"
            )),
            [Some(2)]
        );
        let fmt = "Diff in /src/a.rs:1:\n x\nDiff in /src/b.rs at line 3:\n";
        assert_eq!(lines(rustfmt_diagnostics(fmt, "/src")), [Some(1), Some(3)]);
        let ld = "x\nld.lld: error: undefined symbol: foo\n>>> referenced by a.c:4 (/src/a.c:4)\n";
        assert_eq!(lines(tool_diagnostics(ld, "/src")), [Some(2)]);
    }

    #[test]
    fn summary_puts_errors_first() {
        let d = build_diagnostics(RUSTC, "/src");
        assert!(summarise(&d, 1).starts_with("samples/rust/rust_minimal.rs:25: error"));
        assert!(summarise(&d, 1).ends_with("(+1 more)"));
    }
}

#[cfg(test)]
mod tool_tests {
    //! Fixtures in testdata/ hold real output of each tool, run on small inputs in /tmp:
    //! rustc 1.95, clang-19 and ld.lld (19) on tiny files; objtool, modpost and Kconfig's
    //! conf binaries as built by a 7.2 kernel build (x86_64), on small objects and a broken
    //! .config; bindgen 0.73.2; the 7.2 scripts/rust_is_available.sh with a too-old rustc; and a
    //! tiny Rust program's panic standing for bindgen's (both print std's panic message).
    //! The kbuild lines around them (`  RUSTC …`, `make[N]: *** […] Error N`) are written in
    //! GNU make's and kbuild's format, with the 7.2 Makefiles' line numbers.
    use super::*;

    const OBJTOOL: &str = include_str!("testdata/objtool.log");
    const MODPOST: &str = include_str!("testdata/modpost.log");
    const MODPOST_LICENSE: &str = include_str!("testdata/modpost-license.log");
    const LD: &str = include_str!("testdata/ld.lld.log");
    const LD_SUFFIXED: &str = include_str!("testdata/ld.lld-suffixed.log");
    const RUSTC: &str = include_str!("testdata/rustc.log");
    const CLANG: &str = include_str!("testdata/clang.log");
    const KCONFIG: &str = include_str!("testdata/kconfig.log");
    const KCONFIG_INCLUDE: &str = include_str!("testdata/kconfig-include.log");
    const RUSTAVAILABLE: &str = include_str!("testdata/rustavailable.log");
    const BINDGEN: &str = include_str!("testdata/bindgen.log");
    const PANIC: &str = include_str!("testdata/panic.log");

    fn rendered(d: &[Diagnostic]) -> Vec<String> {
        d.iter().map(|d| d.render()).collect()
    }

    #[test]
    fn objtool_findings_name_the_object_and_the_symbol() {
        let d = build_diagnostics(OBJTOOL, "/src/");
        assert_eq!(
            rendered(&d),
            [
                "samples/rust/rust_minimal.o: error: objtool: rust_minimal::init+0x5: unannotated intra-function call",
                "drivers/x/fall.o: warning: objtool: a_fn() falls through to next function b_fn()",
            ]
        );
    }

    #[test]
    fn modpost_messages_name_the_module_or_object() {
        let d = build_diagnostics(MODPOST, "/src/");
        assert_eq!(
            rendered(&d),
            [
                "samples/rust/rust_minimal: error: modpost: section mismatch in reference: holder+0x0 (section: .data) -> init_fn (section: .init.text)",
                "samples/rust/rust_minimal.ko: error: modpost: \"rust_helper_missing\" undefined!",
            ],
            "the mismatch fails the build, so it is an error and the closing line is gone"
        );
        let d = build_diagnostics(MODPOST_LICENSE, "/src/");
        assert_eq!(
            rendered(&d),
            [
                "drivers/x/nolic.o: error: modpost: missing MODULE_LICENSE()",
                "drivers/x/nolic.o: warning: modpost: missing MODULE_DESCRIPTION()",
            ]
        );
    }

    #[test]
    fn section_mismatches_stay_warnings_when_modpost_does_not_fail_on_them() {
        let mismatch = MODPOST
            .lines()
            .find(|l| l.contains("section mismatch"))
            .unwrap();
        let d = build_diagnostics(mismatch, "/src/");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].level, Level::Warning);
    }

    #[test]
    fn ld_lld_folds_its_referenced_by_lines_into_the_error() {
        let d = build_diagnostics(LD, "/tmp/h-diag/ld/");
        assert_eq!(
            rendered(&d),
            [
                "drivers/x/use.c:4: error: ld.lld: undefined symbol: rust_helper_gone (vmlinux.o:(entry), vmlinux.o:(entry2))",
                "drivers/x/use.c:4: error: ld.lld: undefined symbol: other_gone (vmlinux.o:(entry))",
            ]
        );
        let d = build_diagnostics(LD_SUFFIXED, "/src/");
        assert_eq!(
            rendered(&d),
            [
                "warning: ld.lld: unknown -z value: nosuchopt",
                "error: ld.lld: undefined symbol: rust_helper_gone (drivers/x/nodbg.o:(entry), drivers/x/nodbg.o:(entry2))",
                "error: ld.lld: undefined symbol: other_gone (drivers/x/nodbg.o:(entry))",
            ],
            "without debug info lld names no source line, only the objects"
        );
    }

    #[test]
    fn rustc_diagnostics_keep_file_line_and_column() {
        let d = build_diagnostics(RUSTC, "/src/");
        assert_eq!(
            rendered(&d),
            [
                "samples/rust/rust_warn.rs:3: warning: unused variable: `x`",
                "samples/rust/rust_minimal.rs:4: error: [E0425] cannot find value `nope` in this scope",
            ]
        );
        assert_eq!((d[1].line, d[1].col), (Some(4), Some(5)));
    }

    #[test]
    fn clang_diagnostics_keep_file_line_and_column_and_the_driver_says_its_own() {
        let d = build_diagnostics(CLANG, "/tmp/h-diag/cc/src/");
        assert_eq!(
            rendered(&d),
            [
                "drivers/x/x.c:4: error: use of undeclared identifier 'undeclared_y'",
                "drivers/x/x.c:6: warning: unused variable 'unused' [-Wunused-variable]",
                "error: clang: unknown argument: '-fno-such'",
            ]
        );
        assert_eq!(d[0].col, Some(9));
    }

    #[test]
    fn kconfig_warnings_name_the_file_and_line_and_its_failure_is_the_error() {
        let d = build_diagnostics(KCONFIG, "/src/");
        assert_eq!(
            rendered(&d),
            [
                "init/Kconfig:203: warning: 'PAHOLE_VERSION': number is invalid",
                ".config:2: warning: symbol value 'maybe' invalid for RUST",
                ".config:3: warning: symbol value 'abc' invalid for HZ",
                ".config:4: warning: unexpected data: garbage line",
                "error: Error during sync of the configuration.",
            ]
        );
        let d = build_diagnostics(KCONFIG_INCLUDE, "/src/");
        assert_eq!(
            rendered(&d),
            ["scripts/Kconfig.include:51: error: Sorry, this assembler is not supported."]
        );
    }

    #[test]
    fn rustavailable_paragraphs_read_as_one_line_each() {
        let d = build_diagnostics(RUSTAVAILABLE, "/src/");
        assert_eq!(
            rendered(&d),
            [
                "error: Rust compiler './old-rustc' is too old. Your version: 1.60.0 Minimum version: 1.85.0",
                "note: Please see Documentation/rust/quick-start.rst for details on how to set up the Rust support.",
            ]
        );
    }

    #[test]
    fn bindgen_failures_give_libclang_line_once_and_bindgen_own_ones() {
        let d = build_diagnostics(BINDGEN, "/tmp/h-diag/bg/src/");
        assert_eq!(
            rendered(&d),
            [
                "rust/bindings/bindings_helper.h:1: error: 'linux/nope.h' file not found",
                "error: bindgen: header 'src/rust/missing.h' does not exist.",
                "error: unexpected argument '--no-such-flag' found",
            ]
        );
    }

    #[test]
    fn a_panicking_host_tool_gives_its_message_without_the_thread_id() {
        let d = build_diagnostics(PANIC, "/src/");
        assert_eq!(
            rendered(&d),
            ["error: thread 'main' panicked at main.rs:3:14: index out of bounds: the len is 0 but the index is 3"]
        );
    }

    #[test]
    fn make_noise_around_one_real_cause_gives_that_cause_as_summary() {
        // The case users reported: modpost's undefined symbol under `make target
        // Module.symvers failed`.
        let undefined: String = MODPOST
            .lines()
            .filter(|l| !l.contains("ection mismatch") && !l.starts_with("Set CONFIG"))
            .map(|l| format!("{l}\n"))
            .collect();
        for (log, prefix, first) in [
            (OBJTOOL, "/src/", "samples/rust/rust_minimal.o: error: objtool: rust_minimal::init+0x5: unannotated intra-function call"),
            (MODPOST, "/src/", "samples/rust/rust_minimal: error: modpost: section mismatch"),
            (&undefined, "/src/", "samples/rust/rust_minimal.ko: error: modpost: \"rust_helper_missing\" undefined!"),
            (MODPOST_LICENSE, "/src/", "drivers/x/nolic.o: error: modpost: missing MODULE_LICENSE()"),
            (LD, "/tmp/h-diag/ld/", "drivers/x/use.c:4: error: ld.lld: undefined symbol: rust_helper_gone"),
            (RUSTC, "/src/", "samples/rust/rust_minimal.rs:4: error: [E0425]"),
            (KCONFIG, "/src/", "error: Error during sync of the configuration."),
            (KCONFIG_INCLUDE, "/src/", "scripts/Kconfig.include:51: error: Sorry"),
            (RUSTAVAILABLE, "/src/", "error: Rust compiler './old-rustc' is too old."),
            (BINDGEN, "/tmp/h-diag/bg/src/", "rust/bindings/bindings_helper.h:1: error:"),
        ] {
            let d = build_diagnostics(log, prefix);
            assert!(!d.iter().any(|d| d.message.starts_with("make target")), "{d:?}");
            let summary = cause(&d).unwrap();
            assert!(summary.starts_with(first), "{summary}");
        }
    }

    #[test]
    fn a_log_with_only_make_noise_keeps_the_make_lines() {
        let log =
            "make[4]: *** [/src/scripts/Makefile.build:365: samples/rust/rust_minimal.o] Error 1
make[4]: *** Deleting file 'samples/rust/rust_minimal.o'
make[3]: *** [/src/scripts/Makefile.build:555: samples/rust] Error 2
make[2]: *** Waiting for unfinished jobs....
make: *** [/src/Makefile:260: __sub-make] Error 2
";
        let d = build_diagnostics(log, "/src/");
        assert_eq!(
            rendered(&d),
            [
                "error: make target samples/rust/rust_minimal.o failed",
                "error: make target samples/rust failed",
            ]
        );
        assert_eq!(
            cause(&d).as_deref(),
            Some("error: make target samples/rust/rust_minimal.o failed (+1 more)")
        );
    }

    #[test]
    fn make_finding_no_rule_for_a_target_is_a_cause_of_its_own() {
        // GNU make's format (remake.c): "No rule to make target '%s', needed by '%s'.  Stop."
        let log = "make[4]: *** No rule to make target 'drivers/x/y.o', needed by 'drivers/x/built-in.a'.  Stop.
make[3]: *** [/src/scripts/Makefile.build:555: drivers/x] Error 2
";
        assert_eq!(
            rendered(&build_diagnostics(log, "/src/")),
            ["error: make: No rule to make target 'drivers/x/y.o', needed by 'drivers/x/built-in.a'"]
        );
    }
}
