//! `POST /predict` and `POST /models/{name}/predict`: one row or a batch, through a
//! pooled instance of the model's component.
//!
//! The call into the component runs on the request's own task ([`LoadedModel::call`]),
//! one per pooled instance at a time; requests wait for a free instance asynchronously.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use wasml_predictor::Prediction;
pub use wasml_predictor::api::schema::FeatureValue;
use wasml_predictor::api::{ApiError, answer_body, settle};
pub use wasml_predictor::api::{BatchPredictionBody, ModelRef, PredictionBody, RowPrediction};

use super::body::{BodyLimits, PredictInput, read_predict_input};
use super::error::{AppError, ErrorBody};
use super::outcome::Outcome;
use super::request_id;
use super::{AppState, accounting};
use crate::feedback::{Remembered, Said};
use crate::registry::{LoadedModel, ModelCall, Predict, PredictBatch, Route, Shadow};
use crate::watch::shadow::{self as shadow_run, Answered};
use wasml_runtime::convert;
use wasml_runtime::instance::CallError;

/// The header naming the user, for `ml_active_users`.
pub const USER_HEADER: &str = "x-user-id";

/// One row: field name to number or string. The served document replaces this with the
/// default model's schema.
#[derive(Serialize, ToSchema)]
pub struct Features(HashMap<String, FeatureValue>);

/// Many rows at once.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The rows, at least one.
    #[schema(min_items = 1)]
    pub instances: Vec<Features>,
}

/// A prediction request: one row, or a batch.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum PredictRequest {
    /// One row.
    Row(Features),
    /// A batch.
    Batch(BatchRequest),
}

/// A prediction answer: one row's, or a batch's.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum PredictResponse {
    /// For a one-row request.
    Row(PredictionBody),
    /// For a batch request.
    Batch(BatchPredictionBody),
}

/// What the two prediction routes answer, documented once.
#[allow(dead_code)] // Only its derived OpenAPI description is used.
#[derive(utoipa::IntoResponses)]
enum PredictResponses {
    /// Prediction (one row) or predictions (batch).
    #[response(status = 200)]
    Ok(PredictResponse),
    /// Malformed JSON.
    #[response(status = 400)]
    MalformedJson(ErrorBody),
    /// No such model (for `/predict`: no default model is served).
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The body did not arrive within the body read timeout.
    #[response(status = 408)]
    BodyTimeout(ErrorBody),
    /// Body or batch over the limit.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// Not application/json.
    #[response(status = 415)]
    MediaType(ErrorBody),
    /// Fields break the model's schema; every one is listed.
    #[response(status = 422)]
    Invalid(ErrorBody),
    /// The model failed (trap, memory cap).
    #[response(status = 500)]
    ModelFailed(ErrorBody),
    /// Overloaded or model unavailable; see Retry-After.
    #[response(status = 503)]
    Unavailable(ErrorBody),
    /// The model ran past its deadline.
    #[response(status = 504)]
    Deadline(ErrorBody),
}

/// Predict with the default model.
#[utoipa::path(
    post,
    path = "/predict",
    request_body(content = PredictRequest, description = "One row of fields, or `{\"instances\": [rows]}`"),
    responses(PredictResponses),
    tag = "predict"
)]
pub async fn predict(State(state): State<AppState>, request: Request) -> Response {
    let models = &state.serving.models;
    match models.route_request(models.default_name()) {
        Some(route) => serve_http(&state, route, request, Native).await,
        None => {
            AppError::ModelNotFound(state.serving.models.default_name().to_owned()).into_response()
        }
    }
}

/// Predict with a named model.
#[utoipa::path(
    post,
    path = "/models/{name}/predict",
    params(("name" = String, Path, description = "Model name")),
    request_body(content = PredictRequest, description = "One row of fields, or `{\"instances\": [rows]}`"),
    responses(PredictResponses),
    tag = "predict"
)]
pub async fn predict_named(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    match state.serving.models.route_request(&name) {
        Some(route) => serve_http(&state, route, request, Native).await,
        None => AppError::ModelNotFound(name).into_response(),
    }
}

/// What a prediction request asked for, whatever protocol carried it.
pub struct Answer {
    /// One prediction per row, in order.
    pub predictions: Vec<Prediction>,
    /// The request was a batch (a one-row batch is answered as a batch).
    pub batch: bool,
}

/// How a protocol reads a prediction request's rows and writes its answer and errors:
/// this API's own JSON, the Open Inference Protocol's JSON tensors (`super::v2`) or its
/// protobuf messages (`crate::grpc`). Checking, predicting and accounting are the same
/// for all.
pub trait PredictProtocol: Send {
    /// What the rows arrive in: an HTTP body, or a message already decoded.
    type Body: Send;
    /// What the client is given.
    type Reply;
    /// Reads the rows of a request to `model`.
    fn read(
        &mut self,
        model: &LoadedModel,
        body: Self::Body,
        limits: BodyLimits,
    ) -> impl Future<Output = Result<PredictInput, AppError>> + Send;
    /// The reply for `answer`, from `model`.
    fn answer(&self, model: &LoadedModel, answer: Answer) -> Self::Reply;
    /// The reply for a failed request.
    fn error(&self, error: AppError) -> Self::Reply;
}

/// An HTTP request's body and the headers that say how to read it.
pub struct HttpBody {
    /// The request's headers.
    pub headers: HeaderMap,
    /// The body, not read yet.
    pub body: Body,
}

/// This API's own JSON: the seed's row, or `{"instances": [rows]}`.
pub struct Native;

impl PredictProtocol for Native {
    type Body = HttpBody;
    type Reply = Response;

    async fn read(
        &mut self,
        _model: &LoadedModel,
        HttpBody { headers, body }: HttpBody,
        limits: BodyLimits,
    ) -> Result<PredictInput, AppError> {
        read_predict_input(&headers, body, limits).await
    }

    fn answer(&self, model: &LoadedModel, answer: Answer) -> Response {
        Json(answer_body(
            answer.predictions,
            answer.batch,
            model_ref(model),
            current_id(),
        ))
        .into_response()
    }

    fn error(&self, error: AppError) -> Response {
        error.into_response()
    }
}

/// [`serve`] for an HTTP request: the reply carries the request's [`Outcome`] for the
/// outer layer's event.
pub async fn serve_http<P: PredictProtocol<Body = HttpBody, Reply = Response>>(
    state: &AppState,
    route: Route,
    request: Request,
    protocol: P,
) -> Response {
    let user = user_of(&request);
    let (parts, body) = request.into_parts();
    let body = HttpBody {
        headers: parts.headers,
        body,
    };
    let (mut response, outcome) = serve(state, route, &user, body, protocol).await;
    response.extensions_mut().insert(outcome);
    response
}

/// Serves one prediction request from `user` through `protocol` and accounts for it,
/// whatever its fate; gives the reply and what the request's event needs. The route's
/// fallback (the active version, for a request sent to the canary) answers it if the
/// canary fails with a server error; its shadow runs it afterwards.
pub async fn serve<P: PredictProtocol>(
    state: &AppState,
    route: Route,
    user: &str,
    body: P::Body,
    mut protocol: P,
) -> (P::Reply, Outcome) {
    let Route {
        mut model,
        fallback,
        shadow,
    } = route;
    let started = std::time::Instant::now();
    let metrics = &state.serving.metrics;
    let mut outcome = Outcome::default();
    let mut fell_back = false;
    // The slot is held until the answer is ready; a refusal comes before the body is read.
    let result = match state.admission.admit(model.name()).await {
        Ok(slot) => {
            metrics.admission.admitted(slot.waited);
            outcome.queued = Some(started..started + slot.waited);
            metrics.user_seen(user);
            // The slot is held while the body arrives: a slow sender may not keep it.
            let read = protocol.read(&model, body, state.body_limits);
            match tokio::time::timeout(state.body_read_timeout, read).await {
                Ok(Ok(input)) => {
                    let retry = fallback.as_ref().map(|_| input.clone());
                    match (
                        run(state, &model, input, shadow, &mut outcome).await,
                        fallback,
                        retry,
                    ) {
                        // A canary on trial fails for itself, not for the client.
                        (Err(error), Some(active), Some(input))
                            if error.status().is_server_error() =>
                        {
                            canary_failed(state, &model, started, &error);
                            fell_back = true;
                            model = active;
                            outcome = Outcome::default();
                            run(state, &model, input, None, &mut outcome).await
                        }
                        (result, ..) => result,
                    }
                }
                Ok(Err(error)) => Err(error),
                Err(_) => Err(AppError::BodyTimeout(state.body_read_timeout)),
            }
        }
        Err(refusal) => {
            metrics.admission.shed(refusal.reason(), refusal.queued());
            Err(AppError::Overloaded(refusal))
        }
    };
    let server_failed = result
        .as_ref()
        .is_err_and(|error| error.status().is_server_error());
    if !fell_back {
        state.canaries.record(
            model.name(),
            model.version(),
            started.elapsed().as_secs_f64(),
            server_failed,
        );
    }
    metrics.prediction_request(&model, started.elapsed().as_secs_f64(), server_failed);
    model.counters.record(result.is_ok());
    let reply = match result {
        Ok(answer) => protocol.answer(&model, answer),
        Err(error) => {
            for field in accounting::rejected_fields(&model, &error) {
                metrics.input_rejected(&model, field);
            }
            protocol.error(error)
        }
    };
    outcome.model = Some(model);
    (reply, outcome)
}

/// A canary failed a request with a server error that the active version will answer:
/// counted against the canary (metrics, its counters, its analysis) and logged.
fn canary_failed(
    state: &AppState,
    canary: &LoadedModel,
    started: std::time::Instant,
    error: &AppError,
) {
    let seconds = started.elapsed().as_secs_f64();
    state
        .serving
        .metrics
        .prediction_request(canary, seconds, true);
    canary.counters.record(false);
    state
        .canaries
        .record(canary.name(), canary.version(), seconds, true);
    tracing::warn!(model = canary.name(), version = canary.version(), %error, "the canary failed a request; the active version answers it");
}

/// Predicts, filling `outcome` in for the request's event as it goes; `shadow` runs the
/// same rows once they are answered.
async fn run(
    state: &AppState,
    model: &Arc<LoadedModel>,
    input: PredictInput,
    shadow: Option<(Arc<LoadedModel>, Shadow)>,
    outcome: &mut Outcome,
) -> Result<Answer, AppError> {
    let batch = input.is_batch();
    let now = state.serving.metrics.now();
    let drift = model
        .drift
        .as_ref()
        .filter(|_| state.serving.metrics.monitoring_options().per_request);
    let (rows, held_back): (Vec<_>, Vec<_>) = input
        .rows()
        .into_iter()
        .map(|(features, held_back)| {
            // Every row received counts towards its inputs' live distribution.
            if let Some(drift) = drift {
                drift.record(now, &features);
            }
            (convert::features(&features), held_back)
        })
        .unzip();
    outcome.rows = Some(rows.len() as u32);
    let asked = rows.len();
    let shadow = shadow.map(|shadow| (shadow, rows.clone()));
    let results = if batch {
        call(state, model, PredictBatch(rows), outcome).await?
    } else {
        let row = rows.into_iter().next().expect("one row");
        vec![call(state, model, Predict(row), outcome).await?]
    };
    let results: Vec<_> = results
        .into_iter()
        .map(convert::prediction_result)
        .collect();
    check_answers(model, &results, asked)?;
    let predictions = settle(results, held_back, batch)?;
    if let Some(((shadow, settings), rows)) = shadow {
        let answered = Answered {
            model: Arc::clone(model),
            rows,
            answers: predictions.clone(),
            request_id: request_id::current().map(|id| id.to_string()),
        };
        shadow_run::spawn(&state.serving, &state.shadows, answered, shadow, settings);
    }
    for prediction in &predictions {
        state.serving.metrics.prediction_served(model, prediction);
    }
    // A one-row request's prediction can get feedback and goes into its event.
    if let (false, [prediction]) = (batch, predictions.as_slice()) {
        if let Some(id) = request_id::current() {
            let said = match prediction {
                Prediction::Class(class) => Said::Label(class.label.clone()),
                Prediction::Value(value) => Said::Value(*value),
            };
            state.predictions.remember(
                &id.to_string(),
                Remembered {
                    model: model.name().to_owned(),
                    version: model.version().to_owned(),
                    said,
                },
            );
        }
        outcome.prediction = Some(prediction.clone());
    }
    Ok(Answer { predictions, batch })
}

/// Refuses a broken model's answers (too few or too many, or malformed predictions) with
/// a 500 before any of them reaches the client.
fn check_answers(
    model: &LoadedModel,
    results: &[Result<Prediction, wasml_predictor::PredictError>],
    asked: usize,
) -> Result<(), AppError> {
    let why = if results.len() != asked {
        Some(format!("{} answers for {asked} rows", results.len()))
    } else {
        results
            .iter()
            .flatten()
            .find_map(|p| convert::malformed(p, convert::task(model.info.task), &model.info.labels))
    };
    match why {
        None => Ok(()),
        Some(why) => {
            tracing::error!(model = model.name(), version = model.version(), %why, "malformed model output");
            Err(
                ApiError::ModelFailed(format!("the model returned a malformed answer: {why}"))
                    .into(),
            )
        }
    }
}

/// Makes `call` on a pooled instance, forwards what the guest reported (stage times into
/// `outcome`) and classifies a trap.
async fn call<C: ModelCall>(
    state: &AppState,
    model: &Arc<LoadedModel>,
    call: C,
    outcome: &mut Outcome,
) -> Result<C::Output, AppError> {
    let began = std::time::Instant::now();
    let output = model.call(call).await.map_err(|error| {
        tracing::error!(model = model.name(), %error, "no instance available");
        AppError::ModelUnavailable(model.name().to_owned())
    })?;
    outcome.call = Some(began..std::time::Instant::now());
    outcome.times = accounting::forward_guest_events(
        &state.serving,
        model,
        output.events,
        output.dropped_events,
    );
    if state.serving.metrics.monitoring_options().per_request {
        state.serving.metrics.call_cost(model, output.cost);
    }
    outcome.cost = Some(output.cost);
    output.result.map_err(|error| {
        state.serving.metrics.wasm_trap(model, &error);
        tracing::warn!(model = model.name(), version = model.version(), %error, "model call failed; instance replaced");
        match error {
            CallError::DeadlineExceeded(deadline) => AppError::DeadlineExceeded(deadline),
            other => ApiError::ModelFailed(other.to_string()).into(),
        }
    })
}

fn model_ref(model: &LoadedModel) -> ModelRef {
    ModelRef {
        name: model.name().to_owned(),
        version: model.version().to_owned(),
    }
}

/// The current request's ID, as text.
pub(crate) fn current_id() -> String {
    request_id::current()
        .map(|id| id.to_string())
        .unwrap_or_default()
}

/// `X-User-Id` if sent, else the client's address.
fn user_of(request: &Request) -> String {
    user_from(request.headers(), request.extensions())
}

/// `X-User-Id` in `headers` if sent, else the client's address from `extensions` (a gRPC
/// call's metadata are its HTTP/2 headers).
pub(crate) fn user_from(headers: &HeaderMap, extensions: &axum::http::Extensions) -> String {
    if let Some(user) = headers.get(USER_HEADER) {
        return String::from_utf8_lossy(user.as_bytes()).into_owned();
    }
    extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}
