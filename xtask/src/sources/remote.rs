//! Talking to remotes: whether a host answers at all (a short DNS + TCP probe before any git
//! or HTTP traffic), bounded HTTP GETs, and the error that says which of the two went wrong.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use crate::model::outcome::{Fault, Stage, StageResult, Status};

const PROBE_TIMEOUT: Duration = Duration::from_secs(4);

/// Why something could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The host did not answer (DNS, refused, timed out): nothing said about the code.
    Unreachable(String),
    /// The remote answered but the fetch failed (no such ref, not a repository, …).
    Failed(String),
}

impl FetchError {
    pub fn message(&self) -> String {
        match self {
            FetchError::Unreachable(m) => format!("unreachable: {m}"),
            FetchError::Failed(m) => format!("fetch failed: {m}"),
        }
    }
    /// The stage this error ends: an error, `unreachable` only when the remote did not answer.
    pub fn stage(&self, stage: Stage) -> StageResult {
        let fault = match self {
            FetchError::Unreachable(_) => Fault::Remote,
            FetchError::Failed(_) => Fault::Source,
        };
        StageResult::new(stage, Status::Error, self.message()).with_fault(fault)
    }
}

/// Can a URL's host be reached at all? `file://` URLs and paths: does the path exist?
pub fn probe(url: &str) -> Result<(), FetchError> {
    if let Some(path) = url.strip_prefix("file://") {
        return if Path::new(path).exists() {
            Ok(())
        } else {
            Err(FetchError::Failed(format!("{path} does not exist")))
        };
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return if Path::new(url).exists() {
            Ok(())
        } else {
            Err(FetchError::Failed(format!(
                "{url}: not a URL or an existing path"
            )))
        };
    };
    let authority = rest.split('/').next().unwrap_or("");
    let hostport = authority.rsplit('@').next().unwrap_or(authority);
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        "git" => 9418,
        "ssh" => 22,
        _ => {
            return Err(FetchError::Failed(format!(
                "{url}: unsupported scheme {scheme}"
            )))
        }
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || hostport.starts_with('[') => match p.parse::<u16>() {
            Ok(p) => (h.trim_matches(['[', ']']).to_string(), p),
            Err(_) => (hostport.to_string(), default_port),
        },
        _ => (hostport.trim_matches(['[', ']']).to_string(), default_port),
    };
    if host.is_empty() {
        return Err(FetchError::Failed(format!("{url}: no host")));
    }
    let addrs: Vec<_> = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| FetchError::Unreachable(format!("{host}: cannot resolve ({e})")))?
        .collect();
    let mut last = String::from("no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, PROBE_TIMEOUT) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{host}:{port}: {e}"),
        }
    }
    Err(FetchError::Unreachable(last))
}

/// GET a URL with bounded connect and total times.
pub fn http_get(url: &str) -> Result<Vec<u8>, FetchError> {
    probe(url)?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(5)))
        // A server that accepts and then says nothing is given 15 s to start answering.
        .timeout_recv_response(Some(Duration::from_secs(15)))
        .timeout_global(Some(Duration::from_secs(120)))
        .http_status_as_error(false)
        .build()
        .into();
    let resp = agent.get(url).call().map_err(|e| match e {
        ureq::Error::Timeout(_) => FetchError::Unreachable(format!("{url}: timed out")),
        ureq::Error::Io(io) => FetchError::Unreachable(format!("{url}: {io}")),
        other => FetchError::Failed(format!("{url}: {other}")),
    })?;
    let status = resp.status();
    // A server error is the remote's failing, as a timeout is, not an answer about what the
    // matrix names (a 404 is).
    if status.is_server_error() {
        return Err(FetchError::Unreachable(format!(
            "{url}: HTTP {} (the server failed)",
            status.as_u16()
        )));
    }
    if !status.is_success() {
        return Err(FetchError::Failed(format!(
            "{url}: HTTP {}",
            status.as_u16()
        )));
    }
    let mut body = resp.into_body();
    body.with_config()
        .limit(256 * 1024 * 1024)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::Timeout(_) => {
                FetchError::Unreachable(format!("{url}: timed out reading the body"))
            }
            other => FetchError::Failed(format!("{url}: {other}")),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a remote that did not answer makes a cell `unreachable` (its fault is `remote`);
    /// one that answered without what the matrix names is an error to look at.
    #[test]
    fn only_a_remote_that_did_not_answer_is_the_remotes_fault() {
        let fault = |e: FetchError| e.stage(Stage::Fetch).fault;
        assert_eq!(
            fault(FetchError::Unreachable("x".into())),
            Some(Fault::Remote)
        );
        assert_eq!(fault(FetchError::Failed("x".into())), Some(Fault::Source));
    }

    #[test]
    fn closed_port_is_unreachable_fast() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let t = std::time::Instant::now();
        let e = probe(&format!("http://127.0.0.1:{port}/x")).unwrap_err();
        assert!(matches!(e, FetchError::Unreachable(_)), "{e:?}");
        assert!(t.elapsed() < Duration::from_secs(10));
        assert!(matches!(
            probe("https://no-such-host.invalid/x"),
            Err(FetchError::Unreachable(_))
        ));
        assert!(matches!(
            probe("file:///no/such/path"),
            Err(FetchError::Failed(_))
        ));
    }
}
