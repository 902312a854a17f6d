//! The Elasticsearch sink against the Elasticsearch-API test server: documents land once
//! under their event IDs, failed items are retried alone, rejected ones are dead-lettered,
//! and whole-request failures (503, a dropped connection) are retried by the pipeline
//! without losing or duplicating anything.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use wasml_collector::sink::Sink;
use wasml_collector::sink::elasticsearch::{Credentials, ElasticsearchConfig, ElasticsearchSink};
use wasml_collector::{CollectorMetrics, Pipeline, PipelineOptions};
use wasml_es_test_server::{EsTestServer, Fault};
use wasml_test_support::ScratchDir;
use wasml_test_support::tls::{Authority, Role};

/// The test server on a runtime of its own, so the sink (which blocks) runs outside it.
fn start_server() -> (tokio::runtime::Runtime, EsTestServer) {
    EsTestServer::start_in_background(1).unwrap()
}

fn scratch(name: &str) -> ScratchDir {
    ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), &format!("es-{name}"))
}

fn config(server: &EsTestServer, dir: &Path) -> ElasticsearchConfig {
    ElasticsearchConfig {
        max_backoff: Duration::from_millis(20),
        timeout: Duration::from_secs(10),
        ..ElasticsearchConfig::new(server.url(), dir.join("dead-letter"))
    }
}

fn sink(server: &EsTestServer, dir: &Path, metrics: &CollectorMetrics) -> ElasticsearchSink {
    ElasticsearchSink::new(config(server, dir), metrics.clone()).unwrap()
}

fn event(i: usize, extra: Value) -> Vec<u8> {
    let mut doc = json!({"@timestamp": "2026-11-26T10:00:00.000Z", "event_id": format!("e{i}"),
        "level": "info", "message": format!("event {i}")});
    doc.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    serde_json::to_vec(&doc).unwrap()
}

/// The `_id`s of every `ml-pipeline-*` document, sorted.
pub(crate) fn sorted_ids(server: &EsTestServer) -> Vec<String> {
    let mut ids: Vec<String> = server
        .documents("ml-pipeline-*")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    ids.sort();
    ids
}

#[test]
fn documents_land_once_under_their_event_ids_even_when_delivered_twice() {
    let (_runtime, server) = start_server();
    let dir = scratch("once");
    let metrics = CollectorMetrics::new();
    let mut sink = sink(&server, &dir, &metrics);
    let batch: Vec<(u64, Vec<u8>)> = (0..10)
        .map(|i| (i as u64 + 1, event(i, json!({}))))
        .collect();
    sink.deliver(&batch).unwrap();
    sink.deliver(&batch).unwrap();
    let mut expected: Vec<String> = (0..10).map(|i| format!("e{i}")).collect();
    expected.sort();
    assert_eq!(sorted_ids(&server), expected);
    assert_eq!(metrics.indexed.get(), 10);
    assert_eq!(
        metrics.already_indexed.get(),
        10,
        "the second delivery met 409s"
    );
    assert_eq!(metrics.bulk_seconds.get_sample_count(), 2);
    let store = server.store.lock().unwrap();
    // The template and policy from observability/elasticsearch/ were installed first.
    let template: Value =
        serde_json::from_str(wasml_collector::sink::elasticsearch::INDEX_TEMPLATE).unwrap();
    assert_eq!(store.templates["ml-pipeline"], template);
    assert!(store.policies.contains_key("ml-pipeline"));
    assert_eq!(
        store.indices["ml-pipeline-2026.11.26"].mappings["prediction"], "integer",
        "the daily index was created with the template's mappings"
    );
    assert_eq!(store.bulk_requests, 2);
    assert_eq!(
        store.gzip_bulk_requests, 2,
        "request bodies are gzip-compressed"
    );
    assert!(store.indices.contains_key("ml-pipeline-2026.11.26"));
}

#[test]
fn failed_items_are_retried_alone_and_rejected_ones_dead_lettered() {
    let (_runtime, server) = start_server();
    server.inject(
        Fault::FailItems {
            every: 2,
            status: 429,
        },
        1,
    );
    let dir = scratch("items");
    let metrics = CollectorMetrics::new();
    let mut sink = sink(&server, &dir, &metrics);
    // Item 1 breaks the mapping; items 2, 4 and 6 meet an injected 429.
    let batch: Vec<(u64, Vec<u8>)> = (0..6)
        .map(|i| {
            let prediction = if i == 0 { json!("yes") } else { json!(1) };
            (i as u64 + 1, event(i, json!({"prediction": prediction})))
        })
        .collect();
    sink.deliver(&batch).unwrap();
    assert_eq!(sorted_ids(&server), ["e1", "e2", "e3", "e4", "e5"]);
    assert_eq!(metrics.retried.get(), 3);
    assert_eq!(metrics.dead_lettered.get(), 1);
    assert_eq!(metrics.indexed.get(), 5);
    assert_eq!(
        server.store.lock().unwrap().bulk_requests,
        2,
        "one retry, of the failed items only"
    );
    let dead = std::fs::read_to_string(dir.join("dead-letter/dead-letter.ndjson")).unwrap();
    let line: Value = serde_json::from_str(dead.lines().next().unwrap()).unwrap();
    assert_eq!(line["status"], 400);
    assert!(
        line["reason"]
            .as_str()
            .unwrap()
            .contains("failed to parse field [prediction]")
    );
    assert!(line["document"].as_str().unwrap().contains("\"e0\""));
}

#[test]
fn outages_and_dropped_connections_lose_nothing_and_duplicate_nothing() {
    let (_runtime, server) = start_server();
    server.inject(Fault::Status(503), 3);
    server.inject(
        Fault::Drop {
            after_applying: true,
        },
        1,
    );
    server.inject(Fault::Status(429), 2);
    let dir = scratch("outage");
    let options = PipelineOptions {
        batch_events: 40,
        linger: Duration::from_millis(1),
        min_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(10),
        ..PipelineOptions::default()
    };
    let metrics = CollectorMetrics::new();
    let pipeline = Pipeline::start(
        dir.join("wal"),
        Box::new(sink(&server, &dir, &metrics)),
        options,
        metrics.clone(),
    )
    .unwrap();
    for chunk in 0..5 {
        pipeline
            .submit(
                (chunk * 20..chunk * 20 + 20)
                    .map(|i| event(i, json!({})))
                    .collect(),
            )
            .unwrap();
    }
    for _ in 0..1000 {
        if pipeline.wal_stats().pending_events == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(
        pipeline.wal_stats().pending_events,
        0,
        "everything delivered"
    );
    let mut expected: Vec<String> = (0..100).map(|i| format!("e{i}")).collect();
    expected.sort();
    assert_eq!(sorted_ids(&server), expected, "each event exactly once");
    assert!(metrics.delivery_failures.get() >= 6);
    assert_eq!(metrics.sink_up(), Some(1), "reachable again");
    assert!(
        server.store.lock().unwrap().faults.is_empty(),
        "every fault was met"
    );
}

#[test]
fn batches_are_split_into_bulk_requests_sent_several_at_a_time() {
    let (_runtime, server) = start_server();
    // Every bulk takes a while, so requests overlap if the sink sends them concurrently.
    server.inject(Fault::Delay(100), 10);
    let dir = scratch("in-flight");
    let metrics = CollectorMetrics::new();
    let config = ElasticsearchConfig {
        bulk_max_events: 10,
        bulk_max_in_flight: 3,
        ..config(&server, &dir)
    };
    let mut sink = ElasticsearchSink::new(config, metrics.clone()).unwrap();
    let batch: Vec<(u64, Vec<u8>)> = (0..100)
        .map(|i| (i as u64 + 1, event(i, json!({}))))
        .collect();
    sink.deliver(&batch).unwrap();
    assert_eq!(sorted_ids(&server).len(), 100);
    let store = server.store.lock().unwrap();
    assert_eq!(store.bulk_requests, 10, "100 events at 10 per request");
    assert_eq!(
        store.max_bulk_in_flight, 3,
        "three requests in flight, never more"
    );
}

#[test]
fn credentials_are_sent_and_refused_ones_fail_the_delivery() {
    let (_runtime, server) = start_server();
    server.store.lock().unwrap().required_authorization = Some("ApiKey c2VjcmV0OmtleQ==".into());
    let dir = scratch("auth");
    let batch = vec![(1, event(1, json!({})))];

    let mut anonymous = sink(&server, &dir, &CollectorMetrics::new());
    let error = anonymous.deliver(&batch).unwrap_err().to_string();
    assert!(error.contains("401"), "{error}");
    assert!(sorted_ids(&server).is_empty());

    let with_key = ElasticsearchConfig {
        credentials: Some(Credentials::EncodedApiKey("c2VjcmV0OmtleQ==".into())),
        ..config(&server, &dir)
    };
    ElasticsearchSink::new(with_key, CollectorMetrics::new())
        .unwrap()
        .deliver(&batch)
        .unwrap();
    assert_eq!(sorted_ids(&server), ["e1"]);

    server.store.lock().unwrap().required_authorization = None;
    let with_password = ElasticsearchConfig {
        credentials: Some(Credentials::Basic("elastic".into(), "changeme".into())),
        ..config(&server, &dir)
    };
    ElasticsearchSink::new(with_password, CollectorMetrics::new())
        .unwrap()
        .deliver(&batch)
        .unwrap();
    assert_eq!(
        server.store.lock().unwrap().last_authorization.as_deref(),
        Some("Basic ZWxhc3RpYzpjaGFuZ2VtZQ==")
    );
}

#[test]
fn unusable_configurations_are_refused_up_front_with_the_reason() {
    let dir = scratch("config");
    let refused = |bad: ElasticsearchConfig| {
        ElasticsearchSink::new(bad, CollectorMetrics::new())
            .err()
            .expect("refused")
            .to_string()
    };
    let error = refused(ElasticsearchConfig::new("localhost:9200", dir.path()));
    assert!(error.contains("bad Elasticsearch URL"), "{error}");
    let error = refused(ElasticsearchConfig::new("ftp://127.0.0.1:9200", dir.path()));
    assert!(error.contains("http or https"), "{error}");
    let error = refused(ElasticsearchConfig {
        ca_cert: Some(dir.join("missing.pem")),
        ..ElasticsearchConfig::new("https://127.0.0.1:9200", dir.path())
    });
    assert!(error.contains("missing.pem"), "{error}");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("garbage.pem"), "not a certificate").unwrap();
    let error = refused(ElasticsearchConfig {
        ca_cert: Some(dir.join("garbage.pem")),
        ..ElasticsearchConfig::new("https://127.0.0.1:9200", dir.path())
    });
    assert!(error.contains("garbage.pem"), "{error}");
}

/// A private CA and a certificate it signed for `127.0.0.1` (PEM files in `dir`): the
/// situation of a cluster with Elasticsearch's own generated CA.
fn private_ca(dir: &Path) -> (PathBuf, Vec<u8>, Vec<u8>) {
    let authority = Authority::new(dir, "wasml-test-ca");
    let server = authority.issue("server", Role::Server);
    (
        authority.cert().to_owned(),
        std::fs::read(&server.cert).unwrap(),
        std::fs::read(&server.key).unwrap(),
    )
}

#[test]
fn https_with_a_private_ca_given_by_file() {
    let dir = scratch("tls");
    let (ca, cert, key) = private_ca(&dir.join("pki"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime
        .block_on(EsTestServer::start_tls(&cert, &key))
        .unwrap();
    assert!(server.url().starts_with("https://"));
    let batch = vec![(1, event(1, json!({})))];

    let error = sink(&server, &dir, &CollectorMetrics::new())
        .deliver(&batch)
        .unwrap_err()
        .to_string();
    assert!(
        sorted_ids(&server).is_empty(),
        "an unknown CA is not trusted: {error}"
    );

    let trusting = ElasticsearchConfig {
        ca_cert: Some(ca),
        ..config(&server, &dir)
    };
    ElasticsearchSink::new(trusting, CollectorMetrics::new())
        .unwrap()
        .deliver(&batch)
        .unwrap();
    assert_eq!(sorted_ids(&server), ["e1"]);
}

#[test]
fn a_response_slower_than_the_timeout_is_retried_without_duplicates() {
    let (_runtime, server) = start_server();
    // The first bulk is applied, but only answered after the client gave up on it.
    server.inject(Fault::Delay(600), 1);
    let dir = scratch("slow");
    let metrics = CollectorMetrics::new();
    let config = ElasticsearchConfig {
        timeout: Duration::from_millis(200),
        ..config(&server, &dir)
    };
    let options = PipelineOptions {
        linger: Duration::from_millis(1),
        min_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(10),
        ..PipelineOptions::default()
    };
    let sink = ElasticsearchSink::new(config, metrics.clone()).unwrap();
    let pipeline =
        Pipeline::start(dir.join("wal"), Box::new(sink), options, metrics.clone()).unwrap();
    pipeline
        .submit((0..50).map(|i| event(i, json!({}))).collect())
        .unwrap();
    for _ in 0..1000 {
        if pipeline.wal_stats().pending_events == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(pipeline.wal_stats().pending_events, 0);
    assert!(
        metrics.delivery_failures.get() >= 1,
        "the slow answer timed out"
    );
    let mut expected: Vec<String> = (0..50).map(|i| format!("e{i}")).collect();
    expected.sort();
    assert_eq!(sorted_ids(&server), expected, "each event exactly once");
}
