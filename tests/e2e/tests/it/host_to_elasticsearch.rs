//! `/predict` traffic to the host, its events found as documents in the Elasticsearch-API
//! test server: through a collector process (`--collector-url`), surviving the
//! collector's absence without slowing predictions, and through the host's embedded
//! collector (`--elasticsearch-url`); and both against each server the test server
//! answers as (Elasticsearch, OpenSearch, Serverless, a writer-only key), into daily
//! indices or a data stream, with the setup's state in `/health` and `/metrics`.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasml_e2e::{ScratchDir, eventually, http, start_collector, start_es, start_host};
use wasml_es_test_server::{EsTestServer, Flavor};

const ROW: &str = r#"{"age": 41, "job": "technician", "marital": "married", "education": "tertiary", "housing": "no", "loan": "no", "duration": 620, "campaign": 1}"#;

/// Sends `n` predictions; returns their request IDs.
fn predict(host: SocketAddr, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let (status, body) = http::json(host, "POST", "/predict", ROW).unwrap();
            assert_eq!(status, 200, "{body}");
            body["request_id"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// The request event indexed for `request_id`, found through `_search`.
fn indexed_request(es: &EsTestServer, request_id: &str) -> Option<Value> {
    let query = json!({"query": {"bool": {"must": [
        {"term": {"request_id": request_id}},
        {"term": {"endpoint": "/predict"}}
    ]}}});
    let (_, answer) = http::json(
        es.address,
        "POST",
        "/ml-pipeline-*/_search",
        &query.to_string(),
    )
    .ok()?;
    answer["hits"]["hits"]
        .as_array()?
        .first()
        .map(|hit| hit["_source"].clone())
}

fn all_indexed(es: &EsTestServer, ids: &[String]) -> bool {
    ids.iter().all(|id| indexed_request(es, id).is_some())
}

fn metric(host: SocketAddr, name: &str) -> f64 {
    let response = http::request(host, "GET", "/metrics", "text/plain", b"").unwrap();
    response
        .body
        .lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[test]
fn predictions_reach_elasticsearch_through_a_collector_process_even_after_it_was_down() {
    let (_runtime, es) = start_es();
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "e2e-remote");
    let collector_address = free_port().to_string();
    let collector_args = ["--listen", collector_address.as_str()];
    let mut collector = start_collector(&dir.join("collector"), Some(&es.url()), &collector_args);
    let url = format!("http://{collector_address}");
    let host = start_host(&dir.join("host"), &["--collector-url", &url]);

    let ids = predict(host.address, 20);
    assert!(
        eventually(Duration::from_secs(30), || all_indexed(&es, &ids)),
        "every request's event is indexed"
    );
    let document = indexed_request(&es, &ids[0]).unwrap();
    assert_eq!(document["status"], 200);
    assert_eq!(document["model"], "bank-marketing");
    assert!(document["prediction"].is_i64(), "{document}");
    assert!(document["confidence"].is_f64(), "{document}");
    assert!(document["event_id"].is_string());

    // The collector goes away: predictions still answer at once, events wait.
    collector.kill9();
    let started = Instant::now();
    let while_down = predict(host.address, 10);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "predictions never wait for the collector"
    );
    assert!(
        eventually(Duration::from_secs(10), || {
            metric(host.address, "wasml_events_send_retries_total") > 0.0
        }),
        "the host retries"
    );
    assert!(!all_indexed(&es, &while_down));

    // Back on the same address: the held events arrive, nothing was dropped.
    let _collector = start_collector(&dir.join("collector"), Some(&es.url()), &collector_args);
    assert!(
        eventually(Duration::from_secs(30), || all_indexed(&es, &while_down)),
        "events held while the collector was down are indexed once it is back"
    );
    assert_eq!(metric(host.address, "wasml_events_dropped_total"), 0.0);
    let requests = es
        .documents("ml-pipeline-*")
        .into_iter()
        .filter(|(_, d)| d["endpoint"] == "/predict")
        .count();
    assert_eq!(requests, 30, "each request's event exactly once");
}

#[test]
fn the_embedded_collector_delivers_to_elasticsearch() {
    let (_runtime, es) = start_es();
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "e2e-embedded");
    let host = start_host(&dir, &["--elasticsearch-url", &es.url()]);
    let ids = predict(host.address, 10);
    assert!(eventually(Duration::from_secs(30), || all_indexed(
        &es, &ids
    )));
    assert!(
        eventually(Duration::from_secs(10), || {
            metric(host.address, "wasml_collector_events_indexed_total") >= 10.0
        }),
        "the embedded collector's metrics are on the host's /metrics"
    );
    assert_eq!(metric(host.address, "wasml_collector_sink_up"), 1.0);
    assert!(
        es.store
            .lock()
            .unwrap()
            .templates
            .contains_key("ml-pipeline"),
        "the index template was installed"
    );
}

/// How events reach Elasticsearch in a case of the matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Path {
    /// The host's embedded collector.
    Embedded,
    /// A collector process, the host sending to it.
    CollectorProcess,
}

#[test]
fn each_server_mode_indexes_every_event_once_and_health_says_what_setup_did() {
    use Path::{CollectorProcess, Embedded};
    let cases = [
        (
            "es",
            Flavor::Elasticsearch,
            false,
            "index",
            Embedded,
            "complete",
        ),
        (
            "opensearch-ds",
            Flavor::OpenSearch,
            false,
            "data-stream",
            Embedded,
            "complete",
        ),
        (
            "serverless",
            Flavor::Serverless,
            false,
            "index",
            Embedded,
            "partial",
        ),
        (
            "serverless-ds",
            Flavor::Serverless,
            false,
            "data-stream",
            CollectorProcess,
            "complete",
        ),
        (
            "writer-ds",
            Flavor::Elasticsearch,
            true,
            "data-stream",
            CollectorProcess,
            "partial",
        ),
    ];
    for (name, flavor, writer_key_only, target, path, state) in cases {
        let (_runtime, es) = start_es();
        es.set_flavor(flavor);
        if writer_key_only {
            es.restrict_to_writer_key();
        }
        let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), &format!("e2e-flavor-{name}"));
        let url = es.url();
        let es_args = [
            "--elasticsearch-url",
            url.as_str(),
            "--elasticsearch-target",
            target,
        ];
        let (host, collector) = match path {
            Embedded => (start_host(&dir, &es_args), None),
            CollectorProcess => {
                let collector = start_collector(&dir.join("collector"), None, &es_args);
                let collector_url = format!("http://{}", collector.address);
                let host = start_host(&dir.join("host"), &["--collector-url", &collector_url]);
                (host, Some(collector))
            }
        };
        let pattern = if target == "index" {
            "ml-pipeline-*"
        } else {
            "logs-ml_pipeline-default"
        };
        let ids = predict(host.address, 10);
        let requests = || {
            es.documents(pattern)
                .into_iter()
                .filter(|(_, d)| d["endpoint"] == "/predict")
                .map(|(_, d)| d["request_id"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        };
        assert!(
            eventually(Duration::from_secs(30), || requests().len() >= ids.len()),
            "{name}: every request's event is indexed in {pattern}"
        );
        let mut indexed = requests();
        indexed.sort();
        let mut sent = ids.clone();
        sent.sort();
        assert_eq!(indexed, sent, "{name}: each request's event exactly once");

        // The setup's state, where the sink runs: the host's /health (`events`) or the
        // collector's.
        let sink = collector.as_ref().map_or(host.address, |c| c.address);
        let (status, health) = http::json(sink, "GET", "/health", "").unwrap();
        assert_eq!(status, 200, "{name}: {health}");
        let setup = match path {
            Embedded => health["events"]["elasticsearch_setup"].clone(),
            CollectorProcess => health["elasticsearch_setup"].clone(),
        };
        assert_eq!(setup["state"], state, "{name}: {health}");
        assert_eq!(setup["mode"], "auto", "{name}");
        let kind = if writer_key_only {
            "unknown"
        } else {
            match flavor {
                Flavor::Elasticsearch => "elasticsearch",
                Flavor::OpenSearch => "opensearch",
                Flavor::Serverless => "serverless",
            }
        };
        assert_eq!(setup["server"]["kind"], kind, "{name}: {setup}");
        let series = format!("wasml_collector_setup_status{{state=\"{state}\"}}");
        assert_eq!(metric(sink, &series), 1.0, "{name}");
    }
}
