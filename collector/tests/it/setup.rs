//! Elasticsearch as people run it, the compatibility matrix: Elasticsearch 8 (ILM),
//! OpenSearch 2 (ISM), Elastic Cloud Serverless (no ILM: the data stream lifecycle) and a
//! least-privilege writer key (403 on `GET /` and on setup), each with daily indices and
//! with a data stream. Under the default `--elasticsearch-setup auto` every one gets every
//! event indexed exactly once, the server's own setup installed where it has one, and a
//! setup state saying what happened; `require` ships nothing without setup and says
//! why; `skip` installs nothing.

use std::time::Duration;

use serde_json::json;
use wasml_collector::CollectorMetrics;
use wasml_collector::sink::Sink;
use wasml_collector::sink::elasticsearch::{
    ElasticsearchConfig, ElasticsearchSink, Namespace, SetupMode, SetupReport, SetupState, Target,
    TargetKind,
};
use wasml_es_test_server::{EsTestServer, Flavor};
use wasml_test_support::ScratchDir;

/// A server answering as `flavor` (or to a writer-only key), and a sink writing to
/// `target` on it.
struct Case {
    _runtime: tokio::runtime::Runtime,
    server: EsTestServer,
    sink: ElasticsearchSink,
    metrics: CollectorMetrics,
    _dir: ScratchDir,
}

impl Case {
    fn new(
        name: &str,
        flavor: Flavor,
        writer_key_only: bool,
        mode: SetupMode,
        target: TargetKind,
    ) -> Self {
        let (runtime, server) = EsTestServer::start_in_background(1).unwrap();
        server.set_flavor(flavor);
        if writer_key_only {
            server.restrict_to_writer_key();
        }
        let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), &format!("es-setup-{name}"));
        let metrics = CollectorMetrics::new();
        let sink = sink(&server, &dir, mode, target, &metrics);
        Self {
            _runtime: runtime,
            server,
            sink,
            metrics,
            _dir: dir,
        }
    }

    fn report(&self) -> SetupReport {
        self.sink.setup_status().report()
    }

    /// The `_id`s of every document in indices or data streams matching `pattern`.
    fn ids(&self, pattern: &str) -> Vec<String> {
        let mut ids: Vec<String> = self
            .server
            .documents(pattern)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        ids
    }
}

fn sink(
    server: &EsTestServer,
    dir: &ScratchDir,
    mode: SetupMode,
    target: TargetKind,
    metrics: &CollectorMetrics,
) -> ElasticsearchSink {
    let config = ElasticsearchConfig {
        max_backoff: Duration::from_millis(20),
        setup: mode,
        target: Target::new(target, &Namespace::default()),
        ..ElasticsearchConfig::new(server.url(), dir.join("dead-letter"))
    };
    ElasticsearchSink::new(config, metrics.clone()).unwrap()
}

fn batch(n: usize) -> Vec<(u64, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let doc = json!({"@timestamp": "2026-11-30T10:00:00.000Z", "event_id": format!("e{i}"),
                "level": "info", "message": format!("event {i}"), "fields": {"k": i}});
            (i as u64 + 1, serde_json::to_vec(&doc).unwrap())
        })
        .collect()
}

fn expected_ids(n: usize) -> Vec<String> {
    let mut ids: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
    ids.sort();
    ids
}

/// Each step's state, from `wasml_collector_setup_state` (the one series at 1).
fn metric_states(
    metrics: &CollectorMetrics,
    steps: &[&'static str],
) -> Vec<(&'static str, &'static str)> {
    steps
        .iter()
        .map(|&step| {
            let state = ["installed", "unsupported", "forbidden"]
                .into_iter()
                .find(|state| metrics.setup_state.with_label_values(&[step, state]).get() == 1)
                .unwrap_or("none");
            (step, state)
        })
        .collect()
}

/// The overall state, from `wasml_collector_setup_status`.
fn metric_status(metrics: &CollectorMetrics) -> Option<&'static str> {
    SetupState::ALL
        .into_iter()
        .map(SetupState::as_str)
        .find(|state| metrics.setup_status.with_label_values(&[state]).get() == 1)
}

/// A row of the matrix: name, flavor, writer key, target, expected steps, overall state.
type Row = (
    &'static str,
    Flavor,
    bool,
    TargetKind,
    &'static [(&'static str, &'static str)],
    &'static str,
);

#[test]
fn every_server_gets_every_event_once_with_the_setup_it_supports() {
    use TargetKind::{DataStream, Index};
    const INSTALLED: &str = "installed";
    let cases: [Row; 8] = [
        (
            "es",
            Flavor::Elasticsearch,
            false,
            Index,
            &[("ilm_policy", INSTALLED), ("index_template", INSTALLED)],
            "complete",
        ),
        (
            "es-ds",
            Flavor::Elasticsearch,
            false,
            DataStream,
            &[("ilm_policy", INSTALLED), ("index_template", INSTALLED)],
            "complete",
        ),
        (
            "opensearch",
            Flavor::OpenSearch,
            false,
            Index,
            &[("ism_policy", INSTALLED), ("index_template", INSTALLED)],
            "complete",
        ),
        (
            "opensearch-ds",
            Flavor::OpenSearch,
            false,
            DataStream,
            &[("ism_policy", INSTALLED), ("index_template", INSTALLED)],
            "complete",
        ),
        (
            "serverless",
            Flavor::Serverless,
            false,
            Index,
            &[("index_template", INSTALLED), ("retention", "unsupported")],
            "partial",
        ),
        (
            "serverless-ds",
            Flavor::Serverless,
            false,
            DataStream,
            &[("index_template", INSTALLED)],
            "complete",
        ),
        (
            "writer",
            Flavor::Elasticsearch,
            true,
            Index,
            &[("ilm_policy", "forbidden"), ("index_template", "forbidden")],
            "partial",
        ),
        (
            "writer-ds",
            Flavor::Elasticsearch,
            true,
            DataStream,
            &[("ilm_policy", "forbidden"), ("index_template", "forbidden")],
            "partial",
        ),
    ];
    for (name, flavor, writer_key_only, target, steps, state) in cases {
        let mut case = Case::new(name, flavor, writer_key_only, SetupMode::Auto, target);
        let events = batch(20);
        case.sink.deliver(&events).unwrap();
        // A redelivery (a lost acknowledgement) creates nothing twice.
        case.sink.deliver(&events).unwrap();
        let (written, elsewhere) = match target {
            Index => ("ml-pipeline-*", "logs-*"),
            DataStream => ("logs-ml_pipeline-default", "ml-pipeline-*"),
        };
        assert_eq!(case.ids(written), expected_ids(20), "{name}");
        assert!(case.ids(elsewhere).is_empty(), "{name}");
        assert_eq!(
            (
                case.metrics.indexed.get(),
                case.metrics.already_indexed.get()
            ),
            (20, 20),
            "{name}"
        );
        assert_eq!(case.metrics.dead_lettered.get(), 0, "{name}");

        // The same state in the metrics and in the report /health shows.
        let step_names: Vec<&'static str> = steps.iter().map(|(step, _)| *step).collect();
        assert_eq!(metric_states(&case.metrics, &step_names), steps, "{name}");
        assert_eq!(metric_status(&case.metrics), Some(state), "{name}");
        let report = case.report();
        assert_eq!(report.state.as_str(), state, "{name}");
        let reported: Vec<(&str, &str)> = report.steps.iter().map(|s| (s.step, s.state)).collect();
        assert_eq!(reported, steps, "{name}");
        for step in &report.steps {
            assert_eq!(
                step.reason.is_some(),
                step.state != INSTALLED,
                "{name}: {step:?}"
            );
        }
        let server = report.server.unwrap();
        assert_eq!(server.version.is_some(), !writer_key_only, "{name}");
        assert_eq!(report.retention.is_some(), state == "complete", "{name}");

        // What the server holds: a data stream where one was asked for, and the policy and
        // template of its kind.
        let store = case.server.store.lock().unwrap();
        if target == DataStream {
            assert!(
                store.indices["logs-ml_pipeline-default"].data_stream,
                "{name}"
            );
        }
        let held = (
            store.policies.len(),
            store.ism_policies.len(),
            store.templates.len(),
        );
        let expected = match (flavor, writer_key_only) {
            (_, true) => (0, 0, 0),
            (Flavor::Elasticsearch, false) => (1, 0, 1),
            (Flavor::OpenSearch, false) => (0, 1, 1),
            (Flavor::Serverless, false) => (0, 0, 1),
        };
        assert_eq!(held, expected, "{name}");
    }
}

#[test]
fn the_explicit_mappings_reach_each_server_in_its_own_terms() {
    let case = Case::new(
        "mappings-os",
        Flavor::OpenSearch,
        false,
        SetupMode::Auto,
        TargetKind::Index,
    );
    let mut case = case;
    case.sink.deliver(&batch(3)).unwrap();
    let store = case.server.store.lock().unwrap();
    let index = &store.indices["ml-pipeline-2026.11.30"];
    assert_eq!(index.mappings["fields"], "flat_object");
    assert_eq!(index.mappings["prediction"], "integer");
    let policy = &store.ism_policies["ml-pipeline"]["policy"];
    assert_eq!(
        policy["ism_template"][0]["index_patterns"],
        json!(["ml-pipeline-*"])
    );
    drop(store);

    let mut serverless = Case::new(
        "mappings-sl",
        Flavor::Serverless,
        false,
        SetupMode::Auto,
        TargetKind::DataStream,
    );
    serverless.sink.deliver(&batch(3)).unwrap();
    let store = serverless.server.store.lock().unwrap();
    let template = &store.templates["logs-ml_pipeline-default"];
    assert_eq!(template["template"]["lifecycle"]["data_retention"], "30d");
    assert_eq!(
        store.indices["logs-ml_pipeline-default"].mappings["fields"],
        "flattened"
    );
}

#[test]
fn setup_repeats_harmlessly_when_the_collector_restarts() {
    let mut first = Case::new(
        "restart-os",
        Flavor::OpenSearch,
        false,
        SetupMode::Auto,
        TargetKind::Index,
    );
    first.sink.deliver(&batch(5)).unwrap();
    // A second collector on the same server: ISM answers 409 for the existing policy.
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "es-setup-restart-os-2");
    let metrics = CollectorMetrics::new();
    let mut second = sink(
        &first.server,
        &dir,
        SetupMode::Require,
        TargetKind::Index,
        &metrics,
    );
    second.deliver(&batch(5)).unwrap();
    assert_eq!(second.setup_status().report().state, SetupState::Complete);
    assert_eq!(first.ids("ml-pipeline-*"), expected_ids(5));
}

#[test]
fn require_ships_nothing_without_setup_and_names_the_refused_step() {
    let mut writer = Case::new(
        "require-writer",
        Flavor::Elasticsearch,
        true,
        SetupMode::Require,
        TargetKind::Index,
    );
    let error = writer.sink.deliver(&batch(5)).unwrap_err().to_string();
    assert!(error.contains("--elasticsearch-setup require"), "{error}");
    assert!(
        error.contains("ilm_policy: PUT /_ilm/policy/ml-pipeline answered 403"),
        "{error}"
    );
    assert!(error.contains("cluster:admin/ilm/put"), "{error}");
    assert!(writer.ids("*").is_empty());
    assert_eq!(writer.report().state, SetupState::Blocked);
    assert_eq!(metric_status(&writer.metrics), Some("blocked"));

    let mut serverless = Case::new(
        "require-sl",
        Flavor::Serverless,
        false,
        SetupMode::Require,
        TargetKind::Index,
    );
    let error = serverless.sink.deliver(&batch(5)).unwrap_err().to_string();
    assert!(
        error.contains("retention: Elastic Cloud Serverless has no ILM"),
        "{error}"
    );
    assert!(
        error.contains("--elasticsearch-target data-stream"),
        "{error}"
    );
    assert!(serverless.ids("*").is_empty());
}

#[test]
fn skip_installs_nothing_and_ships() {
    let mut case = Case::new(
        "skip",
        Flavor::Elasticsearch,
        false,
        SetupMode::Skip,
        TargetKind::Index,
    );
    case.sink.deliver(&batch(5)).unwrap();
    assert_eq!(case.ids("ml-pipeline-*"), expected_ids(5));
    assert_eq!(metric_status(&case.metrics), Some("skipped"));
    let report = case.report();
    assert_eq!((report.state, report.server), (SetupState::Skipped, None));
    let store = case.server.store.lock().unwrap();
    assert!(store.policies.is_empty() && store.templates.is_empty());
}

#[test]
fn the_setup_is_pending_until_the_first_delivery() {
    let case = Case::new(
        "pending",
        Flavor::Elasticsearch,
        false,
        SetupMode::Auto,
        TargetKind::DataStream,
    );
    let report = case.report();
    assert_eq!(report.state, SetupState::Pending);
    assert_eq!(report.target, "data stream logs-ml_pipeline-default");
    assert_eq!(metric_status(&case.metrics), Some("pending"));
}

#[test]
fn a_proxy_that_hides_get_root_does_not_stop_delivery() {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use wasml_collector::sink::elasticsearch::detect::ServerKind;
    use wasml_es_test_server::{Shared, app};

    // A proxy answering `/` itself (404, or a 200 page) in front of the cluster.
    for (name, status) in [
        ("proxy-404", StatusCode::NOT_FOUND),
        ("proxy-page", StatusCode::OK),
    ] {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let store = Shared::default();
        let router = app(store.clone()).layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| async move {
                if request.uri().path() == "/" {
                    return (status, "<html>welcome</html>").into_response();
                }
                next.run(request).await
            },
        ));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        runtime.spawn(async move { axum::serve(listener, router).await });

        let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), &format!("es-setup-{name}"));
        let metrics = CollectorMetrics::new();
        let config = ElasticsearchConfig {
            max_backoff: Duration::from_millis(20),
            ..ElasticsearchConfig::new(url, dir.join("dead-letter"))
        };
        let mut sink = ElasticsearchSink::new(config, metrics.clone()).unwrap();
        sink.deliver(&batch(4)).unwrap();
        let report = sink.setup_status().report();
        let server = report.server.unwrap();
        assert_eq!(server.kind, ServerKind::Unknown, "{name}");
        assert_eq!(
            report.state,
            SetupState::Complete,
            "{name}: Elasticsearch's steps"
        );
        let store = store.lock().unwrap();
        assert_eq!(
            store.indices["ml-pipeline-2026.11.30"].docs.len(),
            4,
            "{name}"
        );
    }
}
