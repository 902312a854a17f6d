//! `probe <url>`: one plain-HTTP GET of a health URL, exit status 0 on a 2xx answer. The
//! container images are distroless (no shell, no curl), so their health checks run the
//! binary itself: `wasml-host probe http://127.0.0.1:5000/health`. Loopback HTTP only —
//! it checks the process it runs beside, nothing else.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The word that makes a binary probe instead of serving.
pub const COMMAND: &str = "probe";

/// How long the whole probe may take.
const TIMEOUT: Duration = Duration::from_secs(3);

/// GETs `url` (`http://host:port/path`); `Ok` with the status line on a 2xx answer, else
/// why not.
pub fn probe(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are probed"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let address = authority
        .to_socket_addrs()
        .map_err(|e| format!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let mut stream =
        TcpStream::connect_timeout(&address, TIMEOUT).map_err(|e| format!("{address}: {e}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| e.to_string())?;
    write!(stream, "GET /{path} HTTP/1.0\r\nHost: {authority}\r\n\r\n")
        .map_err(|e| format!("{address}: {e}"))?;
    let mut head = [0u8; 64];
    let read = stream
        .read(&mut head)
        .map_err(|e| format!("{address}: {e}"))?;
    let status_line = String::from_utf8_lossy(&head[..read])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    match status_line.split(' ').nth(1) {
        Some(code) if code.starts_with('2') => Ok(status_line),
        _ => Err(format!("{url}: {status_line:?}")),
    }
}

/// Runs [`probe`] as the process's whole job: the result on stdout or stderr, and the
/// exit status.
pub fn run(url: &str) -> std::process::ExitCode {
    match probe(url) {
        Ok(status) => {
            println!("{status}");
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("probe: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
