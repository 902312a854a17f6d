//! The admission queue's metrics: requests admitted, queued and shed (by reason), how
//! long the admitted ones waited, and the queue and running counts at scrape time.

use std::time::Duration;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use super::register;

/// `reason` label values of `wasml_requests_shed_total`: the queue was full, a model
/// with fewer waiters took the place, no turn came in time.
const SHED_REASONS: [&str; 3] = ["queue_full", "displaced", "queue_timeout"];

/// `wasml_requests_admitted_total`, `wasml_requests_queued_total`,
/// `wasml_requests_shed_total{reason}`, `wasml_admission_queue_seconds`,
/// `wasml_admission_running` and `wasml_admission_queued`.
#[derive(Clone)]
pub struct AdmissionMetrics {
    admitted: IntCounter,
    queued: IntCounter,
    shed: IntCounterVec,
    queue_seconds: Histogram,
    running_now: IntGauge,
    queued_now: IntGauge,
}

impl AdmissionMetrics {
    /// The metrics, registered in `registry`, every shed reason at zero.
    pub fn register(registry: &Registry) -> Self {
        let shed = register(
            registry,
            IntCounterVec::new(
                Opts::new(
                    "wasml_requests_shed_total",
                    "Prediction requests refused with 503 and Retry-After before their body was read, by reason (queue_full, displaced, queue_timeout).",
                ),
                &["reason"],
            ),
        );
        for reason in SHED_REASONS {
            shed.with_label_values(&[reason]);
        }
        Self {
            admitted: register(
                registry,
                IntCounter::new(
                    "wasml_requests_admitted_total",
                    "Prediction requests admitted, at once or after waiting in the queue.",
                ),
            ),
            queued: register(
                registry,
                IntCounter::new(
                    "wasml_requests_queued_total",
                    "Prediction requests that waited in the admission queue (admitted or not).",
                ),
            ),
            shed,
            queue_seconds: register(
                registry,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "wasml_admission_queue_seconds",
                        "How long admitted prediction requests waited for their turn (0 when admitted at once).",
                    )
                    .buckets(vec![
                        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                    ]),
                ),
            ),
            running_now: register(
                registry,
                IntGauge::new(
                    "wasml_admission_running",
                    "Prediction requests running now (at most --max-concurrent).",
                ),
            ),
            queued_now: register(
                registry,
                IntGauge::new(
                    "wasml_admission_queued",
                    "Prediction requests waiting for their turn now (at most --max-queued).",
                ),
            ),
        }
    }

    /// A request was admitted after waiting `waited`.
    pub fn admitted(&self, waited: Duration) {
        self.admitted.inc();
        if !waited.is_zero() {
            self.queued.inc();
        }
        self.queue_seconds.observe(waited.as_secs_f64());
    }

    /// A request was refused for `reason` (one of [`SHED_REASONS`]); `waited` if it had
    /// been queued.
    pub fn shed(&self, reason: &str, waited: bool) {
        self.shed.with_label_values(&[reason]).inc();
        if waited {
            self.queued.inc();
        }
    }

    /// The queue as it is now, for a scrape.
    pub fn set_now(&self, running: usize, queued: usize) {
        self.running_now.set(running as i64);
        self.queued_now.set(queued as i64);
    }
}
