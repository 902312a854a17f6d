//! The clock of the sliding windows: whole seconds since the metrics were created, or a
//! manual clock a test moves, so "the window emptied" can be tested without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Whole seconds, from the system or moved by hand.
#[derive(Debug, Clone)]
pub enum Clock {
    /// Seconds since `Instant`.
    System(Instant),
    /// Seconds set by [`Clock::advance`].
    Manual(Arc<AtomicU64>),
}

impl Clock {
    /// Counts from now.
    pub fn system() -> Self {
        Self::System(Instant::now())
    }

    /// Starts at 0 and moves only when advanced.
    pub fn manual() -> Self {
        Self::Manual(Arc::new(AtomicU64::new(0)))
    }

    /// Moves a manual clock `seconds` forward (a system clock moves by itself).
    pub fn advance(&self, seconds: u64) {
        if let Self::Manual(now) = self {
            now.fetch_add(seconds, Ordering::Relaxed);
        }
    }

    /// The current second.
    pub fn now(&self) -> u64 {
        match self {
            Self::System(started) => started.elapsed().as_secs(),
            Self::Manual(now) => now.load(Ordering::Relaxed),
        }
    }
}
