//! The collector's disk fills up. Run under a file-size limit (`prlimit --fsize`, with
//! SIGXFSZ ignored, so a write past it fails with EFBIG as a full disk fails with
//! ENOSPC), its write-ahead log cannot grow: the ingest request gets a 503 naming the
//! cause, `/health` turns red with the error, `wasml_collector_wal_failure{kind}` says
//! why, and nothing is acknowledged that is not durable. Restarted with room, it delivers
//! every acknowledged event exactly once and goes on accepting: the torn write left no
//! corruption behind.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use wasml_e2e::{ScratchDir, eventually, http, start_collector, start_es};
use wasml_test_support::process::Process;
use wasml_test_support::workspace_binary;

const BATCH: usize = 100;
/// The file-size limit: a few batches fit in the WAL's first segment, then it is full.
const FSIZE_BYTES: u64 = 256 << 10;

fn batch(b: usize) -> (Vec<String>, String) {
    let ids: Vec<String> = (0..BATCH).map(|i| format!("d{b}-{i}")).collect();
    let body = ids
        .iter()
        .map(|id| {
            json!({"@timestamp": "2026-11-26T10:00:00.000Z", "event_id": id, "level": "info",
                   "service": "wasml-host", "message": "prediction served", "request_id": id,
                   "endpoint": "/predict", "status": 200, "duration": 0.002})
            .to_string()
                + "\n"
        })
        .collect();
    (ids, body)
}

fn post(address: SocketAddr, body: &str) -> http::Response {
    http::request(
        address,
        "POST",
        "/v1/events",
        "application/x-ndjson",
        body.as_bytes(),
    )
    .unwrap()
}

/// `wasml-collector serve` whose files may not grow past `FSIZE_BYTES`.
fn start_cramped_collector(data_dir: &Path, es_url: &str) -> Process {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"trap "" XFSZ; exec prlimit --fsize="$0" -- "$@""#)
        .arg(FSIZE_BYTES.to_string())
        .arg(workspace_binary("wasml-collector"))
        .args(["serve", "--log-format", "json", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--elasticsearch-url", es_url]);
    Process::start(command, Duration::from_secs(30))
}

#[test]
fn a_full_disk_is_reported_and_nothing_acknowledged_is_lost_or_doubled() {
    let (_runtime, es) = start_es();
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "disk-full");
    let data = dir.join("collector");
    let mut collector = start_cramped_collector(&data, &es.url());

    let mut acknowledged = Vec::new();
    let refusal = (0..100)
        .find_map(|b| {
            let (ids, body) = batch(b);
            let response = post(collector.address, &body);
            match response.status {
                200 => {
                    acknowledged.extend(ids);
                    None
                }
                _ => Some(response),
            }
        })
        .expect("the WAL fills up within 100 batches");
    assert!(!acknowledged.is_empty(), "some batches fit");
    assert_eq!(refusal.status, 503, "{}", refusal.body);
    let message = refusal.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.starts_with("the events could not be persisted (File too large"),
        "{message}"
    );

    let health = http::request(collector.address, "GET", "/health", "text/plain", b"").unwrap();
    assert_eq!(health.status, 503, "{}", health.body);
    assert_eq!(health.json()["status"], "failed");
    let wal_error = health.json()["wal_error"].as_str().unwrap_or("").to_owned();
    assert!(wal_error.contains("File too large"), "{}", health.body);
    let metrics = http::request(collector.address, "GET", "/metrics", "text/plain", b"").unwrap();
    assert!(
        metrics
            .body
            .contains("wasml_collector_wal_failure{kind=\"FileTooLarge\"} 1"),
        "{}",
        metrics.body
    );
    assert!(collector.logs_within("WAL append failed", Duration::from_secs(5)));

    // Room again: a restart on the same data directory.
    collector.terminate();
    collector.wait();
    let collector = start_collector(&data, Some(&es.url()), &[]);
    let (ids, body) = batch(1_000);
    assert_eq!(
        post(collector.address, &body).status,
        200,
        "accepting again"
    );
    acknowledged.extend(ids);

    let indexed = || {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for (id, _) in es.documents("ml-pipeline-*") {
            *counts.entry(id).or_default() += 1;
        }
        counts
    };
    assert!(
        eventually(Duration::from_secs(60), || acknowledged
            .iter()
            .all(|id| indexed().contains_key(id))),
        "every acknowledged event is delivered"
    );
    let counts = indexed();
    assert!(counts.values().all(|n| *n == 1), "no event twice");
    assert_eq!(
        counts.len(),
        acknowledged.len(),
        "nothing that was refused shows up"
    );
}
