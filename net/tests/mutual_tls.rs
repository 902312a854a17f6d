//! The accept loop with mutual TLS (`--tls-client-ca`): a client presenting a certificate
//! the client CA signed is served; one presenting none, or one another CA signed, fails
//! the handshake and is counted, as is plain HTTP on the port; a CA file that holds no
//! certificate stops the start with its path.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use wasml_net::connections::{ConnectionEvents, ConnectionLimits, Speaks, serve};
use wasml_net::tls::{ClientIdentity, TlsArgs, client_config};
use wasml_test_support::tls::{Authority, CertPair, Role, https_get};
use wasml_test_support::{ScratchDir, http};

/// Counts what the accept loop reports.
#[derive(Default)]
struct Counted {
    refused: AtomicUsize,
    handshakes_failed: AtomicUsize,
}

impl ConnectionEvents for Counted {
    fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    fn handshake_failed(&self) {
        self.handshakes_failed.fetch_add(1, Ordering::Relaxed);
    }
}

fn identity(pair: &CertPair) -> ClientIdentity {
    ClientIdentity {
        cert: pair.cert.clone(),
        key: pair.key.clone(),
    }
}

#[test]
fn only_clients_with_a_certificate_the_client_ca_signed_are_served() {
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "mutual-tls");
    let fleet = Authority::new(&dir.join("fleet"), "fleet-ca");
    let server_pair = fleet.issue("collector", Role::Server);
    let host_pair = fleet.issue("host", Role::Client);
    let stranger_pair =
        Authority::new(&dir.join("other"), "other-ca").issue("stranger", Role::Client);
    let args = TlsArgs {
        tls_cert: Some(server_pair.cert.clone()),
        tls_key: Some(server_pair.key.clone()),
        tls_client_ca: Some(fleet.cert().to_owned()),
    };
    let tls = args.load().unwrap().expect("TLS configured");
    assert!(tls.verifies_clients());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let events = Arc::new(Counted::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = ConnectionLimits {
        max_open: 16,
        header_read_timeout: Duration::from_secs(5),
        speaks: Speaks::Http1,
    };
    let app = Router::new().route("/", get(|| async { "served" }));
    let server = runtime.spawn(serve(
        listener,
        app,
        limits,
        Some(tls.acceptor(&[b"http/1.1"])),
        Arc::clone(&events) as Arc<dyn ConnectionEvents>,
        async move {
            let _ = stopped.await;
        },
    ));
    let config = |identity: Option<&ClientIdentity>| {
        Arc::new(client_config(Some(fleet.cert()), identity).unwrap())
    };

    let answer = https_get(address, &config(Some(&identity(&host_pair))), "/").unwrap();
    assert_eq!(
        (answer.status, answer.body.as_str(), answer.certificate),
        (200, "served", server_pair.der())
    );
    let anonymous = https_get(address, &config(None), "/");
    assert!(anonymous.is_err(), "served without a client certificate");
    let stranger = https_get(address, &config(Some(&identity(&stranger_pair))), "/");
    assert!(stranger.is_err(), "served another CA's client");
    let plain = http::request(address, "GET", "/", "text/plain", b"");
    assert!(plain.is_err(), "plain HTTP was answered: {plain:?}");

    // The server counts each failure as its handshake ends, which may be after the
    // client gave up.
    let deadline = Instant::now() + Duration::from_secs(5);
    while events.handshakes_failed.load(Ordering::Relaxed) < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(events.handshakes_failed.load(Ordering::Relaxed), 3);
    assert_eq!(events.refused.load(Ordering::Relaxed), 0);
    // Still serving the trusted client after the refusals.
    let answer = https_get(address, &config(Some(&identity(&host_pair))), "/").unwrap();
    assert_eq!(answer.status, 200);
    stop.send(()).unwrap();
    runtime.block_on(server).unwrap();
}

#[test]
fn a_client_ca_file_without_a_certificate_is_refused_with_its_path() {
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "bad-client-ca");
    let server_pair = Authority::new(&dir.join("ca"), "ca").issue("server", Role::Server);
    let garbage = dir.join("clients.pem");
    std::fs::write(&garbage, "not a certificate\n").unwrap();
    let args = TlsArgs {
        tls_cert: Some(server_pair.cert),
        tls_key: Some(server_pair.key),
        tls_client_ca: Some(garbage),
    };
    let error = args.load().unwrap_err().to_string();
    assert!(
        error.contains("clients.pem") && error.contains("CA"),
        "{error}"
    );
}
