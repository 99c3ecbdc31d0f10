//! A small plain-SMTP client for `publish --send`'s mails: EHLO, AUTH PLAIN when a user is
//! given, MAIL FROM, RCPT TO, DATA (dot-stuffed, CRLF), QUIT, over one TCP connection with
//! timeouts. It speaks no TLS: it talks to a relay on this machine or its network (postfix,
//! msmtpd, an SMTP sidecar) that does TLS and delivery; credentials are sent only to a
//! loopback address. No crate: lettre would bring a TLS stack and a tree of dependencies for
//! the four commands used here.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Where the relay is and how to log in.
#[derive(Debug, Clone)]
pub struct Relay {
    /// `host:port`.
    pub addr: String,
    /// User and password for AUTH PLAIN (loopback relays only).
    pub auth: Option<(String, String)>,
    /// The name said in EHLO.
    pub helo: String,
}

const CONNECT: Duration = Duration::from_secs(10);
const IO: Duration = Duration::from_secs(60);
/// The longest reply line read.
const MAX_LINE: usize = 4096;
/// The most lines of one (multi-line) reply.
const MAX_REPLY_LINES: usize = 100;

struct Conn {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Conn {
    /// One reply: its code and text; multi-line replies (`250-…`) read to their last line.
    fn reply(&mut self) -> anyhow::Result<(u16, String)> {
        let mut text = String::new();
        for _ in 0..MAX_REPLY_LINES {
            let mut line = Vec::new();
            let n = Read::by_ref(&mut self.r)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut line)?;
            if n == 0 {
                anyhow::bail!("the relay closed the connection");
            }
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end();
            let code: u16 = line.get(..3).and_then(|c| c.parse().ok()).ok_or_else(|| {
                anyhow::anyhow!("not an SMTP reply: {}", crate::model::text::one_line(line))
            })?;
            text.push_str(line.get(4..).unwrap_or(""));
            text.push('\n');
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok((code, text));
            }
        }
        anyhow::bail!("a reply of more than {MAX_REPLY_LINES} lines")
    }

    /// Send a command and expect a reply of class `want` (2 or 3).
    fn cmd(&mut self, line: &str, want: u16, shown: &str) -> anyhow::Result<String> {
        self.w.write_all(line.as_bytes())?;
        self.w.write_all(b"\r\n")?;
        self.expect(want, shown)
    }

    fn expect(&mut self, want: u16, shown: &str) -> anyhow::Result<String> {
        let (code, text) = self.reply()?;
        if code / 100 != want {
            anyhow::bail!(
                "{shown}: the relay said {code} {}",
                crate::model::text::one_line(text.trim_end())
            );
        }
        Ok(text)
    }
}

/// The message as DATA sends it: CRLF line ends, a line starting with `.` doubled, the end
/// marker.
pub fn dot_stuffed(text: &str) -> String {
    let mut o = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        if line.starts_with('.') {
            o.push('.');
        }
        o.push_str(line);
        o.push_str("\r\n");
    }
    o.push_str(".\r\n");
    o
}

/// Send one mail. The addresses must already be bare and checked (no `<>`, CR or LF).
pub fn send(relay: &Relay, from: &str, rcpt: &[String], text: &str) -> anyhow::Result<()> {
    for a in std::iter::once(from).chain(rcpt.iter().map(String::as_str)) {
        if a.is_empty()
            || !a
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '<' && c != '>')
        {
            anyhow::bail!(
                "`{}` is not an envelope address",
                crate::model::text::one_line(a)
            );
        }
    }
    let addrs: Vec<_> = relay
        .addr
        .to_socket_addrs()
        .map_err(|e| anyhow::anyhow!("{}: {e}", relay.addr))?
        .collect();
    let addr = addrs
        .first()
        .ok_or_else(|| anyhow::anyhow!("{}: no address", relay.addr))?;
    if relay.auth.is_some() && !addr.ip().is_loopback() {
        anyhow::bail!(
            "{}: SMTP credentials go only to a relay on this machine (this client has no TLS)",
            relay.addr
        );
    }
    // A relay that does not answer is tried three times (1 s, then 2 s apart); nothing is
    // retried once the connection is made, so a mail is never sent twice.
    let mut tries = 0;
    let s = loop {
        tries += 1;
        match TcpStream::connect_timeout(addr, CONNECT) {
            Ok(s) => break s,
            Err(e) if tries >= 3 => anyhow::bail!("{}: {e} ({tries} attempts)", relay.addr),
            Err(_) => std::thread::sleep(Duration::from_secs(tries)),
        }
    };
    s.set_read_timeout(Some(IO))?;
    s.set_write_timeout(Some(IO))?;
    let mut c = Conn {
        r: BufReader::new(s.try_clone()?),
        w: s,
    };
    c.expect(2, "greeting")?;
    let ehlo = c.cmd(&format!("EHLO {}", relay.helo), 2, "EHLO")?;
    if let Some((user, pass)) = &relay.auth {
        let offers_plain = ehlo.lines().any(|l| {
            let mut w = l.split_whitespace();
            w.next().is_some_and(|k| k.eq_ignore_ascii_case("AUTH"))
                && w.any(|m| m.eq_ignore_ascii_case("PLAIN"))
        });
        if !offers_plain {
            anyhow::bail!("{}: the relay offers no AUTH PLAIN", relay.addr);
        }
        let token = crate::model::text::base64(format!("\0{user}\0{pass}").as_bytes());
        c.cmd(&format!("AUTH PLAIN {token}"), 2, "AUTH PLAIN")?;
    }
    c.cmd(&format!("MAIL FROM:<{from}>"), 2, "MAIL FROM")?;
    for r in rcpt {
        c.cmd(&format!("RCPT TO:<{r}>"), 2, &format!("RCPT TO {r}"))?;
    }
    c.cmd("DATA", 3, "DATA")?;
    c.w.write_all(dot_stuffed(text).as_bytes())?;
    c.expect(2, "the message")?;
    let _ = c.cmd("QUIT", 2, "QUIT");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_that_starts_with_a_dot_is_doubled() {
        assert_eq!(dot_stuffed("a\n.b\n..\n"), "a\r\n..b\r\n...\r\n.\r\n");
    }
}
