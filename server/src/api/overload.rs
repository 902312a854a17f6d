//! Load shedding: past a fixed number of prediction requests in flight, answer 503 with
//! `Retry-After` at once rather than queue without bound. [`super::predict::serve`] takes
//! a permit per request, so a shed request is counted against the model it was for.

use tokio::sync::{Semaphore, SemaphorePermit};

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

    /// A permit for one request, or `None` when `max` are in flight already.
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.permits.try_acquire().ok()
    }

    /// Requests allowed at once.
    pub fn max(&self) -> usize {
        self.max
    }
}
