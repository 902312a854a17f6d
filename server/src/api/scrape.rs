//! `GET /metrics`: the Prometheus text exposition.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::AppState;

/// Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Every metric, with state gauges read now.
#[utoipa::path(
    get,
    path = "/metrics",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")),
    tag = "operations"
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let admission = &state.admission;
    state
        .serving
        .metrics
        .admission
        .set_now(admission.running(), admission.queued());
    let analyses = state.canaries.reports();
    state.serving.metrics.shadow().canary_analyses(
        analyses
            .iter()
            .map(|(model, r)| [model.as_str(), &r.canary, &r.active, r.verdict.as_str()]),
    );
    (
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        state.serving.metrics.render(&state.serving.models),
    )
}
