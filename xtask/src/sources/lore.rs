//! Mailing-list series: the thread mbox over HTTP (`<lore>/all/<msgid>/t.mbox.gz`), split
//! (mboxrd), and the newest revision's patches picked in order. Splitting and picking are pure.

use std::io::Read;

use crate::model::outcome::SeriesMail;

/// One message of a thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    /// The sender's address (`From:`), lower-cased: whose the message is.
    pub from: String,
    pub message_id: String,
    pub in_reply_to: String,
    /// The whole message as it was in the mbox (headers and body), mboxrd-unquoted.
    pub raw: String,
}

impl Message {
    pub fn body(&self) -> &str {
        self.raw.split_once("\n\n").map_or("", |(_, b)| b)
    }
}

/// Split an mboxrd text into messages. Robust to garbage: anything before the first
/// `From ` line is ignored; a message without headers is kept with empty fields.
pub fn split_mbox(text: &str) -> Vec<Message> {
    let mut msgs = Vec::new();
    let mut cur: Option<String> = None;
    for line in text.split_inclusive('\n') {
        if line.starts_with("From ") {
            if let Some(m) = cur.take() {
                msgs.push(m);
            }
            cur = Some(String::new());
            continue;
        }
        if let Some(m) = cur.as_mut() {
            // mboxrd: one level of `>` comes off lines that are `>+From `.
            let unq = line
                .strip_prefix('>')
                .filter(|rest| rest.trim_start_matches('>').starts_with("From "))
                .unwrap_or(line);
            m.push_str(unq);
        }
    }
    if let Some(m) = cur.take() {
        msgs.push(m);
    }
    msgs.into_iter()
        .map(|raw| parse_message(raw.replace("\r\n", "\n")))
        .collect()
}

/// A message's headers, continuation lines unfolded, names lower-cased.
fn headers(raw: &str) -> Vec<(String, String)> {
    let head = raw.split_once("\n\n").map_or(raw, |(h, _)| h);
    let mut headers: Vec<(String, String)> = Vec::new();
    for l in head.lines() {
        if (l.starts_with(' ') || l.starts_with('\t')) && !headers.is_empty() {
            let last = headers.last_mut().expect("checked");
            last.1.push(' ');
            last.1.push_str(l.trim());
        } else if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    headers
}

fn parse_message(raw: String) -> Message {
    let headers = headers(&raw);
    let get = |k: &str| {
        headers
            .iter()
            .find(|(h, _)| h == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    Message {
        subject: get("subject"),
        from: address(&get("from")),
        message_id: get("message-id").trim_matches(['<', '>', ' ']).to_string(),
        in_reply_to: get("in-reply-to").trim_matches(['<', '>', ' ']).to_string(),
        raw,
    }
}

impl Message {
    /// A header's value as written (unfolded), the first of that name; empty when absent.
    pub fn header(&self, name: &str) -> String {
        headers(&self.raw)
            .into_iter()
            .find(|(h, _)| h.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
            .unwrap_or_default()
    }
}

/// The addresses of a `To:` or `Cc:` value, split at commas outside quotes and `<>`.
fn address_list(v: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted, mut angle) = (Vec::new(), String::new(), false, false);
    for c in v.chars() {
        match c {
            '"' if !angle => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' if !quoted && !angle => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|a| a.trim().to_string())
        .filter(|a| a.contains('@'))
        .collect()
}

/// The mail facts of a picked series: a reply goes to `to` (the cover letter, else the last
/// patch), to its author and the lists it went to; made fit for headers or `None`.
fn series_mail(to: &Message, patches: &[&Message]) -> Option<SeriesMail> {
    SeriesMail {
        message_id: to.message_id.clone(),
        subject: to.subject.clone(),
        from: to.header("from"),
        to: address_list(&to.header("to")),
        cc: address_list(&to.header("cc")),
        patches: patches.iter().map(|m| m.message_id.clone()).collect(),
    }
    .sanitised()
}

/// The address of a `From:` value (`A <a@x>` or `a@x`), lower-cased; empty when there is none.
fn address(from: &str) -> String {
    let a = match (from.rfind('<'), from.rfind('>')) {
        (Some(i), Some(j)) if i < j => &from[i + 1..j],
        _ => from,
    };
    let a = a.trim();
    if a.contains('@') && !a.contains(char::is_whitespace) {
        a.to_ascii_lowercase()
    } else {
        String::new()
    }
}

/// What a subject says about a patch: `[RFC PATCH v3 2/5] …` → (3, 2, 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchTag {
    pub version: u32,
    pub index: u32,
    pub total: u32,
}

pub fn patch_tag(subject: &str) -> Option<PatchTag> {
    let s = subject.trim();
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("re:") || lower.starts_with("aw:") || lower.starts_with("fwd:") {
        return None;
    }
    let open = s.find('[')?;
    let close = s[open..].find(']')? + open;
    let inner = &s[open + 1..close];
    if !inner.to_ascii_uppercase().contains("PATCH") {
        return None;
    }
    let mut version = 1;
    let (mut index, mut total) = (1, 1);
    for w in inner.split_whitespace() {
        let wl = w.to_ascii_lowercase();
        if let Some(v) = wl.strip_prefix('v').and_then(|v| v.parse::<u32>().ok()) {
            version = v;
        } else if let Some((a, b)) = w.split_once('/') {
            if let (Ok(a), Ok(b)) = (a.parse::<u32>(), b.parse::<u32>()) {
                index = a;
                total = b;
            }
        }
    }
    Some(PatchTag {
        version,
        index,
        total,
    })
}

fn has_diff(m: &Message) -> bool {
    let b = m.body();
    b.contains("\ndiff --git ")
        || b.starts_with("diff --git ")
        || (b.contains("\n--- ") && b.contains("\n+++ "))
}

/// The series picked from a thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    pub version: u32,
    pub patches: Vec<Message>,
    /// `base-commit:` from the cover letter or a patch.
    pub base_commit: Option<String>,
    /// Patches in the thread from another sender than the series' author, left out
    /// (`[PATCH 3/3] subject <sender>`), at most [`MAX_LEFT_OUT`].
    pub left_out: Vec<String>,
    /// Where a reply goes and to whom, for `publish`; `None` when the headers are unusable.
    pub mail: Option<SeriesMail>,
}

/// The most left-out patches a series names.
const MAX_LEFT_OUT: usize = 10;

/// The most patches one series may have.
const MAX_SERIES: u32 = 2000;

/// The series of the thread's message `msgid`: its sender's newest revision, patches in
/// order; the cover letter and replies dropped. A series is its author's (b4's rule): a
/// patch in the thread from anyone else, whatever its subject says, is left out and named.
pub fn pick_series(msgs: &[Message], msgid: &str) -> Result<Series, String> {
    let Some(named) = msgs.iter().find(|m| m.message_id == msgid) else {
        return Err(if msgs.is_empty() {
            "the mbox holds no messages".into()
        } else {
            format!("none of the thread's {} messages is <{msgid}>", msgs.len())
        });
    };
    let author = named.from.as_str();
    if author.is_empty() {
        return Err(format!("<{msgid}> names no sender address"));
    }
    let tagged: Vec<(PatchTag, &Message)> = msgs
        .iter()
        .filter_map(|m| patch_tag(&m.subject).map(|t| (t, m)))
        .collect();
    let strangers: Vec<&(PatchTag, &Message)> = tagged
        .iter()
        .filter(|(t, m)| t.index > 0 && m.from != author && has_diff(m))
        .collect();
    let left_out: Vec<String> = strangers
        .iter()
        .take(MAX_LEFT_OUT)
        .map(|(_, m)| {
            let subject: String = m.subject.chars().take(120).collect();
            let from = if m.from.is_empty() {
                "no sender"
            } else {
                &m.from
            };
            format!("{subject} <{}>", from.chars().take(80).collect::<String>())
        })
        .collect();
    let with_diff: Vec<&(PatchTag, &Message)> = tagged
        .iter()
        .filter(|(t, m)| t.index > 0 && m.from == author && has_diff(m))
        .collect();
    let others = || match strangers.len() {
        0 => String::new(),
        n => format!(
            " ({n} patches from other senders left out: {})",
            left_out.join(", ")
        ),
    };
    let Some(version) = with_diff.iter().map(|(t, _)| t.version).max() else {
        return Err(format!(
            "none of the thread's {} messages is a patch from {author}{}",
            msgs.len(),
            others()
        ));
    };
    let mut picked: Vec<(u32, &Message)> = Vec::new();
    let mut total = 0;
    for (t, m) in with_diff.iter().filter(|(t, _)| t.version == version) {
        total = total.max(t.total);
        if !picked.iter().any(|(i, _)| *i == t.index) {
            picked.push((t.index, m));
        }
    }
    picked.sort_by_key(|(i, _)| *i);
    // No real series has thousands of patches; a subject that says so is garbage (found by
    // the fuzzer: `[PATCH 1/4294967295]` made the missing list 16 GiB).
    if total > MAX_SERIES {
        return Err(format!(
            "v{version} claims {total} patches, more than {MAX_SERIES}"
        ));
    }
    let have: Vec<u32> = picked.iter().map(|(i, _)| *i).collect();
    let missing: Vec<u32> = (1..=total).filter(|i| !have.contains(i)).take(20).collect();
    if !missing.is_empty() {
        return Err(format!(
            "{author}'s v{version} is incomplete: patches {missing:?} of {total} are missing{}",
            others()
        ));
    }
    let cover = tagged
        .iter()
        .find(|(t, m)| t.version == version && t.index == 0 && m.from == author)
        .map(|(_, m)| *m);
    let base_commit = cover
        .into_iter()
        .chain(picked.iter().map(|(_, m)| *m))
        .find_map(|m| {
            m.body()
                .lines()
                .find_map(|l| l.strip_prefix("base-commit:").map(|s| s.trim().to_string()))
                .filter(|s| s.len() >= 7 && s.chars().all(|c| c.is_ascii_hexdigit()))
        });
    let patches: Vec<&Message> = picked.iter().map(|(_, m)| *m).collect();
    let mail = patches
        .last()
        .and_then(|last| series_mail(cover.unwrap_or(last), &patches));
    Ok(Series {
        mail,
        version,
        patches: picked.into_iter().map(|(_, m)| m.clone()).collect(),
        base_commit,
        left_out,
    })
}

/// The series as one mbox that `git am` takes, patches in order.
pub fn to_mbox(series: &Series) -> String {
    let mut out = String::new();
    for m in &series.patches {
        out.push_str("From rfl-harness Mon Sep 17 00:00:00 2001\n");
        for line in m.raw.split_inclusive('\n') {
            // Re-quote for mboxrd so that git am sees the body as it was.
            if line.trim_start_matches('>').starts_with("From ") {
                out.push('>');
            }
            out.push_str(line);
        }
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// The most bytes a thread mbox may inflate to. Real threads are a few MiB at most; a gzip
/// bomb (6 MB that inflate to 6 GiB) must end as a fetch failure, not as the machine's memory.
pub const MAX_INFLATED: u64 = 64 * 1024 * 1024;

/// Gunzip every member of a (possibly multi-member) gzip stream, at most [`MAX_INFLATED`] bytes.
pub fn gunzip(bytes: &[u8]) -> Result<String, String> {
    gunzip_limited(bytes, MAX_INFLATED)
}

/// Gunzip at most `limit` bytes: one byte more is read so that a stream of exactly `limit`
/// bytes is told apart from a longer one, and memory never holds more than `limit + 1`.
pub fn gunzip_limited(bytes: &[u8], limit: u64) -> Result<String, String> {
    let mut d = flate2::read::MultiGzDecoder::new(bytes).take(limit.saturating_add(1));
    let mut out = Vec::new();
    d.read_to_end(&mut out)
        .map_err(|e| format!("bad gzip: {e}"))?;
    if out.len() as u64 > limit {
        return Err(format!(
            "the gzip body inflates to more than {} MiB (the limit); refusing it",
            limit / (1024 * 1024)
        ));
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Percent-encode a message-id for a URL path segment (b4 keeps `@` as is).
pub fn encode_msgid(id: &str) -> String {
    let mut o = String::new();
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@+=$!".contains(&b) {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(from_line: bool, subject: &str, id: &str, body: &str) -> String {
        format!(
            "{}From: A <a@x>\nSubject: {subject}\nMessage-ID: <{id}>\n\n{body}\n",
            if from_line {
                "From mboxrd@z Thu Jan  1 00:00:00 1970\n"
            } else {
                ""
            }
        )
    }

    const DIFF: &str = "msg\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n";

    #[test]
    fn picks_newest_revision_in_order() {
        let mbox = [
            msg(
                true,
                "[PATCH 0/2] cover",
                "c1@x",
                "base-commit: 0123456789abcdef",
            ),
            msg(true, "[PATCH 1/2] one", "p1@x", DIFF),
            msg(true, "[PATCH 2/2] two", "p2@x", DIFF),
            msg(true, "[PATCH v2 2/2] two again", "q2@x", DIFF),
            msg(
                true,
                "Re: [PATCH v2 1/2] one again",
                "r@x",
                "looks good\n> diff --git a b",
            ),
            msg(
                true,
                "[PATCH v2 0/2] cover v2",
                "c2@x",
                "base-commit: abcdef0123456789",
            ),
            msg(
                true,
                "[PATCH v2 1/2] one again",
                "q1@x",
                &format!("{DIFF}\n>From the body\n"),
            ),
        ]
        .concat();
        let s = pick_series(&split_mbox(&mbox), "c1@x").unwrap();
        assert_eq!(s.version, 2);
        let ids: Vec<&str> = s.patches.iter().map(|m| m.message_id.as_str()).collect();
        assert_eq!(ids, ["q1@x", "q2@x"]);
        assert_eq!(s.base_commit.as_deref(), Some("abcdef0123456789"));
        assert!(
            s.patches[0].raw.contains("\nFrom the body\n"),
            "mboxrd unquoted"
        );
        assert!(
            to_mbox(&s).contains("\n>From the body\n"),
            "re-quoted for git am"
        );
    }

    /// A series is its author's: another sender's `[PATCH 3/3]` in the thread is not the
    /// third commit, another sender's `[PATCH v2]` does not replace the author's series, and
    /// both are named as left out; an author's series with a patch missing says so.
    #[test]
    fn a_strangers_patch_in_the_thread_is_left_out() {
        let from = |who: &str, m: String| m.replace("From: A <a@x>", &format!("From: {who}"));
        let author = "Author <Author@Example.org>";
        let stranger = "Mallory <m@evil>";
        let thread = [
            from(author, msg(true, "[PATCH 0/2] cover", "c@x", "the series")),
            from(author, msg(true, "[PATCH 1/2] one", "p1@x", DIFF)),
            from(author, msg(true, "[PATCH 2/2] two", "p2@x", DIFF)),
            from(stranger, msg(true, "[PATCH 3/3] three", "evil3@x", DIFF)),
            from(
                stranger,
                msg(true, "[PATCH v2 1/1] all of it", "evil-v2@x", DIFF),
            ),
        ]
        .concat();
        let msgs = split_mbox(&thread);
        for named in ["c@x", "p2@x"] {
            let s = pick_series(&msgs, named).unwrap();
            assert_eq!(s.version, 1);
            let ids: Vec<&str> = s.patches.iter().map(|m| m.message_id.as_str()).collect();
            assert_eq!(ids, ["p1@x", "p2@x"], "{named}");
            assert_eq!(
                s.left_out,
                [
                    "[PATCH 3/3] three <m@evil>",
                    "[PATCH v2 1/1] all of it <m@evil>"
                ]
            );
        }
        // Named by the stranger's own message, the series is the stranger's.
        let s = pick_series(&msgs, "evil-v2@x").unwrap();
        assert_eq!((s.version, s.patches.len()), (2, 1));
        // The author's own series incomplete: said, with what was left out.
        let partial = [
            from(author, msg(true, "[PATCH 1/2] one", "p1@x", DIFF)),
            from(stranger, msg(true, "[PATCH 2/2] two", "evil2@x", DIFF)),
        ]
        .concat();
        let e = pick_series(&split_mbox(&partial), "p1@x").unwrap_err();
        assert!(
            e.contains("author@example.org's v1 is incomplete: patches [2] of 2 are missing"),
            "{e}"
        );
        assert!(e.contains("[PATCH 2/2] two <m@evil>"), "{e}");
    }

    /// The reply goes to the cover letter, to its author and every list it went to; a header
    /// with a line break smuggled in is dropped, never carried into a reply.
    #[test]
    fn a_series_records_where_a_reply_goes() {
        let cover = msg(true, "[PATCH 0/2] rust: thing", "c@x", "the series").replace(
            "Subject:",
            "To: rust-for-linux@vger.kernel.org, \"B, Q\" <b@y>\nCc: C <c@z>,\n d@w\nSubject:",
        );
        let mbox = [
            cover,
            msg(true, "[PATCH 1/2] one", "p1@x", DIFF),
            msg(true, "[PATCH 2/2] two", "p2@x", DIFF),
        ]
        .concat();
        let m = pick_series(&split_mbox(&mbox), "p1@x")
            .unwrap()
            .mail
            .unwrap();
        assert_eq!(m.message_id, "c@x");
        assert_eq!(m.subject, "[PATCH 0/2] rust: thing");
        assert_eq!(m.from, "A <a@x>");
        assert_eq!(m.to, ["rust-for-linux@vger.kernel.org", "\"B, Q\" <b@y>"]);
        assert_eq!(m.cc, ["C <c@z>", "d@w"]);
        assert_eq!(m.patches, ["p1@x", "p2@x"]);
        // Without a cover letter: the last patch.
        let mbox = [
            msg(true, "[PATCH 1/2] one", "p1@x", DIFF),
            msg(true, "[PATCH 2/2] two", "p2@x", DIFF),
        ]
        .concat();
        let m = pick_series(&split_mbox(&mbox), "p1@x")
            .unwrap()
            .mail
            .unwrap();
        assert_eq!(
            (m.message_id.as_str(), m.subject.as_str()),
            ("p2@x", "[PATCH 2/2] two")
        );
    }

    #[test]
    fn tags() {
        assert_eq!(
            patch_tag("[RFC PATCH v3 2/5] x"),
            Some(PatchTag {
                version: 3,
                index: 2,
                total: 5
            })
        );
        assert_eq!(
            patch_tag("[PATCH] x"),
            Some(PatchTag {
                version: 1,
                index: 1,
                total: 1
            })
        );
        assert_eq!(patch_tag("Re: [PATCH] x"), None);
        assert_eq!(patch_tag("hello"), None);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(pick_series(&split_mbox(""), "a@x").is_err());
        assert!(pick_series(&split_mbox("\u{0}\u{ff}garbage\nFrom \n\n\n"), "a@x").is_err());
        assert!(
            pick_series(&split_mbox(&msg(true, "[PATCH 1/3] a", "a@x", DIFF)), "a@x")
                .unwrap_err()
                .contains("incomplete")
        );
        assert!(gunzip(b"not gzip").is_err());
    }

    #[test]
    fn an_mbox_with_no_patches_says_so() {
        let talk = "From a@x Thu Jan  1 00:00:00 1970\nFrom: A <a@x>\nSubject: Re: [PATCH] x\n\nLooks good.\n\nFrom b@x Thu Jan  1 00:00:00 1970\nFrom: B <b@x>\nSubject: ping\n\nAny news?\n";
        let talk = talk.replace("Subject: ping", "Message-ID: <b@x>\nSubject: ping");
        assert_eq!(
            pick_series(&split_mbox(&talk), "b@x").unwrap_err(),
            "none of the thread's 2 messages is a patch from b@x"
        );
        assert_eq!(
            pick_series(&split_mbox(&talk), "c@x").unwrap_err(),
            "none of the thread's 2 messages is <c@x>"
        );
    }

    #[test]
    fn fuzz_regression_absurd_series_size() {
        let m = msg(true, "[PATCH 1/4294967295] a", "a@x", DIFF);
        let e = pick_series(&split_mbox(&m), "a@x").unwrap_err();
        assert!(e.contains("claims 4294967295 patches"), "{e}");
    }

    #[test]
    fn multi_member_gzip() {
        use std::io::Write;
        let mut all = Vec::new();
        for part in ["From a\n", "Subject: x\n"] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(part.as_bytes()).unwrap();
            all.extend(e.finish().unwrap());
        }
        assert_eq!(gunzip(&all).unwrap(), "From a\nSubject: x\n");
        assert_eq!(encode_msgid("a/b@c d"), "a%2Fb@c%20d");
    }

    /// A gzip bomb: 200 MiB of zeros streamed through the encoder (a few hundred KB
    /// compressed) is refused at the limit, without inflating it all.
    #[test]
    fn a_gzip_bomb_is_refused_at_the_limit() {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..200 {
            e.write_all(&zeros).unwrap();
        }
        let bomb = e.finish().unwrap();
        assert!(bomb.len() < 1 << 20, "the bomb is small: {}", bomb.len());
        let started = std::time::Instant::now();
        let err = gunzip(&bomb).unwrap_err();
        assert!(err.contains("more than 64 MiB"), "{err}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "took {:?}",
            started.elapsed()
        );
        // Exactly at the limit is fine; one byte over is not.
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&[b'x'; 1000]).unwrap();
        let small = e.finish().unwrap();
        assert_eq!(gunzip_limited(&small, 1000).unwrap().len(), 1000);
        assert!(gunzip_limited(&small, 999)
            .unwrap_err()
            .contains("more than"));
    }
}
