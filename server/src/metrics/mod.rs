//! The host's Prometheus metrics: the seed's `ml_*` names, HTTP latency, and what an
//! operator needs to see inside the sandbox (pool, traps, shed load, dropped events).
//!
//! Counters and histograms move as requests are served; gauges that describe a state
//! (memory, pool, error rate, live accuracy, active users) are read when `/metrics` is
//! scraped, from what is true then: a version that stopped serving loses its series, and
//! a window without data says nothing rather than its last value.
//!
//! Every field is private: the rest of the host says what happened through intent methods
//! ([`Metrics::prediction_served`], [`Metrics::guest_timing`], [`Metrics::version_swapped`],
//! ...), so "what moves metric X?" is answered by this file alone.

mod active_users;
mod admission;
mod clock;
mod cost;
mod events;
mod ground_truth;
mod memory;
mod monitoring;
mod shadow;
mod window;

use std::collections::HashMap;
use std::sync::Mutex;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

pub use active_users::{ActiveUsers, MAX_TRACKED_USERS};
pub use admission::AdmissionMetrics;
pub use clock::Clock;
pub use cost::CostMetrics;
pub use events::{DropReason, EventCounters};
pub use ground_truth::{GroundTruthMetrics, LiveAccuracy, LiveError};
pub use memory::resident_bytes;
pub use monitoring::{MonitoringGauges, MonitoringOptions};
pub use shadow::ShadowMetrics;
pub use window::SlidingWindow;

use wasml_predictor::Prediction;
use wasml_runtime::bindings::Stage;
use wasml_runtime::bindings::types as wit;
use wasml_runtime::{CallCost, CallError};

use crate::registry::{LoadedModel, ModelRegistry};

/// The window of `ml_prediction_error_rate` and `ml_active_users`.
pub const WINDOW_SECS: u64 = 300;

/// Label names of per-model series.
const MODEL: &[&str] = &["model", "version"];

/// Every metric the host exports, registered in its own registry.
pub struct Metrics {
    registry: Registry,
    clock: Clock,
    /// Offline accuracy from the model card (held-out split).
    model_accuracy: GaugeVec,
    /// Offline precision from the model card.
    model_precision: GaugeVec,
    /// Offline recall from the model card.
    model_recall: GaugeVec,
    /// Offline F1 from the model card.
    model_f1_score: GaugeVec,
    /// R² of a regressor, from the model card (held-out split).
    model_r2: GaugeVec,
    /// Mean absolute error of a regressor, from the model card.
    model_mae: GaugeVec,
    /// Root mean squared error of a regressor, from the model card.
    model_rmse: GaugeVec,
    /// Rows predicted.
    predictions: IntCounterVec,
    /// Rows predicted, by predicted class index.
    predictions_by_class: IntCounterVec,
    /// Confidence of each prediction.
    prediction_confidence: HistogramVec,
    /// Value of each regression prediction.
    prediction_value: HistogramVec,
    /// Requests the server failed (5xx) / all prediction requests over [`WINDOW_SECS`].
    prediction_error_rate: GaugeVec,
    /// HTTP latency by method, route template and status.
    http_request_duration: HistogramVec,
    /// Feature validation + encoding time, as the guest measured it.
    feature_processing: HistogramVec,
    /// Model inference time, as the guest measured it.
    inference: HistogramVec,
    /// Seconds to load each model.
    model_load: GaugeVec,
    /// Resident memory of the host process.
    app_memory: IntGauge,
    /// Rejected input fields, by field.
    input_validation_failures: IntCounterVec,
    /// Distinct users over [`WINDOW_SECS`].
    active_users: IntGauge,
    /// Live instances per loaded version (idle and busy).
    pool_size: IntGaugeVec,
    /// Idle instances each pool keeps warm (its configured size).
    pool_target: IntGaugeVec,
    /// Instances serving a request now.
    pool_busy: IntGaugeVec,
    /// Calls that trapped, by kind (`deadline`, `memory`, `trap`); each discards its instance.
    wasm_traps: IntCounterVec,
    /// What each call cost: guest running time, memory high-water mark.
    cost: CostMetrics,
    /// Each serving version judged against its card: drift, accuracy drop.
    monitoring: MonitoringGauges,
    /// Shadow runs: compared, disagreeing, failed, skipped.
    shadow: ShadowMetrics,
    /// Admitted, queued and shed prediction requests; the queue now.
    pub admission: AdmissionMetrics,
    /// Connections closed on accept because `--max-connections` were open.
    connections_refused: IntCounter,
    /// TLS handshakes that failed or timed out.
    tls_handshake_failures: IntCounter,
    /// Admin requests refused for their credentials, by reason.
    admin_auth_failures: IntCounterVec,
    /// Events written, dropped (by [`DropReason`]) and send retries.
    events: EventCounters,
    /// Version changes by model and result (`activated`, `canary`, `rolled_back`,
    /// `retired`, `failed`).
    model_swaps: IntCounterVec,
    /// 1 for every model version the host knows, labelled with its state.
    model_info: IntGaugeVec,
    /// Prediction request latency per model version (the route histogram has no version).
    request_duration: HistogramVec,
    /// Ground truth: feedback counts, live accuracy and live error.
    ground_truth: GroundTruthMetrics,
    error_windows: Mutex<HashMap<(String, String), SlidingWindow>>,
    users: Mutex<ActiveUsers>,
    /// Held while gauges are rebuilt and read: two scrapes (Prometheus, the console) must
    /// not see each other's half-rebuilt gauges.
    gathering: Mutex<()>,
}

/// `kind` label values of `wasml_wasm_traps_total`.
const TRAP_KINDS: [&str; 3] = ["deadline", "memory", "trap"];

impl Metrics {
    /// All metrics, registered and at zero, on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Clock::system())
    }

    /// All metrics, with `clock` driving the sliding windows (tests move a manual one).
    pub fn with_clock(clock: Clock) -> Self {
        Self::with_options(clock, MonitoringOptions::default())
    }

    /// All metrics, on `clock`, judging versions as `monitoring` says.
    pub fn with_options(clock: Clock, monitoring: MonitoringOptions) -> Self {
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
        Self {
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
            model_r2: gauge(
                "ml_model_r2",
                "R² of a regressor on the model card's held-out split.",
            ),
            model_mae: gauge(
                "ml_model_mae",
                "Mean absolute error of a regressor on the model card's held-out split.",
            ),
            model_rmse: gauge(
                "ml_model_rmse",
                "Root mean squared error of a regressor on the model card's held-out split.",
            ),
            predictions: counter("ml_predictions_total", "Rows predicted.", MODEL),
            predictions_by_class: counter(
                "ml_predictions_by_class_total",
                "Rows predicted, by predicted class index.",
                &["model", "version", "prediction_class"],
            ),
            prediction_confidence: histogram(
                "ml_prediction_confidence",
                "Probability of the predicted class (below 0.5 only with more than two classes).",
                MODEL,
                vec![0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0],
            ),
            prediction_value: histogram(
                "ml_prediction_value",
                "Value of each regression prediction (buckets by decade, either sign).",
                MODEL,
                value_buckets(),
            ),
            prediction_error_rate: gauge(
                "ml_prediction_error_rate",
                "Prediction requests the server failed (5xx: model failed, deadline, unavailable, shed) / all prediction requests, over the last 5 minutes, per serving version. Client errors (4xx) are not failures here: see ml_input_validation_failures_total and http_request_duration_seconds by status.",
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
                "Live instances of each loaded version (idle and busy): one at load, more while concurrent requests need them, none after --idle-timeout-secs without a request (scale to zero).",
                MODEL,
            ),
            pool_target: int_gauge(
                "wasml_instance_pool_target",
                "Idle instances each loaded version's pool keeps at most (--pool-size).",
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
            cost: CostMetrics::register(&registry),
            monitoring: MonitoringGauges::register(&registry, monitoring),
            shadow: ShadowMetrics::register(&registry),
            admission: AdmissionMetrics::register(&registry),
            connections_refused: register(
                &registry,
                IntCounter::new(
                    "wasml_connections_refused_total",
                    "Connections closed on accept because --max-connections were open.",
                ),
            ),
            tls_handshake_failures: register(
                &registry,
                IntCounter::new(
                    "wasml_tls_handshake_failures_total",
                    "TLS handshakes that failed or timed out: plain HTTP on a TLS port, an untrusted certificate, no or an untrusted client certificate.",
                ),
            ),
            events: EventCounters::register(&registry),
            admin_auth_failures: counter(
                "wasml_admin_auth_failures_total",
                "Admin API requests refused: no bearer token (unauthenticated) or another token (forbidden).",
                &["reason"],
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
            ground_truth: GroundTruthMetrics::register(&registry),
            error_windows: Mutex::new(HashMap::new()),
            users: Mutex::new(ActiveUsers::new(WINDOW_SECS)),
            gathering: Mutex::new(()),
            clock,
            registry,
        }
    }

    /// A version was loaded (at start, or an upload passed the gate): the series from its
    /// card and loading, and its trap counters at zero.
    pub fn model_loaded(&self, model: &LoadedModel) {
        let labels = [model.name(), model.version()];
        // At zero from the start: `increase()` misses a counter's first step when the
        // series only appears with it, and alerts would never see the first trap.
        for kind in TRAP_KINDS {
            self.wasm_traps
                .with_label_values(&[model.name(), model.version(), kind])
                .inc_by(0);
        }
        // A figure the card does not give is no series, not a zero.
        let card = model.info.evaluation;
        let figure = |pick: fn(wit::Evaluation) -> Option<f64>| card.and_then(pick);
        for (gauge, value) in [
            (&self.model_accuracy, figure(|e| e.accuracy)),
            (&self.model_precision, figure(|e| e.precision)),
            (&self.model_recall, figure(|e| e.recall)),
            (&self.model_f1_score, figure(|e| e.f1_score)),
            (&self.model_r2, figure(|e| e.r2)),
            (&self.model_mae, figure(|e| e.mae)),
            (&self.model_rmse, figure(|e| e.rmse)),
            (&self.model_load, Some(model.load_seconds)),
        ] {
            if let Some(value) = value {
                gauge.with_label_values(&labels).set(value);
            }
        }
    }

    /// A version changed state through the lifecycle (`activated`, `canary`,
    /// `rolled_back`, `retired`, `failed`): `ml_model_swaps_total`.
    pub fn version_swapped(&self, model: &str, result: &str) {
        self.model_swaps.with_label_values(&[model, result]).inc();
    }

    /// A version was retired: its per-version gauges and windows go (it serves no more and
    /// its card describes nothing running). Counters stay, as Prometheus expects.
    pub fn version_retired(&self, model: &str, version: &str) {
        let labels = [model, version];
        for gauge in [
            &self.model_accuracy,
            &self.model_precision,
            &self.model_recall,
            &self.model_f1_score,
            &self.model_r2,
            &self.model_mae,
            &self.model_rmse,
            &self.model_load,
        ] {
            let _ = gauge.remove_label_values(&labels);
        }
        let key = (model.to_owned(), version.to_owned());
        self.error_windows
            .lock()
            .expect("metrics lock")
            .remove(&key);
        self.ground_truth.forget(model, version);
    }

    /// A prediction request to `model` finished after `seconds`; `server_failed` if it
    /// ended in a 5xx (the model failed, ran past its deadline, was unavailable or the
    /// request was shed). A client's bad request is not a failed prediction.
    pub fn prediction_request(&self, model: &LoadedModel, seconds: f64, server_failed: bool) {
        self.request_duration
            .with_label_values(&[model.name(), model.version()])
            .observe(seconds);
        let now = self.clock.now();
        let key = (model.name().to_owned(), model.version().to_owned());
        let mut windows = self.error_windows.lock().expect("metrics lock");
        windows
            .entry(key)
            .or_insert_with(|| SlidingWindow::new(WINDOW_SECS as usize))
            .record(now, server_failed);
    }

    /// `model` answered a row with `prediction`.
    pub fn prediction_served(&self, model: &LoadedModel, prediction: &Prediction) {
        let labels = [model.name(), model.version()];
        self.predictions.with_label_values(&labels).inc();
        match prediction {
            Prediction::Class(prediction) => {
                let class = prediction.class_index.to_string();
                self.predictions_by_class
                    .with_label_values(&[model.name(), model.version(), &class])
                    .inc();
                self.prediction_confidence
                    .with_label_values(&labels)
                    .observe(prediction.confidence);
            }
            Prediction::Value(value) => {
                self.prediction_value
                    .with_label_values(&labels)
                    .observe(*value);
            }
        }
    }

    /// A call into `model` cost `cost` (whether or not it trapped).
    pub fn call_cost(&self, model: &LoadedModel, cost: CallCost) {
        self.cost.record(&[model.name(), model.version()], cost);
    }

    /// The model reported how long a stage of a call took.
    pub fn guest_timing(&self, model: &LoadedModel, stage: Stage, seconds: f64) {
        let histogram = match stage {
            Stage::FeatureProcessing => &self.feature_processing,
            Stage::Inference => &self.inference,
        };
        histogram
            .with_label_values(&[model.name(), model.version()])
            .observe(seconds);
    }

    /// A request's input was rejected at `field` (`_body` for the body as a whole,
    /// `_unknown` for a field outside the schema).
    pub fn input_rejected(&self, model: &LoadedModel, field: &str) {
        self.input_validation_failures
            .with_label_values(&[model.name(), model.version(), field])
            .inc();
    }

    /// An admin request was refused for its credentials (`unauthenticated`, `forbidden`).
    pub fn admin_auth_failed(&self, reason: &str) {
        self.admin_auth_failures.with_label_values(&[reason]).inc();
    }

    /// An HTTP request finished: `http_request_duration_seconds`.
    pub fn http_request(&self, method: &str, route: &str, status: &str, seconds: f64) {
        self.http_request_duration
            .with_label_values(&[method, route, status])
            .observe(seconds);
    }

    /// What counts events written, dropped and retried (the event sink's threads keep
    /// a clone).
    pub fn events(&self) -> &EventCounters {
        &self.events
    }

    /// A classifier's prediction for `model` `version` was given its true label.
    pub fn feedback(&self, model: &str, version: &str, correct: bool) {
        self.ground_truth
            .label(model, version, correct, self.clock.now());
    }

    /// A regressor's prediction for `model` `version` was given its true value, `residual`
    /// (actual − predicted) away.
    pub fn feedback_value(&self, model: &str, version: &str, residual: f64) {
        self.ground_truth
            .value(model, version, residual, self.clock.now());
    }

    /// Live accuracy of `model` `version` (the last [`WINDOW_SECS`]), if it had feedback.
    pub fn live_accuracy(&self, model: &str, version: &str) -> Option<LiveAccuracy> {
        self.ground_truth.accuracy(model, version, self.clock.now())
    }

    /// Live error of regressor `model` `version` (the last [`WINDOW_SECS`]), if it had
    /// feedback.
    pub fn live_error(&self, model: &str, version: &str) -> Option<LiveError> {
        self.ground_truth.error(model, version, self.clock.now())
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
        let now = self.clock.now();
        self.users.lock().expect("metrics lock").seen(user, now);
    }

    /// Shadow traffic's series.
    pub fn shadow(&self) -> &ShadowMetrics {
        &self.shadow
    }

    /// How versions are judged (drift thresholds, accuracy margin).
    pub fn monitoring_options(&self) -> MonitoringOptions {
        self.monitoring.options
    }

    /// Seconds on the metrics' clock (the system's, or a test's), for the sliding windows
    /// kept elsewhere (input drift).
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// The registry, for parts that bring their own series (the embedded collector).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Every metric family, with state gauges read now (what a scrape sees).
    pub fn gather(&self, models: &ModelRegistry) -> Vec<prometheus::proto::MetricFamily> {
        let _gathering = self.gathering.lock().expect("metrics lock");
        self.refresh(models);
        self.registry.gather()
    }

    /// The Prometheus text exposition, with state gauges read now.
    pub fn render(&self, models: &ModelRegistry) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.gather(models), &mut out)
            .expect("text encoding does not fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }

    /// Sets every state gauge from what is true now. Gauges with per-version series are
    /// rebuilt, not updated: a version that stopped serving (or was unloaded) loses its
    /// series instead of keeping its last value.
    fn refresh(&self, models: &ModelRegistry) {
        let now = self.clock.now();
        if let Some(bytes) = resident_bytes() {
            self.app_memory.set(bytes as i64);
        }
        let users = self.users.lock().expect("metrics lock").count(now);
        self.active_users.set(users as i64);
        self.model_info.reset();
        self.pool_size.reset();
        self.pool_target.reset();
        self.pool_busy.reset();
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
            if let Some(model) = &version.model {
                let labels = [model.name(), model.version()];
                self.pool_size
                    .with_label_values(&labels)
                    .set(model.pool.live() as i64);
                self.pool_target
                    .with_label_values(&labels)
                    .set(model.pool.size() as i64);
                self.pool_busy
                    .with_label_values(&labels)
                    .set(model.pool.busy() as i64);
            }
        }
        self.ground_truth.refresh(now);
        let serving = models.serving();
        self.monitoring.refresh(&serving, now, &self.ground_truth);
        // Every serving version (active and canary), and only those.
        self.prediction_error_rate.reset();
        let windows = self.error_windows.lock().expect("metrics lock");
        for model in serving {
            let key = (model.name().to_owned(), model.version().to_owned());
            let ratio = windows.get(&key).map_or(0.0, |w| w.failure_ratio(now));
            self.prediction_error_rate
                .with_label_values(&[model.name(), model.version()])
                .set(ratio);
        }
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

/// Buckets for regression values of any scale or sign: ±1e-3 … ±1e6 by decade, and 0.
fn value_buckets() -> Vec<f64> {
    let decades: Vec<f64> = (-3..=6).map(|e| 10f64.powi(e)).collect();
    let mut buckets: Vec<f64> = decades.iter().rev().map(|d| -d).collect();
    buckets.push(0.0);
    buckets.extend(decades);
    buckets
}

/// The listeners' accept loop counts into `wasml_connections_refused_total` and
/// `wasml_tls_handshake_failures_total`.
impl wasml_net::connections::ConnectionEvents for Metrics {
    fn refused(&self) {
        self.connections_refused.inc();
    }

    fn handshake_failed(&self) {
        self.tls_handshake_failures.inc();
    }
}
