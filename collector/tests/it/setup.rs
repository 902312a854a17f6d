//! Elasticsearch as people run it: OpenSearch and Elastic Serverless have no ILM, and a
//! least-privilege writer key may not install templates. Under the default
//! `--elasticsearch-setup auto` each still gets every event indexed exactly once, and the
//! setup state says what was installed; `require` ships nothing without setup and says
//! why; `skip` installs nothing.

use std::time::Duration;

use serde_json::json;
use wasml_collector::CollectorMetrics;
use wasml_collector::sink::Sink;
use wasml_collector::sink::elasticsearch::{ElasticsearchConfig, ElasticsearchSink, SetupMode};
use wasml_es_test_server::{EsTestServer, Flavor};
use wasml_test_support::ScratchDir;

use crate::elasticsearch::sorted_ids;

/// A server answering as `flavor` (or with a writer-only key), and a sink to it.
fn setup(
    name: &str,
    flavor: Flavor,
    writer_key_only: bool,
    mode: SetupMode,
) -> (
    tokio::runtime::Runtime,
    EsTestServer,
    ElasticsearchSink,
    CollectorMetrics,
    ScratchDir,
) {
    let (runtime, server) = EsTestServer::start_in_background(1).unwrap();
    server.set_flavor(flavor);
    if writer_key_only {
        server.restrict_to_writer_key();
    }
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), &format!("es-setup-{name}"));
    let metrics = CollectorMetrics::new();
    let config = ElasticsearchConfig {
        max_backoff: Duration::from_millis(20),
        setup: mode,
        ..ElasticsearchConfig::new(server.url(), dir.join("dead-letter"))
    };
    let sink = ElasticsearchSink::new(config, metrics.clone()).unwrap();
    (runtime, server, sink, metrics, dir)
}

fn batch(n: usize) -> Vec<(u64, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let doc = json!({"@timestamp": "2026-11-30T10:00:00.000Z", "event_id": format!("e{i}"),
                "level": "info", "message": format!("event {i}")});
            (i as u64 + 1, serde_json::to_vec(&doc).unwrap())
        })
        .collect()
}

fn expected_ids(n: usize) -> Vec<String> {
    let mut ids: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
    ids.sort();
    ids
}

/// The state each setup step is in (the one `wasml_collector_setup_state` series at 1).
fn states(metrics: &CollectorMetrics) -> Vec<(&'static str, &'static str)> {
    ["ilm_policy", "index_template"]
        .into_iter()
        .map(|step| {
            let state = ["installed", "unsupported", "forbidden", "skipped"]
                .into_iter()
                .find(|state| metrics.setup_state.with_label_values(&[step, state]).get() == 1)
                .unwrap_or("none");
            (step, state)
        })
        .collect()
}

#[test]
fn every_server_gets_every_event_once_whatever_setup_it_takes() {
    let cases = [
        ("elasticsearch", Flavor::Elasticsearch, false, "installed"),
        ("opensearch", Flavor::OpenSearch, false, "unsupported"),
        ("serverless", Flavor::Serverless, false, "unsupported"),
        ("writer-key", Flavor::Elasticsearch, true, "forbidden"),
    ];
    for (name, flavor, writer_key_only, state) in cases {
        let (_runtime, server, mut sink, metrics, _dir) =
            setup(name, flavor, writer_key_only, SetupMode::Auto);
        let events = batch(20);
        sink.deliver(&events).unwrap();
        // A redelivery (a lost acknowledgement) creates nothing twice.
        sink.deliver(&events).unwrap();
        assert_eq!(sorted_ids(&server), expected_ids(20), "{name}");
        assert_eq!(
            (metrics.indexed.get(), metrics.already_indexed.get()),
            (20, 20),
            "{name}"
        );
        assert_eq!(
            states(&metrics),
            [("ilm_policy", state), ("index_template", state)],
            "{name}"
        );
        let store = server.store.lock().unwrap();
        assert_eq!(
            (store.policies.len(), store.templates.len()),
            if state == "installed" { (1, 1) } else { (0, 0) },
            "{name}"
        );
    }
}

#[test]
fn require_ships_nothing_without_setup_and_names_the_refused_step() {
    let (_runtime, server, mut sink, _metrics, _dir) =
        setup("require", Flavor::OpenSearch, false, SetupMode::Require);
    let error = sink.deliver(&batch(5)).unwrap_err().to_string();
    assert!(error.contains("--elasticsearch-setup require"), "{error}");
    assert!(
        error.contains("PUT /_ilm/policy/ml-pipeline answered 400"),
        "{error}"
    );
    assert!(error.contains("no handler found"), "{error}");
    assert!(sorted_ids(&server).is_empty());
}

#[test]
fn skip_installs_nothing_and_ships() {
    let (_runtime, server, mut sink, metrics, _dir) =
        setup("skip", Flavor::Elasticsearch, false, SetupMode::Skip);
    sink.deliver(&batch(5)).unwrap();
    assert_eq!(sorted_ids(&server), expected_ids(5));
    assert_eq!(
        states(&metrics),
        [("ilm_policy", "skipped"), ("index_template", "skipped")]
    );
    let store = server.store.lock().unwrap();
    assert!(store.policies.is_empty() && store.templates.is_empty());
}
