//! The test server answers like Elasticsearch for what the collector uses, and its faults
//! happen when asked: these are the behaviours the collector's tests rely on.

use std::io::{Read, Write};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use wasml_es_test_server::{EsTestServer, Fault, Shared, app};

async fn call(
    store: &Shared,
    method: &str,
    uri: &str,
    body: impl Into<Body>,
    gzip: bool,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/x-ndjson");
    if gzip {
        request = request.header("content-encoding", "gzip");
    }
    let response = app(store.clone())
        .oneshot(request.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn ndjson(docs: &[(&str, Value)]) -> String {
    docs.iter()
        .map(|(id, doc)| {
            format!(
                "{}\n{}\n",
                json!({"create": {"_index": "ml-pipeline-2026.11.26", "_id": id}}),
                doc
            )
        })
        .collect()
}

fn statuses(response: &Value) -> Vec<u64> {
    response["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["create"]["status"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn create_is_idempotent_by_id_with_409s() {
    let store = Shared::default();
    let body = ndjson(&[("a", json!({"x": 1})), ("b", json!({"x": 2}))]);
    let (status, first) = call(&store, "POST", "/_bulk", body.clone(), false).await;
    assert_eq!(status, 200);
    assert_eq!(
        (statuses(&first), first["errors"].clone()),
        (vec![201, 201], json!(false))
    );
    let (_, again) = call(&store, "POST", "/_bulk", body, false).await;
    assert_eq!(statuses(&again), [409, 409]);
    assert_eq!(again["errors"], true);
    assert_eq!(
        again["items"][0]["create"]["error"]["type"],
        "version_conflict_engine_exception"
    );
    let (_, count) = call(&store, "GET", "/ml-pipeline-*/_count", Body::empty(), false).await;
    assert_eq!(count["count"], 2);
}

#[tokio::test]
async fn template_mappings_are_enforced_per_item() {
    let store = Shared::default();
    let template = json!({"index_patterns": ["ml-pipeline-*"],
        "template": {"mappings": {"properties": {"prediction": {"type": "integer"}, "@timestamp": {"type": "date"}}}}});
    let (status, _) = call(
        &store,
        "PUT",
        "/_index_template/ml-pipeline",
        template.to_string(),
        false,
    )
    .await;
    assert_eq!(status, 200);
    let (_, got) = call(
        &store,
        "GET",
        "/_index_template/ml-pipeline",
        Body::empty(),
        false,
    )
    .await;
    assert_eq!(got["index_templates"][0]["index_template"], template);
    let body = ndjson(&[
        ("ok", json!({"prediction": 1})),
        ("bad", json!({"prediction": "yes"})),
    ]);
    let (_, response) = call(&store, "POST", "/_bulk", body, false).await;
    assert_eq!(statuses(&response), [201, 400]);
    assert_eq!(
        response["items"][1]["create"]["error"]["type"],
        "document_parsing_exception"
    );
}

#[tokio::test]
async fn ilm_policies_are_stored_and_returned() {
    let store = Shared::default();
    let policy =
        json!({"policy": {"phases": {"delete": {"min_age": "30d", "actions": {"delete": {}}}}}});
    let (status, _) = call(
        &store,
        "PUT",
        "/_ilm/policy/ml-pipeline",
        policy.to_string(),
        false,
    )
    .await;
    assert_eq!(status, 200);
    let (_, got) = call(
        &store,
        "GET",
        "/_ilm/policy/ml-pipeline",
        Body::empty(),
        false,
    )
    .await;
    assert_eq!(got["ml-pipeline"]["policy"], policy["policy"]);
    let (status, _) = call(&store, "GET", "/_ilm/policy/other", Body::empty(), false).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn gzip_bodies_are_accepted_and_counted() {
    let store = Shared::default();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(ndjson(&[("z", json!({"x": 1}))]).as_bytes())
        .unwrap();
    let (_, response) = call(&store, "POST", "/_bulk", encoder.finish().unwrap(), true).await;
    assert_eq!(statuses(&response), [201]);
    let store = store.lock().unwrap();
    assert_eq!((store.bulk_requests, store.gzip_bulk_requests), (1, 1));
}

#[tokio::test]
async fn injected_statuses_and_item_failures_happen_as_queued() {
    let store = Shared::default();
    let (_, queued) = call(
        &store,
        "POST",
        "/_fault",
        json!({"status": 429, "times": 2}).to_string(),
        false,
    )
    .await;
    assert_eq!(queued["queued"], 2);
    let body = ndjson(&[
        ("1", json!({})),
        ("2", json!({})),
        ("3", json!({})),
        ("4", json!({})),
    ]);
    for _ in 0..2 {
        let (status, error) = call(&store, "POST", "/_bulk", body.clone(), false).await;
        assert_eq!(status, 429);
        assert_eq!(error["error"]["type"], "es_rejected_execution_exception");
    }
    call(
        &store,
        "POST",
        "/_fault",
        json!({"fail_items": {"every": 2, "status": 429}}).to_string(),
        false,
    )
    .await;
    let (status, response) = call(&store, "POST", "/_bulk", body.clone(), false).await;
    assert_eq!(status, 200);
    assert_eq!(statuses(&response), [201, 429, 201, 429]);
    // Retrying only the failed items completes the set; the others would be 409s.
    let (_, retry) = call(&store, "POST", "/_bulk", body, false).await;
    assert_eq!(statuses(&retry), [409, 201, 409, 201]);
}

#[tokio::test]
async fn search_count_and_cat_answer_term_and_range_queries() {
    let store = Shared::default();
    let body = ndjson(&[
        ("a", json!({"level": "error", "status": 500})),
        ("b", json!({"level": "info", "status": 200})),
        ("c", json!({"level": "error", "status": 504})),
    ]);
    call(&store, "POST", "/_bulk", body, false).await;
    let query = json!({"query": {"bool": {"filter": [{"term": {"level": "error"}}, {"range": {"status": {"gte": 503}}}]}}});
    let (_, found) = call(
        &store,
        "POST",
        "/ml-pipeline-*/_search",
        query.to_string(),
        false,
    )
    .await;
    assert_eq!(found["hits"]["total"]["value"], 1);
    assert_eq!(found["hits"]["hits"][0]["_id"], "c");
    let (_, count) = call(
        &store,
        "POST",
        "/ml-pipeline-2026.11.26/_count",
        json!({"query": {"term": {"level": "error"}}}).to_string(),
        false,
    )
    .await;
    assert_eq!(count["count"], 2);
    let (_, cat) = call(
        &store,
        "GET",
        "/_cat/indices?format=json",
        Body::empty(),
        false,
    )
    .await;
    assert_eq!(cat[0]["index"], "ml-pipeline-2026.11.26");
    assert_eq!(cat[0]["docs.count"], "3");
    let (status, _) = call(
        &store,
        "POST",
        "/_all/_search",
        json!({"query": {"fuzzy": {}}}).to_string(),
        false,
    )
    .await;
    assert_eq!(
        status, 400,
        "unimplemented queries are refused, not silently matched"
    );
}

/// Sends a bulk over a real connection; returns what arrived before the connection ended.
fn raw_bulk(address: std::net::SocketAddr, body: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "POST /_bulk HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut got = Vec::new();
    let _ = stream.read_to_end(&mut got);
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_cut_the_answer_before_or_after_applying() {
    let server = EsTestServer::start().await.unwrap();
    server.inject(
        Fault::Drop {
            after_applying: false,
        },
        1,
    );
    server.inject(
        Fault::Drop {
            after_applying: true,
        },
        1,
    );
    let body = ndjson(&[("d", json!({"x": 1}))]);
    let address = server.address;
    let (first, second) =
        tokio::task::spawn_blocking(move || (raw_bulk(address, &body), raw_bulk(address, &body)))
            .await
            .unwrap();
    for cut in [&first, &second] {
        assert!(
            !cut.contains("\"items\""),
            "no bulk answer arrived: {cut:?}"
        );
    }
    // The first was dropped before applying, the second after: one document.
    assert_eq!(server.documents("ml-pipeline-*").len(), 1);
}
