//! TLS on the host's listeners (`--tls-cert`, `--tls-key`): HTTPS answers with the given
//! certificate, plain HTTP on the same port gets no answer, the gRPC port negotiates `h2`,
//! and a certificate replaced on disk is served to new connections within seconds while
//! requests keep succeeding throughout.

use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use wasml_test_support::http;
use wasml_test_support::tls::{client, https_get, self_signed};

use crate::binary::{logged_address, scratch, start_host};

#[test]
fn https_with_a_certificate_reloaded_while_serving() {
    let dir = scratch("tls");
    std::fs::create_dir_all(dir.path()).unwrap();
    let first_pair = self_signed(dir.path(), "first");
    let second_pair = self_signed(dir.path(), "second");
    let (first_cert, first_key) = (&first_pair.cert, &first_pair.key);
    let (second_cert, second_key) = (&second_pair.cert, &second_pair.key);
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    std::fs::copy(first_cert, &cert).unwrap();
    std::fs::copy(first_key, &key).unwrap();
    let host = start_host(
        dir.path(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let (first, second) = (first_pair.der(), second_pair.der());
    let trusting_both = client(&[first.clone(), second.clone()], &[b"http/1.1"]);

    let answer = https_get(host.address, &trusting_both, "/health").unwrap();
    assert_eq!((answer.status, &answer.certificate), (200, &first));
    // A client that trusts another certificate refuses the connection.
    let trusting_second = client(std::slice::from_ref(&second), &[]);
    assert!(https_get(host.address, &trusting_second, "/health").is_err());
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = http::request(host.address, "GET", "/health", "text/plain", b"");
    assert!(plain.is_err(), "plain HTTP was answered: {plain:?}");
    // gRPC over TLS: ALPN h2.
    let grpc = logged_address(&host, "grpc listening");
    let h2 = client(std::slice::from_ref(&first), &[b"h2"]);
    let mut connection =
        rustls::ClientConnection::new(h2, ServerName::IpAddress(grpc.ip().into())).unwrap();
    let mut socket = TcpStream::connect(grpc).unwrap();
    connection.complete_io(&mut socket).unwrap();
    assert_eq!(connection.alpn_protocol(), Some(&b"h2"[..]));

    // Replace the certificate on disk (each file by an atomic rename) under steady load.
    let running = Arc::new(AtomicBool::new(true));
    let load = {
        let running = Arc::clone(&running);
        let config = Arc::clone(&trusting_both);
        let address = host.address;
        std::thread::spawn(move || {
            let mut outcomes = Vec::new();
            while running.load(Ordering::Relaxed) {
                outcomes.push(https_get(address, &config, "/health").map(|a| a.status));
            }
            outcomes
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    for (from, to) in [(second_key, &key), (second_cert, &cert)] {
        let staged = to.with_extension("new");
        std::fs::copy(from, &staged).unwrap();
        std::fs::rename(&staged, to).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let answer = https_get(host.address, &trusting_both, "/health").unwrap();
        if answer.certificate == second {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served: {:?}",
            host.log()
                .iter()
                .filter(|l| l.contains("TLS"))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    running.store(false, Ordering::Relaxed);
    let outcomes = load.join().unwrap();
    let failed: Vec<_> = outcomes.iter().filter(|o| !matches!(o, Ok(200))).collect();
    assert!(outcomes.len() > 20, "{} requests", outcomes.len());
    assert!(
        failed.is_empty(),
        "{} of {} failed: {:?}",
        failed.len(),
        outcomes.len(),
        failed.first()
    );
    assert!(host.logged("TLS certificate reloaded"));

    // A key that is not the certificate's: the host does not start, and says why.
    let output = wasml_test_support::process::host_command(env!("CARGO_BIN_EXE_wasml-host"))
        .args(["--tls-cert", first_cert.to_str().unwrap()])
        .args(["--tls-key", second_key.to_str().unwrap(), "--cache-dir"])
        .arg(dir.join("cache"))
        .arg("--events")
        .arg(dir.join("events"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("does not match the certificate"), "{log}");
}
