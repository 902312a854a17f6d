//! `POST /predict` and `POST /models/{name}/predict`: answers, and a precise error with
//! the right status for every kind of bad request.

use crate::serving;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::Request;
use http_body::Frame;
use serde_json::{Value, json};
use serving::{Options, SEED_ROW, TestHost, refuse_all};

#[tokio::test]
async fn the_seed_request_gets_a_prediction() {
    let host = TestHost::start(Options::default());
    let reply = host.post_json("/predict", SEED_ROW).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let body = reply.json();
    assert_eq!(
        body["model"],
        json!({"name": "bank-marketing", "version": "2.0.0"})
    );
    let probabilities: Vec<f64> = serde_json::from_value(body["probabilities"].clone()).unwrap();
    assert_eq!(probabilities.len(), 2);
    assert!((probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-5);
    let class = body["prediction"].as_u64().unwrap() as usize;
    assert_eq!(body["label"], ["no", "yes"][class]);
    assert_eq!(body["confidence"].as_f64().unwrap(), probabilities[class]);
    assert_eq!(body["request_id"], reply.request_id());
}

#[tokio::test]
async fn a_batch_gets_one_prediction_per_row_equal_to_single_calls() {
    let host = TestHost::start(Options::default());
    let seed: Value = serde_json::from_str(SEED_ROW).unwrap();
    let mut long_call = seed.clone();
    long_call["duration"] = json!(900);
    let batch = json!({"instances": [seed, long_call]}).to_string();
    let reply = host.post_json("/predict", &batch).await;
    assert_eq!(reply.status, 200);
    let predictions = reply.json()["predictions"].as_array().unwrap().clone();
    assert_eq!(predictions.len(), 2);
    for (row, prediction) in [seed, long_call].iter().zip(&predictions) {
        let single = host.post_json("/predict", &row.to_string()).await.json();
        assert_eq!(prediction["probabilities"], single["probabilities"]);
        assert_eq!(prediction["label"], single["label"]);
    }
    assert_ne!(
        predictions[0]["probabilities"],
        predictions[1]["probabilities"]
    );
}

#[tokio::test]
async fn a_named_model_is_served_and_an_unknown_one_is_404() {
    let host = TestHost::start(Options::default());
    let named = host
        .post_json("/models/bank-marketing/predict", SEED_ROW)
        .await;
    let default = host.post_json("/predict", SEED_ROW).await;
    assert_eq!(named.status, 200);
    assert_eq!(
        named.json()["probabilities"],
        default.json()["probabilities"]
    );
    let missing = host.post_json("/models/nope/predict", SEED_ROW).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["error"]["code"], "model_not_found");
    assert!(
        missing.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("\"nope\"")
    );
}

#[tokio::test]
async fn schema_violations_are_422_naming_every_field_and_why() {
    let host = TestHost::start(Options::default());
    let body = json!({"age": 17, "job": "astronaut", "marital": null, "education": "secondary",
        "housing": "yes", "duration": 200.5, "campaign": "2", "colour": "red"});
    let reply = host.post_json("/predict", &body.to_string()).await;
    assert_eq!(reply.status, 422);
    let error = &reply.json()["error"];
    assert_eq!(error["code"], "invalid_input");
    let mut found: Vec<(String, String)> = error["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().into(),
                f["problem"].as_str().unwrap().into(),
            )
        })
        .collect();
    found.sort();
    let expected = [
        ("age", "out-of-range"),
        ("campaign", "wrong-type"),
        ("colour", "unknown-field"),
        ("duration", "not-an-integer"),
        ("job", "unknown-category"),
        ("loan", "missing"),
        ("marital", "wrong-type"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(f, p)| (f.to_string(), p.to_string()))
        .collect();
    assert_eq!(found, expected);
    let message = error["message"].as_str().unwrap();
    assert!(message.starts_with("7 invalid fields:"), "{message}");
    for field in error["fields"].as_array().unwrap() {
        assert!(!field["message"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn batch_violations_name_the_row() {
    let host = TestHost::start(Options::default());
    let seed: Value = serde_json::from_str(SEED_ROW).unwrap();
    let mut bad = seed.clone();
    bad["age"] = json!(200);
    let reply = host
        .post_json(
            "/predict",
            &json!({"instances": [seed, bad, "x"]}).to_string(),
        )
        .await;
    assert_eq!(reply.status, 422);
    let fields = reply.json()["error"]["fields"].clone();
    assert_eq!(fields.as_array().unwrap().len(), 1, "{fields}");
    assert_eq!(fields[0]["row"], 2);
    let reply = host
        .post_json("/predict", &json!({"instances": [seed, bad]}).to_string())
        .await;
    assert_eq!(reply.status, 422);
    let fields = reply.json()["error"]["fields"].clone();
    assert_eq!(
        fields,
        json!([{"field": "age", "problem": "out-of-range", "row": 1,
        "message": fields[0]["message"]}])
    );
}

#[tokio::test]
async fn malformed_json_is_400_with_the_position() {
    let host = TestHost::start(Options::default());
    let reply = host.post_json("/predict", r#"{"age": 30,"#).await;
    assert_eq!(reply.status, 400);
    let error = &reply.json()["error"];
    assert_eq!(error["code"], "malformed_json");
    assert!(
        error["message"].as_str().unwrap().contains("line 1 column"),
        "{error}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_declared_json_is_415() {
    let host = TestHost::start(Options::default());
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = Request::post("/predict");
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let reply = host.call(request.body(Body::from(SEED_ROW)).unwrap()).await;
        assert_eq!(reply.status, 415, "{content_type:?}");
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            message.contains(content_type.unwrap_or("no Content-Type")),
            "{message}"
        );
    }
    let charset = Request::post("/predict")
        .header("content-type", "application/json; charset=utf-8")
        .body(Body::from(SEED_ROW))
        .unwrap();
    assert_eq!(host.call(charset).await.status, 200);
}

#[tokio::test]
async fn bodies_and_batches_over_the_limits_are_413() {
    let host = TestHost::start(Options::default());
    let limit = Options::default().body_limits.max_bytes;
    let padded = format!(r#"{{"age": 30, "pad": "{}"}}"#, "x".repeat(limit));
    let reply = host.post_json("/predict", &padded).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["error"]["code"], "payload_too_large");
    // A streamed body (no Content-Length) is cut off at the limit too.
    let chunks = chunked(padded.into_bytes());
    let streamed = Request::post("/predict")
        .header("content-type", "application/json")
        .body(chunks)
        .unwrap();
    assert_eq!(host.call(streamed).await.status, 413);

    let rows = Options::default().body_limits.max_batch_rows + 1;
    let seed: Value = serde_json::from_str(SEED_ROW).unwrap();
    let batch = json!({"instances": vec![seed; rows]}).to_string();
    let reply = host.post_json("/predict", &batch).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["error"]["code"], "batch_too_large");
}

/// A body without a declared length, sent in 1 KiB chunks.
fn chunked(bytes: Vec<u8>) -> Body {
    Body::new(Chunked(
        bytes.chunks(1024).map(Bytes::copy_from_slice).collect(),
    ))
}

struct Chunked(VecDeque<Bytes>);

impl HttpBody for Chunked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(
            self.get_mut()
                .0
                .pop_front()
                .map(|chunk| Ok(Frame::data(chunk))),
        )
    }
}

#[tokio::test]
async fn request_ids_are_honoured_or_generated_and_in_every_response() {
    let host = TestHost::start(Options::default());
    let given = Request::post("/predict")
        .header("content-type", "application/json")
        .header("x-request-id", "client-42")
        .body(Body::from(SEED_ROW))
        .unwrap();
    let reply = host.call(given).await;
    assert_eq!(reply.request_id(), "client-42");
    assert_eq!(reply.json()["request_id"], "client-42");
    let error = host.post_json("/predict", "{").await;
    assert_eq!(error.json()["request_id"], error.request_id());
    let a = host.get("/health").await;
    let b = host.get("/nowhere").await;
    assert_eq!(a.request_id().len(), 32);
    assert_ne!(a.request_id(), b.request_id());
    assert_eq!(b.json()["request_id"], b.request_id());
}

#[tokio::test]
async fn past_the_concurrency_limit_requests_are_shed_with_503_and_retry_after() {
    let host = TestHost::start(Options {
        admission: refuse_all(),
        ..Options::default()
    });
    let reply = host.post_json("/predict", SEED_ROW).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.headers["retry-after"], "1");
    assert_eq!(reply.json()["error"]["code"], "overloaded");
    // Health and metrics are not shed: operators can still see in.
    assert_eq!(host.get("/health").await.status, 200);
    assert_eq!(
        host.metric("wasml_requests_shed_total", &[("reason", "queue_full")])
            .await,
        Some(1.0)
    );
}
