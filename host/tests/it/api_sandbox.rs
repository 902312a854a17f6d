//! A hostile model served next to the real one: each way it misbehaves gets its own status
//! and metric, its instance is replaced, and every model keeps serving.

use crate::serving;

use std::time::Instant;

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt as _;

use serving::{Options, SEED_ROW, TestHost};
use wasml_runtime::host::MAX_EVENTS_PER_CALL;

fn hostile_options() -> Options {
    Options {
        with_hostile: true,
        ..Options::default()
    }
}

async fn hostile(host: &TestHost, mode: &str) -> serving::Reply {
    host.post_json(
        "/models/hostile/predict",
        &format!(r#"{{"mode": "{mode}"}}"#),
    )
    .await
}

async fn traps(host: &TestHost, kind: &str) -> f64 {
    host.metric(
        "wasml_wasm_traps_total",
        &[("model", "hostile"), ("kind", kind)],
    )
    .await
    .unwrap_or(0.0)
}

#[tokio::test]
async fn each_failure_is_contained_and_counted_and_serving_goes_on() {
    let host = TestHost::start(hostile_options());
    let deadline = Options::default().limits.deadline;
    let cases = [
        ("loop", 504, "deadline_exceeded", "deadline"),
        ("alloc", 500, "model_failed", "memory"),
        ("panic", 500, "model_failed", "trap"),
        ("recurse", 500, "model_failed", "trap"),
    ];
    for (i, (mode, status, code, kind)) in cases.into_iter().enumerate() {
        let before = traps(&host, kind).await;
        let started = Instant::now();
        let reply = hostile(&host, mode).await;
        assert_eq!(reply.status, status, "{mode}: {:?}", reply.body);
        assert_eq!(reply.json()["error"]["code"], code, "{mode}");
        if mode == "loop" {
            assert!(
                started.elapsed() >= deadline,
                "stopped at its deadline, not before"
            );
        }
        if mode == "alloc" {
            let message = reply.json()["error"]["message"]
                .as_str()
                .unwrap()
                .to_owned();
            assert!(message.contains("memory limit"), "{message}");
        }
        assert_eq!(traps(&host, kind).await, before + 1.0, "{mode}");
        let replaced =
            host.get("/status").await.json()["models"][1]["instances"]["replaced"].clone();
        assert_eq!(replaced, i + 1, "{mode}: the trapped instance was replaced");
        // The same model answers again from a fresh instance, and so does the real one.
        assert_eq!(hostile(&host, "ok").await.status, 200, "after {mode}");
        assert_eq!(
            host.post_json("/predict", SEED_ROW).await.status,
            200,
            "after {mode}"
        );
    }
}

#[tokio::test]
async fn a_model_gets_no_file_socket_or_environment() {
    let host = TestHost::start(hostile_options());
    for (mode, expected) in [
        ("file", "denied: "),
        ("socket", "denied: "),
        ("env", "0 variables"),
    ] {
        let reply = hostile(&host, mode).await;
        assert_eq!(reply.status, 500, "{mode}");
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(expected), "{mode}: {message}");
    }
    assert_eq!(hostile(&host, "ok").await.status, 200);
}

#[tokio::test]
async fn huge_or_malformed_output_is_refused_without_echoing_it() {
    let host = TestHost::start(hostile_options());
    let reply = hostile(&host, "huge").await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["error"]["code"], "model_failed");
    let message = reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        message.ends_with("malformed answer: a label of 16777216 bytes that is not class 0's"),
        "{message}"
    );
    assert!(reply.body.len() < 1024, "the 16 MiB label is not echoed");
    let failures = host
        .metric(
            "http_request_duration_seconds_count",
            &[
                ("method", "POST"),
                ("route", "/models/{name}/predict"),
                ("status", "500"),
            ],
        )
        .await;
    assert_eq!(failures, Some(1.0));
    // Not a trap: the instance is sound and answers the next request, as does the real model.
    assert_eq!(hostile(&host, "ok").await.status, 200);
    assert_eq!(host.post_json("/predict", SEED_ROW).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_instance_shows_in_the_pool_gauge() {
    let host = TestHost::start(hostile_options());
    let busy = || host.metric("wasml_instance_pool_busy", &[("model", "hostile")]);
    assert_eq!(busy().await, Some(0.0));
    // The looping call holds a worker for its whole deadline; watch from the other one.
    let router = host.router.clone();
    let looping = tokio::spawn(async move {
        let request = Request::post("/models/hostile/predict")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"mode": "loop"}"#))
            .unwrap();
        router.oneshot(request).await.unwrap().status()
    });
    let mut seen_busy = false;
    while !looping.is_finished() && !seen_busy {
        seen_busy = busy().await == Some(1.0);
    }
    assert_eq!(looping.await.unwrap(), 504);
    assert!(
        seen_busy,
        "the gauge showed the instance busy while it looped"
    );
    assert_eq!(busy().await, Some(0.0));
}

#[tokio::test]
async fn a_model_that_floods_events_is_capped_and_the_excess_counted() {
    let host = TestHost::start(hostile_options());
    let reply = hostile(&host, "flood").await;
    assert_eq!(reply.status, 200);
    let id = reply.request_id().to_owned();
    let dropped = host
        .metric("wasml_events_dropped_total", &[("reason", "guest_flood")])
        .await;
    assert_eq!(dropped, Some((10_000 - MAX_EVENTS_PER_CALL) as f64));
    let events = host.finish_events().await;
    let forwarded = events
        .iter()
        .filter(|e| e.service == "model" && e.request_id.as_deref() == Some(&id))
        .count();
    assert_eq!(forwarded, MAX_EVENTS_PER_CALL);
}

#[tokio::test]
async fn health_turns_503_when_an_instance_stops_answering_and_recovers() {
    let host = TestHost::start(hostile_options());
    assert_eq!(host.get("/health").await.status, 200);
    // The hostile pool has one instance; this breaks its info().
    assert_eq!(hostile(&host, "break-info").await.status, 200);
    let reply = host.get("/health").await;
    assert_eq!(reply.status, 503);
    let body = reply.json();
    assert_eq!(body["status"], "unavailable");
    let hostile_health = &body["models"][1];
    assert_eq!(hostile_health["ready"], false);
    assert!(
        hostile_health["error"]
            .as_str()
            .unwrap()
            .contains("trapped"),
        "{body}"
    );
    assert_eq!(body["models"][0]["ready"], true);
    // The broken instance was replaced: healthy again.
    assert_eq!(host.get("/health").await.status, 200);
}
