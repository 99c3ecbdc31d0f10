//! GitHub Actions: annotations for the failing cells, then the text report behind
//! `::stop-commands::`.

use std::io::Write;

use crate::model::outcome::Verdict;
use crate::model::text::term_safe;
use crate::report::{text, Grid};

/// GitHub workflow-command escaping of a message (data).
pub fn data(s: &str) -> String {
    // Terminal escapes first: GitHub's log viewer renders them.
    term_safe(s)
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// GitHub workflow-command escaping of a property value.
pub fn prop(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The token that ends a `::stop-commands::` block: 128 random bits in hex, so that no patch
/// or console line can guess it and turn workflow commands back on.
pub fn stop_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// At most ten `::error` annotations with file/line, each saying why its cell fails (as the
/// other reports do), then the text report (without colour) wrapped in
/// `::stop-commands::` so that nothing a patch or a console printed can act as a command.
pub fn write(g: &Grid, w: &mut dyn Write, token: &str) -> std::io::Result<()> {
    for cell in g.failing().take(10) {
        let (c, h) = (cell.result, cell.health);
        let why = cell.why();
        let mut props = Vec::new();
        if let Some((file, line)) = why.source() {
            props.push(format!("file={}", prop(&file)));
            if let Some(n) = line {
                props.push(format!("line={n}"));
            }
        }
        props.push(format!(
            "title={}",
            prop(&format!("{}: {}", cell.at(), cell.short()))
        ));
        let kind = if h.verdict == Verdict::Error {
            "warning"
        } else {
            "error"
        };
        writeln!(
            w,
            "::{kind} {}::{}",
            props.join(","),
            data(&format!("{why}\nreproduce: {}", c.repro))
        )?;
    }
    writeln!(w, "::stop-commands::{token}")?;
    let mut plain = anstream::StripStream::new(Vec::new());
    text::write(g, &mut plain)?;
    w.write_all(&plain.into_inner())?;
    writeln!(w, "::{token}::")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stop-commands token is random (it was the pid and the time): two tokens taken in
    /// the same process at once differ, and each is 128 bits in hex.
    #[test]
    fn stop_tokens_are_random() {
        let (a, b) = (stop_token().unwrap(), stop_token().unwrap());
        assert_ne!(a, b);
        for t in [&a, &b] {
            assert!(
                t.len() == 32 && t.chars().all(|c| c.is_ascii_hexdigit()),
                "{t}"
            );
        }
    }

    #[test]
    fn workflow_commands_are_escaped() {
        assert_eq!(data("50%\n::x"), "50%25%0A::x");
        assert_eq!(prop("a:b,c"), "a%3Ab%2Cc");
    }
}
