//! Each version judged against its own card: input drift against the training
//! distribution the card records (flat while traffic looks like training, rising on the
//! input that moves, with events on level changes and the admin listing showing it), and
//! live accuracy against the card's held-out accuracy.

use crate::serving;

use serde_json::{Value, json};
use serving::{Options, SEED_ROW, TestHost};
use wasml_server::metrics::Clock;
use wasml_server::monitoring::drift::{MIN_ROWS, SLOT_SECS, WINDOW_SLOTS};
use wasml_server::watch::drift_events::DriftWatch;

const MODEL: [(&str, &str); 2] = [("model", "bank-marketing"), ("version", "2.0.0")];

/// The bundled model's reference distribution, from its card.
fn reference(host: &TestHost) -> Value {
    let model = host.state.serving.models.default_model().unwrap();
    let card: Value = serde_json::from_str(&model.info.card_json).unwrap();
    card["monitoring"]["reference"].clone()
}

/// `n` values of one input whose bins hold exactly its training shares (to rounding):
/// numeric bins by a whole number inside each (its upper edge, rounded down: the inputs
/// are whole numbers; past the last edge, one more), categories by name.
fn values_like_training(spec: &Value, n: usize) -> Vec<Value> {
    let bins: Vec<(Value, f64)> = if let Some(categories) = spec["categories"].as_object() {
        categories
            .iter()
            .map(|(name, share)| (json!(name), share.as_f64().unwrap()))
            .collect()
    } else {
        let edges: Vec<f64> = serde_json::from_value(spec["edges"].clone()).unwrap();
        let shares: Vec<f64> = serde_json::from_value(spec["shares"].clone()).unwrap();
        let last = edges.last().unwrap().floor() + 1.0;
        edges
            .iter()
            .map(|edge| edge.floor())
            .chain([last])
            .zip(shares)
            .map(|(value, share)| (json!(value), share))
            .collect()
    };
    let mut values = Vec::with_capacity(n);
    let mut cumulative = 0.0;
    for (value, share) in bins {
        cumulative += share;
        let until = (cumulative * n as f64).round() as usize;
        while values.len() < until.min(n) {
            values.push(value.clone());
        }
    }
    while values.len() < n {
        values.push(values.last().unwrap().clone());
    }
    values
}

/// `n` rows whose every input is distributed as in training (inputs rotated against each
/// other, so rows mix bins).
fn rows_like_training(reference: &Value, n: usize) -> Vec<Value> {
    let inputs = reference["inputs"].as_object().unwrap();
    let columns: Vec<(String, Vec<Value>)> = inputs
        .iter()
        .enumerate()
        .map(|(k, (name, spec))| {
            let mut values = values_like_training(spec, n);
            values.rotate_left(k * n / inputs.len());
            (name.clone(), values)
        })
        .collect();
    (0..n)
        .map(|i| {
            Value::Object(
                columns
                    .iter()
                    .map(|(name, values)| (name.clone(), values[i].clone()))
                    .collect(),
            )
        })
        .collect()
}

async fn send(host: &TestHost, rows: &[Value]) {
    for batch in rows.chunks(100) {
        let body = json!({ "instances": batch }).to_string();
        let reply = host.post_json("/predict", &body).await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }
}

async fn psi(host: &TestHost, feature: &str) -> Option<f64> {
    let labels = [MODEL[0], MODEL[1], ("feature", feature)];
    host.metric("ml_feature_drift_psi", &labels).await
}

#[tokio::test]
async fn drift_stays_flat_like_training_and_rises_on_the_input_that_moves() {
    let clock = Clock::manual();
    clock.advance(1_000_000);
    let host = TestHost::start(Options {
        clock: clock.clone(),
        admin_token: Some("drift-token"),
        ..Options::default()
    });
    let reference = reference(&host);
    let inputs: Vec<String> = reference["inputs"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(inputs.len(), 8, "the card describes every input");

    // Too few rows: no figure rather than a noisy one.
    send(
        &host,
        &rows_like_training(&reference, MIN_ROWS as usize / 2),
    )
    .await;
    assert_eq!(psi(&host, "age").await, None);

    // Traffic shaped like training: every input stable.
    send(&host, &rows_like_training(&reference, 1000)).await;
    for input in &inputs {
        let value = psi(&host, input).await.unwrap();
        assert!(
            value < 0.02,
            "{input}: PSI {value} on training-shaped traffic"
        );
    }
    let score = host.metric("ml_model_drift_score", &MODEL).await.unwrap();
    assert!(score < 0.02, "{score}");
    let mut watch = DriftWatch::default();
    assert_eq!(watch.check(&host.state.serving), 0, "nothing changed level");

    // A window later, the clients are all 70: age drifts, nothing else does.
    clock.advance(SLOT_SECS * WINDOW_SLOTS as u64);
    let mut older = rows_like_training(&reference, 1000);
    for row in &mut older {
        row["age"] = json!(70);
    }
    send(&host, &older).await;
    let age = psi(&host, "age").await.unwrap();
    assert!(age > 1.0, "age PSI {age}");
    for input in inputs.iter().filter(|i| *i != "age") {
        let value = psi(&host, input).await.unwrap();
        assert!(value < 0.02, "{input}: PSI {value}");
    }
    let level = [MODEL[0], MODEL[1], ("feature", "age")];
    host.assert_metric("ml_feature_drift_level", &level, Some(2.0))
        .await;
    host.assert_metric("ml_model_drift_score", &MODEL, Some(age))
        .await;
    assert_eq!(watch.check(&host.state.serving), 1, "age went to act");

    // The admin listing shows it, worst input first.
    let listing = host
        .call(
            axum::http::Request::get("/admin/models")
                .header("authorization", "Bearer drift-token")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .json();
    let active = listing["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["state"] == "active")
        .unwrap();
    assert_eq!(active["drift"]["level"], "act", "{active}");
    assert_eq!(active["drift"]["inputs"][0]["input"], "age");
    assert_eq!(active["drift"]["rows"], 1000);

    // The event says which input moved, how far, on which version.
    let events = host.finish_events().await;
    let drift: Vec<_> = events
        .iter()
        .filter(|e| e.message.starts_with("input drift"))
        .collect();
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(drift[0].level, "error");
    assert_eq!(drift[0].model_version.as_deref(), Some("2.0.0"));
    assert_eq!(drift[0].fields["feature"], "age");
    assert_eq!(drift[0].fields["drift_level"], "act");
}

#[tokio::test]
async fn live_accuracy_is_judged_against_the_card_with_a_margin() {
    let host = TestHost::start(Options::default());
    let card = host.metric("ml_model_accuracy", &MODEL).await.unwrap();
    host.assert_metric("ml_model_accuracy_drop_margin", &MODEL, Some(0.03))
        .await;
    // No ground truth yet: no drop, no outcomes.
    host.assert_metric("ml_model_live_accuracy_drop", &MODEL, None)
        .await;
    for i in 0..10 {
        let reply = host.post_json("/predict", SEED_ROW).await;
        let body = reply.json();
        // Right 7 times out of 10.
        let label = body["label"].as_str().unwrap();
        let actual = match (i < 7, label) {
            (true, label) => label,
            (false, "no") => "yes",
            (false, _) => "no",
        };
        let feedback = json!({"request_id": body["request_id"], "actual": actual});
        let reply = host.post_json("/feedback", &feedback.to_string()).await;
        assert_eq!(reply.status, 200);
    }
    let drop = host
        .metric("ml_model_live_accuracy_drop", &MODEL)
        .await
        .unwrap();
    assert!((drop - (card - 0.7)).abs() < 1e-9, "{drop} vs {card} - 0.7");
    host.assert_metric("ml_model_live_outcomes", &MODEL, Some(10.0))
        .await;
}
