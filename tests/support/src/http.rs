//! One HTTP/1.1 request per connection, written by hand: tests see exactly what went over
//! the wire, and a refused connection is an error to assert on, not a retry.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// A response: status, and the body as text.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: String,
    /// The header lines, names lowercased, in order.
    pub headers: Vec<(String, String)>,
}

impl Response {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Sends `method path` with `body` of `content_type` and reads the whole answer.
pub fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<Response> {
    request_with(
        address,
        method,
        path,
        &[("Content-Type", content_type)],
        body,
    )
}

/// Sends `method path` with `headers` and `body`, and reads the whole answer.
pub fn request_with(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(stream, "{method} {path} HTTP/1.1\r\nHost: localhost\r\n")?;
    for (name, value) in headers {
        write!(stream, "{name}: {value}\r\n")?;
    }
    write!(
        stream,
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let response = read_response(&mut stream)?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no response: {response:?}")))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line: {head:?}")))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Ok(Response {
        status,
        body,
        headers,
    })
}

/// Reads one response: up to its `Content-Length`, or its last chunk, or the end of the
/// stream (a server that keeps the connection open despite `Connection: close`, as
/// chromedriver does, is read to the end of its answer instead of to a timeout).
fn read_response(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut response = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let read = stream.read(&mut buffer)?;
        if read == 0 {
            return Ok(response);
        }
        response.extend_from_slice(&buffer[..read]);
        let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
        let body = &response[end + 4..];
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse::<usize>().ok());
        let complete = match length {
            Some(length) => body.len() >= length,
            None if head.contains("transfer-encoding: chunked") => body.ends_with(b"0\r\n\r\n"),
            None => false,
        };
        if complete {
            return Ok(response);
        }
    }
}

/// An admin API call with `token` that must succeed (a 2xx), its answer read.
///
/// # Panics
/// If the server does not answer or answers anything but a 2xx.
pub fn admin_ok(
    address: SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Response {
    let auth = format!("Bearer {token}");
    let response = request_with(address, method, path, &[("authorization", &auth)], body)
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    assert!(
        response.status < 300,
        "{method} {path}: {} {}",
        response.status,
        response.body
    );
    response
}

/// A JSON request; the answer's body parsed.
pub fn json(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, Value)> {
    let response = request(address, method, path, "application/json", body.as_bytes())?;
    Ok((response.status, response.json()))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
