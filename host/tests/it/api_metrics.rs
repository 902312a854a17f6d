//! Every metric moves when what it measures moves; none is a constant. Expected values
//! come from the requests the test makes, the model's card and the OS, never literals.

use crate::serving;

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use serving::{Options, SEED_ROW, TestHost};

const MODEL: (&str, &str) = ("model", "bank-marketing");

async fn value(host: &TestHost, name: &str, labels: &[(&str, &str)]) -> f64 {
    host.metric(name, labels).await.unwrap_or(0.0)
}

#[tokio::test]
async fn card_figures_and_load_time_come_from_the_model() {
    let host = TestHost::start(Options::default());
    let model = host.state.serving.models.default_model().unwrap();
    let card = model
        .info
        .evaluation
        .as_ref()
        .expect("the bundled card has figures");
    for (name, expected) in [
        ("ml_model_accuracy", card.accuracy),
        ("ml_model_precision", card.precision),
        ("ml_model_recall", card.recall),
        ("ml_model_f1_score", card.f1_score),
        ("ml_model_load_seconds", Some(model.load_seconds)),
        // A classifier's card has no regression figures: no series, not zeros.
        ("ml_model_r2", None),
        ("ml_model_rmse", None),
    ] {
        let labels = [MODEL, ("version", model.version())];
        assert_eq!(host.metric(name, &labels).await, expected, "{name}");
    }
    // The card in the metric is the card inside the component.
    let card_json: Value = serde_json::from_str(&model.info.card_json).unwrap();
    assert_eq!(card_json["evaluation"]["accuracy"].as_f64(), card.accuracy);
    assert!(model.load_seconds > 0.0);
}

#[tokio::test]
async fn predictions_classes_and_confidence_follow_the_answers() {
    let host = TestHost::start(Options::default());
    let seed: Value = serde_json::from_str(SEED_ROW).unwrap();
    let mut rows = vec![seed.clone()];
    for duration in [30, 900, 3000] {
        let mut row = seed.clone();
        row["duration"] = json!(duration);
        rows.push(row);
    }
    let mut classes = [0.0, 0.0];
    let mut confidence_sum = 0.0;
    let one = host.post_json("/predict", SEED_ROW).await.json();
    let batch = host
        .post_json("/predict", &json!({ "instances": rows }).to_string())
        .await
        .json();
    for answer in std::iter::once(&one).chain(batch["predictions"].as_array().unwrap()) {
        classes[answer["prediction"].as_u64().unwrap() as usize] += 1.0;
        confidence_sum += answer["confidence"].as_f64().unwrap();
    }
    assert!(
        classes[0] > 0.0 && classes[1] > 0.0,
        "both classes predicted: {classes:?}"
    );
    assert_eq!(value(&host, "ml_predictions_total", &[MODEL]).await, 5.0);
    for (class, expected) in classes.iter().enumerate() {
        let labels = [MODEL, ("prediction_class", &class.to_string())];
        assert_eq!(
            value(&host, "ml_predictions_by_class_total", &labels).await,
            *expected
        );
    }
    assert_eq!(
        value(&host, "ml_prediction_confidence_count", &[MODEL]).await,
        5.0
    );
    let sum = value(&host, "ml_prediction_confidence_sum", &[MODEL]).await;
    assert!(
        (sum - confidence_sum).abs() < 1e-9,
        "{sum} vs {confidence_sum}"
    );
    // The guest's own stage timings: one per call (two calls), non-zero.
    assert_eq!(
        value(&host, "ml_feature_processing_seconds_count", &[MODEL]).await,
        2.0
    );
    assert!(value(&host, "ml_feature_processing_seconds_sum", &[MODEL]).await > 0.0);
    assert_eq!(
        value(&host, "ml_inference_seconds_count", &[MODEL]).await,
        2.0
    );
    // What each call cost: one observation per call, time and memory both moving.
    for histogram in ["ml_guest_cpu_seconds", "ml_guest_memory_bytes"] {
        let count = format!("{histogram}_count");
        assert_eq!(value(&host, &count, &[MODEL]).await, 2.0, "{histogram}");
        let sum = format!("{histogram}_sum");
        assert!(value(&host, &sum, &[MODEL]).await > 0.0, "{histogram}");
    }
    let cpu = value(&host, "ml_guest_cpu_seconds_sum", &[MODEL]).await;
    let stages = value(&host, "ml_feature_processing_seconds_sum", &[MODEL]).await
        + value(&host, "ml_inference_seconds_sum", &[MODEL]).await;
    assert!(
        cpu >= stages,
        "the call's time holds its stages: {cpu} vs {stages}"
    );
}

#[tokio::test]
async fn http_latency_is_labelled_by_route_template_and_status() {
    let host = TestHost::start(Options::default());
    async fn count(host: &TestHost, route: &str, status: &str) -> f64 {
        let labels = [("method", "POST"), ("route", route), ("status", status)];
        value(host, "http_request_duration_seconds_count", &labels).await
    }
    host.post_json("/predict", SEED_ROW).await;
    host.post_json("/predict", "{").await;
    host.post_json("/models/bank-marketing/predict", SEED_ROW)
        .await;
    host.post_json("/models/other/predict", SEED_ROW).await;
    host.post_json("/no/such/route", SEED_ROW).await;
    assert_eq!(count(&host, "/predict", "200").await, 1.0);
    assert_eq!(count(&host, "/predict", "400").await, 1.0);
    // Templates, not paths: model names do not multiply the series.
    assert_eq!(count(&host, "/models/{name}/predict", "200").await, 1.0);
    assert_eq!(count(&host, "/models/{name}/predict", "404").await, 1.0);
    assert_eq!(count(&host, "unmatched", "404").await, 1.0);
    let sum = value(
        &host,
        "http_request_duration_seconds_sum",
        &[("route", "/predict"), ("status", "200")],
    )
    .await;
    assert!(sum > 0.0);
}

#[tokio::test]
async fn rejected_fields_are_counted_by_field_with_bounded_labels() {
    let host = TestHost::start(Options::default());
    async fn failures(host: &TestHost, field: &str) -> f64 {
        value(
            host,
            "ml_input_validation_failures_total",
            &[MODEL, ("field", field)],
        )
        .await
    }
    host.post_json(
        "/predict",
        r#"{"age": 10, "job": "admin.", "marital": "single",
        "education": "secondary", "housing": "yes", "loan": "no", "duration": 200,
        "campaign": 2, "made_up_1": 1, "made_up_2": 2}"#,
    )
    .await;
    host.post_json("/predict", "not json").await;
    assert_eq!(failures(&host, "age").await, 1.0);
    assert_eq!(failures(&host, "_unknown").await, 2.0);
    assert_eq!(failures(&host, "_body").await, 1.0);
    let text = String::from_utf8(host.get("/metrics").await.body.to_vec()).unwrap();
    assert!(
        !text.contains("made_up"),
        "client field names never become labels"
    );
}

#[tokio::test]
async fn active_users_are_distinct_users_by_header() {
    let host = TestHost::start(Options::default());
    let as_user = |user: &'static str| {
        Request::post("/predict")
            .header("content-type", "application/json")
            .header("x-user-id", user)
            .body(Body::from(SEED_ROW))
            .unwrap()
    };
    assert_eq!(value(&host, "ml_active_users", &[]).await, 0.0);
    for user in ["alice", "bob", "alice"] {
        host.call(as_user(user)).await;
    }
    assert_eq!(value(&host, "ml_active_users", &[]).await, 2.0);
    // No header, no socket address (no real connection here): one "unknown" user.
    host.post_json("/predict", SEED_ROW).await;
    assert_eq!(value(&host, "ml_active_users", &[]).await, 3.0);
}

#[tokio::test]
async fn pool_and_event_counters_reflect_the_host() {
    let host = TestHost::start(Options {
        pool_size: 3,
        ..Options::default()
    });
    // One instance warmed at start, the others on demand.
    assert_eq!(
        value(&host, "wasml_instance_pool_size", &[MODEL]).await,
        1.0
    );
    assert_eq!(
        value(&host, "wasml_instance_pool_target", &[MODEL]).await,
        3.0
    );
    assert_eq!(
        value(&host, "wasml_instance_pool_busy", &[MODEL]).await,
        0.0
    );
    host.post_json("/predict", SEED_ROW).await;
    let written = || value(&host, "wasml_events_written_total", &[]);
    // The writer is a thread: wait for it to catch up with the requests so far.
    let mut caught_up = false;
    for _ in 0..500 {
        if written().await >= 2.0 {
            caught_up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        caught_up,
        "events of the predict and the first scrape were written"
    );
}
