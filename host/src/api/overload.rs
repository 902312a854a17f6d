//! Load shedding: past a fixed number of prediction requests in flight, answer 503 with
//! `Retry-After` at once rather than queue without bound.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::AppState;
use super::error::AppError;

/// How many prediction requests may be in flight.
#[derive(Debug)]
pub struct ConcurrencyLimit {
    permits: Semaphore,
    max: usize,
}

impl ConcurrencyLimit {
    /// Room for `max` requests at once (`0` refuses all: useful for draining).
    pub fn new(max: usize) -> Self {
        Self {
            permits: Semaphore::new(max),
            max,
        }
    }
}

/// Route layer on the prediction routes.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    match state.concurrency.permits.try_acquire() {
        Ok(_permit) => next.run(request).await,
        Err(_) => {
            state.metrics.requests_shed.inc();
            AppError::Overloaded(state.concurrency.max).into_response()
        }
    }
}
