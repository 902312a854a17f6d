//! The Open Inference Protocol (KServe V2 REST), so that Triton, KServe and MLServer
//! clients can call the host as they call those servers.
//!
//! | route | answer |
//! |---|---|
//! | `GET /v2` | server metadata |
//! | `GET /v2/health/live`, `GET /v2/health/ready` | `{"live": true}`, `{"ready": …}` (400 when not ready) |
//! | `GET /v2/models/{name}[/versions/{version}]` | model metadata: inputs and outputs as tensors |
//! | `GET /v2/models/{name}[/versions/{version}]/ready` | `{"name": …, "ready": …}` (400 when not ready) |
//! | `POST /v2/models/{name}[/versions/{version}]/infer` | inference ([`tensor`]) |
//!
//! Inference goes through the same [`serve`] as `POST /predict` — same checks, limits,
//! metrics, events and feedback — with the protocol's tensors in and out and its error
//! format, `{"error": "<message>"}`, with this API's status codes. Without a version the
//! request is routed like `/models/{name}/predict` (canary included).

pub mod metadata;
/// The protocol's JSON tensors and their rows, from the shared API library.
pub use wasml_predictor::api::tensor;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value};

use super::AppState;
use super::body::{BodyLimits, PredictInput, read_limited};
use super::error::{ApiError, AppError};
use super::predict::{Answer, HttpBody, PredictProtocol, serve_http};
use crate::registry::{LoadedModel, RegistryError, Route};
use tensor::{InferenceRequest, InferenceResponse};
use wasml_runtime::convert;

/// The header of the binary tensor data extension, which this host does not speak.
const BINARY_HEADER: &str = "inference-header-content-length";

/// The protocol's prediction routes (behind the concurrency limit, like `/predict`).
pub fn predict_routes() -> Router<AppState> {
    Router::new()
        .route("/v2/models/{name}/infer", post(infer))
        .route(
            "/v2/models/{name}/versions/{version}/infer",
            post(infer_version),
        )
}

/// The protocol's other routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2", get(metadata::server))
        .route("/v2/health/live", get(live))
        .route("/v2/health/ready", get(ready))
        .route("/v2/models/{name}", get(metadata::model))
        .route("/v2/models/{name}/ready", get(model_ready))
        .route(
            "/v2/models/{name}/versions/{version}",
            get(metadata::model_version),
        )
        .route(
            "/v2/models/{name}/versions/{version}/ready",
            get(version_ready),
        )
}

/// What the two inference routes answer, documented once.
#[allow(dead_code)] // Only its derived OpenAPI description is used.
#[derive(utoipa::IntoResponses)]
enum InferResponses {
    /// The output tensors.
    #[response(status = 200)]
    Ok(InferenceResponse),
    /// Not JSON, not an inference request, or tensors that do not fit.
    #[response(status = 400)]
    BadRequest(ProtocolError),
    /// No such model (or version).
    #[response(status = 404)]
    NotFound(ProtocolError),
    /// The body did not arrive within the body read timeout.
    #[response(status = 408)]
    BodyTimeout(ProtocolError),
    /// Body or rows over the limit.
    #[response(status = 413)]
    TooLarge(ProtocolError),
    /// Field values the model refuses.
    #[response(status = 422)]
    Invalid(ProtocolError),
    /// The model failed.
    #[response(status = 500)]
    ModelFailed(ProtocolError),
    /// Overloaded or model unavailable.
    #[response(status = 503)]
    Unavailable(ProtocolError),
    /// The model ran past its deadline.
    #[response(status = 504)]
    Deadline(ProtocolError),
}

/// Inference with the routed version (canary included).
#[utoipa::path(
    post,
    path = "/v2/models/{name}/infer",
    params(("name" = String, Path, description = "Model name")),
    request_body(content = InferenceRequest, description = "One tensor per model input, shape [N] or [N, 1]"),
    responses(InferResponses),
    tag = "open-inference"
)]
pub async fn infer(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    match state.serving.models.route_request(&name) {
        Some(route) => serve_http(&state, route, request, OpenInference::default()).await,
        None => error_response(AppError::ModelNotFound(name)),
    }
}

/// Inference with one version.
#[utoipa::path(
    post,
    path = "/v2/models/{name}/versions/{version}/infer",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Model version")),
    request_body(content = InferenceRequest, description = "One tensor per model input, shape [N] or [N, 1]"),
    responses(InferResponses),
    tag = "open-inference"
)]
pub async fn infer_version(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
    request: Request,
) -> Response {
    match state.serving.models.version(&name, &version) {
        Some(model) => {
            serve_http(&state, Route::to(model), request, OpenInference::default()).await
        }
        None => error_response(RegistryError::UnknownVersion(name, version).into()),
    }
}

/// Liveness: the process answers.
#[utoipa::path(
    get,
    path = "/v2/health/live",
    responses((status = 200, description = "`{\"live\": true}`", body = Object)),
    tag = "open-inference"
)]
pub async fn live() -> Json<Value> {
    Json(serde_json::json!({ "live": true }))
}

/// Readiness: every served model is ready (has an active version), as the protocol
/// defines server readiness; a model whose first version is still compiling or waiting
/// for activation makes the server not ready until it is activated, failed or retired.
#[utoipa::path(
    get,
    path = "/v2/health/ready",
    responses(
        (status = 200, description = "`{\"ready\": true}`", body = Object),
        (status = 400, description = "Not ready", body = Object),
    ),
    tag = "open-inference"
)]
pub async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let ready = state.serving.models.ready();
    (
        readiness(ready),
        Json(serde_json::json!({ "ready": ready })),
    )
}

/// Whether the model has an active version.
#[utoipa::path(
    get,
    path = "/v2/models/{name}/ready",
    params(("name" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "`{\"name\": …, \"ready\": true}`", body = Object),
        (status = 400, description = "Not ready", body = Object),
    ),
    tag = "open-inference"
)]
pub async fn model_ready(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> (StatusCode, Json<Value>) {
    named_readiness(&name, state.serving.models.active(&name).is_some())
}

/// Whether the version is loaded and can serve.
#[utoipa::path(
    get,
    path = "/v2/models/{name}/versions/{version}/ready",
    params(("name" = String, Path, description = "Model name"), ("version" = String, Path, description = "Model version")),
    responses(
        (status = 200, description = "`{\"name\": …, \"ready\": true}`", body = Object),
        (status = 400, description = "Not ready", body = Object),
    ),
    tag = "open-inference"
)]
pub async fn version_ready(
    State(state): State<AppState>,
    Path((name, version)): Path<(String, String)>,
) -> (StatusCode, Json<Value>) {
    named_readiness(
        &name,
        state.serving.models.version(&name, &version).is_some(),
    )
}

/// `{"name": …, "ready": …}` with its status.
fn named_readiness(name: &str, ready: bool) -> (StatusCode, Json<Value>) {
    (
        readiness(ready),
        Json(serde_json::json!({ "name": name, "ready": ready })),
    )
}

/// The protocol answers "false" with a 4xx.
fn readiness(ready: bool) -> StatusCode {
    if ready {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// The Open Inference Protocol as a [`PredictProtocol`].
#[derive(Default)]
struct OpenInference {
    /// The request's `id`, repeated in the answer.
    id: Option<String>,
    /// The outputs asked for.
    outputs: Vec<&'static str>,
}

impl PredictProtocol for OpenInference {
    type Body = HttpBody;
    type Reply = Response;

    async fn read(
        &mut self,
        model: &LoadedModel,
        HttpBody { headers, body }: HttpBody,
        limits: BodyLimits,
    ) -> Result<PredictInput, AppError> {
        if headers.contains_key(BINARY_HEADER) {
            return Err(AppError::bad_request(
                "the binary tensor data extension is not supported; send JSON tensors (binary_data false)",
            ));
        }
        let bytes = read_limited(&headers, body, limits.max_bytes).await?;
        let request: InferenceRequest = serde_json::from_slice(&bytes).map_err(|e| {
            if e.is_data() {
                AppError::bad_request(format!("not an inference request: {e}"))
            } else {
                ApiError::MalformedJson(e.to_string()).into()
            }
        })?;
        self.id = request.id.clone();
        let (rows, outputs) = read_tensors(&request, model, limits)?;
        self.outputs = outputs;
        Ok(rows)
    }

    fn answer(&self, model: &LoadedModel, answer: Answer) -> Response {
        let mut parameters = Map::new();
        parameters.insert(
            "request_id".into(),
            Value::from(super::predict::current_id()),
        );
        Json(InferenceResponse {
            model_name: model.name().to_owned(),
            model_version: model.version().to_owned(),
            id: self.id.clone(),
            parameters,
            outputs: tensor::outputs(&answer.predictions, &self.outputs),
        })
        .into_response()
    }

    fn error(&self, error: AppError) -> Response {
        error_response(error)
    }
}

/// The rows an inference request's tensors hold for `model`, and the outputs it asks
/// for (whichever encoding carried the tensors: JSON here, protobuf over gRPC).
pub fn read_tensors(
    request: &InferenceRequest,
    model: &LoadedModel,
    limits: BodyLimits,
) -> Result<(PredictInput, Vec<&'static str>), AppError> {
    let rows = tensor::rows(request, limits.max_batch_rows)?;
    let outputs = tensor::wanted_outputs(request, convert::task(model.info.task))?;
    Ok((rows, outputs))
}

/// The protocol's error body.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ProtocolError {
    /// What went wrong.
    pub error: String,
}

/// `error` in the protocol's format: its status (and headers such as `Retry-After`) with
/// `{"error": "<message>"}`.
pub fn error_response(error: AppError) -> Response {
    let message = error.to_string();
    let (parts, _) = error.into_response().into_parts();
    let body = Json(ProtocolError { error: message }).into_response();
    Response::from_parts(parts, body.into_body())
}
