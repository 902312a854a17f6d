//! Slow and silent clients against the host process: a client that never finishes its
//! headers is disconnected after `--header-read-timeout-secs` while others are served,
//! and past `--max-connections` a new connection is closed at once (and counted), the
//! server still answering once connections free up.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use wasml_test_support::{http, prometheus};

use crate::binary::{scratch, start_host};

/// What the server did with a connection we stopped writing to: `None` if it closed it
/// (end of stream or reset), else the bytes it answered. Panics if it did neither within
/// `wait`.
fn closed_or_answered(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) if answer.is_empty() => None,
        Ok(_) => Some(String::from_utf8_lossy(&answer).into_owned()),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => None,
        Err(e) => panic!("the server neither answered nor closed the connection: {e}"),
    }
}

#[test]
fn a_client_that_never_finishes_its_headers_is_disconnected_and_others_are_served() {
    let dir = scratch("slow-headers");
    let host = start_host(&dir, &["--header-read-timeout-secs", "1"]);
    let mut slow = TcpStream::connect(host.address).unwrap();
    // A request line and one header, never the blank line that ends the headers.
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: wasml\r\n")
        .unwrap();
    let (status, _) = http::json(host.address, "GET", "/health", "").unwrap();
    assert_eq!(status, 200, "another client is served meanwhile");
    // Closed, or told 408 and closed: never served, never left open.
    if let Some(answer) = closed_or_answered(&mut slow, Duration::from_secs(30)) {
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }
}

#[test]
fn past_the_connection_cap_a_connection_is_closed_at_once_and_counted() {
    let dir = scratch("connection-cap");
    let host = start_host(
        &dir,
        &["--max-connections", "2", "--header-read-timeout-secs", "60"],
    );
    // Two silent connections take both places (accepted in the order they connected).
    let silent: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(host.address).unwrap())
        .collect();
    let mut third = TcpStream::connect(host.address).unwrap();
    third
        .write_all(b"GET /health HTTP/1.1\r\nHost: wasml\r\n\r\n")
        .ok();
    // The header timeout is a minute away: only the cap can close it this soon.
    assert_eq!(
        closed_or_answered(&mut third, Duration::from_secs(20)),
        None
    );

    drop(silent);
    let deadline = Instant::now() + Duration::from_secs(20);
    let metrics = loop {
        match http::request(host.address, "GET", "/metrics", "text/plain", b"") {
            Ok(response) if response.status == 200 => break response.body,
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            other => panic!("the host never answered again: {other:?}"),
        }
    };
    let refused = prometheus::sample(&metrics, "wasml_connections_refused_total", &[]);
    assert!(refused.is_some_and(|n| n >= 1.0), "{refused:?}");
}
