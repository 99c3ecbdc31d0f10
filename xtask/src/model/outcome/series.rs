//! What a lore series' mail headers say, as a cell records them at fetch time: where a reply
//! goes (the cover letter, else the last patch), its subject, its author and the lists it was
//! sent to, and each patch's message-id (what patchwork knows a patch by). Pure.

use serde::{Deserialize, Serialize};

use crate::model::matrix::check_msgid;

/// The most bytes of one header value kept (a mail header line is at most 998).
pub const MAX_HEADER: usize = 512;

/// The most addresses kept from `To:` and `Cc:` together.
pub const MAX_RECIPIENTS: usize = 64;

/// The most patch message-ids a series records.
pub const MAX_PATCHES: usize = 200;

/// A lore series' mail facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesMail {
    /// The message a reply answers: the cover letter's, else the last patch's (no `<>`).
    pub message_id: String,
    /// That message's subject.
    pub subject: String,
    /// The series' author as its `From:` says (`Name <addr>`).
    pub from: String,
    /// The addresses it was sent to (`To:`), then copied to (`Cc:`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<String>,
    /// Each patch's message-id, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<String>,
}

/// A header value from outside, fit to be written into a mail header: one line, no control
/// character (no CR or LF that would start a header of its own), at most [`MAX_HEADER`]
/// bytes, not empty.
pub fn check_header(v: &str) -> Result<(), &'static str> {
    if v.trim().is_empty() || v.len() > MAX_HEADER {
        return Err("is empty or longer than 512 bytes");
    }
    if v.chars()
        .any(|c| c.is_control() || crate::model::text::is_bidi_control(c))
    {
        return Err("holds a control character (a line break)");
    }
    Ok(())
}

/// An address from `To:`/`Cc:`/`From:`: a checked header value with an `@`.
pub fn check_address(v: &str) -> Result<(), &'static str> {
    check_header(v)?;
    if !v.contains('@') {
        return Err("is not an address");
    }
    Ok(())
}

impl SeriesMail {
    /// Check what a results file from elsewhere says: message-ids by `check_msgid`, headers
    /// by `check_header`, counts bounded. The error names the field.
    pub fn validate(&self) -> Result<(), String> {
        let msgid = |what: &str, id: &str| {
            check_msgid(id).map_err(|why| format!("series {what} message-id {why}"))
        };
        msgid("reply", &self.message_id)?;
        check_header(&self.subject).map_err(|why| format!("series subject {why}"))?;
        check_address(&self.from).map_err(|why| format!("series author {why}"))?;
        if self.to.len() + self.cc.len() > MAX_RECIPIENTS {
            return Err(format!(
                "series recipients: more than {MAX_RECIPIENTS} addresses"
            ));
        }
        for a in self.to.iter().chain(&self.cc) {
            check_address(a).map_err(|why| format!("series recipient {why}"))?;
        }
        if self.patches.len() > MAX_PATCHES {
            return Err(format!("series: more than {MAX_PATCHES} patches"));
        }
        for p in &self.patches {
            msgid("patch", p)?;
        }
        Ok(())
    }

    /// Headers taken from a fetched thread, made fit: values with a control character or
    /// too long are dropped (a subject is clipped), message-ids that fail `check_msgid` are
    /// dropped, recipients bounded. `None` when the reply target or the author is unusable.
    pub fn sanitised(mut self) -> Option<SeriesMail> {
        if check_msgid(&self.message_id).is_err() || check_address(&self.from).is_err() {
            return None;
        }
        let subject: String = self
            .subject
            .chars()
            .filter(|c| !c.is_control() && !crate::model::text::is_bidi_control(*c))
            .collect();
        self.subject = crate::model::text::clip(subject.trim(), MAX_HEADER - 4).into_owned();
        if self.subject.is_empty() {
            self.subject = "(no subject)".into();
        }
        let mut budget = MAX_RECIPIENTS;
        for list in [&mut self.to, &mut self.cc] {
            list.retain(|a| check_address(a).is_ok());
            list.truncate(budget);
            budget -= list.len();
        }
        self.patches.retain(|p| check_msgid(p).is_ok());
        self.patches.truncate(MAX_PATCHES);
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail() -> SeriesMail {
        SeriesMail {
            message_id: "c@x".into(),
            subject: "[PATCH 0/2] rust: a thing".into(),
            from: "A Author <a@x>".into(),
            to: vec!["rust-for-linux@vger.kernel.org".into()],
            cc: vec!["B <b@y>".into()],
            patches: vec!["p1@x".into(), "p2@x".into()],
        }
    }

    #[test]
    fn header_values_are_one_line_and_bounded() {
        assert_eq!(mail().validate(), Ok(()));
        let mut m = mail();
        m.subject = "x\r\nBcc: evil@x".into();
        assert!(m.validate().unwrap_err().contains("subject"));
        let mut m = mail();
        m.cc.push("e\n@x".into());
        assert!(m.validate().is_err());
        let mut m = mail();
        m.patches.push("not an id".into());
        assert!(m.validate().is_err());
        let mut m = mail();
        m.message_id = "<c@x>".into();
        assert!(m.validate().is_err());
        let mut m = mail();
        m.to = vec!["a@x".into(); MAX_RECIPIENTS + 1];
        assert!(m.validate().is_err());
    }

    #[test]
    fn what_a_thread_says_is_made_fit_or_dropped() {
        let mut m = mail();
        m.subject = "a\u{202e}b\tc".into();
        m.cc.push("e\r\n@x".into());
        m.patches.push("bad id".into());
        let s = m.clone().sanitised().unwrap();
        assert_eq!(s.subject, "abc");
        assert_eq!(s.cc, ["B <b@y>"]);
        assert_eq!(s.patches.len(), 2);
        assert_eq!(s.validate(), Ok(()));
        m.from = "nobody".into();
        assert_eq!(m.sanitised(), None);
    }
}
