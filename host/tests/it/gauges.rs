//! Gauges tell the truth about the state they describe: the error rate counts the
//! server's failures for every serving version (a canary too) and only those, live
//! accuracy says nothing once its window empties, the pool gauge counts live instances,
//! and server readiness means every served model is ready.

use std::time::Duration;

use serde_json::json;

use crate::hot_swap::{TOKEN, admin, conformance_json, read, upload};
use crate::serving::{Options, SEED_ROW, TestHost, refuse_all};
use wasml_server::metrics::Clock;

fn version(v: &str) -> [(&str, &str); 2] {
    [("model", "bank-marketing"), ("version", v)]
}

/// An admin request that must succeed.
async fn admin_ok(host: &TestHost, method: &str, uri: &str, body: Vec<u8>) {
    let reply = admin(host, method, uri, body).await;
    assert_eq!(reply.status, 200, "{method} {uri}: {:?}", reply.body);
}

/// `name` of bank-marketing `v`, if the series exists.
async fn of_version(host: &TestHost, name: &str, v: &str) -> Option<f64> {
    host.metric(name, &version(v)).await
}

/// With no room for any request, every prediction is shed (503): a server failure,
/// counted against the version it was routed to.
#[tokio::test]
async fn the_error_rate_covers_every_serving_version_and_only_those() {
    let host = TestHost::start(Options {
        admin_token: Some(TOKEN),
        start_with_v1: true,
        admission: refuse_all(),
        ..Options::default()
    });
    let v2 = wasml_test_support::bundled_component("bank-marketing", "v2");
    let listing = upload(
        &host,
        "bank-marketing",
        "2.0.0",
        read(v2),
        Some(conformance_json("v2")),
    )
    .await;
    assert_eq!(listing["state"], "ready", "{listing}");
    let canary = json!({"version": "2.0.0", "percent": 50}).to_string();
    admin_ok(
        &host,
        "PUT",
        "/admin/models/bank-marketing/canary",
        canary.into_bytes(),
    )
    .await;
    for _ in 0..10 {
        assert_eq!(host.post_json("/predict", SEED_ROW).await.status, 503);
    }
    let rate = |v: &'static str| of_version(&host, "ml_prediction_error_rate", v);
    assert_eq!(rate("1.0.0").await, Some(1.0), "the active version");
    assert_eq!(rate("2.0.0").await, Some(1.0), "the canary");

    // v1 stops serving: its series goes instead of keeping its last value.
    admin_ok(
        &host,
        "POST",
        "/admin/models/bank-marketing/versions/2.0.0/activate",
        Vec::new(),
    )
    .await;
    assert_eq!(rate("1.0.0").await, None, "a version that no longer serves");
    assert_eq!(rate("2.0.0").await, Some(1.0));
    assert!(
        host.metric("ml_model_accuracy", &version("1.0.0"))
            .await
            .is_some()
    );

    // Retired: its card and pool series go too.
    admin_ok(
        &host,
        "DELETE",
        "/admin/models/bank-marketing/versions/1.0.0",
        Vec::new(),
    )
    .await;
    for name in [
        "ml_prediction_error_rate",
        "ml_model_accuracy",
        "ml_model_load_seconds",
        "wasml_instance_pool_size",
    ] {
        assert_eq!(host.metric(name, &version("1.0.0")).await, None, "{name}");
    }
    let retired = [("model", "bank-marketing"), ("result", "retired")];
    host.assert_metric("ml_model_swaps_total", &retired, Some(1.0))
        .await;
}

/// A client's bad input is its own failure: 20 good and 20 malformed requests leave the
/// error rate at 0, and the rejections show in the validation counter and the 4xx
/// latency series. A model that overruns its deadline is the server's failure.
#[tokio::test]
async fn client_errors_are_not_failed_predictions() {
    let host = TestHost::start(Options {
        with_hostile: true,
        limits: wasml_runtime::SandboxLimits {
            deadline: Duration::from_millis(50),
            ..wasml_runtime::SandboxLimits::default()
        },
        ..Options::default()
    });
    for _ in 0..20 {
        assert_eq!(host.post_json("/predict", SEED_ROW).await.status, 200);
        assert_eq!(
            host.post_json("/predict", r#"{"age": 1}"#).await.status,
            422
        );
    }
    host.assert_metric("ml_prediction_error_rate", &version("2.0.0"), Some(0.0))
        .await;
    let job = [("model", "bank-marketing"), ("field", "job")];
    host.assert_metric("ml_input_validation_failures_total", &job, Some(20.0))
        .await;
    let rejected = [("route", "/predict"), ("status", "422")];
    host.assert_metric("http_request_duration_seconds_count", &rejected, Some(20.0))
        .await;

    let hostile = |mode: &str| format!(r#"{{"mode": "{mode}"}}"#);
    let ok = host
        .post_json("/models/hostile/predict", &hostile("ok"))
        .await;
    assert_eq!(ok.status, 200);
    let looped = host
        .post_json("/models/hostile/predict", &hostile("loop"))
        .await;
    assert_eq!(looped.status, 504);
    let hostile_rate = || host.metric("ml_prediction_error_rate", &[("model", "hostile")]);
    assert_eq!(hostile_rate().await, Some(0.5));
    // Requests that are not predictions do not count.
    host.get("/health").await;
    assert_eq!(hostile_rate().await, Some(0.5));
}

#[tokio::test]
async fn live_accuracy_says_nothing_once_its_window_empties() {
    let clock = Clock::manual();
    let host = TestHost::start(Options {
        clock: clock.clone(),
        ..Options::default()
    });
    let reply = host.post_json("/predict", SEED_ROW).await;
    let body = reply.json();
    let feedback = json!({"request_id": body["request_id"], "actual": body["label"]});
    assert_eq!(
        host.post_json("/feedback", &feedback.to_string())
            .await
            .status,
        200
    );
    assert_eq!(
        host.metric("ml_model_live_accuracy", &version("2.0.0"))
            .await,
        Some(1.0)
    );
    clock.advance(299);
    assert_eq!(
        host.metric("ml_model_live_accuracy", &version("2.0.0"))
            .await,
        Some(1.0)
    );
    clock.advance(2);
    assert_eq!(
        host.metric("ml_model_live_accuracy", &version("2.0.0"))
            .await,
        None,
        "no feedback in the last 5 minutes: no data, not the last value"
    );
}

#[tokio::test]
async fn the_pool_gauge_counts_live_instances() {
    let host = TestHost::start(Options {
        pool_size: 2,
        ..Options::default()
    });
    let size = || of_version(&host, "wasml_instance_pool_size", "2.0.0");
    let target = || of_version(&host, "wasml_instance_pool_target", "2.0.0");
    // One instance at start; more when requests need them.
    assert_eq!((size().await, target().await), (Some(1.0), Some(2.0)));
    let model = host.state.serving.models.default_model().unwrap();
    // A burst beyond the pool: a third instance is warmed while two are held.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(model.pool.checkout().await.unwrap());
    }
    assert_eq!((size().await, target().await), (Some(3.0), Some(2.0)));
    assert_eq!(
        host.metric("wasml_instance_pool_busy", &version("2.0.0"))
            .await,
        Some(3.0)
    );
    drop(held);
    assert_eq!(
        size().await,
        Some(2.0),
        "the pool keeps at most its target once the burst is over"
    );
    // Idle long enough, it scales to zero; the next request brings one back.
    model.pool.shrink_idle(std::time::Duration::ZERO);
    assert_eq!(size().await, Some(0.0));
    assert_eq!(host.post_json("/predict", SEED_ROW).await.status, 200);
    assert_eq!(size().await, Some(1.0));
}

#[tokio::test]
async fn the_server_is_ready_when_every_served_model_is() {
    let host = TestHost::start(Options::default());
    assert_eq!(host.get("/v2/health/ready").await.status, 200);
    // A new model's first version on its way: served, not ready yet.
    let registry = &host.state.serving.models;
    registry.begin("churn", "1.0.0").unwrap();
    let reply = host.get("/v2/health/ready").await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.json()["ready"], false);
    assert_eq!(host.get("/v2/models/churn/ready").await.status, 400);
    assert_eq!(
        host.get("/v2/models/bank-marketing/ready").await.status,
        200
    );
    // It failed: nothing of it is served any more.
    registry.gated("churn", "1.0.0", Vec::new(), Some("did not compile".into()));
    assert_eq!(host.get("/v2/health/ready").await.status, 200);
}
