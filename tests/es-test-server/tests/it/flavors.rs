//! The test server answers as Elasticsearch, OpenSearch or Serverless, and to a writer-only
//! key, where those differ for a log shipper: `GET /`, the lifecycle APIs, what a
//! template may hold, data streams and the `X-Elastic-Product` header.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{Value, json};
use tower::ServiceExt as _;
use wasml_es_test_server::{Flavor, Shared, app};

/// A store answering as `flavor`.
fn server(flavor: Flavor, writer_key_only: bool) -> Shared {
    let store = Shared::default();
    {
        let mut guard = store.lock().unwrap();
        guard.flavor = flavor;
        guard.writer_key_only = writer_key_only;
    }
    store
}

async fn call(
    store: &Shared,
    method: &str,
    uri: &str,
    content_type: &str,
    body: String,
) -> (StatusCode, HeaderMap, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    let response = app(store.clone()).oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, parts.headers, value)
}

async fn json_call(store: &Shared, method: &str, uri: &str, body: Value) -> (StatusCode, Value) {
    let (status, _, value) = call(store, method, uri, "application/json", body.to_string()).await;
    (status, value)
}

#[tokio::test]
async fn get_root_says_which_server_and_a_writer_key_may_not_ask() {
    for (flavor, field, value) in [
        (Flavor::Elasticsearch, "build_flavor", "default"),
        (Flavor::OpenSearch, "distribution", "opensearch"),
        (Flavor::Serverless, "build_flavor", "serverless"),
    ] {
        let (status, headers, info) = call(
            &server(flavor, false),
            "GET",
            "/",
            "application/json",
            String::new(),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(info["version"][field], value, "{flavor:?}");
        assert_eq!(
            headers.get("x-elastic-product").is_some(),
            flavor != Flavor::OpenSearch,
            "{flavor:?}: only Elastic's servers name their product"
        );
    }
    let (status, headers, error) = call(
        &server(Flavor::Elasticsearch, true),
        "GET",
        "/",
        "application/json",
        String::new(),
    )
    .await;
    assert_eq!(status, 403);
    assert!(headers.get("x-elastic-product").is_none(), "not on a 403");
    assert!(
        error["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("cluster:monitor/main")
    );
}

#[tokio::test]
async fn each_server_has_its_own_lifecycle_api() {
    let policy = json!({"policy": {"states": []}});
    for (flavor, ilm, ism) in [
        (Flavor::Elasticsearch, 200, 400),
        (Flavor::OpenSearch, 400, 200),
        (Flavor::Serverless, 400, 400),
    ] {
        let store = server(flavor, false);
        let (status, _) = json_call(&store, "PUT", "/_ilm/policy/p", policy.clone()).await;
        assert_eq!(status, ilm, "{flavor:?} ILM");
        let (status, answer) =
            json_call(&store, "PUT", "/_plugins/_ism/policies/p", policy.clone()).await;
        assert_eq!(status, ism, "{flavor:?} ISM: {answer}");
        if ism == 400 {
            assert!(
                answer["error"]
                    .as_str()
                    .unwrap()
                    .contains("no handler found")
            );
        }
    }
    // ISM does not overwrite: a second PUT conflicts.
    let store = server(Flavor::OpenSearch, false);
    json_call(&store, "PUT", "/_plugins/_ism/policies/p", policy.clone()).await;
    let (status, _) = json_call(&store, "PUT", "/_plugins/_ism/policies/p", policy.clone()).await;
    assert_eq!(status, 409);
    assert_eq!(store.lock().unwrap().ism_policies.len(), 1);
    // A writer key may not, where the API exists.
    let writer = server(Flavor::OpenSearch, true);
    let (status, _) = json_call(&writer, "PUT", "/_plugins/_ism/policies/p", policy).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn templates_are_checked_against_each_servers_settings_and_types() {
    let template = |settings: Value, kind: &str| {
        json!({"index_patterns": ["t-*"], "template": {"settings": settings,
            "mappings": {"properties": {"fields": {"type": kind}}}}})
    };
    let cases = [
        (
            Flavor::Elasticsearch,
            json!({"index.lifecycle.name": "p"}),
            "flattened",
            200,
        ),
        (Flavor::Elasticsearch, json!({}), "flat_object", 400),
        (
            Flavor::OpenSearch,
            json!({"index.lifecycle.name": "p"}),
            "flat_object",
            400,
        ),
        (
            Flavor::OpenSearch,
            json!({"index": {"lifecycle": {"name": "p"}}}),
            "flat_object",
            400,
        ),
        (
            Flavor::OpenSearch,
            json!({"number_of_shards": 1}),
            "flattened",
            400,
        ),
        (
            Flavor::OpenSearch,
            json!({"number_of_shards": 1}),
            "flat_object",
            200,
        ),
        (
            Flavor::Serverless,
            json!({"number_of_shards": 1}),
            "flattened",
            400,
        ),
        (Flavor::Serverless, json!({}), "flattened", 200),
    ];
    for (flavor, settings, kind, expected) in cases {
        let store = server(flavor, false);
        let body = template(settings.clone(), kind);
        let (status, answer) = json_call(&store, "PUT", "/_index_template/t", body).await;
        assert_eq!(status, expected, "{flavor:?} {settings} {kind}: {answer}");
    }
}

/// One `create` of `doc` (and one `index`) into `name`; the items' statuses.
async fn write_both_ways(store: &Shared, name: &str, doc: Value) -> Vec<u64> {
    let body = format!(
        "{}\n{doc}\n{}\n{doc}\n",
        json!({"create": {"_index": name, "_id": "c"}}),
        json!({"index": {"_index": name, "_id": "i"}})
    );
    let (_, _, answer) = call(store, "POST", "/_bulk", "application/x-ndjson", body).await;
    answer["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            let outcome = item.as_object().unwrap().values().next().unwrap();
            outcome["status"].as_u64().unwrap()
        })
        .collect()
}

#[tokio::test]
async fn data_streams_take_creates_with_a_timestamp_only() {
    let doc = json!({"@timestamp": "2026-11-30T10:00:00Z", "message": "m"});
    // A template with `data_stream` makes one.
    let store = server(Flavor::OpenSearch, false);
    let template = json!({"index_patterns": ["events-ds"], "data_stream": {}, "template": {}});
    json_call(&store, "PUT", "/_index_template/ds", template).await;
    assert_eq!(
        write_both_ways(&store, "events-ds", doc.clone()).await,
        [201, 400]
    );
    assert!(store.lock().unwrap().indices["events-ds"].data_stream);
    // Elastic's built-in `logs` template makes `logs-*-*` data streams; OpenSearch has none.
    for (flavor, data_stream) in [(Flavor::Elasticsearch, true), (Flavor::OpenSearch, false)] {
        let store = server(flavor, false);
        let statuses = write_both_ways(&store, "logs-app-default", doc.clone()).await;
        let expected: &[u64] = if data_stream {
            &[201, 400]
        } else {
            &[201, 201]
        };
        assert_eq!(statuses, expected, "{flavor:?}");
    }
    let store = server(Flavor::Serverless, false);
    let untimed = write_both_ways(&store, "logs-app-default", json!({"message": "m"})).await;
    assert_eq!(untimed, [400, 400], "a data stream needs @timestamp");
}

#[tokio::test]
async fn opensearch_refuses_elasticsearch_versioned_media_types() {
    let versioned = "application/vnd.elasticsearch+json; compatible-with=8";
    for (flavor, expected) in [(Flavor::OpenSearch, 406), (Flavor::Elasticsearch, 200)] {
        let store = server(flavor, false);
        let (status, _, answer) = call(&store, "GET", "/", versioned, String::new()).await;
        assert_eq!(status, expected, "{flavor:?}: {answer}");
    }
}
