//! `POST /feedback {"request_id", "actual"}`: the true outcome of an earlier single-row
//! prediction, given as a label (`"yes"`) or a class index (`1`). It counts once per
//! request, in `ml_feedback_total{model,version,outcome}` and the live accuracy of the
//! version that answered (`ml_model_live_accuracy`, over the last 5 minutes).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, AppError, ErrorBody, FieldIssue};

/// What the client says really happened.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FeedbackRequest {
    /// The `request_id` of the prediction (its response body or `X-Request-Id`).
    pub request_id: String,
    /// The true outcome: a label of the model, or its class index.
    #[schema(value_type = ActualOutcome)]
    pub actual: Value,
}

/// The true outcome of a prediction: a label of the model, or its class index.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ActualOutcome {
    /// A label, e.g. `"yes"`.
    Label(String),
    /// A class index, e.g. `1`.
    Index(u32),
}

/// The prediction, the truth, and whether they agree.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackBody {
    /// The prediction's request ID.
    pub request_id: String,
    /// The model that answered.
    pub model: String,
    /// Its version.
    pub version: String,
    /// The label it predicted.
    pub predicted: String,
    /// The true label.
    pub actual: String,
    /// Whether they agree.
    pub correct: bool,
}

/// Record the true outcome of an earlier prediction.
#[utoipa::path(
    post,
    path = "/feedback",
    request_body(content = FeedbackRequest, description = "The request ID of a single-row prediction and the true outcome"),
    responses(
        (status = 200, description = "Recorded", body = FeedbackBody),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 404, description = "No remembered prediction has this request ID", body = ErrorBody),
        (status = 409, description = "Feedback for this request was already given", body = ErrorBody),
        (status = 422, description = "A field is missing or `actual` is not a label of the model", body = ErrorBody),
    ),
    tag = "predict"
)]
pub async fn feedback(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<FeedbackBody>, AppError> {
    let request: FeedbackRequest = serde_json::from_slice(&body).map_err(|e| {
        if e.is_data() {
            invalid("_body", "invalid-body", e.to_string())
        } else {
            ApiError::MalformedJson(e.to_string()).into()
        }
    })?;
    // The labels of the version that answered, if it is still loaded; else of the model's
    // active version (versions of one model share labels unless their schema was forced).
    let remembered = state.predictions.peek(&request.request_id)?;
    let labels = state
        .serving
        .models
        .version(&remembered.model, &remembered.version)
        .or_else(|| state.serving.models.active(&remembered.model))
        .map(|m| m.info.labels.clone())
        .unwrap_or_default();
    let actual = match &request.actual {
        Value::String(label) if labels.contains(label) => label.clone(),
        // `1.0` is the integer 1 in JSON Schema, as in the row fields.
        Value::Number(n) => n
            .as_u64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                    .map(|f| f as u64)
            })
            .and_then(|i| labels.get(i as usize))
            .cloned()
            .ok_or_else(|| unknown_label(&labels, &request.actual))?,
        other => return Err(unknown_label(&labels, other)),
    };
    // Taken only now, so a refused `actual` can be corrected; a concurrent duplicate
    // loses here.
    let remembered = state.predictions.take(&request.request_id)?;
    let correct = actual == remembered.label;
    state
        .serving
        .metrics
        .feedback(&remembered.model, &remembered.version, correct);
    Ok(Json(FeedbackBody {
        request_id: request.request_id,
        model: remembered.model,
        version: remembered.version,
        predicted: remembered.label,
        actual,
        correct,
    }))
}

fn unknown_label(labels: &[String], given: &Value) -> AppError {
    invalid(
        "actual",
        "unknown-category",
        format!("{given} is not one of the model's labels {labels:?} or their indices"),
    )
}

fn invalid(field: &str, problem: &str, message: String) -> AppError {
    ApiError::InvalidInput {
        message: format!("{field}: {message}"),
        fields: vec![FieldIssue {
            field: field.to_owned(),
            problem: problem.to_owned(),
            message,
            row: None,
        }],
    }
    .into()
}
