//! Automatic canary analysis under concurrent load: a good candidate is promoted by the
//! host itself; a candidate that answers worse (live accuracy from `/feedback`) or fails
//! requests (server errors) is stopped by itself — and no client sees a non-2xx it would
//! not have seen from the active version, since a request the canary fails is answered by
//! the active one.

use crate::hot_swap::{TOKEN, admin, conformance_json, conformance_rows, read, settled, upload};
use crate::serving;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use serving::{Options, TestHost};

const MODEL: &str = "bank-marketing";

fn host() -> Arc<TestHost> {
    Arc::new(TestHost::start(Options {
        start_with_v1: true,
        admin_token: Some(TOKEN),
        ..Options::default()
    }))
}

/// The conformance set's inputs: 300 rows spread over every field's range.
fn rows() -> Vec<Value> {
    conformance_rows("v2")
}

/// Puts `version` on trial as a 50 % canary whose analysis decides after `min_requests`
/// over a minute (latency judged loosely: the versions' speeds differ by design).
async fn canary(host: &TestHost, version: &str, min_requests: u64) {
    let analysis =
        json!({"min_requests": min_requests, "max_p99_ratio": 50.0, "window_seconds": 60});
    let body = json!({"version": version, "percent": 50, "analysis": analysis});
    let uri = format!("/admin/models/{MODEL}/canary");
    let reply = admin(host, "PUT", &uri, body.to_string().into_bytes()).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
}

async fn listing(host: &TestHost, version: &str) -> Value {
    let uri = format!("/admin/models/{MODEL}/versions/{version}");
    admin(host, "GET", &uri, Vec::new()).await.json()
}

/// Drives `body_for(i)` from 4 concurrent clients until the analysis of `version`
/// reaches a verdict (or 60 s pass); `feedback` gives the ground truth of a row's answer.
/// Returns every status seen and the final listing.
async fn drive_until_verdict(
    host: &Arc<TestHost>,
    version: &str,
    rows: Arc<Vec<Value>>,
    truth: Option<Arc<HashMap<String, String>>>,
) -> (Vec<u16>, Value) {
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let (host, rows, truth, done) = (
                Arc::clone(host),
                Arc::clone(&rows),
                truth.clone(),
                Arc::clone(&done),
            );
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                let mut i = client;
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let row = &rows[i % rows.len()];
                    i += 4;
                    let reply = host.post_json("/predict", &row.to_string()).await;
                    statuses.push(reply.status.as_u16());
                    if let (Some(truth), 200) = (&truth, reply.status.as_u16()) {
                        let body = reply.json();
                        let feedback = json!({"request_id": body["request_id"],
                            "actual": truth[&row.to_string()]});
                        host.post_json("/feedback", &feedback.to_string()).await;
                    }
                }
                statuses
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let verdict = loop {
        let listed = listing(host, version).await;
        if listed["canary_analysis"]["verdict"] != "collecting" || Instant::now() > deadline {
            break listed;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut statuses = Vec::new();
    for client in clients {
        statuses.extend(client.await.unwrap());
    }
    (statuses, verdict)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_good_candidate_is_promoted_by_the_host() {
    let host = host();
    let wasm = read(wasml_test_support::bundled_component(MODEL, "v2"));
    let listed = upload(&host, MODEL, "2.0.0", wasm, Some(conformance_json("v2"))).await;
    assert_eq!(listed["state"], "ready", "{listed}");
    canary(&host, "2.0.0", 150).await;

    let (statuses, listed) = drive_until_verdict(&host, "2.0.0", Arc::new(rows()), None).await;
    let report = &listed["canary_analysis"];
    assert_eq!(report["verdict"], "promoted", "{listed}");
    assert!(
        report["reason"].as_str().unwrap().starts_with("passed on"),
        "{report}"
    );
    assert!(report["canary_figures"]["requests"].as_u64().unwrap() >= 150);
    assert_eq!(listed["state"], "active");
    assert!(statuses.iter().all(|s| *s == 200), "every client got a 200");
    let promoted = [("model", MODEL), ("result", "auto_promoted")];
    host.assert_metric("ml_model_swaps_total", &promoted, Some(1.0))
        .await;
    let verdict = [
        ("model", MODEL),
        ("canary", "2.0.0"),
        ("active", "1.0.0"),
        ("verdict", "promoted"),
    ];
    host.assert_metric("ml_canary_analysis", &verdict, Some(1.0))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_candidate_that_answers_worse_is_stopped_on_live_accuracy() {
    let host = host();
    let rows = rows();
    // Ground truth, for this test: what the active version answers.
    let mut truth = HashMap::new();
    for row in &rows {
        let body = host.post_json("/predict", &row.to_string()).await.json();
        truth.insert(row.to_string(), body["label"].as_str().unwrap().to_owned());
    }
    // The candidate: version 1's graph under a card with its labels swapped — every
    // answer the other class.
    let dir = format!("{}/../guest/models/{MODEL}/v1", env!("CARGO_MANIFEST_DIR"));
    let mut card: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/card.json")).unwrap())
            .unwrap();
    card["labels"] = json!(["yes", "no"]);
    let base = format!("/admin/models/{MODEL}/versions/1.0.1");
    let reply = admin(
        &host,
        "PUT",
        &format!("{base}/card"),
        card.to_string().into_bytes(),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let onnx = read(&format!("{dir}/model.onnx"));
    let reply = admin(&host, "PUT", &format!("{base}?force=true"), onnx).await;
    assert_eq!(
        reply.status,
        202,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let listed = settled(&host, &base).await;
    assert_eq!(listed["state"], "ready", "{listed}");
    canary(&host, "1.0.1", 60).await;

    let (statuses, listed) =
        drive_until_verdict(&host, "1.0.1", Arc::new(rows), Some(Arc::new(truth))).await;
    let report = &listed["canary_analysis"];
    assert_eq!(report["verdict"], "rolled_back", "{listed}");
    assert!(
        report["reason"]
            .as_str()
            .unwrap()
            .starts_with("live accuracy 0.0000 vs 1.0000"),
        "{report}"
    );
    assert_eq!(listed["state"], "ready", "no longer the canary");
    assert!(statuses.iter().all(|s| *s == 200), "every client got a 200");
    let stopped = [("model", MODEL), ("result", "auto_rolled_back")];
    host.assert_metric("ml_model_swaps_total", &stopped, Some(1.0))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_candidate_that_fails_requests_is_stopped_and_its_failures_reach_no_client() {
    // The hostile build that calls itself bank-marketing 9.9.9 traps on `{"mode": "panic"}`,
    // a row version 1 refuses as invalid (422). The gate would refuse it (it loops on
    // other rows), so it is loaded as a ready version directly.
    let host = Arc::new(TestHost::start(Options {
        start_with_v1: true,
        admin_token: Some(TOKEN),
        ready_versions: vec![wasml_test_artifacts::HOSTILE_IMPOSTOR],
        ..Options::default()
    }));
    assert_eq!(listing(&host, "9.9.9").await["state"], "ready");
    canary(&host, "9.9.9", 40).await;

    let panics = Arc::new(vec![json!({"mode": "panic"})]);
    let (statuses, listed) = drive_until_verdict(&host, "9.9.9", panics, None).await;
    let report = &listed["canary_analysis"];
    assert_eq!(report["verdict"], "rolled_back", "{listed}");
    assert!(
        report["reason"]
            .as_str()
            .unwrap()
            .starts_with("error rate 1.0000 vs 0.0000"),
        "{report}"
    );
    // Every client got the active version's answer to that row: its 422, never the
    // canary's 500.
    assert!(!statuses.is_empty());
    assert!(statuses.iter().all(|s| *s == 422), "{statuses:?}");
    let traps = [("model", MODEL), ("version", "9.9.9"), ("kind", "trap")];
    assert!(host.metric("wasml_wasm_traps_total", &traps).await.unwrap() >= 40.0);
}
