//! The host's Prometheus metrics: the seed's `ml_*` names, HTTP latency, and what an
//! operator needs to see inside the sandbox (pool, traps, shed load, dropped events).
//!
//! Counters and histograms move as requests are served; gauges that describe a state
//! (memory, pool, error rate, active users) are read when `/metrics` is scraped.

mod active_users;
mod memory;
mod window;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

pub use active_users::{ActiveUsers, MAX_TRACKED_USERS};
pub use memory::resident_bytes;
pub use window::SlidingWindow;

use crate::instance::CallError;
use crate::registry::{LoadedModel, ModelRegistry};

/// The window of `ml_prediction_error_rate` and `ml_active_users`.
pub const WINDOW_SECS: u64 = 300;

/// Label names of per-model series.
const MODEL: &[&str] = &["model", "version"];

/// Every metric the host exports, registered in its own registry.
pub struct Metrics {
    registry: Registry,
    started: Instant,
    /// Offline accuracy from the model card (held-out split).
    pub model_accuracy: GaugeVec,
    /// Offline precision from the model card.
    pub model_precision: GaugeVec,
    /// Offline recall from the model card.
    pub model_recall: GaugeVec,
    /// Offline F1 from the model card.
    pub model_f1_score: GaugeVec,
    /// Rows predicted.
    pub predictions: IntCounterVec,
    /// Rows predicted, by predicted class index.
    pub predictions_by_class: IntCounterVec,
    /// Confidence of each prediction.
    pub prediction_confidence: HistogramVec,
    /// Failed / all prediction requests over [`WINDOW_SECS`].
    pub prediction_error_rate: GaugeVec,
    /// HTTP latency by method, route template and status.
    pub http_request_duration: HistogramVec,
    /// Feature validation + encoding time, as the guest measured it.
    pub feature_processing: HistogramVec,
    /// Model inference time, as the guest measured it.
    pub inference: HistogramVec,
    /// Seconds to load each model.
    pub model_load: GaugeVec,
    /// Resident memory of the host process.
    pub app_memory: IntGauge,
    /// Rejected input fields, by field.
    pub input_validation_failures: IntCounterVec,
    /// Distinct users over [`WINDOW_SECS`].
    pub active_users: IntGauge,
    /// Warm instances kept per model.
    pub pool_size: IntGaugeVec,
    /// Instances serving a request now.
    pub pool_busy: IntGaugeVec,
    /// Calls that trapped, by kind (`deadline`, `memory`, `trap`); each discards its instance.
    pub wasm_traps: IntCounterVec,
    /// Requests refused with 503 because too many were in flight.
    pub requests_shed: IntCounter,
    /// Events not delivered, by reason (`buffer_full`, `guest_flood`, `write_failed`).
    pub events_dropped: IntCounterVec,
    /// Events made durable (collector WAL) or printed.
    pub events_written: IntCounter,
    /// Failed attempts to hand events to a remote collector (each is retried).
    pub events_send_retries: IntCounter,
    /// Version changes by model and result (`activated`, `canary`, `rolled_back`,
    /// `retired`, `failed`).
    pub model_swaps: IntCounterVec,
    /// 1 for every model version the host knows, labelled with its state.
    pub model_info: IntGaugeVec,
    /// Prediction request latency per model version (the route histogram has no version).
    pub request_duration: HistogramVec,
    /// Ground-truth reports, by model version and outcome (`correct`, `wrong`).
    pub feedback_total: IntCounterVec,
    /// Share of correct predictions among the feedback of the last [`WINDOW_SECS`].
    pub live_accuracy: GaugeVec,
    accuracy_windows: Mutex<HashMap<(String, String), SlidingWindow>>,
    error_windows: Mutex<HashMap<(String, String), SlidingWindow>>,
    users: Mutex<ActiveUsers>,
}

/// `kind` label values of `wasml_wasm_traps_total`.
const TRAP_KINDS: [&str; 3] = ["deadline", "memory", "trap"];

/// `reason` label values of `wasml_events_dropped_total`.
pub const DROP_REASONS: [&str; 6] = [
    "buffer_full",
    "closed",
    "guest_flood",
    "write_failed",
    "rejected",
    "collector_unreachable",
];

/// Accuracy on the ground truth reported over the last [`WINDOW_SECS`] seconds.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, utoipa::ToSchema)]
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
    /// without feedback. The gauge and the admin listing both read it from here.
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

impl Metrics {
    /// All metrics, registered and at zero.
    pub fn new() -> Self {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str| {
            register(&registry, GaugeVec::new(Opts::new(name, help), MODEL))
        };
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register(&registry, IntCounterVec::new(Opts::new(name, help), labels))
        };
        let histogram = |name: &str, help: &str, labels: &[&str], buckets: Vec<f64>| {
            register(
                &registry,
                HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels),
            )
        };
        let int_gauge = |name: &str, help: &str, labels: &[&str]| {
            register(&registry, IntGaugeVec::new(Opts::new(name, help), labels))
        };
        let stage_buckets = || {
            vec![
                1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2,
                1e-1,
            ]
        };
        let metrics = Self {
            model_accuracy: gauge(
                "ml_model_accuracy",
                "Accuracy on the model card's held-out split.",
            ),
            model_precision: gauge(
                "ml_model_precision",
                "Precision on the model card's held-out split.",
            ),
            model_recall: gauge(
                "ml_model_recall",
                "Recall on the model card's held-out split.",
            ),
            model_f1_score: gauge(
                "ml_model_f1_score",
                "F1 score on the model card's held-out split.",
            ),
            predictions: counter("ml_predictions_total", "Rows predicted.", MODEL),
            predictions_by_class: counter(
                "ml_predictions_by_class_total",
                "Rows predicted, by predicted class index.",
                &["model", "version", "prediction_class"],
            ),
            prediction_confidence: histogram(
                "ml_prediction_confidence",
                "Probability of the predicted class.",
                MODEL,
                vec![0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0],
            ),
            prediction_error_rate: gauge(
                "ml_prediction_error_rate",
                "Failed / all prediction requests over the last 5 minutes.",
            ),
            http_request_duration: histogram(
                "http_request_duration_seconds",
                "HTTP request latency, by method, route template and status.",
                &["method", "route", "status"],
                vec![
                    1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5,
                    1.0, 2.5,
                ],
            ),
            feature_processing: histogram(
                "ml_feature_processing_seconds",
                "Validating and encoding the input, as the model component measured it.",
                MODEL,
                stage_buckets(),
            ),
            inference: histogram(
                "ml_inference_seconds",
                "Running the model, as the model component measured it.",
                MODEL,
                stage_buckets(),
            ),
            model_load: gauge(
                "ml_model_load_seconds",
                "Seconds from reading the component to a warm instance pool.",
            ),
            app_memory: register(
                &registry,
                IntGauge::new(
                    "ml_app_memory_bytes",
                    "Resident memory of the host process.",
                ),
            ),
            input_validation_failures: counter(
                "ml_input_validation_failures_total",
                "Rejected input fields, by field (`_body` for the request as a whole, `_unknown` for fields not in the schema).",
                &["model", "version", "field"],
            ),
            active_users: register(
                &registry,
                IntGauge::new(
                    "ml_active_users",
                    "Distinct users (X-User-Id, else client address) over the last 5 minutes.",
                ),
            ),
            pool_size: int_gauge(
                "wasml_instance_pool_size",
                "Warm instances kept per model.",
                MODEL,
            ),
            pool_busy: int_gauge(
                "wasml_instance_pool_busy",
                "Instances serving a request now.",
                MODEL,
            ),
            wasm_traps: counter(
                "wasml_wasm_traps_total",
                "Calls into a model that trapped, by kind (deadline, memory, trap); the instance is replaced.",
                &["model", "version", "kind"],
            ),
            requests_shed: register(
                &registry,
                IntCounter::new(
                    "wasml_requests_shed_total",
                    "Prediction requests refused with 503 because the concurrency limit was reached.",
                ),
            ),
            events_dropped: counter(
                "wasml_events_dropped_total",
                "Events not delivered, by reason.",
                &["reason"],
            ),
            events_written: register(
                &registry,
                IntCounter::new(
                    "wasml_events_written_total",
                    "Events made durable by the collector, embedded or remote (or printed to stdout).",
                ),
            ),
            events_send_retries: register(
                &registry,
                IntCounter::new(
                    "wasml_events_send_retries_total",
                    "Failed attempts to hand events to a remote collector; each is retried.",
                ),
            ),
            model_swaps: counter(
                "ml_model_swaps_total",
                "Model version changes, by result (activated, canary, rolled_back, retired, failed).",
                &["model", "result"],
            ),
            model_info: int_gauge(
                "ml_model_info",
                "1 per model version the host knows, with its component's sha256 and its state.",
                &["model", "version", "sha256", "state"],
            ),
            request_duration: histogram(
                "ml_request_duration_seconds",
                "Prediction request latency per model version, from the body read to the answer.",
                MODEL,
                vec![
                    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    0.5, 1.0,
                ],
            ),
            feedback_total: counter(
                "ml_feedback_total",
                "Ground-truth reports (POST /feedback), by model version and outcome (correct, wrong).",
                &["model", "version", "outcome"],
            ),
            live_accuracy: gauge(
                "ml_model_live_accuracy",
                "Correct share of the predictions given feedback over the last 5 minutes (set once there is feedback).",
            ),
            accuracy_windows: Mutex::new(HashMap::new()),
            error_windows: Mutex::new(HashMap::new()),
            users: Mutex::new(ActiveUsers::new(WINDOW_SECS)),
            started: Instant::now(),
            registry,
        };
        // At zero from the start, for the same reason as the trap counters.
        for reason in DROP_REASONS {
            metrics
                .events_dropped
                .with_label_values(&[reason])
                .inc_by(0);
        }
        metrics
    }

    /// Sets the series that come from a model's card and loading.
    pub fn model_loaded(&self, model: &LoadedModel) {
        let labels = [model.name(), model.version()];
        // At zero from the start: `increase()` misses a counter's first step when the
        // series only appears with it, and alerts would never see the first trap.
        for kind in TRAP_KINDS {
            self.wasm_traps
                .with_label_values(&[model.name(), model.version(), kind])
                .inc_by(0);
        }
        let evaluation = &model.info.evaluation;
        self.model_accuracy
            .with_label_values(&labels)
            .set(evaluation.accuracy);
        self.model_precision
            .with_label_values(&labels)
            .set(evaluation.precision);
        self.model_recall
            .with_label_values(&labels)
            .set(evaluation.recall);
        self.model_f1_score
            .with_label_values(&labels)
            .set(evaluation.f1_score);
        self.model_load
            .with_label_values(&labels)
            .set(model.load_seconds);
        self.prediction_error_rate
            .with_label_values(&labels)
            .set(0.0);
    }

    /// Counts a prediction request to `model` in the error-rate window.
    pub fn prediction_request(&self, model: &LoadedModel, failed: bool) {
        let now = self.now();
        let key = (model.name().to_owned(), model.version().to_owned());
        let mut windows = self.error_windows.lock().expect("metrics lock");
        windows
            .entry(key)
            .or_insert_with(|| SlidingWindow::new(WINDOW_SECS as usize))
            .record(now, failed);
    }

    /// Counts one ground-truth report for `model` `version`.
    pub fn feedback(&self, model: &str, version: &str, correct: bool) {
        let outcome = if correct { "correct" } else { "wrong" };
        self.feedback_total
            .with_label_values(&[model, version, outcome])
            .inc();
        let now = self.now();
        self.accuracy_windows
            .lock()
            .expect("metrics lock")
            .entry((model.to_owned(), version.to_owned()))
            .or_insert_with(|| SlidingWindow::new(WINDOW_SECS as usize))
            .record(now, !correct);
    }

    /// Ground truth reported for `model` `version` within the live-accuracy window, if any.
    pub fn live_accuracy(&self, model: &str, version: &str) -> Option<LiveAccuracy> {
        let now = self.now();
        let windows = self.accuracy_windows.lock().expect("metrics lock");
        LiveAccuracy::of(windows.get(&(model.to_owned(), version.to_owned()))?, now)
    }

    /// Counts a call into `model` that trapped, by kind.
    pub fn wasm_trap(&self, model: &LoadedModel, error: &CallError) {
        let kind = match error {
            CallError::DeadlineExceeded(_) => TRAP_KINDS[0],
            CallError::MemoryExceeded(_) => TRAP_KINDS[1],
            CallError::Trap(_) | CallError::Poisoned => TRAP_KINDS[2],
        };
        self.wasm_traps
            .with_label_values(&[model.name(), model.version(), kind])
            .inc();
    }

    /// Records a request from `user` for `ml_active_users`.
    pub fn user_seen(&self, user: &str) {
        let now = self.now();
        self.users.lock().expect("metrics lock").seen(user, now);
    }

    /// The registry, for parts that bring their own series (the embedded collector).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The Prometheus text exposition, with state gauges read now.
    pub fn render(&self, models: &ModelRegistry) -> String {
        self.refresh(models);
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("text encoding does not fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }

    fn refresh(&self, models: &ModelRegistry) {
        let now = self.now();
        if let Some(bytes) = resident_bytes() {
            self.app_memory.set(bytes as i64);
        }
        let users = self.users.lock().expect("metrics lock").count(now);
        self.active_users.set(users as i64);
        self.model_info.reset();
        for version in models.versions() {
            let sha256 = version.sha256.as_deref().unwrap_or_default();
            self.model_info
                .with_label_values(&[
                    &version.name,
                    &version.version,
                    sha256,
                    version.state.name(),
                ])
                .set(1);
        }
        for ((model, version), window) in self.accuracy_windows.lock().expect("metrics lock").iter()
        {
            if let Some(live) = LiveAccuracy::of(window, now) {
                self.live_accuracy
                    .with_label_values(&[model, version])
                    .set(live.accuracy);
            }
        }
        let windows = self.error_windows.lock().expect("metrics lock");
        for model in models.models() {
            let labels = [model.name(), model.version()];
            self.pool_size
                .with_label_values(&labels)
                .set(model.pool.size() as i64);
            self.pool_busy
                .with_label_values(&labels)
                .set(model.pool.busy() as i64);
            let key = (model.name().to_owned(), model.version().to_owned());
            let ratio = windows.get(&key).map_or(0.0, |w| w.failure_ratio(now));
            self.prediction_error_rate
                .with_label_values(&labels)
                .set(ratio);
        }
    }

    /// Whole seconds since the metrics were created: the clock of the sliding windows.
    fn now(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Registers a collector built from constant, valid options.
fn register<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    collector: prometheus::Result<C>,
) -> C {
    let collector = collector.expect("metric options are constant and valid");
    registry
        .register(Box::new(collector.clone()))
        .expect("metric names are unique");
    collector
}
