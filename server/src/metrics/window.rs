//! A failure ratio over a sliding window of whole seconds (the error-rate gauge).

/// Successes and failures per second over the last `width` seconds.
#[derive(Debug, Clone)]
pub struct SlidingWindow {
    /// Ring of `(second, succeeded, failed)`, indexed by `second % width`.
    slots: Vec<(u64, u64, u64)>,
}

impl SlidingWindow {
    /// A window `width_secs` seconds wide (at least one).
    pub fn new(width_secs: usize) -> Self {
        Self {
            slots: vec![(u64::MAX, 0, 0); width_secs.max(1)],
        }
    }

    /// Counts one outcome at second `now`.
    pub fn record(&mut self, now: u64, failed: bool) {
        let width = self.slots.len() as u64;
        let slot = &mut self.slots[(now % width) as usize];
        if slot.0 != now {
            *slot = (now, 0, 0);
        }
        if failed {
            slot.2 += 1;
        } else {
            slot.1 += 1;
        }
    }

    /// `(succeeded, failed)` within the window ending at second `now`.
    pub fn totals(&self, now: u64) -> (u64, u64) {
        let width = self.slots.len() as u64;
        self.slots
            .iter()
            .filter(|(second, _, _)| *second <= now && now - *second < width)
            .fold((0, 0), |(ok, failed), slot| (ok + slot.1, failed + slot.2))
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
