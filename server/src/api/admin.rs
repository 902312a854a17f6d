//! The admin API (`/admin/...`): model versions in and out while the host serves. Mounted
//! only when an admin token is configured; every request needs `Authorization: Bearer
//! <token>` (401 without, 403 with a wrong one; compared in constant time).
//!
//! | route | what |
//! |---|---|
//! | `GET /admin/models` | every model and version with its state and gate checks |
//! | `PUT /admin/models/{name}/versions/{version}/conformance` | the version's conformance set (JSON), before its component |
//! | `PUT /admin/models/{name}/versions/{version}/card` | the version's model card (JSON), before its ONNX model |
//! | `PUT /admin/models/{name}/versions/{version}[?force=true]` | upload a component, or an ONNX model the host packages on its runner (422 naming the cause if it cannot), then 202: compiled and gated in the background |
//! | `GET /admin/models/{name}/versions/{version}` | one version |
//! | `POST /admin/models/{name}/versions/{version}/activate` | make a ready version active |
//! | `PUT /admin/models/{name}/canary` `{"version", "percent"}` | send a share of traffic to a ready version |
//! | `DELETE /admin/models/{name}/canary` | stop the canary |
//! | `PUT /admin/models/{name}/shadow` `{"version", "percent", "tolerance"?}` | also run a share of the active version's requests on a ready version, after answering, and compare |
//! | `DELETE /admin/models/{name}/shadow` | stop the shadow |
//! | `POST /admin/models/{name}/rollback` | re-activate the previous version |
//! | `DELETE /admin/models/{name}/versions/{version}` | retire a version |

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use http_body_util::BodyExt as _;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::audit::{self, Caller};
use super::error::{ApiError, AppError};
use super::status::InstanceCounts;
use crate::intake;
use crate::metrics::{LiveAccuracy, LiveError};
use crate::monitoring::drift::DriftReport;
use crate::registry::{GateCheck, Shadow, VersionState, VersionView};
use crate::swap::{self, ModelLoader, Upload, lifecycle};
use crate::watch::canary::{Policy, Report};
use wasml_collector::secret::{BearerToken, TokenRefusal};
use wasml_runtime::digest::{DigestedWasm, DigestingBuffer};

/// Who an admin request authenticated with the admin token is, in audit events.
const ADMIN_ACTOR: &str = "admin-token";

/// What the admin routes need beyond the app's state.
#[derive(Clone)]
pub struct Admin {
    /// The token, checked in constant time.
    token: BearerToken,
    /// Compiles uploads.
    pub loader: Arc<ModelLoader>,
    /// Largest component accepted.
    pub max_upload_bytes: usize,
}

impl Admin {
    /// Admin access with `token`, compiling uploads with `loader`.
    pub fn new(token: &str, loader: Arc<ModelLoader>, max_upload_bytes: usize) -> Self {
        Self {
            token: BearerToken::new(token),
            loader,
            max_upload_bytes,
        }
    }
}

/// The admin routes (to merge into the app when a token is configured).
pub fn routes(state: &AppState, admin: &Admin) -> Router<AppState> {
    Router::new()
        .route("/admin/models", get(list))
        .route(
            "/admin/models/{name}/versions/{version}",
            put(upload).get(show).delete(retire),
        )
        .route("/admin/models/{name}/versions/{version}/card", put(card))
        .route(
            "/admin/models/{name}/versions/{version}/conformance",
            put(conformance),
        )
        .route(
            "/admin/models/{name}/versions/{version}/activate",
            post(activate),
        )
        .route(
            "/admin/models/{name}/canary",
            put(canary).delete(stop_canary),
        )
        .route(
            "/admin/models/{name}/shadow",
            put(shadow).delete(stop_shadow),
        )
        .route("/admin/models/{name}/rollback", post(rollback))
        .layer(DefaultBodyLimit::max(admin.max_upload_bytes))
        .route_layer(from_fn_with_state(state.clone(), authorize))
}

async fn authorize(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(admin) = &state.admin else {
        return AppError::from(ApiError::NotFound(request.uri().path().to_owned())).into_response();
    };
    let caller = Caller::of(&request);
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (response, actor) = match admin.token.check(given) {
        Ok(()) => (next.run(request).await, Some(ADMIN_ACTOR)),
        Err(refusal) => {
            let (reason, error) = match refusal {
                TokenRefusal::Missing => ("unauthenticated", AppError::Unauthorized),
                TokenRefusal::Wrong => ("forbidden", AppError::Forbidden),
            };
            state.serving.metrics.admin_auth_failed(reason);
            tracing::warn!(
                client = caller.client,
                method = caller.method,
                path = caller.path,
                reason,
                "admin request refused"
            );
            (error.into_response(), None)
        }
    };
    audit::admin_action(&state.serving, &caller, actor, response.status());
    response
}

/// One version, as the admin API (and the console) shows it.
#[derive(Debug, Serialize)]
pub struct VersionBody {
    model: String,
    version: String,
    #[serde(flatten)]
    state: VersionState,
    since: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    canary_percent: Option<u32>,
    /// The share of the active version's requests it also runs, when it is the shadow.
    #[serde(skip_serializing_if = "Option::is_none")]
    shadow_percent: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    component_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    load_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checks: Vec<GateCheck>,
    /// The model card's accuracy on held-out data.
    #[serde(skip_serializing_if = "Option::is_none")]
    card_accuracy: Option<f64>,
    /// Accuracy on reported ground truth (`POST /feedback`): how a canary and the active
    /// version compare on real traffic.
    #[serde(skip_serializing_if = "Option::is_none")]
    live_accuracy: Option<LiveAccuracy>,
    /// A regressor's card mean absolute error on held-out data.
    #[serde(skip_serializing_if = "Option::is_none")]
    card_mae: Option<f64>,
    /// A regressor's error on reported true values (`POST /feedback`).
    #[serde(skip_serializing_if = "Option::is_none")]
    live_error: Option<LiveError>,
    /// Input drift against the card's training distribution over the last 5 minutes (once
    /// enough rows came).
    #[serde(skip_serializing_if = "Option::is_none")]
    drift: Option<DriftReport>,
    /// The last automatic analysis of this version as a canary: verdict, reason, figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    canary_analysis: Option<Report>,
    /// Its instance pool, while loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    instances: Option<InstanceCounts>,
}

impl VersionBody {
    /// The listing of `view`, with its live figures from `state`.
    pub fn new(view: VersionView, state: &AppState) -> Self {
        let metrics = &state.serving.metrics;
        let card = view.model.as_ref().and_then(|m| m.info.evaluation);
        Self {
            instances: view.model.as_deref().map(InstanceCounts::of),
            canary_analysis: state.canaries.report(&view.name, &view.version),
            component_sha256: view.sha256.clone(),
            load_seconds: view.model.as_ref().map(|m| m.load_seconds),
            card_accuracy: card.and_then(|e| e.accuracy),
            live_accuracy: metrics.live_accuracy(&view.name, &view.version),
            card_mae: card.and_then(|e| e.mae),
            live_error: metrics.live_error(&view.name, &view.version),
            drift: view.model.as_ref().and_then(|m| {
                let drift = m.drift.as_ref()?;
                drift.report(metrics.now(), metrics.monitoring_options().drift)
            }),
            model: view.name,
            version: view.version,
            state: view.state,
            since: view.since.to_rfc3339(),
            canary_percent: view.canary_percent,
            shadow_percent: view.shadow_percent,
            checks: view.checks,
        }
    }
}

fn admin(state: &AppState) -> Result<&Admin, AppError> {
    state
        .admin
        .as_ref()
        .ok_or_else(|| AppError::from(ApiError::NotFound("/admin".into())))
}

async fn list(State(state): State<AppState>) -> Json<serde_json::Value> {
    let versions: Vec<VersionBody> = state
        .serving
        .models
        .versions()
        .into_iter()
        .map(|view| VersionBody::new(view, &state))
        .collect();
    Json(
        serde_json::json!({ "default_model": state.serving.models.default_name(), "versions": versions }),
    )
}

async fn show(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<VersionBody>, AppError> {
    state
        .serving
        .models
        .versions()
        .into_iter()
        .find(|v| v.name == name && v.version == version)
        .map(|view| Json(VersionBody::new(view, &state)))
        .ok_or_else(|| crate::registry::RegistryError::UnknownVersion(name, version).into())
}

/// Whether the query string asks to accept a schema change (`force=true`).
fn forced(uri: &Uri) -> bool {
    uri.query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "force=true" || kv == "force=1"))
}

async fn upload(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let admin = admin(&state)?;
    let mut wasm = receive_component(&headers, body, admin.max_upload_bytes).await?;
    if !intake::is_wasm(wasm.bytes()) {
        wasm = package_onnx(admin, &name, &version, wasm).await?;
    }
    let upload = Upload {
        name: name.clone(),
        version: version.clone(),
        wasm,
        force: forced(&uri),
        activate_when_ready: false,
    };
    swap::start(&state.serving, Arc::clone(&admin.loader), upload)?;
    let location = format!("/admin/models/{name}/versions/{version}");
    let body = serde_json::json!({"model": name, "version": version, "state": "compiling", "location": location});
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}

/// Reads an uploaded component, hashing it while it arrives (the digest names its cache
/// entry), within `limit` bytes.
async fn receive_component(
    headers: &HeaderMap,
    mut body: Body,
    limit: usize,
) -> Result<DigestedWasm, AppError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::PayloadTooLarge { limit }.into());
    }
    let mut buffer = DigestingBuffer::with_capacity(declared.unwrap_or(0));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| AppError::BodyUnreadable)?;
        let Ok(chunk) = frame.into_data() else {
            continue; // trailers
        };
        if buffer.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit }.into());
        }
        buffer.push(&chunk);
    }
    if buffer.is_empty() {
        return Err(AppError::bad_request(
            "the body must be the component's bytes",
        ));
    }
    Ok(buffer.finish())
}

/// Packages an uploaded ONNX model (with the card uploaded for it, or one inferred) on
/// the runner; nothing is registered if that fails.
async fn package_onnx(
    admin: &Admin,
    name: &str,
    version: &str,
    upload: DigestedWasm,
) -> Result<DigestedWasm, AppError> {
    let card = admin.loader.take_card(name, version);
    let (name, version) = (name.to_owned(), version.to_owned());
    let intake = admin.loader.intake();
    tokio::task::spawn_blocking(move || {
        intake.package_onnx(upload.bytes(), card.as_deref(), &name, &version)
    })
    .await
    .expect("packaging does not panic")
    .map_err(|e| ApiError::Unprocessable(format!("the ONNX model was not packaged: {e}")).into())
}

async fn card(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, AppError> {
    let admin = admin(&state)?;
    let text = std::str::from_utf8(&body).map_err(|e| AppError::bad_request(e.to_string()))?;
    // Checked in full when the ONNX upload is packaged with it (which also fills in the
    // ONNX file's sha256): here only that it is a JSON object.
    serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
        .map_err(|e| AppError::bad_request(format!("not a model card (a JSON object): {e}")))?;
    admin
        .loader
        .add_card(&name, &version, text.to_owned())
        .map_err(|e| AppError::bad_request(e.to_string()))?;
    Ok(Json(
        serde_json::json!({"model": name, "version": version, "card": "kept for the ONNX upload"}),
    ))
}

async fn conformance(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, AppError> {
    let admin = admin(&state)?;
    let text = std::str::from_utf8(&body).map_err(|e| AppError::bad_request(e.to_string()))?;
    let set = wasml_predictor::ConformanceSet::from_json(text)
        .map_err(|e| AppError::bad_request(format!("not a conformance set: {e}")))?;
    if set.model != name || set.version != version {
        return Err(AppError::bad_request(format!(
            "the set is for {} {}, not {name} {version}",
            set.model, set.version
        )));
    }
    let cases = set.cases.len();
    admin
        .loader
        .add_conformance_set(&name, &version, set)
        .map_err(|e| AppError::bad_request(e.to_string()))?;
    Ok(Json(
        serde_json::json!({"model": name, "version": version, "cases": cases}),
    ))
}

async fn activate(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, AppError> {
    let previous = lifecycle::activate(&state.serving, &name, &version)?;
    Ok(Json(
        serde_json::json!({"model": name, "active": version, "previous": previous}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CanaryBody {
    version: String,
    percent: u32,
    /// Judge the canary against the active version and promote or stop it by itself.
    #[serde(default)]
    analysis: Option<Policy>,
}

async fn canary(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, AppError> {
    let request: CanaryBody = serde_json::from_slice(&body).map_err(|e| {
        AppError::bad_request(format!(
            "expected {{\"version\", \"percent\", \"analysis\" (optional)}}: {e}"
        ))
    })?;
    let active = state.serving.models.active(&name);
    let replaced = lifecycle::set_canary(&state.serving, &name, &request.version, request.percent)?;
    if let (Some(policy), Some(active)) = (&request.analysis, active) {
        state.canaries.start(
            &state.serving,
            &name,
            &request.version,
            active.version(),
            policy.clone(),
        );
    }
    Ok(Json(serde_json::json!({
        "model": name, "canary": request.version, "percent": request.percent,
        "replaced": replaced, "analysis": request.analysis
    })))
}

async fn stop_canary(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let cleared = lifecycle::stop_canary(&state.serving, &name)?;
    Ok(Json(serde_json::json!({"model": name, "stopped": cleared})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ShadowBody {
    version: String,
    percent: u32,
    #[serde(default = "default_tolerance")]
    tolerance: f64,
}

/// A regressor's answers disagree past 1 % of the larger, unless the request says.
fn default_tolerance() -> f64 {
    0.01
}

async fn shadow(
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, AppError> {
    let request: ShadowBody = serde_json::from_slice(&body).map_err(|e| {
        AppError::bad_request(format!(
            "expected {{\"version\", \"percent\", \"tolerance\" (optional)}}: {e}"
        ))
    })?;
    let shadow = Shadow {
        version: request.version.clone(),
        percent: request.percent,
        tolerance: request.tolerance,
    };
    let replaced = lifecycle::set_shadow(&state.serving, &name, shadow)?;
    Ok(Json(serde_json::json!({
        "model": name, "shadow": request.version, "percent": request.percent,
        "tolerance": request.tolerance, "replaced": replaced
    })))
}

async fn stop_shadow(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let cleared = lifecycle::stop_shadow(&state.serving, &name)?;
    Ok(Json(serde_json::json!({"model": name, "stopped": cleared})))
}

async fn rollback(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let (from, to) = lifecycle::rollback(&state.serving, &name)?;
    Ok(Json(
        serde_json::json!({"model": name, "active": to, "previous": from}),
    ))
}

async fn retire(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, AppError> {
    lifecycle::retire(&state.serving, &name, &version)?;
    Ok(Json(serde_json::json!({"model": name, "retired": version})))
}
