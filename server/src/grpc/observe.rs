//! The gRPC listener's outer layer, as `crate::api::observe` is REST's: every call gets
//! its request ID (`x-request-id` metadata, answered in the response's metadata), a
//! `tracing` span, the client's deadline (`grpc-timeout`), and afterwards a line in
//! `http_request_duration_seconds` (route: the method's path) and an event.
//!
//! A handler leaves what the event needs (the prediction's [`Outcome`], or its failure
//! with the REST API's status) in the call's [`Observed`]; a failure tonic reports itself
//! (an unknown method, a message over the size limit) is read from `grpc-status`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tonic::{Code, Status};
use tracing::Instrument as _;

use super::status::{http_status_of, status_of};
use crate::api::AppState;
use crate::api::error::AppError;
use crate::api::observe::{Served, record};
use crate::api::outcome::Outcome;
use crate::api::predict::user_from;
use crate::api::request_id::RequestId;
use crate::api::request_span::begin;

/// The paths of the methods this listener serves: anything else is labelled `unmatched`,
/// so that clients cannot mint label values.
const METHODS: [&str; 9] = [
    "/inference.GRPCInferenceService/ServerLive",
    "/inference.GRPCInferenceService/ServerReady",
    "/inference.GRPCInferenceService/ModelReady",
    "/inference.GRPCInferenceService/ServerMetadata",
    "/inference.GRPCInferenceService/ModelMetadata",
    "/inference.GRPCInferenceService/ModelInfer",
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
];

/// Who made a call, and what its handler learnt about it for the call's event.
#[derive(Clone)]
pub struct Observed {
    user: Arc<str>,
    observation: Arc<Mutex<Observation>>,
}

#[derive(Default)]
struct Observation {
    outcome: Option<Outcome>,
    failure: Option<(StatusCode, String)>,
}

impl Default for Observed {
    fn default() -> Self {
        Self::new("unknown")
    }
}

impl Observed {
    fn new(user: &str) -> Self {
        Self {
            user: user.into(),
            observation: Arc::default(),
        }
    }

    /// The caller, for `ml_active_users`: `x-user-id`, else the client's address.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Keeps a prediction's outcome.
    pub fn served(&self, outcome: Outcome) {
        self.lock().outcome = Some(outcome);
    }

    /// Keeps a failure (its REST status and message) and gives its gRPC status.
    pub fn failed(&self, error: &AppError) -> Status {
        self.lock().failure = Some((error.status(), error.to_string()));
        status_of(error)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Observation> {
        self.observation.lock().expect("observation lock")
    }
}

/// Outer layer of the gRPC listener.
pub async fn observe(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = RequestId::from_headers(request.headers());
    let path = request.uri().path().to_owned();
    let (trace, request_span) = begin(state.telemetry.as_ref(), request.headers());
    let route = METHODS
        .iter()
        .find(|method| **method == path)
        .map_or("unmatched", |method| method)
        .to_owned();
    let deadline = client_deadline(request.headers());
    let span = tracing::info_span!("request", request_id = %id, trace_id = %trace.trace_id, method = "gRPC", path = %path);
    let observed = Observed::new(&user_from(request.headers(), request.extensions()));
    request.extensions_mut().insert(observed.clone());
    let call = id.clone().scope(next.run(request)).instrument(span.clone());
    let mut response = match deadline {
        Some(deadline) => match tokio::time::timeout(deadline, call).await {
            Ok(response) => response,
            Err(_) => {
                let error = format!("the client's deadline of {deadline:?} passed");
                observed.lock().failure = Some((StatusCode::GATEWAY_TIMEOUT, error.clone()));
                Status::new(Code::DeadlineExceeded, error)
                    .into_http::<axum::body::Body>()
                    .into_response()
            }
        },
        None => call.await,
    };
    let Observation { outcome, failure } = std::mem::take(&mut *observed.lock());
    let (status, error) = match failure {
        Some((status, error)) => (status, Some(error)),
        None => {
            let status = Status::from_header_map(response.headers());
            let code = status.as_ref().map_or(Code::Ok, Status::code);
            let error = status
                .filter(|status| status.code() != Code::Ok)
                .map(|status| status.message().to_owned());
            (http_status_of(code), error)
        }
    };
    let served = Served {
        method: "POST",
        route,
        status,
        seconds: started.elapsed().as_secs_f64(),
        error,
        outcome,
        trace,
        span: request_span,
    };
    record(&state, &id, &span, served, &mut response);
    response
}

/// The client's deadline from `grpc-timeout` (digits and a unit: `H`, `M`, `S`, `m`, `u`,
/// `n`); a malformed value is ignored, as gRPC servers do.
fn client_deadline(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok().filter(|_| digits.len() <= 8)?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn deadline(value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        headers.insert("grpc-timeout", HeaderValue::from_str(value).unwrap());
        client_deadline(&headers)
    }

    #[test]
    fn grpc_timeouts_parse_as_the_spec_writes_them() {
        assert_eq!(deadline("250m"), Some(Duration::from_millis(250)));
        assert_eq!(deadline("3S"), Some(Duration::from_secs(3)));
        assert_eq!(deadline("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(deadline("999999u"), Some(Duration::from_micros(999_999)));
        for bad in ["", "m", "12", "5x", "123456789S", "-1S"] {
            assert_eq!(deadline(bad), None, "{bad:?}");
        }
        assert_eq!(client_deadline(&HeaderMap::new()), None);
    }
}
