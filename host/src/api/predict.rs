//! `POST /predict` and `POST /models/{name}/predict`: one row or a batch, through a
//! pooled instance of the model's component.
//!
//! The call into the component runs on a blocking thread ([`LoadedModel::call`]), one
//! per pooled instance at a time; requests wait for a free instance asynchronously.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use wasml_predictor::Prediction;
use wasml_predictor::api::{ApiError, answer_body, settle};
pub use wasml_predictor::api::{BatchPredictionBody, ModelRef, PredictionBody, RowPrediction};

use super::AppState;
use super::body::{BodyLimits, PredictInput, read_predict_input};
use super::error::{AppError, ErrorBody};
use super::observe::{Outcome, StageTimes};
use super::openapi::{PredictRequest, PredictResponse};
use super::request_id;
use crate::bindings::{Level, Stage};
use crate::convert;
use crate::event_sink::Event;
use crate::events::GuestEvent;
use crate::instance::{CallError, ModelInstance};
use crate::registry::LoadedModel;

/// The header naming the user, for `ml_active_users`.
pub const USER_HEADER: &str = "x-user-id";

/// Predict with the default model.
#[utoipa::path(
    post,
    path = "/predict",
    request_body(content = PredictRequest, description = "One row of fields, or `{\"instances\": [rows]}`"),
    responses(
        (status = 200, description = "Prediction (one row) or predictions (batch)", body = PredictResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 413, description = "Body or batch over the limit", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "Fields break the model's schema; every one is listed", body = ErrorBody),
        (status = 500, description = "The model failed (trap, memory cap)", body = ErrorBody),
        (status = 503, description = "Overloaded or model unavailable; see Retry-After", body = ErrorBody),
        (status = 504, description = "The model ran past its deadline", body = ErrorBody),
    ),
    tag = "predict"
)]
pub async fn predict(State(state): State<AppState>, request: Request) -> Response {
    match state.models.default_model() {
        Some(model) => serve(&state, model, request, Native).await,
        None => AppError::ModelNotFound(state.models.default_name().to_owned()).into_response(),
    }
}

/// Predict with a named model.
#[utoipa::path(
    post,
    path = "/models/{name}/predict",
    params(("name" = String, Path, description = "Model name")),
    request_body(content = PredictRequest, description = "One row of fields, or `{\"instances\": [rows]}`"),
    responses(
        (status = 200, description = "Prediction (one row) or predictions (batch)", body = PredictResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 404, description = "No such model", body = ErrorBody),
        (status = 413, description = "Body or batch over the limit", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 422, description = "Fields break the model's schema; every one is listed", body = ErrorBody),
        (status = 500, description = "The model failed (trap, memory cap)", body = ErrorBody),
        (status = 503, description = "Overloaded or model unavailable; see Retry-After", body = ErrorBody),
        (status = 504, description = "The model ran past its deadline", body = ErrorBody),
    ),
    tag = "predict"
)]
pub async fn predict_named(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Response {
    match state.models.route(&name) {
        Some(model) => serve(&state, model, request, Native).await,
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

/// How a protocol reads a prediction request's body and writes its answer and errors:
/// this API's own JSON, or the Open Inference Protocol's tensors (`super::v2`). Checking,
/// predicting and accounting are the same for both.
pub trait PredictProtocol: Send {
    /// Reads the body into rows.
    fn read(
        &mut self,
        headers: &HeaderMap,
        body: Body,
        limits: BodyLimits,
    ) -> impl Future<Output = Result<PredictInput, AppError>> + Send;
    /// The response for `answer`, from `model`.
    fn answer(&self, model: &LoadedModel, answer: Answer) -> Response;
    /// The response for a failed request.
    fn error(&self, error: AppError) -> Response;
}

/// This API's own JSON: the seed's row, or `{"instances": [rows]}`.
pub struct Native;

impl PredictProtocol for Native {
    async fn read(
        &mut self,
        headers: &HeaderMap,
        body: Body,
        limits: BodyLimits,
    ) -> Result<PredictInput, AppError> {
        read_predict_input(headers, body, limits).await
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

/// Serves one prediction request through `protocol` and accounts for it, whatever its
/// fate.
pub async fn serve<P: PredictProtocol>(
    state: &AppState,
    model: Arc<LoadedModel>,
    request: Request,
    mut protocol: P,
) -> Response {
    let started = std::time::Instant::now();
    state.metrics.user_seen(&user_of(&request));
    let (parts, body) = request.into_parts();
    let mut outcome = Outcome::default();
    let result = match protocol.read(&parts.headers, body, state.body_limits).await {
        Ok(input) => run(state, &model, input, &mut outcome).await,
        Err(error) => Err(error),
    };
    state.metrics.prediction_request(&model, result.is_err());
    model.counters.record(result.is_ok());
    let mut response = match result {
        Ok(answer) => protocol.answer(&model, answer),
        Err(error) => {
            count_rejected_fields(state, &model, &error);
            protocol.error(error)
        }
    };
    state
        .metrics
        .request_duration
        .with_label_values(&[model.name(), model.version()])
        .observe(started.elapsed().as_secs_f64());
    outcome.model = Some(model);
    response.extensions_mut().insert(outcome);
    response
}

/// Predicts, filling `outcome` in for the request's event as it goes.
async fn run(
    state: &AppState,
    model: &Arc<LoadedModel>,
    input: PredictInput,
    outcome: &mut Outcome,
) -> Result<Answer, AppError> {
    let batch = input.is_batch();
    let (rows, held_back): (Vec<_>, Vec<_>) = input
        .rows()
        .into_iter()
        .map(|(features, held_back)| (convert::features(&features), held_back))
        .unzip();
    outcome.rows = Some(rows.len() as u32);
    let asked = rows.len();
    let results = if batch {
        call(state, model, move |i| i.predict_batch(&rows), outcome).await?
    } else {
        let row = rows.into_iter().next().expect("one row");
        vec![call(state, model, move |i| i.predict(&row), outcome).await?]
    };
    let results: Vec<_> = results
        .into_iter()
        .map(convert::prediction_result)
        .collect();
    check_answers(model, &results, asked)?;
    let predictions = settle(results, held_back, batch)?;
    for prediction in &predictions {
        count_prediction(state, model, prediction);
    }
    // A one-row request's prediction can get feedback and goes into its event.
    if let (false, [prediction]) = (batch, predictions.as_slice()) {
        if let Some(id) = request_id::current() {
            state.predictions.remember(
                &id.to_string(),
                crate::feedback::Remembered {
                    model: model.name().to_owned(),
                    version: model.version().to_owned(),
                    label: prediction.label.clone(),
                },
            );
        }
        outcome.prediction = Some((
            prediction.class_index,
            prediction.label.clone(),
            prediction.confidence,
        ));
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
            .find_map(|p| convert::malformed(p, &model.info.labels))
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

/// Runs `f` on a pooled instance, forwards what the guest reported (stage times into
/// `outcome`) and classifies a trap.
async fn call<R, F>(
    state: &AppState,
    model: &Arc<LoadedModel>,
    f: F,
    outcome: &mut Outcome,
) -> Result<R, AppError>
where
    R: Send + 'static,
    F: FnOnce(&mut ModelInstance) -> Result<R, CallError> + Send + 'static,
{
    let output = model.call(f).await.map_err(|error| {
        tracing::error!(model = model.name(), %error, "no instance available");
        AppError::ModelUnavailable(model.name().to_owned())
    })?;
    outcome.times = forward_guest_events(state, model, output.events, output.dropped_events);
    output.result.map_err(|error| {
        state.metrics.wasm_trap(model, &error);
        tracing::warn!(model = model.name(), version = model.version(), %error, "model call failed; instance replaced");
        match error {
            CallError::DeadlineExceeded(deadline) => AppError::DeadlineExceeded(deadline),
            other => ApiError::ModelFailed(other.to_string()).into(),
        }
    })
}

/// Guest timings go to histograms (and the request's event); guest logs become events
/// carrying the request's ID.
fn forward_guest_events(
    state: &AppState,
    model: &LoadedModel,
    events: Vec<GuestEvent>,
    dropped: u64,
) -> StageTimes {
    let labels = [model.name(), model.version()];
    let mut times = StageTimes::default();
    for event in events {
        match event {
            GuestEvent::Timing { stage, seconds, .. } => {
                let (histogram, total) = match stage {
                    Stage::FeatureProcessing => {
                        (&state.metrics.feature_processing, &mut times.feature)
                    }
                    Stage::Inference => (&state.metrics.inference, &mut times.inference),
                };
                histogram.with_label_values(&labels).observe(seconds);
                *total = Some(total.unwrap_or(0.0) + seconds);
            }
            GuestEvent::Log {
                level,
                message,
                fields,
            } => {
                let mut event = Event::now(level_name(level), "model", message);
                event.request_id = request_id::current().map(|id| id.to_string());
                event.model = Some(model.name().to_owned());
                event.model_version = Some(model.version().to_owned());
                event.fields = fields.into_iter().collect();
                state.events.send(event);
            }
        }
    }
    if dropped > 0 {
        state
            .metrics
            .events_dropped
            .with_label_values(&["guest_flood"])
            .inc_by(dropped);
    }
    times
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Trace | Level::Debug => "debug",
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
    }
}

fn count_prediction(state: &AppState, model: &LoadedModel, prediction: &Prediction) {
    let labels = [model.name(), model.version()];
    state.metrics.predictions.with_label_values(&labels).inc();
    let class = prediction.class_index.to_string();
    state
        .metrics
        .predictions_by_class
        .with_label_values(&[model.name(), model.version(), &class])
        .inc();
    state
        .metrics
        .prediction_confidence
        .with_label_values(&labels)
        .observe(prediction.confidence);
}

/// `ml_input_validation_failures_total`: per rejected field; fields outside the schema
/// share `_unknown` (clients choose those names: they must not grow the series), and a
/// body that is not JSON, too large or of the wrong shape (tensors included) counts as
/// `_body`.
fn count_rejected_fields(state: &AppState, model: &LoadedModel, error: &AppError) {
    let counter = &state.metrics.input_validation_failures;
    let count = |field: &str| {
        counter
            .with_label_values(&[model.name(), model.version(), field])
            .inc()
    };
    match error {
        AppError::Api(ApiError::InvalidInput { fields, .. }) => {
            for issue in fields {
                let known = model
                    .info
                    .inputs
                    .iter()
                    .any(|spec| spec.name == issue.field);
                match (known, issue.problem.as_str()) {
                    (_, "invalid-body") => count("_body"),
                    (true, _) => count(&issue.field),
                    (false, _) => count("_unknown"),
                }
            }
        }
        AppError::Api(
            ApiError::MalformedJson(_)
            | ApiError::UnsupportedMediaType(_)
            | ApiError::PayloadTooLarge { .. }
            | ApiError::BatchTooLarge { .. },
        )
        | AppError::BadRequest(_) => count("_body"),
        _ => {}
    }
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
    if let Some(user) = request.headers().get(USER_HEADER) {
        return String::from_utf8_lossy(user.as_bytes()).into_owned();
    }
    request
        .extensions()
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}
