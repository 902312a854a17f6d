//! The load bench's TLS phase (issue #24): what TLS on the host's listener costs a client.
//!
//! - The handshake: new connections one after another, each sending `GET
//!   /v2/health/live` and closing, over TLS (a full handshake every time, resumption off;
//!   TLS 1.3 with an ECDSA P-256 certificate, as rustls negotiates by default) and over
//!   plain TCP; the difference per connection is the handshake's cost.
//! - `POST /predict` at 64 keep-alive connections over TLS and plain.
//!
//! Two hosts (one with `--tls-cert`, one without) are driven in turn, three times, so
//! drift in the machine's speed hits both alike ([`alternate`]); medians.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;
use wasml_test_support::tls::{client, self_signed};

use crate::http_driver::{alternate, connect, median, start_host};

/// Runs the phase on hosts of its own under `dir` and prints its rows.
pub fn run(runtime: &tokio::runtime::Runtime, dir: &Path, length: Duration) {
    let pair = self_signed(&dir.join("pki"), "bench-host");
    let (cert, key) = (pair.cert.to_str().unwrap(), pair.key.to_str().unwrap());
    let mut tls_host = start_host(&dir.join("tls"), &["--tls-cert", cert, "--tls-key", key]);
    let mut plain_host = start_host(&dir.join("plain"), &[]);
    let connector = TlsConnector::from(client(&[pair.der()], &[b"http/1.1"]));
    let hosts = [(tls_host.1, Some(connector)), (plain_host.1, None)];
    let goodput = alternate(runtime, &hosts, length);
    let (tls_goodput, plain_goodput) = (goodput[0], goodput[1]);
    let mut per_connection = [Vec::new(), Vec::new()];
    for _ in 0..3 {
        for (i, (address, tls)) in hosts.iter().enumerate() {
            let seconds = connection_per_request(*address, tls.clone(), length / 2);
            per_connection[i].push(runtime.block_on(seconds));
        }
    }
    for host in [&mut tls_host, &mut plain_host] {
        let _ = host.0.kill();
        let _ = host.0.wait();
    }
    let [tls_connection, plain_connection] = per_connection.map(median);
    println!("| POST /predict, c64, TLS (median of 3) | {tls_goodput:.0} | | | |");
    println!("| POST /predict, c64, plain (median of 3) | {plain_goodput:.0} | | | |");
    println!(
        "/predict over TLS vs plain at c64: {:.1} %",
        100.0 * tls_goodput / plain_goodput
    );
    println!(
        "a connection per request (GET /v2/health/live, sequential, median of 3): TLS {:.3} ms, plain {:.3} ms: the full handshake costs {:.3} ms",
        tls_connection * 1e3,
        plain_connection * 1e3,
        (tls_connection - plain_connection) * 1e3
    );
}

/// Opens connections one after another for `length`, each sending one request and
/// waiting for the server to close; seconds per connection.
async fn connection_per_request(
    address: SocketAddr,
    tls: Option<TlsConnector>,
    length: Duration,
) -> f64 {
    let request = b"GET /v2/health/live HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let started = Instant::now();
    let mut connections = 0u32;
    while started.elapsed() < length {
        let mut stream = connect(address, tls.as_ref()).await;
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::with_capacity(256);
        // A close without TLS's close_notify after the answer is fine here.
        let _ = stream.read_to_end(&mut answer).await;
        assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
        connections += 1;
    }
    started.elapsed().as_secs_f64() / f64::from(connections)
}
