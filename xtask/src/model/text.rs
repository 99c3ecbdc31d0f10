//! Outside text made safe to show.

use std::borrow::Cow;

/// A character a terminal would act on rather than show: C0 controls but tab and newline,
/// DEL, C1 controls, and Unicode's bidirectional controls.
fn acts_on_terminal(c: char) -> bool {
    matches!(c, '\0'..='\x08' | '\x0b'..='\x1f' | '\x7f'..='\u{9f}') || is_bidi_control(c)
}

/// Unicode's bidirectional controls (marks, embeddings, overrides, isolates), which reorder
/// how the text around them is displayed. The one set every escaper of the harness uses.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Text from outside the harness (patch subjects, summaries, test names, console lines)
/// made safe for a terminal: every control character but tab and newline, and every bidi
/// override, is written as a visible escape (`\x1b`, `\u{202e}`), so an escape sequence in
/// a patch cannot retitle, clear or reorder the terminal it is shown on.
pub fn term_safe(s: &str) -> Cow<'_, str> {
    if !s.chars().any(acts_on_terminal) {
        return Cow::Borrowed(s);
    }
    let mut o = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if !acts_on_terminal(c) {
            o.push(c);
        } else if (c as u32) < 0x100 {
            o.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            o.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(o)
}

/// Outside text as one line: [`term_safe`], with line breaks shown as `\n` too. An error
/// quotes a results file or a matrix value; printed on one line it can never begin a line of
/// its own, so a quoted `::error::` or `::stop-commands::` is never a live workflow command.
pub fn one_line(s: &str) -> Cow<'_, str> {
    let safe = term_safe(s);
    if !safe.contains(['\n', '\u{2028}', '\u{2029}']) {
        return safe;
    }
    Cow::Owned(
        safe.replace('\n', "\\n")
            .replace('\u{2028}', "\\u{2028}")
            .replace('\u{2029}', "\\u{2029}"),
    )
}

/// The most bytes of outside text one finding or failing test's summary keeps.
pub const MAX_SUMMARY: usize = 4096;

/// `s` cut to at most `max` bytes at a character boundary, `…` saying it was cut.
pub fn clip(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}…", &s[..end]))
}

/// The last `n` lines of a tool's output, as one text: what an error quotes of a long log.
pub fn last_lines(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Standard base64 (RFC 4648, with padding): a mail's encoded words and SMTP's AUTH PLAIN.
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                o.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                o.push('=');
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_cuts_at_a_character() {
        assert!(matches!(clip("abc", 3), Cow::Borrowed("abc")));
        assert_eq!(clip("abcd", 3), "abc…");
        assert_eq!(clip("aé", 2), "a…");
    }

    #[test]
    fn one_line_never_starts_a_line() {
        let s =
            one_line("unknown variant `pass\n::error::x`\r\n::stop-commands::t\u{85}\u{2028}::a");
        assert!(!s.contains(['\n', '\r', '\u{85}', '\u{2028}']), "{s}");
        assert_eq!(
            s,
            "unknown variant `pass\\n::error::x`\\x0d\\n::stop-commands::t\\x85\\u{2028}::a"
        );
        assert!(matches!(one_line("plain\ttext"), Cow::Borrowed(_)));
    }

    #[test]
    fn outside_text_is_made_safe_for_a_terminal() {
        assert_eq!(
            term_safe("\x1b]0;pwned\x07\x1b[2J"),
            "\\x1b]0;pwned\\x07\\x1b[2J"
        );
        assert_eq!(
            term_safe("a\u{202e}b\u{2066}c\u{9b}d\x7fe\r"),
            "a\\u{202e}b\\u{2066}c\\x9bd\\x7fe\\x0d"
        );
        assert!(matches!(term_safe("tab\tnew\nline é ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn base64_is_rfc_4648s() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }
}
