//! `POST /feedback {"request_id", "actual"}`: the true outcome of an earlier single-row
//! prediction — for a classifier a label (`"yes"`) or a class index (`1`), for a regressor
//! the true value (`151.0`). It counts once per request, in
//! `ml_feedback_total{model,version,outcome}` and the live accuracy
//! (`ml_model_live_accuracy`) or live error (`ml_model_live_mae`, `ml_model_live_rmse`) of
//! the version that answered, over the last 5 minutes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, AppError, ErrorBody, FieldIssue};
use crate::feedback::Said;

/// What the client says really happened.
#[derive(Debug, Deserialize, ToSchema)]
pub struct FeedbackRequest {
    /// The `request_id` of the prediction (its response body or `X-Request-Id`).
    pub request_id: String,
    /// The true outcome: a label of the model or its class index; a regressor's value.
    #[schema(value_type = ActualOutcome)]
    pub actual: Value,
}

/// What a client may report: a classifier's label or class index, or a regressor's value
/// (the served document narrows it to the default model's).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ActualOutcome {
    /// A label, e.g. `"yes"`.
    Label(String),
    /// A class index, e.g. `1`.
    Index(u32),
    /// A regressor's value, e.g. `151.0`.
    Value(f64),
}

/// An outcome as the answer gives it: a label, or a regressor's value.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Outcome {
    /// A label, e.g. `"yes"`.
    Label(String),
    /// A regressor's value, e.g. `151.0`.
    Value(f64),
}

/// The prediction, the truth, and how far apart they are.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackBody {
    /// The prediction's request ID.
    pub request_id: String,
    /// The model that answered.
    pub model: String,
    /// Its version.
    pub version: String,
    /// What it predicted: a label, or a regressor's value.
    #[schema(value_type = Outcome)]
    pub predicted: Value,
    /// The truth: the true label, or value.
    #[schema(value_type = Outcome)]
    pub actual: Value,
    /// A classifier's: whether the labels agree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub correct: Option<bool>,
    /// A regressor's: the true value minus the predicted one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residual: Option<f64>,
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
        (status = 422, description = "A field is missing, or `actual` is not a label of the classifier or not a finite number for a regressor", body = ErrorBody),
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
    let remembered = state.predictions.peek(&request.request_id)?;
    let (predicted, actual, verdict) = match &remembered.said {
        Said::Label(predicted) => {
            let actual = actual_label(&state, &remembered, &request.actual)?;
            let verdict = Verdict::Correct(actual == *predicted);
            (
                Value::from(predicted.as_str()),
                Value::from(actual),
                verdict,
            )
        }
        Said::Value(predicted) => {
            let actual = actual_value(&request.actual)?;
            let verdict = Verdict::Residual(actual - predicted);
            (Value::from(*predicted), Value::from(actual), verdict)
        }
    };
    // Taken only now, so a refused `actual` can be corrected; a concurrent duplicate
    // loses here.
    let remembered = state.predictions.take(&request.request_id)?;
    let metrics = &state.serving.metrics;
    let (model, version) = (&remembered.model, &remembered.version);
    let (correct, residual) = match verdict {
        Verdict::Correct(correct) => {
            metrics.feedback(model, version, correct);
            (Some(correct), None)
        }
        Verdict::Residual(residual) => {
            metrics.feedback_value(model, version, residual);
            (None, Some(residual))
        }
    };
    Ok(Json(FeedbackBody {
        request_id: request.request_id,
        model: remembered.model,
        version: remembered.version,
        predicted,
        actual,
        correct,
        residual,
    }))
}

/// How a prediction compares with the truth.
enum Verdict {
    /// A classifier's label was right, or not.
    Correct(bool),
    /// A regressor's value was this far from the truth (actual − predicted).
    Residual(f64),
}

/// A regressor's true value: a finite number.
fn actual_value(actual: &Value) -> Result<f64, AppError> {
    actual.as_f64().filter(|v| v.is_finite()).ok_or_else(|| {
        invalid(
            "actual",
            "wrong-type",
            format!("{actual} is not a finite number: the model is a regressor"),
        )
    })
}

/// The label `actual` names, among the labels of the version that answered if it is still
/// loaded, else of the model's active version (versions of one model share labels unless
/// their schema was forced).
fn actual_label(
    state: &AppState,
    remembered: &crate::feedback::Remembered,
    actual: &Value,
) -> Result<String, AppError> {
    let labels = state
        .serving
        .models
        .version(&remembered.model, &remembered.version)
        .or_else(|| state.serving.models.active(&remembered.model))
        .map(|m| m.info.labels.clone())
        .unwrap_or_default();
    match actual {
        Value::String(label) if labels.contains(label) => Ok(label.clone()),
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
            .ok_or_else(|| unknown_label(&labels, actual)),
        other => Err(unknown_label(&labels, other)),
    }
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
