//! `GET /status`: what runs, since when, and how it has been doing.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use wasml_predictor::{Evaluation, Task};
use wasml_runtime::cache::CacheOutcome;
use wasml_runtime::convert;

use super::AppState;
use crate::registry::LoadedModel;

/// The host and its models.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusBody {
    /// Always `wasml-host`.
    pub service: &'static str,
    /// The host's build version.
    pub version: &'static str,
    /// When the host started (RFC 3339).
    pub started_at: String,
    /// Seconds since start.
    pub uptime_seconds: f64,
    /// The model `POST /predict` uses.
    pub default_model: String,
    /// Every model served.
    pub models: Vec<ModelStatus>,
}

/// One model.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelStatus {
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: String,
    /// Model type from the card.
    pub model_type: String,
    /// Where the component was loaded from.
    pub source: String,
    /// sha256 of the component file.
    pub component_sha256: String,
    /// sha256 of the ONNX model inside it.
    pub onnx_sha256: String,
    /// `classification` or `regression`.
    pub task: Task,
    /// Class labels (none for a regressor).
    pub labels: Vec<String>,
    /// Held-out figures from the model card, if it has any.
    pub evaluation: Option<Evaluation>,
    /// When it was loaded (RFC 3339).
    pub loaded_at: String,
    /// Seconds loading took.
    pub load_seconds: f64,
    /// Whether compiled code came from the cache (`hit`) or was compiled (`compiled`).
    pub cache: &'static str,
    /// The instance pool.
    pub instances: InstanceCounts,
    /// Prediction requests so far.
    pub requests: RequestCounts,
}

/// The instance pool of a model.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceCounts {
    /// Warm instances kept.
    pub size: usize,
    /// Waiting for a request.
    pub idle: usize,
    /// Serving a request.
    pub busy: usize,
    /// Discarded after a trap and replaced.
    pub replaced: u64,
}

impl InstanceCounts {
    /// The pool of `model` now.
    pub fn of(model: &LoadedModel) -> Self {
        Self {
            size: model.pool.size(),
            idle: model.pool.idle(),
            busy: model.pool.busy(),
            replaced: model.pool.replaced(),
        }
    }
}

/// Prediction requests of a model.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestCounts {
    /// Answered with predictions.
    pub succeeded: u64,
    /// Failed (bad input or model failure).
    pub failed: u64,
}

/// Build, uptime and models.
#[utoipa::path(
    get,
    path = "/status",
    responses((status = 200, description = "The host and its models", body = StatusBody)),
    tag = "operations"
)]
pub async fn status(State(state): State<AppState>) -> Json<StatusBody> {
    Json(StatusBody {
        service: "wasml-host",
        version: env!("CARGO_PKG_VERSION"),
        started_at: state.started_at.to_rfc3339(),
        uptime_seconds: state.started.elapsed().as_secs_f64(),
        default_model: state.serving.models.default_name().to_owned(),
        models: state
            .serving
            .models
            .models()
            .iter()
            .map(|m| model_status(m))
            .collect(),
    })
}

fn model_status(model: &LoadedModel) -> ModelStatus {
    ModelStatus {
        name: model.name().to_owned(),
        version: model.version().to_owned(),
        model_type: model.info.model_type.clone(),
        source: model.source.clone(),
        component_sha256: model.component_sha256.clone(),
        onnx_sha256: model.info.onnx_sha256.clone(),
        task: convert::task(model.info.task),
        labels: model.info.labels.clone(),
        evaluation: model.info.evaluation.as_ref().map(convert::evaluation),
        loaded_at: model.loaded_at.to_rfc3339(),
        load_seconds: model.load_seconds,
        cache: match model.cache {
            CacheOutcome::Hit => "hit",
            CacheOutcome::Compiled => "compiled",
        },
        instances: InstanceCounts::of(model),
        requests: RequestCounts {
            succeeded: model.counters.succeeded(),
            failed: model.counters.failed(),
        },
    }
}
