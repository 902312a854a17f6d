//! `GET /health`: liveness and readiness in one. 200 only when every model has an
//! instance that answers `info()` now. It also says where events go and how that is
//! going (the embedded collector's sink and Elasticsearch setup), which does not change
//! the status: predictions never wait for events.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
pub use wasml_predictor::api::ModelHealth;

use super::AppState;
pub use crate::event_sink::EventsHealth;
use crate::registry::Info;

/// The host's health: the models' (as the Spin flavour answers it too) and the event
/// stream's.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthBody {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// Each model's readiness.
    pub models: Vec<ModelHealth>,
    /// Where events go and how that is going.
    pub events: EventsHealth,
}

/// Liveness and readiness.
#[utoipa::path(
    get,
    path = "/health",
    responses(
        (status = 200, description = "Every model answers", body = HealthBody),
        (status = 503, description = "A model does not answer", body = HealthBody),
    ),
    tag = "operations"
)]
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthBody>) {
    let mut models = Vec::new();
    for model in state.serving.models.models() {
        let answer = match model.call(Info).await {
            Ok(output) => output.result.map(drop).map_err(|error| {
                state.serving.metrics.wasm_trap(&model, &error);
                tracing::warn!(model = model.name(), %error, "health check: the model trapped");
                error.to_string()
            }),
            Err(error) => Err(error.to_string()),
        };
        models.push(ModelHealth {
            name: model.name().to_owned(),
            version: model.version().to_owned(),
            ready: answer.is_ok(),
            error: answer.err(),
        });
    }
    let ready = models.iter().all(|m| m.ready);
    let (status, word) = if ready {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    };
    let body = HealthBody {
        status: word,
        models,
        events: state.serving.events.health(),
    };
    (status, Json(body))
}
