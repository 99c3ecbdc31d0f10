//! Requests to web APIs (what `publish --send` posts to GitHub and patchwork): bounded
//! timeouts on every connection, at most three attempts (again after a connection error, a
//! 5xx or a 429, after a bounded `Retry-After` or a backoff), a pause between requests, a
//! bounded answer. A 4xx other than 429 is the caller's error and is never retried.

use std::time::{Duration, Instant};

/// Attempts per request.
pub const ATTEMPTS: u32 = 3;
/// The longest `Retry-After` honoured; a longer one is an error.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// The most bytes of an answer read.
const MAX_ANSWER: u64 = 4 * 1024 * 1024;

/// An answer with a success status.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// A client with fixed headers and a pause between requests.
pub struct Client {
    agent: ureq::Agent,
    headers: Vec<(String, String)>,
    /// The least time from one request's start to the next.
    interval: Duration,
    /// The first backoff after a failed attempt (doubled each time).
    backoff: Duration,
    last: Option<Instant>,
}

impl Client {
    /// `headers` go with every request (the token among them).
    pub fn new(headers: Vec<(String, String)>, interval: Duration) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(30)))
            .timeout_global(Some(Duration::from_secs(60)))
            .http_status_as_error(false)
            .user_agent("rfl-health")
            .build()
            .into();
        Client {
            agent,
            headers,
            interval,
            backoff: Duration::from_secs(1),
            last: None,
        }
    }

    /// The first backoff after a failed attempt (tests make it short).
    pub fn with_backoff(mut self, d: Duration) -> Client {
        self.backoff = d;
        self
    }

    fn pace(&mut self) {
        if let Some(last) = self.last {
            let next = last + self.interval;
            let now = Instant::now();
            if next > now {
                std::thread::sleep(next - now);
            }
        }
        self.last = Some(Instant::now());
    }

    /// One request (`GET`, `POST` or `PATCH`; a JSON body for the last two), retried as the
    /// module says. `Err` says the method, the URL, the status and the start of the answer.
    pub fn send(&mut self, method: &str, url: &str, body: Option<&[u8]>) -> anyhow::Result<Answer> {
        let mut wait = self.backoff;
        let mut last_err = String::new();
        for attempt in 1..=ATTEMPTS {
            self.pace();
            match self.once(method, url, body) {
                Ok(Ok(a)) => return Ok(a),
                Ok(Err(Retry { why, after })) => {
                    last_err = why;
                    if attempt == ATTEMPTS {
                        break;
                    }
                    let pause = match after {
                        Some(a) if a > MAX_RETRY_AFTER => anyhow::bail!(
                            "{method} {url}: {last_err}; Retry-After {} s is longer than {} s",
                            a.as_secs(),
                            MAX_RETRY_AFTER.as_secs()
                        ),
                        Some(a) => a,
                        None => wait,
                    };
                    std::thread::sleep(pause);
                    wait *= 2;
                }
                Err(e) => return Err(e),
            }
        }
        anyhow::bail!("{method} {url}: {last_err} ({ATTEMPTS} attempts)")
    }

    /// One attempt: an answer, a reason to try again, or an error not to retry.
    fn once(
        &self,
        method: &str,
        url: &str,
        body: Option<&[u8]>,
    ) -> anyhow::Result<Result<Answer, Retry>> {
        let resp = match method {
            "GET" => {
                let mut r = self.agent.get(url);
                for (k, v) in &self.headers {
                    r = r.header(k, v);
                }
                r.call()
            }
            "POST" | "PATCH" => {
                let mut r = if method == "POST" {
                    self.agent.post(url)
                } else {
                    self.agent.patch(url)
                };
                for (k, v) in &self.headers {
                    r = r.header(k, v);
                }
                r.header("Content-Type", "application/json")
                    .send(body.unwrap_or(b"{}"))
            }
            other => anyhow::bail!("{other}: not a method this client sends"),
        };
        let resp = match resp {
            Ok(r) => r,
            Err(
                e @ (ureq::Error::Io(_)
                | ureq::Error::Timeout(_)
                | ureq::Error::ConnectionFailed
                | ureq::Error::HostNotFound),
            ) => {
                return Ok(Err(Retry {
                    why: e.to_string(),
                    after: None,
                }))
            }
            Err(e) => anyhow::bail!("{method} {url}: {e}"),
        };
        let status = resp.status().as_u16();
        let after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = resp
            .into_body()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_vec()
            .unwrap_or_default();
        let said = || {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
            crate::model::text::one_line(&text).into_owned()
        };
        if (200..300).contains(&status) {
            return Ok(Ok(Answer { status, body }));
        }
        if status == 429 || status >= 500 {
            return Ok(Err(Retry {
                why: format!("HTTP {status}: {}", said()),
                after,
            }));
        }
        anyhow::bail!("{method} {url}: HTTP {status} (not retried): {}", said())
    }
}

/// Why an attempt may be tried again, and when the server asked for it.
struct Retry {
    why: String,
    after: Option<Duration>,
}
