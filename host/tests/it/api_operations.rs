//! `/health`, `/status`, `/openapi.json`, unknown routes and methods, and the event
//! stream every request feeds.

use crate::serving;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::Request;
use serde_json::Value;
use serving::{Options, SEED_ROW, TestHost, event_of};
use wasml_runtime::digest::sha256_hex;

#[tokio::test]
async fn health_is_200_when_every_model_answers() {
    let host = TestHost::start(Options::default());
    let reply = host.get("/health").await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["models"][0]["name"], "bank-marketing");
    assert_eq!(body["models"][0]["ready"], true);
    // Where events go: the embedded collector into files (no Elasticsearch setup).
    let events = &body["events"];
    assert_eq!(events["sink"], "files");
    assert!(events["pending_events"].is_u64(), "{events}");
    assert!(events.get("elasticsearch_setup").is_none(), "{events}");
}

#[tokio::test]
async fn status_describes_the_build_the_models_and_their_traffic() {
    let host = TestHost::start(Options::default());
    let model = host.state.serving.models.default_model().unwrap();
    host.post_json("/predict", SEED_ROW).await;
    host.post_json("/predict", "{}").await;
    let first = host.get("/status").await.json();
    assert_eq!(first["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(first["default_model"], "bank-marketing");
    let status = &first["models"][0];
    let wasm = std::fs::read(wasml_test_support::bundled_component(
        "bank-marketing",
        "v2",
    ))
    .unwrap();
    assert_eq!(status["component_sha256"], sha256_hex(&wasm));
    assert_eq!(
        status["source"],
        wasml_test_support::bundled_component("bank-marketing", "v2")
    );
    assert_eq!(status["onnx_sha256"], model.info.onnx_sha256.as_str());
    assert_eq!(status["version"], "2.0.0");
    assert_eq!(status["model_type"], "gradient-boosted-trees");
    let evaluation = model.info.evaluation.as_ref().unwrap();
    assert_eq!(
        status["evaluation"]["accuracy"],
        evaluation.accuracy.unwrap()
    );
    assert_eq!(status["evaluation"]["test_rows"], evaluation.test_rows);
    assert_eq!(status["task"], "classification");
    assert_eq!(status["instances"]["size"], 2);
    assert_eq!(status["requests"]["succeeded"], 1);
    assert_eq!(status["requests"]["failed"], 1);
    assert!(status["loaded_at"].as_str().unwrap().starts_with("20"));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let later = host.get("/status").await.json();
    assert!(later["uptime_seconds"].as_f64() > first["uptime_seconds"].as_f64());
}

#[tokio::test]
async fn the_openapi_document_covers_every_route_and_the_models_schema() {
    let host = TestHost::start(Options::default());
    let doc = host.get("/openapi.json").await.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths: BTreeSet<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    let routes = BTreeSet::from([
        "/predict",
        "/models/{name}/predict",
        "/feedback",
        "/health",
        "/status",
        "/metrics",
        "/openapi.json",
        "/v2",
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/{name}",
        "/v2/models/{name}/ready",
        "/v2/models/{name}/versions/{version}",
        "/v2/models/{name}/versions/{version}/ready",
        "/v2/models/{name}/infer",
        "/v2/models/{name}/versions/{version}/infer",
    ]);
    assert_eq!(paths, routes);
    // Every `{name}` parameter lists the served models.
    let infer = &doc["paths"]["/v2/models/{name}/infer"]["post"]["parameters"][0];
    assert_eq!(
        infer["schema"]["enum"],
        serde_json::json!(["bank-marketing"])
    );
    // Every documented route answers something other than 404/405.
    for route in &routes {
        let uri = route
            .replace("{name}", "bank-marketing")
            .replace("{version}", "2.0.0");
        let method = doc["paths"][route]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .to_uppercase();
        let request = Request::builder()
            .method(method.as_str())
            .uri(&uri)
            .header("content-type", "application/json")
            .body(Body::from(SEED_ROW))
            .unwrap();
        let status = host.call(request).await.status;
        assert!(status != 404 && status != 405, "{method} {uri}: {status}");
    }
    // The row schema is the model's: its fields, ranges and categories.
    let row = &doc["components"]["schemas"]["Features"];
    let model = host.state.serving.models.default_model().unwrap();
    let info = &model.info;
    let required: BTreeSet<&str> = row["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let inputs: BTreeSet<&str> = info.inputs.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(required, inputs);
    assert_eq!(row["additionalProperties"], false);
    assert_eq!(row["properties"]["age"]["type"], "integer");
    assert!(
        row["properties"]["job"]["enum"]
            .as_array()
            .unwrap()
            .contains(&Value::from("admin."))
    );
    // The documented example is accepted by the model.
    let example = row["example"].to_string();
    assert_eq!(host.post_json("/predict", &example).await.status, 200);
    // Error responses are documented with their body.
    let responses = &doc["paths"]["/predict"]["post"]["responses"];
    for status in ["200", "400", "413", "415", "422", "500", "503", "504"] {
        assert!(responses[status].is_object(), "/predict documents {status}");
    }
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_in_json() {
    let host = TestHost::start(Options::default());
    let missing = host.get("/nope").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "not_found");
    let wrong = host.get("/predict").await;
    assert_eq!(wrong.status, 405);
    let error = &wrong.json()["error"];
    assert_eq!(error["code"], "method_not_allowed");
    assert!(
        error["message"].as_str().unwrap().contains("GET"),
        "{error}"
    );
}

/// W3C Trace Context: a request inside the caller's trace has its events in that trace,
/// as a span of its own whose parent is the caller's; one without a valid `traceparent`
/// starts a trace. The ECS duration is the seed's in nanoseconds, and the host names
/// its machine.
#[tokio::test]
async fn events_carry_the_callers_trace_and_ecs_fields() {
    let host = TestHost::start(Options::default());
    let traced = Request::post("/predict")
        .header("content-type", "application/json")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(Body::from(SEED_ROW))
        .unwrap();
    let traced = host.call(traced).await.request_id().to_owned();
    let broken = Request::get("/health")
        .header("traceparent", "00-not-a-trace-01")
        .body(Body::empty())
        .unwrap();
    let broken = host.call(broken).await.request_id().to_owned();
    let events = host.finish_events().await;
    let traced = event_of(&events, &traced);
    assert_eq!(
        traced.trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    let span = traced.span_id.as_deref().unwrap();
    assert_eq!(span.len(), 16);
    assert_ne!(
        span, "00f067aa0ba902b7",
        "a span of its own, not the caller's"
    );
    assert_eq!(traced.ecs_version, "8.11.0");
    // The machine, as the kernel names it.
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(traced.host_name.as_deref(), Some(hostname.trim()));
    let (seconds, nanos) = (traced.duration.unwrap(), traced.event_duration_ns.unwrap());
    assert_eq!(nanos, (seconds * 1e9).round() as u64);
    let broken = event_of(&events, &broken);
    let trace = broken.trace_id.as_deref().unwrap();
    assert_eq!(trace.len(), 32);
    assert_ne!(trace, "4bf92f3577b34da6a3ce929d0e0e4736");
}

#[tokio::test]
async fn every_request_yields_one_event_with_the_seed_fields() {
    let host = TestHost::start(Options::default());
    let ok = host.post_json("/predict", SEED_ROW).await;
    let bad = host.post_json("/predict", r#"{"age": 1}"#).await;
    let health = host.get("/health").await;
    let (ok_id, bad_id, health_id) = (
        ok.request_id().to_owned(),
        bad.request_id().to_owned(),
        health.request_id().to_owned(),
    );
    let ok_body = ok.json();
    let events = host.finish_events().await;
    let of = |id: &str| -> Vec<_> {
        events
            .iter()
            .filter(|e| e.service == "wasml-host" && e.request_id.as_deref() == Some(id))
            .collect()
    };
    let [served] = of(&ok_id)[..] else {
        panic!("one event for {ok_id}: {events:?}")
    };
    assert_eq!(served.level, "info");
    assert_eq!(served.message, "prediction served");
    assert_eq!(served.endpoint.as_deref(), Some("/predict"));
    assert_eq!(served.status, Some(200));
    assert_eq!(
        served.prediction,
        ok_body["prediction"].as_u64().map(|p| p as u32)
    );
    assert_eq!(served.confidence, ok_body["confidence"].as_f64());
    assert_eq!(served.model.as_deref(), Some("bank-marketing"));
    assert_eq!(served.model_version.as_deref(), Some("2.0.0"));
    assert_eq!(served.model_type.as_deref(), Some("gradient-boosted-trees"));
    assert!(served.duration.unwrap() > 0.0);
    assert!(served.feature_seconds.unwrap() > 0.0);
    // What the request cost: the guest ran (at least its own stages) in some memory.
    let guest_cpu = served.guest_cpu_seconds.unwrap();
    assert!(guest_cpu >= served.feature_seconds.unwrap(), "{served:?}");
    assert!(guest_cpu < served.duration.unwrap(), "{served:?}");
    assert!(served.guest_memory_bytes.unwrap() >= 1 << 16, "{served:?}");
    assert!(served.timestamp.ends_with('Z'));
    assert!(served.error.is_none());

    let [failed] = of(&bad_id)[..] else {
        panic!("one event for {bad_id}")
    };
    assert_eq!((failed.level.as_str(), failed.status), ("warn", Some(422)));
    assert!(failed.error.as_deref().unwrap().contains("invalid fields"));

    let [checked] = of(&health_id)[..] else {
        panic!("one event for {health_id}")
    };
    assert_eq!(checked.endpoint.as_deref(), Some("/health"));
    assert!(checked.model.is_none());
}

#[tokio::test]
async fn a_full_event_queue_drops_and_counts_instead_of_blocking() {
    use std::sync::Arc;

    use wasml_server::event_sink::{Event, EventWriter};
    use wasml_server::metrics::{DropReason, Metrics};

    let metrics = Arc::new(Metrics::new());
    let dir = serving::scratch_dir("full-queue");
    let (sender, writer) = EventWriter::start(dir.to_path_buf().into(), 1, &metrics).unwrap();
    let sent = 20_000;
    for i in 0..sent {
        sender.send(Event::now("info", "test", format!("event {i}")));
    }
    writer.finish().await;
    let counters = metrics.events();
    let written = counters.written_total();
    let dropped = counters.dropped_total(DropReason::BufferFull);
    assert!(dropped > 0, "a one-slot queue overflowed");
    assert_eq!(
        written + dropped,
        sent,
        "every event is either written or counted"
    );
    let lines = serving::read_events(&dir).len();
    assert_eq!(lines as u64, written);
    // After finishing, sending is refused and counted, never a panic or a wait.
    sender.send(Event::now("info", "test", "late"));
    assert_eq!(counters.dropped_total(DropReason::Closed), 1);
}
