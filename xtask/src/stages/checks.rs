//! Diagnostics out of build, clippy, rustdoc and rustfmt logs, as file:line:message. Pure.

use std::sync::OnceLock;

use regex::Regex;

use crate::model::outcome::Diagnostic;

struct Res {
    rust_head: Regex,
    rust_loc: Regex,
    clang: Regex,
    ld: Regex,
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
        ld: Regex::new(r"^ld\.lld: error: (.*)$").unwrap(),
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

/// Rust (rustc, clippy, rustdoc) diagnostics: a header line then a `-->` location.
/// Summary lines such as "warning: 3 warnings emitted" are not diagnostics.
pub fn rust_diagnostics(log: &str, src_prefix: &str) -> Vec<Diagnostic> {
    let r = res();
    let lines: Vec<&str> = log.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let Some(c) = r.rust_head.captures(l) else {
            continue;
        };
        let msg = c[3].trim().to_string();
        if is_summary(&msg) {
            continue;
        }
        let loc = lines[i + 1..]
            .iter()
            .take(4)
            .find_map(|n| r.rust_loc.captures(n));
        let d = Diagnostic {
            file: loc.as_ref().map(|m| rel(&m[1], src_prefix)),
            line: loc.as_ref().and_then(|m| m[2].parse().ok()),
            col: loc.as_ref().and_then(|m| m[3].parse().ok()),
            level: c[1].to_string(),
            message: match c.get(2) {
                Some(code) => format!(
                    "{}{}",
                    code.as_str(),
                    if msg.is_empty() {
                        String::new()
                    } else {
                        format!(" {msg}")
                    }
                ),
                None => msg,
            },
        };
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

fn is_summary(msg: &str) -> bool {
    let m = msg.to_lowercase();
    (m.contains("warning") && m.contains("emitted"))
        || m.starts_with("aborting due to")
        || m.starts_with("could not compile")
        || m.contains("generated") && m.contains("warning")
}

/// Build log → diagnostics: Rust's and clang's, linker errors, and make's failing targets
/// when nothing better was found.
pub fn build_diagnostics(log: &str, src_prefix: &str) -> Vec<Diagnostic> {
    let r = res();
    let mut out = rust_diagnostics(log, src_prefix);
    for l in log.lines() {
        if let Some(c) = r.clang.captures(l) {
            let level = if c[4].starts_with("fatal") {
                "error".to_string()
            } else {
                c[4].to_string()
            };
            let d = Diagnostic {
                file: Some(rel(&c[1], src_prefix)),
                line: c[2].parse().ok(),
                col: c[3].parse().ok(),
                level,
                message: c[5].trim().to_string(),
            };
            if !out.contains(&d) {
                out.push(d);
            }
        } else if let Some(c) = r.ld.captures(l) {
            out.push(Diagnostic {
                file: None,
                line: None,
                col: None,
                level: "error".into(),
                message: format!("ld.lld: {}", c[1].trim()),
            });
        }
    }
    if !out.iter().any(|d| d.level == "error") {
        for l in log.lines() {
            if let Some(c) = r.make_err.captures(l) {
                out.push(Diagnostic {
                    file: None,
                    line: None,
                    col: None,
                    level: "error".into(),
                    message: format!("make target {} failed", &c[1]),
                });
            }
        }
    }
    out
}

/// rustfmtcheck output → one diagnostic per reported hunk.
pub fn rustfmt_diagnostics(log: &str, src_prefix: &str) -> Vec<Diagnostic> {
    let r = res();
    log.lines()
        .filter_map(|l| r.fmt_diff.captures(l))
        .map(|c| Diagnostic {
            file: Some(rel(&c[1], src_prefix)),
            line: c
                .get(2)
                .or_else(|| c.get(3))
                .and_then(|m| m.as_str().parse().ok()),
            col: None,
            level: "warning".into(),
            message: "not formatted as rustfmt would".into(),
        })
        .collect()
}

/// Errors first, then the rest; at most `n` rendered for a summary line.
pub fn summarise(diags: &[Diagnostic], n: usize) -> String {
    let mut sorted: Vec<&Diagnostic> = diags.iter().filter(|d| d.level == "error").collect();
    sorted.extend(diags.iter().filter(|d| d.level != "error"));
    let shown: Vec<String> = sorted.iter().take(n).map(|d| d.render()).collect();
    let more = diags.len().saturating_sub(n);
    if more > 0 {
        format!("{} (+{more} more)", shown.join("; "))
    } else {
        shown.join("; ")
    }
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

    #[test]
    fn summary_puts_errors_first() {
        let d = build_diagnostics(RUSTC, "/src");
        assert!(summarise(&d, 1).starts_with("samples/rust/rust_minimal.rs:25: error"));
        assert!(summarise(&d, 1).ends_with("(+1 more)"));
    }
}
