//! Authenticated ingest across processes: a collector with `--ingest-token-file` takes the
//! events of a host sending that token (`--collector-token-file`) and refuses, with 403, a
//! host sending another — whose predictions still succeed while its events wait, unindexed
//! and never in the WAL; a collector speaking mutual TLS takes the events of a host
//! presenting a certificate its CA signed and refuses, in the handshake, a host without
//! one and a host speaking plain HTTP; a collector asked to listen beyond loopback without
//! a token or client certificates refuses to start, naming the flags.

use std::process::Command;
use std::time::Duration;

use wasml_e2e::load::ROW;
use wasml_e2e::{ScratchDir, eventually, http, start_collector, start_es, start_host};
use wasml_es_test_server::EsTestServer;
use wasml_net::tls::{ClientIdentity, client_config};
use wasml_test_support::process::Process;
use wasml_test_support::tls::{Authority, Role, https_get};
use wasml_test_support::workspace_binary;

const TOKEN: &str = "ingest-t0ken-51c2";

/// One `/predict` on `host`; its request ID.
fn predict(host: &Process) -> String {
    let (status, body) = http::json(host.address, "POST", "/predict", ROW).unwrap();
    assert_eq!(status, 200, "{body}");
    body["request_id"].as_str().unwrap().to_owned()
}

/// The request IDs of the events `es` holds.
fn indexed_request_ids(es: &EsTestServer) -> Vec<String> {
    es.documents("ml-pipeline-*")
        .into_iter()
        .filter_map(|(_, doc)| doc["request_id"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn only_hosts_with_the_ingest_token_get_their_events_in() {
    let (_runtime, es) = start_es();
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "ingest-auth");
    let token_file = dir.join("ingest-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let token_path = token_file.to_str().unwrap();
    let collector = start_collector(
        &dir.join("collector"),
        Some(&es.url()),
        &["--ingest-token-file", token_path],
    );
    let url = format!("http://{}", collector.address);
    let trusted = start_host(
        &dir.join("trusted"),
        &[
            "--collector-url",
            &url,
            "--collector-token-file",
            token_path,
        ],
    );
    let stranger = start_host(
        &dir.join("stranger"),
        &[
            "--collector-url",
            &url,
            "--collector-token",
            "guessed-token",
        ],
    );
    let trusted_ids: Vec<String> = (0..5).map(|_| predict(&trusted)).collect();
    let stranger_ids: Vec<String> = (0..5).map(|_| predict(&stranger)).collect();

    let indexed = || indexed_request_ids(&es);
    assert!(
        eventually(Duration::from_secs(30), || {
            let now = indexed();
            trusted_ids.iter().all(|id| now.contains(id))
        }),
        "the trusted host's events are indexed"
    );
    assert!(
        eventually(Duration::from_secs(10), || stranger
            .logged("collector refused the token")),
        "the stranger's host says why its events wait"
    );
    let metrics = http::request(collector.address, "GET", "/metrics", "text/plain", b"").unwrap();
    assert!(
        metrics
            .body
            .lines()
            .any(|l| l.starts_with("wasml_collector_ingest_rejected_total{reason=\"forbidden\"}")),
        "{}",
        metrics.body
    );
    let now = indexed();
    assert!(
        stranger_ids.iter().all(|id| !now.contains(id)),
        "no event of the stranger is indexed"
    );
    // The collector's log names neither token.
    for line in collector.log() {
        assert!(
            !line.contains(TOKEN) && !line.contains("guessed-token"),
            "{line}"
        );
    }
}

#[test]
fn over_mutual_tls_only_hosts_with_a_certificate_of_the_fleet_ca_get_their_events_in() {
    let (_runtime, es) = start_es();
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "ingest-mtls");
    let fleet = Authority::new(&dir.join("pki"), "fleet-ca");
    let collector_pair = fleet.issue("collector", Role::Server);
    let host_pair = fleet.issue("host", Role::Client);
    let ca = fleet.cert().to_str().unwrap();
    let collector = start_collector(
        &dir.join("collector"),
        Some(&es.url()),
        &[
            "--tls-cert",
            collector_pair.cert.to_str().unwrap(),
            "--tls-key",
            collector_pair.key.to_str().unwrap(),
            "--tls-client-ca",
            ca,
        ],
    );
    let https = format!("https://{}", collector.address);
    let trusted = start_host(
        &dir.join("trusted"),
        &[
            "--collector-url",
            &https,
            "--collector-ca",
            ca,
            "--collector-client-cert",
            host_pair.cert.to_str().unwrap(),
            "--collector-client-key",
            host_pair.key.to_str().unwrap(),
        ],
    );
    let anonymous = start_host(
        &dir.join("anonymous"),
        &["--collector-url", &https, "--collector-ca", ca],
    );
    let plain = start_host(
        &dir.join("plain"),
        &["--collector-url", &format!("http://{}", collector.address)],
    );
    let trusted_ids: Vec<String> = (0..5).map(|_| predict(&trusted)).collect();
    let refused_ids: Vec<String> = (0..5)
        .map(|_| predict(&anonymous))
        .chain((0..5).map(|_| predict(&plain)))
        .collect();
    let indexed = || indexed_request_ids(&es);
    assert!(
        eventually(Duration::from_secs(30), || {
            let now = indexed();
            trusted_ids.iter().all(|id| now.contains(id))
        }),
        "the trusted host's events are indexed"
    );
    // Each refused host says its events wait, and why: the one without a certificate
    // hears the collector's alert.
    for (host, cause) in [(&anonymous, "CertificateRequired"), (&plain, "")] {
        assert!(
            eventually(Duration::from_secs(10), || host
                .log()
                .iter()
                .any(|line| line
                    .contains("the collector did not take the events; retrying")
                    && line.contains(cause))),
            "{:?}",
            host.log().last()
        );
    }
    // The collector counts the refused handshakes; its /metrics is behind mutual TLS too.
    let identity = ClientIdentity {
        cert: host_pair.cert.clone(),
        key: host_pair.key.clone(),
    };
    let client = std::sync::Arc::new(client_config(Some(fleet.cert()), Some(&identity)).unwrap());
    let metrics = https_get(collector.address, &client, "/metrics").unwrap();
    assert_eq!(metrics.status, 200);
    let handshakes_refused = metrics
        .body
        .lines()
        .find_map(|l| {
            l.strip_prefix("wasml_collector_ingest_rejected_total{reason=\"tls_handshake\"} ")
        })
        .and_then(|v| v.trim().parse::<u64>().ok());
    assert!(
        handshakes_refused.is_some_and(|n| n >= 2),
        "{}",
        metrics.body
    );
    assert!(collector.logged("TLS handshake failed"));
    let now = indexed();
    assert!(
        refused_ids.iter().all(|id| !now.contains(id)),
        "no event of a refused host is indexed"
    );
}

#[test]
fn a_collector_beyond_loopback_without_a_token_refuses_to_start() {
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "ingest-refuse");
    let output = Command::new(workspace_binary("wasml-collector"))
        .args(["serve", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.join("data"))
        .env_remove("WASML_COLLECTOR_INGEST_TOKEN")
        .env_remove("WASML_COLLECTOR_INSECURE_INGEST")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing unauthenticated ingest on 0.0.0.0:0")
            && stderr.contains("--ingest-token")
            && stderr.contains("--insecure-ingest"),
        "{stderr}"
    );
}
