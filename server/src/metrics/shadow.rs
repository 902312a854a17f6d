//! A candidate's trials on live traffic: shadow traffic's metrics (requests run on the
//! shadow, rows compared and how many the two versions answered differently, the shadow's
//! failures and skips, its latency) and the automatic canary analysis's verdict.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry};

use super::register;

/// The labels of per-pair series: the model, its active version, the shadow version.
const PAIR: &[&str] = &["model", "active", "shadow"];

/// `ml_shadow_requests_total`, `ml_shadow_rows_total`, `ml_shadow_disagreements_total`,
/// `ml_shadow_failures_total`, `ml_shadow_skipped_total`, `ml_shadow_duration_seconds`.
#[derive(Clone)]
pub struct ShadowMetrics {
    requests: IntCounterVec,
    rows: IntCounterVec,
    disagreements: IntCounterVec,
    failures: IntCounterVec,
    skipped: IntCounterVec,
    duration: HistogramVec,
    canary_analysis: IntGaugeVec,
}

impl ShadowMetrics {
    /// The series, registered in `registry`.
    pub fn register(registry: &Registry) -> Self {
        let counter = |name: &str, help: &str| {
            register(registry, IntCounterVec::new(Opts::new(name, help), PAIR))
        };
        Self {
            requests: counter(
                "ml_shadow_requests_total",
                "Requests the active version answered that the shadow version also ran (after the answer).",
            ),
            rows: counter(
                "ml_shadow_rows_total",
                "Rows both versions answered and were compared.",
            ),
            disagreements: counter(
                "ml_shadow_disagreements_total",
                "Rows the shadow answered differently: another class, or for a regressor a value off by more than the shadow's tolerance (relative).",
            ),
            failures: counter(
                "ml_shadow_failures_total",
                "Shadow runs that failed (trap, deadline, unavailable, a refused row); the client never sees them.",
            ),
            canary_analysis: register(
                registry,
                IntGaugeVec::new(
                    Opts::new(
                        "ml_canary_analysis",
                        "1 per model with an automatic canary analysis, labelled with its canary, the active version it is compared with and its verdict (collecting, promoted, passed, rolled_back, aborted).",
                    ),
                    &["model", "canary", "active", "verdict"],
                ),
            ),
            skipped: counter(
                "ml_shadow_skipped_total",
                "Requests the shadow should have run but did not: too many shadow runs were in flight.",
            ),
            duration: register(
                registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        "ml_shadow_duration_seconds",
                        "How long each shadow run took, from its call to the shadow's answer.",
                    )
                    .buckets(vec![
                        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                        0.25, 1.0,
                    ]),
                    PAIR,
                ),
            ),
        }
    }

    /// A shadow run of `pair` compared `rows` rows, `disagreements` of them different,
    /// in `seconds`.
    pub fn compared(&self, pair: &[&str; 3], rows: u64, disagreements: u64, seconds: f64) {
        // Failures and skips at zero from the first run: `increase()` misses a counter's
        // first step when the series only appears with it.
        self.failures.with_label_values(pair);
        self.skipped.with_label_values(pair);
        self.requests.with_label_values(pair).inc();
        self.rows.with_label_values(pair).inc_by(rows);
        self.disagreements
            .with_label_values(pair)
            .inc_by(disagreements);
        self.duration.with_label_values(pair).observe(seconds);
    }

    /// A shadow run of `pair` failed.
    pub fn failed(&self, pair: &[&str; 3]) {
        self.requests.with_label_values(pair).inc();
        self.failures.with_label_values(pair).inc();
    }

    /// Sets `ml_canary_analysis` to `analyses`: `(model, canary, active, verdict)`.
    pub fn canary_analyses<'a>(&self, analyses: impl IntoIterator<Item = [&'a str; 4]>) {
        self.canary_analysis.reset();
        for labels in analyses {
            self.canary_analysis.with_label_values(&labels).set(1);
        }
    }

    /// A shadow run of `pair` was skipped: too many in flight.
    pub fn skipped(&self, pair: &[&str; 3]) {
        self.skipped.with_label_values(pair).inc();
    }
}
