//! Sums over a sliding window of whole seconds: the error-rate gauge's failure ratio, live
//! accuracy's right and wrong answers, live error's residuals.

use std::ops::AddAssign;

/// A `T` per second over the last `width` seconds, summed on demand.
#[derive(Debug, Clone)]
pub struct SecondRing<T> {
    /// Ring of `(second, sum)`, indexed by `second % width`.
    slots: Vec<(u64, T)>,
}

impl<T: Default + Copy + AddAssign> SecondRing<T> {
    /// A ring `width_secs` seconds wide (at least one).
    pub fn new(width_secs: usize) -> Self {
        Self {
            slots: vec![(u64::MAX, T::default()); width_secs.max(1)],
        }
    }

    /// Adds `value` at second `now` (a slot left from an older second starts over).
    pub fn add(&mut self, now: u64, value: T) {
        let width = self.slots.len() as u64;
        let slot = &mut self.slots[(now % width) as usize];
        if slot.0 != now {
            *slot = (now, T::default());
        }
        slot.1 += value;
    }

    /// The sum within the window ending at second `now`.
    pub fn sum(&self, now: u64) -> T {
        let width = self.slots.len() as u64;
        let mut total = T::default();
        for (second, value) in &self.slots {
            if *second <= now && now - *second < width {
                total += *value;
            }
        }
        total
    }
}

/// Successes and failures counted per second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcomes {
    /// Successes.
    pub ok: u64,
    /// Failures.
    pub failed: u64,
}

impl AddAssign for Outcomes {
    fn add_assign(&mut self, other: Self) {
        self.ok += other.ok;
        self.failed += other.failed;
    }
}

/// Successes and failures per second over the last `width` seconds.
#[derive(Debug, Clone)]
pub struct SlidingWindow(SecondRing<Outcomes>);

impl SlidingWindow {
    /// A window `width_secs` seconds wide (at least one).
    pub fn new(width_secs: usize) -> Self {
        Self(SecondRing::new(width_secs))
    }

    /// Counts one outcome at second `now`.
    pub fn record(&mut self, now: u64, failed: bool) {
        let outcome = match failed {
            true => Outcomes { ok: 0, failed: 1 },
            false => Outcomes { ok: 1, failed: 0 },
        };
        self.0.add(now, outcome);
    }

    /// `(succeeded, failed)` within the window ending at second `now`.
    pub fn totals(&self, now: u64) -> (u64, u64) {
        let sum = self.0.sum(now);
        (sum.ok, sum.failed)
    }

    /// Failed / all within the window; 0 when there was nothing.
    pub fn failure_ratio(&self, now: u64) -> f64 {
        match self.totals(now) {
            (0, 0) => 0.0,
            (ok, failed) => failed as f64 / (ok + failed) as f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_counts_only_the_window() {
        let mut window = SlidingWindow::new(300);
        assert_eq!(window.failure_ratio(0), 0.0);
        window.record(10, true);
        window.record(10, false);
        window.record(11, false);
        window.record(12, false);
        assert_eq!(window.totals(12), (3, 1));
        assert_eq!(window.failure_ratio(12), 0.25);
        // Second 10 leaves the window at 310; 11 and 12 stay.
        assert_eq!(window.totals(310), (2, 0));
        assert_eq!(window.failure_ratio(400), 0.0);
        // A slot is reused for a later second, not added to.
        window.record(310, true);
        assert_eq!(window.totals(310), (2, 1));
    }
}
