//! Ground truth from `POST /feedback`, per model version over the last [`WINDOW_SECS`]:
//! a classifier's live accuracy (right and wrong labels), a regressor's live error (the
//! residuals' mean absolute and root mean squared error). Both sit next to the card's
//! held-out figures, so a version is judged against what it promised
//! ([`super::MonitoringGauges`]), and a canary against the active version.

use std::collections::HashMap;
use std::ops::AddAssign;
use std::sync::Mutex;

use prometheus::{GaugeVec, IntCounterVec, Opts, Registry};
use serde::Serialize;

use super::window::{SecondRing, SlidingWindow};
use super::{MODEL, WINDOW_SECS, register};

/// Accuracy on the ground truth reported over the last [`WINDOW_SECS`] seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LiveAccuracy {
    /// Correct / reported.
    pub accuracy: f64,
    /// Predictions whose true outcome was reported.
    pub outcomes: u64,
    /// The window's width.
    pub window_seconds: u64,
}

impl LiveAccuracy {
    /// The accuracy a feedback window (failures = wrong answers) holds at `now`; `None`
    /// without feedback.
    fn of(window: &SlidingWindow, now: u64) -> Option<Self> {
        match window.totals(now) {
            (0, 0) => None,
            (correct, wrong) => Some(Self {
                accuracy: correct as f64 / (correct + wrong) as f64,
                outcomes: correct + wrong,
                window_seconds: WINDOW_SECS,
            }),
        }
    }
}

/// A regressor's error on the ground truth reported over the last [`WINDOW_SECS`] seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LiveError {
    /// Mean absolute error.
    pub mae: f64,
    /// Root mean squared error.
    pub rmse: f64,
    /// Predictions whose true value was reported.
    pub outcomes: u64,
    /// The window's width.
    pub window_seconds: u64,
}

/// Residuals summed per second.
#[derive(Debug, Clone, Copy, Default)]
struct Residuals {
    count: u64,
    absolute: f64,
    squared: f64,
}

impl AddAssign for Residuals {
    fn add_assign(&mut self, other: Self) {
        self.count += other.count;
        self.absolute += other.absolute;
        self.squared += other.squared;
    }
}

impl LiveError {
    fn of(window: &SecondRing<Residuals>, now: u64) -> Option<Self> {
        let sum = window.sum(now);
        (sum.count > 0).then(|| Self {
            mae: sum.absolute / sum.count as f64,
            rmse: (sum.squared / sum.count as f64).sqrt(),
            outcomes: sum.count,
            window_seconds: WINDOW_SECS,
        })
    }
}

type Key = (String, String);

/// The ground-truth series and their windows.
pub struct GroundTruthMetrics {
    feedback_total: IntCounterVec,
    live_accuracy: GaugeVec,
    live_mae: GaugeVec,
    live_rmse: GaugeVec,
    accuracy_windows: Mutex<HashMap<Key, SlidingWindow>>,
    residual_windows: Mutex<HashMap<Key, SecondRing<Residuals>>>,
}

impl GroundTruthMetrics {
    /// The series, registered in `registry`.
    pub fn register(registry: &Registry) -> Self {
        let gauge = |name: &str, help: &str| {
            register(registry, GaugeVec::new(Opts::new(name, help), MODEL))
        };
        Self {
            feedback_total: register(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        "ml_feedback_total",
                        "Ground-truth reports (POST /feedback), by model version and outcome: correct or wrong for a classifier, measured for a regressor.",
                    ),
                    &["model", "version", "outcome"],
                ),
            ),
            live_accuracy: gauge(
                "ml_model_live_accuracy",
                "Correct share of the predictions given feedback over the last 5 minutes; no series while that window holds no feedback.",
            ),
            live_mae: gauge(
                "ml_model_live_mae",
                "A regressor's mean absolute error on the true values reported over the last 5 minutes; no series while that window holds none.",
            ),
            live_rmse: gauge(
                "ml_model_live_rmse",
                "A regressor's root mean squared error on the true values reported over the last 5 minutes; no series while that window holds none.",
            ),
            accuracy_windows: Mutex::new(HashMap::new()),
            residual_windows: Mutex::new(HashMap::new()),
        }
    }

    /// A classifier's label was `correct` or not, at second `now`.
    pub fn label(&self, model: &str, version: &str, correct: bool, now: u64) {
        let outcome = if correct { "correct" } else { "wrong" };
        self.feedback_total
            .with_label_values(&[model, version, outcome])
            .inc();
        self.accuracy_windows
            .lock()
            .expect("metrics lock")
            .entry(key(model, version))
            .or_insert_with(|| SlidingWindow::new(WINDOW_SECS as usize))
            .record(now, !correct);
    }

    /// A regressor's value was off by `residual` (actual − predicted), at second `now`.
    pub fn value(&self, model: &str, version: &str, residual: f64, now: u64) {
        self.feedback_total
            .with_label_values(&[model, version, "measured"])
            .inc();
        let residuals = Residuals {
            count: 1,
            absolute: residual.abs(),
            squared: residual * residual,
        };
        self.residual_windows
            .lock()
            .expect("metrics lock")
            .entry(key(model, version))
            .or_insert_with(|| SecondRing::new(WINDOW_SECS as usize))
            .add(now, residuals);
    }

    /// Live accuracy of `model` `version` at `now`, if it had feedback in the window.
    pub fn accuracy(&self, model: &str, version: &str, now: u64) -> Option<LiveAccuracy> {
        let windows = self.accuracy_windows.lock().expect("metrics lock");
        LiveAccuracy::of(windows.get(&key(model, version))?, now)
    }

    /// Live error of `model` `version` at `now`, if it had feedback in the window.
    pub fn error(&self, model: &str, version: &str, now: u64) -> Option<LiveError> {
        let windows = self.residual_windows.lock().expect("metrics lock");
        LiveError::of(windows.get(&key(model, version))?, now)
    }

    /// Forgets a retired version's windows (its counters stay).
    pub fn forget(&self, model: &str, version: &str) {
        let key = key(model, version);
        self.accuracy_windows
            .lock()
            .expect("metrics lock")
            .remove(&key);
        self.residual_windows
            .lock()
            .expect("metrics lock")
            .remove(&key);
    }

    /// Sets the live gauges from the windows at `now`: rebuilt, so a window without
    /// feedback has no series.
    pub fn refresh(&self, now: u64) {
        self.live_accuracy.reset();
        for ((model, version), window) in self.accuracy_windows.lock().expect("metrics lock").iter()
        {
            if let Some(live) = LiveAccuracy::of(window, now) {
                self.live_accuracy
                    .with_label_values(&[model, version])
                    .set(live.accuracy);
            }
        }
        self.live_mae.reset();
        self.live_rmse.reset();
        for ((model, version), window) in self.residual_windows.lock().expect("metrics lock").iter()
        {
            if let Some(live) = LiveError::of(window, now) {
                self.live_mae
                    .with_label_values(&[model, version])
                    .set(live.mae);
                self.live_rmse
                    .with_label_values(&[model, version])
                    .set(live.rmse);
            }
        }
    }
}

fn key(model: &str, version: &str) -> Key {
    (model.to_owned(), version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_error_is_the_windows_residuals() {
        let metrics = GroundTruthMetrics::register(&Registry::new());
        assert_eq!(metrics.error("m", "1", 0), None);
        metrics.value("m", "1", 3.0, 10);
        metrics.value("m", "1", -4.0, 11);
        let live = metrics.error("m", "1", 11).unwrap();
        assert_eq!(live.outcomes, 2);
        assert_eq!(live.mae, 3.5);
        assert_eq!(live.rmse, (12.5f64).sqrt());
        // Second 10 leaves the window; then both do.
        assert_eq!(metrics.error("m", "1", 310).unwrap().mae, 4.0);
        assert_eq!(metrics.error("m", "1", 400), None);
        assert_eq!(metrics.accuracy("m", "1", 11), None, "no labels were given");
    }
}
