//! The outermost layer: gives every request its ID, trace context and `tracing` span,
//! times it into `http_request_duration_seconds`, and emits its event ([`record`], which
//! the gRPC service's layer shares).

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument as _;

use super::AppState;
use super::error::ErrorMessage;
use super::outcome::Outcome;
use super::request_id::{self, RequestId};
use super::request_span::{RequestSpan, begin};
use super::trace_context::TraceContext;
use wasml_predictor::Prediction;

use crate::event_sink::{Event, SERVICE};

/// The route template a request matched, copied from the request into the response so
/// the outer layer can label by it (route layers see it; outer layers do not).
#[derive(Clone)]
pub struct RouteTemplate(pub MatchedPath);

/// Route layer: remembers the matched route template.
pub async fn remember_route(matched: MatchedPath, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.extensions_mut().insert(RouteTemplate(matched));
    response
}

/// Outer layer: ID, span, latency histogram, event.
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = RequestId::from_headers(request.headers());
    let method = request.method().clone();
    let (trace, request_span) = begin(state.telemetry.as_ref(), request.headers());
    let span = tracing::info_span!("request", request_id = %id, trace_id = %trace.trace_id, %method, path = %request.uri().path());
    let mut response = id
        .clone()
        .scope(next.run(request))
        .instrument(span.clone())
        .await;
    let route = response
        .extensions()
        .get::<RouteTemplate>()
        .map_or("unmatched", |r| r.0.as_str())
        .to_owned();
    let error = response
        .extensions_mut()
        .remove::<ErrorMessage>()
        .map(|e| e.0);
    let outcome = response.extensions_mut().remove::<Outcome>();
    let served = Served {
        method: method.as_str(),
        route,
        status: response.status(),
        seconds: started.elapsed().as_secs_f64(),
        error,
        outcome,
        trace,
        span: request_span,
    };
    record(&state, &id, &span, served, &mut response);
    response
}

/// A finished request, whatever protocol carried it.
pub struct Served<'a> {
    /// The HTTP method (`POST` for every gRPC call).
    pub method: &'a str,
    /// The route template, or the gRPC method's path.
    pub route: String,
    /// The HTTP status, or for gRPC the status the REST API gives for the same failure.
    pub status: StatusCode,
    /// How long it took.
    pub seconds: f64,
    /// Why it failed.
    pub error: Option<String>,
    /// What a prediction request left behind.
    pub outcome: Option<Outcome>,
    /// The trace it belongs to (W3C `traceparent`).
    pub trace: TraceContext,
    /// Its server span, when traces are exported.
    pub span: Option<RequestSpan>,
}

/// Accounts for a finished request — `http_request_duration_seconds`, a log line for a
/// server error, its event — and gives its response the request ID.
pub fn record(
    state: &AppState,
    id: &RequestId,
    span: &tracing::Span,
    served: Served<'_>,
    response: &mut Response,
) {
    response
        .headers_mut()
        .insert(request_id::HEADER, id.header_value());
    let Served {
        method,
        route,
        status,
        seconds,
        error,
        outcome,
        trace,
        span: mut request_span,
    } = served;
    if let Some(request_span) = &mut request_span {
        request_span.describe(
            method,
            &route,
            status.as_u16(),
            outcome.as_ref(),
            id.as_str(),
        );
    }
    state
        .serving
        .metrics
        .http_request(method, &route, status.as_str(), seconds);
    if status.is_server_error() {
        span.in_scope(|| {
            tracing::warn!(
                status = status.as_u16(),
                error = error.as_deref(),
                "request failed"
            )
        });
    } else {
        span.in_scope(|| tracing::debug!(status = status.as_u16(), seconds, "request served"));
    }
    let level = match status.as_u16() {
        500.. => "error",
        400.. => "warn",
        _ => "info",
    };
    let message = match (&outcome, status.is_success()) {
        (Some(_), true) => "prediction served".to_owned(),
        (Some(_), false) => "prediction failed".to_owned(),
        (None, _) => format!("{method} {route} {}", status.as_u16()),
    };
    let mut event = Event::now(level, SERVICE, message);
    event.request_id = Some(id.to_string());
    event.method = Some(method.to_owned());
    event.endpoint = Some(route);
    event.status = Some(status.as_u16());
    event.set_duration(seconds);
    event.error = error;
    event.trace_id = Some(trace.trace_id);
    event.span_id = Some(trace.span_id);
    if let Some(outcome) = outcome {
        if let Some(model) = &outcome.model {
            event.model = Some(model.name().to_owned());
            event.model_version = Some(model.version().to_owned());
            event.model_type = Some(model.info.model_type.clone());
        }
        match outcome.prediction {
            Some(Prediction::Class(class)) => {
                event.prediction = Some(class.class_index);
                event.label = Some(class.label);
                event.confidence = Some(class.confidence);
            }
            Some(Prediction::Value(value)) => event.value = Some(value),
            None => {}
        }
        event.rows = outcome.rows;
        event.feature_seconds = outcome.times.feature;
        event.inference_seconds = outcome.times.inference;
        if let Some(cost) = outcome.cost {
            event.guest_cpu_seconds = Some(cost.cpu.as_secs_f64());
            event.guest_memory_bytes = Some(cost.memory_bytes);
        }
    }
    let event_write = Instant::now();
    state.serving.events.send(event);
    if let Some(request_span) = request_span {
        request_span.end(event_write..Instant::now());
    }
}
