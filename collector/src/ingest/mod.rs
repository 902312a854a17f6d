//! HTTP ingest: the collector's front door, for the host (or anything else) to send
//! events to a collector process.
//!
//! Protocol: `POST /v1/events` with an NDJSON body (`Content-Type: application/x-ndjson`),
//! one JSON object per line. The answer `200 {"acknowledged": n, "first_seq", "last_seq"}`
//! comes only after all `n` events are fsync'd in the WAL: from then on they are the
//! collector's responsibility. Any error means nothing of the request was persisted, so
//! the sender may retry it whole; events carrying an `event_id` are not duplicated in
//! Elasticsearch by such a retry (`create` answers 409). Errors: 400 (a line that is not a
//! JSON object, named by number; an empty body), 413, 415, 503 with `Retry-After` (too
//! many requests in flight, or the WAL cannot write); with an ingest token, 401 without
//! `Authorization: Bearer` and 403 with another token, checked before the body is read.
//!
//! Also `GET /health` (the pipeline's state and the Elasticsearch setup's; 503 only when
//! the WAL can no longer be written or read) and `GET /metrics` (Prometheus text). With
//! `--otlp-endpoint`, each accepted request is a span linked to its events' ([`spans`]).

pub mod client;
pub mod error;
pub mod ndjson;
pub mod spans;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::Semaphore;

pub use error::IngestError;
pub use ndjson::documents;

use crate::metrics::CollectorMetrics;
use crate::pipeline::Pipeline;
use crate::secret::BearerToken;
use crate::sink::elasticsearch::SetupStatus;

/// The path events are posted to.
pub const EVENTS_PATH: &str = "/v1/events";

/// Bounds on what ingest holds in memory: at most `max_in_flight × max_body_bytes`.
#[derive(Debug, Clone, Copy)]
pub struct IngestLimits {
    /// Largest accepted body, in bytes.
    pub max_body_bytes: usize,
    /// Most ingest requests handled at once; more get 503.
    pub max_in_flight: usize,
}

impl Default for IngestLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 8 << 20,
            max_in_flight: 8,
        }
    }
}

/// What the routes share.
#[derive(Clone)]
pub struct IngestState {
    pipeline: Arc<Pipeline>,
    metrics: CollectorMetrics,
    registry: prometheus::Registry,
    limits: IngestLimits,
    in_flight: Arc<Semaphore>,
    sink: &'static str,
    setup: Option<SetupStatus>,
    started: Instant,
    token: Option<BearerToken>,
    telemetry: Option<wasml_telemetry::Telemetry>,
}

impl IngestState {
    /// State over a running `pipeline` delivering to `sink` (a name for `/health`);
    /// `registry` is what `/metrics` renders.
    pub fn new(
        pipeline: Arc<Pipeline>,
        registry: prometheus::Registry,
        limits: IngestLimits,
        sink: &'static str,
    ) -> Self {
        Self {
            metrics: pipeline.metrics().clone(),
            pipeline,
            registry,
            in_flight: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
            limits,
            sink,
            setup: None,
            started: Instant::now(),
            token: None,
            telemetry: None,
        }
    }

    /// Exports a span per accepted ingest request ([`spans`]).
    pub fn with_telemetry(self, telemetry: wasml_telemetry::Telemetry) -> Self {
        Self {
            telemetry: Some(telemetry),
            ..self
        }
    }

    /// Requires `Authorization: Bearer <token>` on ingest (not on `/health` and
    /// `/metrics`, which say nothing an event could change).
    pub fn with_token(self, token: BearerToken) -> Self {
        Self {
            token: Some(token),
            ..self
        }
    }

    /// Shows the Elasticsearch sink's setup in `/health`.
    pub fn with_setup(self, setup: SetupStatus) -> Self {
        Self {
            setup: Some(setup),
            ..self
        }
    }
}

/// The collector's routes.
pub fn app(state: IngestState) -> Router {
    Router::new()
        .route(EVENTS_PATH, post(post_events))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn post_events(State(state): State<IngestState>, headers: HeaderMap, body: Body) -> Response {
    match ingest(&state, &headers, body).await {
        Ok(answer) => answer.into_response(),
        Err(error) => {
            let (status, reason) = error.status_and_reason();
            state
                .metrics
                .rejected_requests
                .with_label_values(&[reason])
                .inc();
            tracing::warn!(status = status.as_u16(), reason, %error, "ingest request refused");
            error.into_response()
        }
    }
}

async fn ingest(
    state: &IngestState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, IngestError> {
    let arrived = Instant::now();
    // First, before the body is read: a refused request leaves nothing behind.
    if let Some(token) = &state.token {
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        token.check(authorization)?;
    }
    check_content_type(headers)?;
    let limit = state.limits.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(IngestError::TooLarge { limit });
    }
    // Taken before the body is read: the permit bounds the memory bodies occupy.
    let _permit = Arc::clone(&state.in_flight)
        .try_acquire_owned()
        .map_err(|_| IngestError::Overloaded)?;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
        {
            IngestError::TooLarge { limit }
        } else {
            IngestError::Body(e.to_string())
        }
    })?;
    let documents = documents(&bytes)?;
    drop(bytes);
    let count = documents.len() as u64;
    let pipeline = Arc::clone(&state.pipeline);
    // Started before the WAL takes the events: its links are read from them.
    let span = state
        .telemetry
        .as_ref()
        .map(|t| spans::IngestSpan::start(t, arrived, &documents));
    let append_started = Instant::now();
    let appended = tokio::task::spawn_blocking(move || pipeline.submit(documents))
        .await
        .map_err(|_| IngestError::NotPersisted("the WAL writer stopped".into()))
        .and_then(|appended| {
            appended.map_err(|error| {
                tracing::error!(%error, "WAL append failed");
                IngestError::NotPersisted(error.to_string())
            })
        });
    if let Some(span) = span {
        span.end(append_started, appended.as_ref().ok().copied());
    }
    let (first, last) = appended?;
    state.metrics.received.inc_by(count);
    Ok(Json(
        json!({"acknowledged": count, "first_seq": first, "last_seq": last}),
    ))
}

fn check_content_type(headers: &HeaderMap) -> Result<(), IngestError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or_default();
    let essence = text.split(';').next().unwrap_or_default().trim();
    match essence.to_ascii_lowercase().as_str() {
        "application/x-ndjson" | "application/ndjson" | "application/json" | "text/plain" => Ok(()),
        _ => Err(IngestError::UnsupportedMediaType(text.to_owned())),
    }
}

async fn health(State(state): State<IngestState>) -> Response {
    let status = state.pipeline.status();
    let verdict = match (status.running, status.sink_up) {
        (false, _) => "failed",
        (true, false) => "degraded",
        (true, true) => "ok",
    };
    let code = if status.running {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": verdict,
        "sink": state.sink,
        "sink_reachable": status.sink_up,
        "pending_events": status.pending_events,
        "wal_bytes": status.wal_bytes,
        "oldest_unshipped_seconds": status.oldest_unshipped_seconds,
        "wal_error": status.wal_error,
        "elasticsearch_setup": state.setup.as_ref().map(SetupStatus::report),
        "uptime_seconds": state.started.elapsed().as_secs_f64(),
    });
    (code, Json(body)).into_response()
}

async fn metrics(State(state): State<IngestState>) -> Response {
    let families = state.registry.gather();
    match prometheus::TextEncoder::new().encode_to_string(&families) {
        Ok(text) => ([(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)], text).into_response(),
        Err(error) => {
            tracing::error!(%error, "encoding metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
