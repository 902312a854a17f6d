//! The ingest routes without a socket (`ingest::app(state)` driven through `tower`):
//! acknowledgement only after persistence, a precise error for each kind of bad request
//! with nothing of it persisted, the bearer token when one is required, the in-flight
//! bound, `/health` and `/metrics`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use wasml_collector::ingest::{self, IngestLimits, IngestState};
use wasml_collector::secret::BearerToken;
use wasml_collector::sink::file::FileSink;
use wasml_collector::{CollectorMetrics, Pipeline, PipelineOptions};

struct Collector {
    router: axum::Router,
    pipeline: Arc<Pipeline>,
    files: PathBuf,
}

fn collector(name: &str, limits: IngestLimits) -> Collector {
    collector_with(name, limits, |state| state)
}

/// A collector whose ingest state `configure` finishes (a token, say).
fn collector_with(
    name: &str,
    limits: IngestLimits,
    configure: impl FnOnce(IngestState) -> IngestState,
) -> Collector {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("ingest-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let files = dir.join("events");
    let metrics = CollectorMetrics::new();
    let options = PipelineOptions {
        linger: Duration::from_millis(1),
        ..PipelineOptions::default()
    };
    let sink = FileSink::open(&files, 0).unwrap();
    let pipeline = Arc::new(
        Pipeline::start(dir.join("wal"), Box::new(sink), options, metrics.clone()).unwrap(),
    );
    let registry = prometheus::Registry::new();
    metrics.register(&registry).unwrap();
    registry.register(Box::new(pipeline.gauges())).unwrap();
    let state = configure(IngestState::new(
        Arc::clone(&pipeline),
        registry,
        limits,
        "files",
    ));
    Collector {
        router: ingest::app(state),
        pipeline,
        files,
    }
}

async fn post(router: &axum::Router, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let request = Request::post("/v1/events")
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    read_answer(router.clone().oneshot(request).await.unwrap()).await
}

async fn get(router: &axum::Router, path: &str) -> (StatusCode, String) {
    let request = Request::get(path).body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

async fn read_answer(response: axum::response::Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn ndjson(ids: std::ops::Range<usize>) -> Vec<u8> {
    ids.map(|i| format!("{{\"@timestamp\":\"2026-11-26T10:00:00Z\",\"event_id\":\"e{i}\"}}\n"))
        .collect::<String>()
        .into_bytes()
}

#[tokio::test]
async fn events_are_acknowledged_once_persisted_and_then_delivered() {
    let c = collector("ok", IngestLimits::default());
    let (status, body) = post(&c.router, "application/x-ndjson", ndjson(0..250)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["acknowledged"], 250);
    assert_eq!(body["first_seq"], 1);
    assert_eq!(body["last_seq"], 250);
    assert_eq!(
        c.pipeline.metrics().persisted.get(),
        250,
        "fsync'd before the answer"
    );
    assert_eq!(c.pipeline.metrics().received.get(), 250);
    for _ in 0..500 {
        if c.pipeline.status().pending_events == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let written = std::fs::read_to_string(c.files.join("ml-pipeline-2026.11.26.ndjson")).unwrap();
    assert_eq!(written.lines().count(), 250);
}

#[tokio::test]
async fn bad_requests_are_refused_whole_with_the_cause_and_nothing_persisted() {
    let c = collector(
        "bad",
        IngestLimits {
            max_body_bytes: 4096,
            max_in_flight: 4,
        },
    );
    let mut body = ndjson(0..3);
    body.extend_from_slice(b"{\"event_id\": \"broken\"\n");
    let (status, answer) = post(&c.router, "application/x-ndjson", body).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["code"], "malformed");
    assert_eq!(answer["error"]["line"], 4);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 4: not valid JSON")
    );

    let (status, answer) = post(&c.router, "application/x-ndjson", b"[1,2]\n".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer["error"]["message"],
        "line 1: each line must be a JSON object"
    );

    let (status, answer) = post(&c.router, "application/x-ndjson", b"\n\n".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"]["code"], "empty");

    let (status, answer) = post(&c.router, "text/csv", ndjson(0..1)).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("text/csv")
    );

    let (status, answer) = post(&c.router, "application/x-ndjson", ndjson(0..100)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        answer["error"]["message"],
        "the body is larger than 4096 bytes"
    );

    // A streamed body (no Content-Length) over the limit is cut off too.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..100).map(|i| Ok(ndjson(i..i + 1))).collect();
    let request = Request::post("/v1/events")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let (status, _) = read_answer(c.router.clone().oneshot(request).await.unwrap()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    assert_eq!(
        c.pipeline.metrics().persisted.get(),
        0,
        "nothing of a refused request is kept"
    );
    let (_, metrics) = get(&c.router, "/metrics").await;
    for reason in ["malformed", "empty", "unsupported_media_type", "too_large"] {
        assert!(
            metrics.contains(&format!(
                "wasml_collector_ingest_rejected_total{{reason=\"{reason}\"}}"
            )),
            "{reason} counted"
        );
    }
}

#[tokio::test]
async fn with_an_ingest_token_only_its_bearer_is_heard_and_refusals_keep_nothing() {
    let c = collector_with("token", IngestLimits::default(), |state| {
        state.with_token(BearerToken::new("ingest-s3cret"))
    });
    let send = |authorization: Option<&'static str>| {
        let mut request =
            Request::post("/v1/events").header(header::CONTENT_TYPE, "application/x-ndjson");
        if let Some(value) = authorization {
            request = request.header(header::AUTHORIZATION, value);
        }
        let request = request.body(Body::from(ndjson(0..5))).unwrap();
        let router = c.router.clone();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let challenge = response.headers().get(header::WWW_AUTHENTICATE).cloned();
            let (status, body) = read_answer(response).await;
            (status, body, challenge)
        }
    };
    let (status, body, challenge) = send(None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(challenge.unwrap(), "Bearer");
    let (status, body, _) = send(Some("Bearer not-the-token")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "forbidden");
    assert!(!body.to_string().contains("not-the-token"), "{body}");
    let (status, _, _) = send(Some("Basic aW5nZXN0LXMzY3JldA==")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        c.pipeline.metrics().persisted.get(),
        0,
        "refused: nothing in the WAL"
    );
    assert_eq!(
        std::fs::read_dir(&c.files).map(|d| d.count()).unwrap_or(0),
        0
    );

    let (status, body, _) = send(Some("Bearer ingest-s3cret")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["acknowledged"], 5);
    let (_, metrics) = get(&c.router, "/metrics").await;
    for (reason, count) in [("unauthenticated", 2), ("forbidden", 1)] {
        assert!(
            metrics.contains(&format!(
                "wasml_collector_ingest_rejected_total{{reason=\"{reason}\"}} {count}"
            )),
            "{reason}: {metrics}"
        );
    }
    // Health and metrics stay open to probes and scrapers.
    assert_eq!(get(&c.router, "/health").await.0, StatusCode::OK);
}

#[tokio::test]
async fn requests_beyond_the_in_flight_bound_get_503_with_retry_after() {
    let c = collector(
        "busy",
        IngestLimits {
            max_body_bytes: 1 << 20,
            max_in_flight: 1,
        },
    );
    // A request whose body never finishes holds the only slot.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    tx.send(Ok(ndjson(0..1))).await.unwrap();
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let slow = Request::post("/v1/events")
        .body(Body::from_stream(stream))
        .unwrap();
    let held = tokio::spawn(c.router.clone().oneshot(slow));
    tokio::time::sleep(Duration::from_millis(50)).await;

    let request = Request::post("/v1/events")
        .body(Body::from(ndjson(1..2)))
        .unwrap();
    let response = c.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    assert_eq!(read_answer(response).await.1["error"]["code"], "overloaded");

    drop(tx);
    let (status, _) = read_answer(held.await.unwrap().unwrap()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the slow request completes once its body ends"
    );
    let (status, _) = post(&c.router, "application/x-ndjson", ndjson(2..3)).await;
    assert_eq!(status, StatusCode::OK, "and the slot is free again");
}

#[tokio::test]
async fn health_and_metrics_report_the_pipeline() {
    let c = collector("health", IngestLimits::default());
    post(&c.router, "application/x-ndjson", ndjson(0..10)).await;
    let (status, health) = get(&c.router, "/health").await;
    assert_eq!(status, StatusCode::OK);
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["sink"], "files");
    assert_eq!(health["sink_reachable"], true);
    assert!(health["pending_events"].is_u64());
    // The shipper delivers behind the acknowledgement; `sink_up` appears with its first try.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while c.pipeline.metrics().sink_up().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the sink was never tried"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (_, metrics) = get(&c.router, "/metrics").await;
    for name in [
        "wasml_collector_events_received_total 10",
        "wasml_collector_events_persisted_total 10",
        "wasml_collector_events_delivered_total",
        "wasml_collector_events_indexed_total",
        "wasml_collector_events_retried_total",
        "wasml_collector_events_dead_lettered_total",
        "wasml_collector_wal_events",
        "wasml_collector_wal_bytes",
        "wasml_collector_oldest_unshipped_seconds",
        "wasml_collector_bulk_request_seconds_bucket",
        "wasml_collector_sink_up 1",
    ] {
        assert!(metrics.contains(name), "{name} in /metrics");
    }
}
