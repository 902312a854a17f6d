//! What one call into an instance cost: the time the guest actually ran (the sum of the
//! call future's polls, so time parked between epoch-tick yields or waiting for a
//! worker is not counted) and the instance's linear-memory high-water mark.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// The cost of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCost {
    /// Time spent running the call (guest code and the host functions it called).
    pub cpu: Duration,
    /// The instance's largest linear memory so far, in bytes (memory only grows, so this
    /// is also its size after the call).
    pub memory_bytes: u64,
}

/// A future that adds up the time spent inside its inner future's polls.
pub(crate) struct Timed<'a, F> {
    inner: Pin<Box<F>>,
    spent: &'a mut Duration,
}

impl<'a, F: Future> Timed<'a, F> {
    /// Times `inner` into `spent`.
    pub(crate) fn new(inner: F, spent: &'a mut Duration) -> Self {
        Self {
            inner: Box::pin(inner),
            spent,
        }
    }
}

impl<F: Future> Future for Timed<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let started = Instant::now();
        let poll = self.inner.as_mut().poll(cx);
        *self.spent += started.elapsed();
        poll
    }
}
