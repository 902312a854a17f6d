//! TLS on the host's listeners (`--tls-cert`, `--tls-key`): HTTPS answers with the given
//! certificate, plain HTTP on the same port gets no answer, the gRPC port negotiates `h2`,
//! and a certificate replaced on disk is served to new connections within seconds while
//! requests keep succeeding throughout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use wasml_test_support::http;

use crate::binary::{logged_address, scratch, start_host};

/// A self-signed certificate for 127.0.0.1 named `name`, as `<name>.crt` and `<name>.key`
/// in `dir` (made by Debian's openssl, as the collector's HTTPS test does).
fn certificate(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj"])
        .arg(format!("/CN={name}"))
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        // A server certificate, not a CA (rustls refuses a CA as the end entity).
        .args(["-addext", "basicConstraints=critical,CA:FALSE", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs (.ci/run installs it)");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    (cert, key)
}

fn der(cert: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(cert).unwrap()
}

/// A client trusting `roots`, offering `alpn`.
fn client(roots: &[CertificateDer<'static>], alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut store = rustls::RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(store)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    // Every connection a full handshake: a resumed session reports the certificate it was
    // first opened with, which would hide a reload.
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// `GET path` over TLS: the status and the certificate the server showed.
fn https_get(
    address: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    path: &str,
) -> std::io::Result<(u16, CertificateDer<'static>)> {
    let name = ServerName::IpAddress(address.ip().into());
    let connection =
        rustls::ClientConnection::new(Arc::clone(config), name).map_err(std::io::Error::other)?;
    let socket = TcpStream::connect(address)?;
    socket.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut tls = rustls::StreamOwned::new(connection, socket);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    // A close without close_notify after the answer is fine here.
    let _ = tls.read_to_string(&mut answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP answer: {answer:?}")))?;
    let shown = tls.conn.peer_certificates().unwrap()[0]
        .clone()
        .into_owned();
    Ok((status, shown))
}

#[test]
fn https_with_a_certificate_reloaded_while_serving() {
    let dir = scratch("tls");
    std::fs::create_dir_all(dir.path()).unwrap();
    let (first_cert, first_key) = certificate(dir.path(), "first");
    let (second_cert, second_key) = certificate(dir.path(), "second");
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    std::fs::copy(&first_cert, &cert).unwrap();
    std::fs::copy(&first_key, &key).unwrap();
    let host = start_host(
        dir.path(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let (first, second) = (der(&first_cert), der(&second_cert));
    let trusting_both = client(&[first.clone(), second.clone()], &[b"http/1.1"]);

    let (status, shown) = https_get(host.address, &trusting_both, "/health").unwrap();
    assert_eq!((status, &shown), (200, &first));
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
                outcomes.push(https_get(address, &config, "/health").map(|(s, _)| s));
            }
            outcomes
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    for (from, to) in [(&second_key, &key), (&second_cert, &cert)] {
        let staged = to.with_extension("new");
        std::fs::copy(from, &staged).unwrap();
        std::fs::rename(&staged, to).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, shown) = https_get(host.address, &trusting_both, "/health").unwrap();
        if shown == second {
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
