//! `kill -9` of the collector process in the middle of a stream, then a restart on the
//! same data directory: every event it acknowledged reaches the sink exactly once — in
//! Elasticsearch (slow bulks, so the kill lands while requests are in flight) and in the
//! daily files (where a redelivered batch would show as a duplicate line).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use wasml_e2e::{ScratchDir, eventually, http, start_collector, start_es};
use wasml_es_test_server::Fault;

const BATCH: usize = 100;

fn event(id: &str) -> String {
    json!({
        "@timestamp": "2026-11-26T10:00:00.000Z", "event_id": id, "level": "info",
        "service": "wasml-host", "message": "prediction served", "request_id": id,
        "method": "POST", "endpoint": "/predict", "status": 200, "duration": 0.002,
        "prediction": 1, "confidence": 0.91, "model": "bank-marketing", "model_version": "v2"
    })
    .to_string()
}

/// Posts batch `b` (ids `b{b}-{i}`); `Ok(true)` if acknowledged, `Ok(false)` if answered
/// otherwise, `Err` if the connection failed (the collector is gone).
fn post_batch(address: SocketAddr, b: usize) -> std::io::Result<bool> {
    let body: String = (0..BATCH)
        .map(|i| event(&format!("b{b}-{i}")) + "\n")
        .collect();
    let response = http::request(
        address,
        "POST",
        "/v1/events",
        "application/x-ndjson",
        body.as_bytes(),
    )?;
    Ok(response.status == 200 && response.json()["acknowledged"] == BATCH)
}

fn ids_of(batches: &BTreeSet<usize>) -> BTreeSet<String> {
    batches
        .iter()
        .flat_map(|b| (0..BATCH).map(move |i| format!("b{b}-{i}")))
        .collect()
}

/// Streams batches at `address` from a thread until the connection fails; returns the
/// batches acknowledged and the one whose fate is unknown (in flight at the crash).
fn stream_until_killed(
    address: SocketAddr,
    first: usize,
    kill: impl FnOnce(),
) -> (BTreeSet<usize>, Option<usize>) {
    let acked = Arc::new(Mutex::new(BTreeSet::new()));
    let running = Arc::new(AtomicBool::new(true));
    let sender = {
        let acked = Arc::clone(&acked);
        let running = Arc::clone(&running);
        std::thread::spawn(move || {
            let mut b = first;
            while running.load(Ordering::Relaxed) {
                match post_batch(address, b) {
                    Ok(true) => {
                        acked.lock().unwrap().insert(b);
                    }
                    Ok(false) => {}
                    Err(_) => return Some(b),
                }
                b += 1;
            }
            None
        })
    };
    // Let the stream run, with bulks in flight, then crash the collector.
    std::thread::sleep(Duration::from_millis(700));
    kill();
    running.store(false, Ordering::Relaxed);
    let uncertain = sender.join().unwrap();
    let acked = acked.lock().unwrap().clone();
    (acked, uncertain)
}

fn pending(address: SocketAddr) -> u64 {
    http::json(address, "GET", "/health", "")
        .map(|(_, health)| health["pending_events"].as_u64().unwrap_or(u64::MAX))
        .unwrap_or(u64::MAX)
}

#[test]
fn elasticsearch_gets_every_acknowledged_event_once_across_a_kill_9() {
    let (_runtime, es) = start_es();
    // Slow bulks and one connection dropped after applying: the WAL holds undelivered
    // events, some requests are in flight, and some were applied but never answered.
    es.inject(Fault::Delay(40), 40);
    es.inject(
        Fault::Drop {
            after_applying: true,
        },
        1,
    );
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "crash-es");
    let url = es.url();
    let mut collector = start_collector(&dir, Some(&url), &["--bulk-max-events", "150"]);
    let address = collector.address;
    let (mut acked, uncertain) = stream_until_killed(address, 0, || collector.kill9());
    assert!(
        acked.len() >= 3,
        "the stream ran before the crash: {acked:?}"
    );
    let after_crash = es.documents("ml-pipeline-*").len();
    eprintln!(
        "acknowledged before the kill: {} events; indexed then: {after_crash}",
        acked.len() * BATCH
    );
    assert!(
        after_crash < acked.len() * BATCH,
        "the crash left acknowledged events undelivered ({after_crash} indexed), so the restart has work to do"
    );

    let collector = start_collector(&dir, Some(&url), &["--bulk-max-events", "150"]);
    let next = acked.last().unwrap() + 100;
    for b in next..next + 5 {
        assert!(post_batch(collector.address, b).unwrap());
        acked.insert(b);
    }
    assert!(
        eventually(Duration::from_secs(60), || pending(collector.address) == 0),
        "the WAL drained: {:?}",
        collector.log()
    );

    let documents = es.documents("ml-pipeline-*");
    let mut copies: BTreeMap<String, usize> = BTreeMap::new();
    for (id, doc) in &documents {
        assert_eq!(
            doc["event_id"].as_str(),
            Some(id.as_str()),
            "stored under its event_id"
        );
        *copies
            .entry(doc["request_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let duplicated: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "indexed twice: {duplicated:?}");
    let indexed: BTreeSet<String> = copies.into_keys().collect();
    let missing: Vec<_> = ids_of(&acked).difference(&indexed).cloned().collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not indexed: {} events",
        missing.len()
    );
    let mut allowed = acked.clone();
    allowed.extend(uncertain);
    let unexpected: Vec<_> = indexed.difference(&ids_of(&allowed)).cloned().collect();
    assert!(
        unexpected.is_empty(),
        "indexed but never sent: {unexpected:?}"
    );
}

/// Every line of the daily files, as event ids with their number of copies.
fn file_ids(dir: &Path) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ndjson") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let doc: Value = serde_json::from_str(line).unwrap();
                *ids.entry(doc["event_id"].as_str().unwrap().to_owned())
                    .or_default() += 1;
            }
        }
    }
    ids
}

#[test]
fn daily_files_get_every_acknowledged_event_once_across_a_kill_9() {
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "crash-files");
    let mut collector = start_collector(&dir, None, &["--linger-ms", "1"]);
    let address = collector.address;
    let (mut acked, uncertain) = stream_until_killed(address, 0, || collector.kill9());
    assert!(
        acked.len() >= 3,
        "the stream ran before the crash: {acked:?}"
    );

    let collector = start_collector(&dir, None, &[]);
    let next = acked.last().unwrap() + 100;
    for b in next..next + 3 {
        assert!(post_batch(collector.address, b).unwrap());
        acked.insert(b);
    }
    assert!(eventually(Duration::from_secs(30), || pending(
        collector.address
    ) == 0));

    let copies = file_ids(&dir.join("events"));
    let duplicated: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicated.is_empty(), "written twice: {duplicated:?}");
    let written: BTreeSet<String> = copies.into_keys().collect();
    assert!(
        ids_of(&acked).is_subset(&written),
        "an acknowledged event is missing"
    );
    let mut allowed = acked;
    allowed.extend(uncertain);
    assert!(written.is_subset(&ids_of(&allowed)), "a line nobody sent");
}
