//! Shadow traffic: a ready version runs the active version's requests after they are
//! answered; the clients' answers stay the active version's, every shadowed request is
//! counted, the disagreements are exactly the rows the two versions answer differently,
//! each comes with an event naming both answers, and bad shadow requests are refused with
//! their cause.

use crate::hot_swap::{TOKEN, admin, conformance_json, conformance_rows, read, upload};
use crate::serving;

use serde_json::{Value, json};
use serving::{Options, TestHost, eventually_async};

const MODEL: &str = "bank-marketing";
const PAIR: [(&str, &str); 3] = [("model", MODEL), ("active", "1.0.0"), ("shadow", "2.0.0")];

/// The conformance set's inputs: 300 rows spread over every field's range.
fn rows() -> Vec<Value> {
    conformance_rows("v2")
}

/// Each row's answer (label, version that gave it, request ID), one request per row.
async fn answers(host: &TestHost, rows: &[Value]) -> Vec<(String, String, String)> {
    let mut answers = Vec::new();
    for row in rows {
        let reply = host.post_json("/predict", &row.to_string()).await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        let body = reply.json();
        answers.push((
            body["label"].as_str().unwrap().to_owned(),
            body["model"]["version"].as_str().unwrap().to_owned(),
            body["request_id"].as_str().unwrap().to_owned(),
        ));
    }
    answers
}

async fn shadow(host: &TestHost, body: Value) -> serving::Reply {
    let uri = format!("/admin/models/{MODEL}/shadow");
    admin(host, "PUT", &uri, body.to_string().into_bytes()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_runs_after_the_answer_and_counts_disagreements_exactly() {
    let host = TestHost::start(Options {
        start_with_v1: true,
        admin_token: Some(TOKEN),
        ..Options::default()
    });
    let rows = rows();
    let before = answers(&host, &rows).await;
    let wasm = read(wasml_test_support::bundled_component(MODEL, "v2"));
    let listing = upload(&host, MODEL, "2.0.0", wasm, Some(conformance_json("v2"))).await;
    assert_eq!(listing["state"], "ready", "{listing}");

    // Refused, with the cause.
    let refused = shadow(&host, json!({"version": "1.0.0", "percent": 100})).await;
    assert_eq!(
        refused.status, 409,
        "the active version cannot shadow itself"
    );
    assert!(
        refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("only a ready version can shadow")
    );
    let refused = shadow(&host, json!({"version": "2.0.0", "percent": 0})).await;
    assert_eq!(refused.status, 422);
    assert_eq!(refused.json()["error"]["code"], "bad_shadow");
    let refused = shadow(&host, json!({"version": "9.9.9", "percent": 10})).await;
    assert_eq!(refused.status, 404);
    let refused = shadow(&host, json!({"version": "2.0.0"})).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("percent")
    );

    let reply = shadow(&host, json!({"version": "2.0.0", "percent": 100})).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let listed = admin(
        &host,
        "GET",
        &format!("/admin/models/{MODEL}/versions/2.0.0"),
        Vec::new(),
    )
    .await
    .json();
    assert_eq!(listed["shadow_percent"], 100, "{listed}");
    assert_eq!(listed["state"], "ready");

    // With the shadow on, every client still gets the active version's answer. (Sent in
    // chunks, each let finish: past 64 runs under way the shadow skips, as it should
    // under load, and this test counts exactly.)
    let mut during = Vec::new();
    for chunk in rows.chunks(50) {
        during.extend(answers(&host, chunk).await);
        let sent = during.len() as f64;
        assert!(
            eventually_async(|| async {
                host.metric("ml_shadow_requests_total", &PAIR).await == Some(sent)
            })
            .await,
            "every request shadowed: {:?} of {sent}",
            host.metric("ml_shadow_requests_total", &PAIR).await
        );
    }
    for ((label, version, _), (before, _, _)) in during.iter().zip(&before) {
        assert_eq!((label, version.as_str()), (before, "1.0.0"));
    }
    host.assert_metric("ml_shadow_skipped_total", &PAIR, Some(0.0))
        .await;

    // What the shadow would have answered: 2.0.0's own answers, once it is active (which
    // also ends its shadowing).
    let activate = format!("/admin/models/{MODEL}/versions/2.0.0/activate");
    assert_eq!(
        admin(&host, "POST", &activate, Vec::new()).await.status,
        200
    );
    let after = answers(&host, &rows).await;
    let differing: Vec<usize> = (0..rows.len())
        .filter(|&i| before[i].0 != after[i].0)
        .collect();
    assert!(
        !differing.is_empty(),
        "the two versions differ on some rows"
    );
    host.assert_metric("ml_shadow_rows_total", &PAIR, Some(rows.len() as f64))
        .await;
    host.assert_metric(
        "ml_shadow_disagreements_total",
        &PAIR,
        Some(differing.len() as f64),
    )
    .await;
    host.assert_metric("ml_shadow_failures_total", &PAIR, Some(0.0))
        .await;
    assert_eq!(
        host.metric("ml_shadow_requests_total", &PAIR).await,
        Some(rows.len() as f64),
        "not shadowed once active"
    );

    // One event per disagreeing request, under that request's ID, with both answers.
    let events = host.finish_events().await;
    let disagreements: Vec<_> = events
        .iter()
        .filter(|e| e.message.starts_with("shadow 2.0.0 disagreed"))
        .collect();
    assert_eq!(disagreements.len(), differing.len());
    for i in differing {
        let id = &during[i].2;
        let event = disagreements
            .iter()
            .find(|e| e.request_id.as_deref() == Some(id.as_str()))
            .unwrap_or_else(|| panic!("no event for row {i}"));
        assert!(
            event.fields["active_answer"].starts_with(&before[i].0),
            "{event:?}"
        );
        assert!(
            event.fields["shadow_answer"].starts_with(&after[i].0),
            "{event:?}"
        );
    }
}
