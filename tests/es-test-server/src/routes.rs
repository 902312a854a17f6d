//! The HTTP routes, answering in Elasticsearch's JSON shapes.

use std::collections::BTreeMap;
use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use axum::{Json, Router};
use http_body::Frame;
use serde_json::{Value, json};

use crate::faults::Fault;
use crate::store::Store;
use crate::{Shared, bulk, query};

/// The server's routes over `store`.
pub fn app(store: Shared) -> Router {
    Router::new()
        .route("/", get(info))
        .route("/_bulk", post(bulk_all).put(bulk_all))
        .route("/{index}/_bulk", post(bulk_index).put(bulk_index))
        .route(
            "/_index_template/{name}",
            put_setup_route(SetupApi::IndexTemplate).get(get_template),
        )
        .route(
            "/_ilm/policy/{name}",
            put_setup_route(SetupApi::Ilm).get(get_policy),
        )
        .route(
            "/_plugins/_ism/policies/{name}",
            put_setup_route(SetupApi::Ism),
        )
        .route("/_refresh", post(refresh).get(refresh))
        .route("/{index}/_refresh", post(refresh).get(refresh))
        .route("/_cat/indices", get(cat_indices))
        .route("/{index}/_count", get(count).post(count))
        .route("/{index}/_search", get(search).post(search))
        .route("/_fault", post(add_fault))
        .layer(middleware::from_fn(gunzip))
        .layer(middleware::from_fn_with_state(store.clone(), authorize))
        .layer(middleware::from_fn_with_state(store.clone(), as_flavor))
        .layer(DefaultBodyLimit::max(256 << 20))
        .with_state(store)
}

/// Records each request's `Authorization` header and, when the store requires one,
/// answers 401 (as a secured cluster does) to requests without it.
async fn authorize(State(store): State<Shared>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let allowed = {
        let mut store = store.lock().expect("store lock");
        store.last_authorization.clone_from(&given);
        store
            .required_authorization
            .as_ref()
            .is_none_or(|required| given.as_ref() == Some(required))
    };
    if allowed {
        next.run(request).await
    } else {
        es_error(
            401,
            "security_exception",
            "missing authentication credentials for REST request",
        )
    }
}

/// What differs per flavor on every request: OpenSearch refuses Elasticsearch's
/// versioned media types (`application/vnd.elasticsearch+json`, which the official
/// clients send in compatibility mode) with 406; Elastic's servers mark their answers
/// with `X-Elastic-Product` (but not 401/403).
async fn as_flavor(State(store): State<Shared>, request: Request, next: Next) -> Response {
    let flavor = store.lock().expect("store lock").flavor;
    if !flavor.marks_product() {
        let versioned = [header::CONTENT_TYPE, header::ACCEPT]
            .iter()
            .find_map(|name| {
                let value = request.headers().get(name)?.to_str().ok()?;
                value
                    .starts_with("application/vnd.elasticsearch")
                    .then(|| value.to_owned())
            });
        if let Some(value) = versioned {
            let body = json!({"error": format!("Content-Type header [{value}] is not supported"), "status": 406});
            return (StatusCode::NOT_ACCEPTABLE, Json(body)).into_response();
        }
    }
    let mut response = next.run(request).await;
    let status = response.status();
    if flavor.marks_product()
        && status != StatusCode::UNAUTHORIZED
        && status != StatusCode::FORBIDDEN
    {
        response.headers_mut().insert(
            "x-elastic-product",
            header::HeaderValue::from_static("Elasticsearch"),
        );
    }
    response
}

/// Decompresses `Content-Encoding: gzip` request bodies for every route, as
/// Elasticsearch does (the header stays, so `_bulk` can count compressed requests).
async fn gunzip(request: Request, next: Next) -> Response {
    if !is_gzip(request.headers()) {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let compressed = match axum::body::to_bytes(body, 256 << 20).await {
        Ok(bytes) => bytes,
        Err(e) => return es_error(400, "parse_exception", &format!("reading the body: {e}")),
    };
    let mut plain = Vec::new();
    if let Err(e) = flate2::read::GzDecoder::new(&compressed[..]).read_to_end(&mut plain) {
        return es_error(400, "parse_exception", &format!("bad gzip body: {e}"));
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    next.run(Request::from_parts(parts, Body::from(plain)))
        .await
}

fn is_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"))
}

/// `GET /`: what the server is; a writer-only key may not ask.
async fn info(State(store): State<Shared>) -> Response {
    let store = store.lock().expect("store lock");
    if store.writer_key_only {
        return unauthorized_action("cluster:monitor/main");
    }
    Json(store.flavor.info()).into_response()
}

/// The setup APIs the collector calls before its first bulk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetupApi {
    /// `PUT /_index_template/{name}`.
    IndexTemplate,
    /// `PUT /_ilm/policy/{name}`.
    Ilm,
    /// `PUT /_plugins/_ism/policies/{name}` (OpenSearch).
    Ism,
}

impl SetupApi {
    /// The privilege a key needs for it.
    fn action(self) -> &'static str {
        match self {
            Self::IndexTemplate => "indices:admin/index_template/put",
            Self::Ilm => "cluster:admin/ilm/put",
            Self::Ism => "cluster:admin/opendistro/ism/policy/write",
        }
    }

    /// Where the server keeps what it took.
    fn stored(self, store: &mut Store) -> &mut BTreeMap<String, Value> {
        match self {
            Self::IndexTemplate => &mut store.templates,
            Self::Ilm => &mut store.policies,
            Self::Ism => &mut store.ism_policies,
        }
    }
}

/// What a server of `store`'s flavor, called with its key, answers to a `PUT path` of
/// `api` named `name` (with `body`, if it is JSON) instead of taking it, if anything.
fn setup_refused(
    store: &Store,
    api: SetupApi,
    path: &str,
    name: &str,
    body: Option<&Value>,
) -> Option<Response> {
    let flavor = store.flavor;
    let exists = match api {
        SetupApi::Ilm => flavor.has_ilm(),
        SetupApi::Ism => flavor.has_ism(),
        SetupApi::IndexTemplate => true,
    };
    if !exists {
        // How Elasticsearch and OpenSearch answer an endpoint they do not have.
        let message = format!("no handler found for uri [{path}] and method [PUT]");
        let body = json!({"error": message, "status": 400});
        return Some((StatusCode::BAD_REQUEST, Json(body)).into_response());
    }
    if store.writer_key_only {
        return Some(unauthorized_action(api.action()));
    }
    if api == SetupApi::Ism && store.ism_policies.contains_key(name) {
        // ISM does not overwrite a policy without `if_seq_no`/`if_primary_term`.
        return Some(es_error(
            409,
            "version_conflict_engine_exception",
            &format!("[{name}]: version conflict, document already exists (current version [1])"),
        ));
    }
    let refused = match (api, body) {
        (SetupApi::IndexTemplate, Some(template)) => flavor.refuses_template(template),
        _ => None,
    };
    refused.map(|(status, kind, reason)| es_error(status, kind, &reason))
}

/// 403 for a key without the privilege of `action`.
fn unauthorized_action(action: &str) -> Response {
    es_error(
        403,
        "security_exception",
        &format!("action [{action}] is unauthorized for API key id [writer] of user [wasml]"),
    )
}

/// `PUT` of a named setup object of `api`.
fn put_setup_route(api: SetupApi) -> MethodRouter<Shared> {
    put(
        move |State(store): State<Shared>, Path(name): Path<String>, uri: Uri, body: Bytes| async move {
            put_setup(&store, api, &uri, name, &body)
        },
    )
}

/// Stores a named setup object (template, policy), unless the server's flavor or key
/// refuses it.
fn put_setup(store: &Shared, api: SetupApi, uri: &Uri, name: String, body: &Bytes) -> Response {
    let value = json_body(body);
    let mut store = store.lock().expect("store lock");
    let refused = setup_refused(&store, api, uri.path(), &name, value.as_ref().ok());
    if let Some(refused) = refused {
        return refused;
    }
    match value {
        Ok(value) => {
            api.stored(&mut store).insert(name, value);
            Json(json!({"acknowledged": true})).into_response()
        }
        Err(reason) => es_error(400, "parse_exception", &reason),
    }
}

async fn bulk_all(State(store): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    bulk(store, None, headers, body).await
}

async fn bulk_index(
    State(store): State<Shared>,
    Path(index): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    bulk(store, Some(index), headers, body).await
}

async fn bulk(store: Shared, index: Option<String>, headers: HeaderMap, body: Bytes) -> Response {
    let _in_flight = InFlight::enter(&store);
    let fault = store.lock().expect("store lock").faults.pop_front();
    if let Some(Fault::Delay(ms)) = fault {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    match fault {
        Some(Fault::Status(status)) => {
            return es_error(status, status_type(status), "injected by the test server");
        }
        Some(Fault::Drop {
            after_applying: false,
        }) => return dropped(),
        _ => {}
    }
    // The `gunzip` layer already decompressed the body; the header says it was sent so.
    let gzip = is_gzip(&headers);
    let text = match std::str::from_utf8(&body) {
        Ok(text) => text,
        Err(e) => return es_error(400, "parse_exception", &e.to_string()),
    };
    let items = bulk::parse(text, index.as_deref());
    let mut guard = store.lock().expect("store lock");
    guard.bulk_requests += 1;
    guard.gzip_bulk_requests += u64::from(gzip);
    let items = match items {
        Ok(items) => items,
        Err(reason) => return es_error(400, "illegal_argument_exception", &reason),
    };
    let response = bulk::apply(&mut guard, items, fault.as_ref());
    drop(guard);
    if matches!(
        fault,
        Some(Fault::Drop {
            after_applying: true
        })
    ) {
        return dropped();
    }
    Json(response).into_response()
}

/// Counts a `_bulk` request as in flight until dropped.
struct InFlight(Shared);

impl InFlight {
    fn enter(store: &Shared) -> Self {
        let mut guard = store.lock().expect("store lock");
        guard.bulk_in_flight += 1;
        guard.max_bulk_in_flight = guard.max_bulk_in_flight.max(guard.bulk_in_flight);
        drop(guard);
        Self(store.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().expect("store lock").bulk_in_flight -= 1;
    }
}

async fn get_template(State(store): State<Shared>, Path(name): Path<String>) -> Response {
    match store.lock().expect("store lock").templates.get(&name) {
        Some(t) => {
            Json(json!({"index_templates": [{"name": name, "index_template": t}]})).into_response()
        }
        None => es_error(
            404,
            "resource_not_found_exception",
            &format!("index template matching [{name}] not found"),
        ),
    }
}

async fn get_policy(State(store): State<Shared>, Path(name): Path<String>) -> Response {
    match store.lock().expect("store lock").policies.get(&name) {
        Some(p) => Json(json!({ name: {"version": 1, "policy": p["policy"]} })).into_response(),
        None => es_error(
            404,
            "resource_not_found_exception",
            &format!("Lifecycle policy not found: {name}"),
        ),
    }
}

async fn refresh() -> Json<Value> {
    Json(json!({"_shards": {"total": 1, "successful": 1, "failed": 0}}))
}

async fn cat_indices(State(store): State<Shared>) -> Json<Value> {
    let store = store.lock().expect("store lock");
    let rows: Vec<Value> = store
        .indices
        .iter()
        .map(|(name, index)| {
            json!({"health": "green", "status": "open", "index": name,
                   "docs.count": index.docs.len().to_string()})
        })
        .collect();
    Json(Value::Array(rows))
}

async fn count(State(store): State<Shared>, Path(target): Path<String>, body: Bytes) -> Response {
    let request = parse_optional(&body);
    let query = request.as_ref().and_then(|r| r.get("query"));
    if let Err(reason) = query::check(query) {
        return es_error(400, "parsing_exception", &reason);
    }
    let store = store.lock().expect("store lock");
    let count = store
        .matching(&target)
        .iter()
        .flat_map(|(_, index)| index.docs.values())
        .filter(|doc| query::matches(query, doc))
        .count();
    Json(json!({"count": count, "_shards": {"total": 1, "successful": 1, "failed": 0}}))
        .into_response()
}

async fn search(State(store): State<Shared>, Path(target): Path<String>, body: Bytes) -> Response {
    let request = parse_optional(&body);
    let query = request.as_ref().and_then(|r| r.get("query"));
    if let Err(reason) = query::check(query) {
        return es_error(400, "parsing_exception", &reason);
    }
    let size = request
        .as_ref()
        .and_then(|r| r["size"].as_u64())
        .unwrap_or(10) as usize;
    let store = store.lock().expect("store lock");
    let mut found: Vec<(&String, &String, &Value)> = store
        .matching(&target)
        .into_iter()
        .flat_map(|(name, index)| index.docs.iter().map(move |(id, doc)| (name, id, doc)))
        .filter(|(_, _, doc)| query::matches(query, doc))
        .collect();
    // Documents are kept in hash maps; hits come in a stable order: index, then `_id`.
    found.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    let hits: Vec<Value> = found
        .into_iter()
        .map(|(name, id, doc)| json!({"_index": name, "_id": id, "_score": 1.0, "_source": doc}))
        .collect();
    let total = hits.len();
    let hits: Vec<Value> = hits.into_iter().take(size).collect();
    Json(json!({"took": 1, "timed_out": false,
                "hits": {"total": {"value": total, "relation": "eq"}, "hits": hits}}))
    .into_response()
}

async fn add_fault(State(store): State<Shared>, body: Bytes) -> Response {
    let spec = match json_body(&body) {
        Ok(spec) => spec,
        Err(reason) => return es_error(400, "parse_exception", &reason),
    };
    match Fault::parse(&spec) {
        Ok((fault, times)) => {
            let mut store = store.lock().expect("store lock");
            store.faults.extend(std::iter::repeat_n(fault, times));
            Json(json!({"acknowledged": true, "queued": store.faults.len()})).into_response()
        }
        Err(reason) => es_error(400, "illegal_argument_exception", &reason),
    }
}

/// A JSON request body, whatever its declared content type (as Elasticsearch accepts).
fn json_body(body: &Bytes) -> Result<Value, String> {
    serde_json::from_slice(body).map_err(|e| e.to_string())
}

fn parse_optional(body: &Bytes) -> Option<Value> {
    if body.is_empty() {
        None
    } else {
        serde_json::from_slice(body).ok()
    }
}

fn status_type(status: u16) -> &'static str {
    match status {
        429 => "es_rejected_execution_exception",
        503 => "unavailable_shards_exception",
        _ => "exception",
    }
}

/// An error in Elasticsearch's shape.
fn es_error(status: u16, kind: &str, reason: &str) -> Response {
    let body = json!({
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
        "status": status
    });
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(body)).into_response()
}

/// A response whose body fails at once: hyper aborts the connection, as a dropped link
/// or a crashed node would.
fn dropped() -> Response {
    Response::new(Body::new(Broken))
}

struct Broken;

impl HttpBody for Broken {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "fault injected: connection dropped",
        ))))
    }
}
