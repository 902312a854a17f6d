//! Ground truth: `POST /feedback` for an earlier prediction counts once, moves the live
//! accuracy of the version that answered (so a canary and the active version are compared
//! on real traffic), and refuses unknown requests, repeats and labels the model lacks.

use crate::serving;

use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use serving::{Options, SEED_ROW, TestHost};

async fn predicted(host: &TestHost) -> (String, String, String) {
    let reply = host.post_json("/predict", SEED_ROW).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    (
        body["request_id"].as_str().unwrap().to_owned(),
        body["label"].as_str().unwrap().to_owned(),
        body["model"]["version"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn feedback_counts_once_and_moves_live_accuracy() {
    let host = TestHost::start(Options {
        admin_token: Some("feedback-token"),
        ..Options::default()
    });
    let mut correct = 0;
    for i in 0..4 {
        let (id, label, version) = predicted(&host).await;
        // Right twice (by label, then by class index), wrong twice.
        let actual = match i {
            0 => json!(label),
            1 => json!(if label == "no" { 0 } else { 1 }),
            _ => json!(if label == "no" { "yes" } else { "no" }),
        };
        let reply = host
            .post_json(
                "/feedback",
                &json!({"request_id": id, "actual": actual}).to_string(),
            )
            .await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let body = reply.json();
        assert_eq!(body["version"], version.as_str());
        assert_eq!(body["predicted"], label.as_str());
        correct += usize::from(body["correct"] == true);
    }
    assert_eq!(correct, 2);
    let labels = [("model", "bank-marketing"), ("version", "2.0.0")];
    assert_eq!(
        host.metric("ml_model_live_accuracy", &labels).await,
        Some(0.5)
    );
    assert_eq!(
        host.metric(
            "ml_feedback_total",
            &[("version", "2.0.0"), ("outcome", "wrong")]
        )
        .await,
        Some(2.0)
    );
    assert!(
        host.metric("ml_request_duration_seconds_count", &labels)
            .await
            >= Some(4.0),
        "latency per version"
    );
    // The admin listing puts live accuracy next to the card's offline figure.
    let listing = host
        .call(
            Request::get("/admin/models/bank-marketing/versions/2.0.0")
                .header("authorization", "Bearer feedback-token")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .json();
    assert_eq!(
        listing["live_accuracy"],
        json!({"accuracy": 0.5, "outcomes": 4, "window_seconds": 300})
    );
    let card = listing["card_accuracy"].as_f64().unwrap();
    assert!(card > 0.8 && card < 1.0, "{listing}");
}

#[tokio::test]
async fn unknown_repeated_and_impossible_feedback_is_refused() {
    let host = TestHost::start(Options::default());
    let (id, label, _) = predicted(&host).await;
    let send = |body: serde_json::Value| {
        let host = &host;
        async move { host.post_json("/feedback", &body.to_string()).await }
    };

    let reply = send(json!({"request_id": "nope", "actual": "yes"})).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["error"]["code"], "prediction_not_found");

    let reply = send(json!({"request_id": id, "actual": "maybe"})).await;
    assert_eq!(reply.status, 422);
    assert_eq!(reply.json()["error"]["fields"][0]["field"], "actual");
    let reply = send(json!({"request_id": id, "actual": 7})).await;
    assert_eq!(reply.status, 422, "class index out of range");
    let reply = send(json!({"request_id": id})).await;
    assert_eq!(reply.status, 422, "a missing field");
    let reply = host.post_json("/feedback", "{not json").await;
    assert_eq!(reply.status, 400);

    // A refused `actual` did not use the request up; a second report is refused.
    let reply = send(json!({"request_id": id, "actual": label})).await;
    assert_eq!(reply.status, 200);
    let reply = send(json!({"request_id": id, "actual": label})).await;
    assert_eq!(reply.status, 409);
    assert_eq!(reply.json()["error"]["code"], "feedback_exists");
}

#[tokio::test]
async fn a_regressors_true_values_give_its_live_error_against_the_card() {
    use crate::hot_swap::{TOKEN, admin, settled};
    use wasml_test_support::fixtures::diabetes;

    let host = TestHost::start(Options {
        admin_token: Some(TOKEN),
        ..Options::default()
    });
    let base = "/admin/models/diabetes/versions/1.0.0";
    let card: serde_json::Value = serde_json::from_str(diabetes::CARD).unwrap();
    let card_mae = card["evaluation"]["mae"].as_f64().unwrap();
    let reply = admin(&host, "PUT", &format!("{base}/card"), diabetes::CARD.into()).await;
    reply.assert_status(200);
    let reply = admin(&host, "PUT", base, diabetes::ONNX.to_vec()).await;
    reply.assert_status(202);
    assert_eq!(settled(&host, base).await["state"], "ready");
    let reply = admin(&host, "POST", &format!("{base}/activate"), Vec::new()).await;
    reply.assert_status(200);

    // Two predictions, each told a truth twice the card's MAE away (above, then below):
    // live MAE and RMSE are both twice the card's, 100 % worse than it.
    let row = diabetes::row(0.01);
    for sign in [1.0, -1.0] {
        let reply = host
            .post_json("/models/diabetes/predict", &row.to_string())
            .await;
        reply.assert_status(200);
        let answer = reply.json();
        let predicted = answer["value"].as_f64().unwrap();
        let actual = predicted + sign * 2.0 * card_mae;
        let reply = host
            .post_json(
                "/feedback",
                &json!({"request_id": answer["request_id"], "actual": actual}).to_string(),
            )
            .await;
        reply.assert_status(200);
        let body = reply.json();
        assert_eq!(body["predicted"].as_f64(), Some(predicted));
        assert_eq!(body["actual"].as_f64(), Some(actual));
        let residual = body["residual"].as_f64().unwrap();
        assert!((residual - sign * 2.0 * card_mae).abs() < 1e-9, "{body}");
        assert!(
            body.get("correct").is_none(),
            "no label to agree on: {body}"
        );
    }
    let labels = [("model", "diabetes"), ("version", "1.0.0")];
    let close = |got: Option<f64>, expected: f64| got.is_some_and(|g| (g - expected).abs() < 1e-6);
    let mae = host.metric("ml_model_live_mae", &labels).await;
    assert!(close(mae, 2.0 * card_mae), "{mae:?} vs 2 x {card_mae}");
    let rmse = host.metric("ml_model_live_rmse", &labels).await;
    assert!(close(rmse, 2.0 * card_mae), "{rmse:?}");
    let rise = host.metric("ml_model_live_error_rise", &labels).await;
    assert!(close(rise, 1.0), "{rise:?}");
    host.assert_metric("ml_model_error_rise_margin", &labels, Some(0.25))
        .await;
    host.assert_metric("ml_model_live_outcomes", &labels, Some(2.0))
        .await;
    let measured = [("model", "diabetes"), ("outcome", "measured")];
    host.assert_metric("ml_feedback_total", &measured, Some(2.0))
        .await;
    // A classifier's series stay away from a regressor.
    host.assert_metric("ml_model_live_accuracy_drop", &labels, None)
        .await;

    let listing = admin(&host, "GET", base, Vec::new()).await.json();
    assert_eq!(listing["card_mae"].as_f64(), Some(card_mae));
    assert_eq!(listing["live_error"]["outcomes"], 2, "{listing}");
    assert!(close(listing["live_error"]["mae"].as_f64(), 2.0 * card_mae));

    // A regressor's truth is a number.
    let reply = host
        .post_json("/models/diabetes/predict", &row.to_string())
        .await;
    let id = reply.json()["request_id"].clone();
    let reply = host
        .post_json(
            "/feedback",
            &json!({"request_id": id, "actual": "high"}).to_string(),
        )
        .await;
    assert_eq!(reply.status, 422);
    let error = reply.json();
    assert_eq!(error["error"]["fields"][0]["field"], "actual");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a finite number"),
        "{error}"
    );
}
