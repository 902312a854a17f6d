//! What the console shows at one moment, read the way Prometheus reads the host: from the
//! metrics registry (so the page and Grafana can never disagree), plus each version's
//! listing as the admin API gives it. Counters and histograms are cumulative; the page
//! turns two snapshots a second apart into rates and latency quantiles.

use std::collections::BTreeMap;

use prometheus::proto::MetricFamily;
use serde::Serialize;

use crate::api::AppState;
use crate::api::admin::VersionBody;
use crate::metrics::resident_bytes;

/// One moment of the host.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    /// Seconds since the host started.
    pub uptime_seconds: f64,
    /// Resident memory of the host process, from `/proc`.
    pub rss_bytes: Option<u64>,
    /// Distinct users over the last 5 minutes (`ml_active_users`).
    pub active_users: f64,
    /// Prediction requests by outcome, cumulative.
    pub requests: Requests,
    /// Prediction request latency (`ml_request_duration_seconds`, every version),
    /// cumulative buckets.
    pub latency: Histogram,
    /// Probability of the predicted class (`ml_prediction_confidence`), cumulative buckets.
    pub confidence: Histogram,
    /// Rows predicted per model and class label, cumulative.
    pub classes: Vec<ClassCount>,
    /// The model answering `POST /predict`.
    pub default_model: String,
    /// Every version the host knows, as the admin listing shows it.
    pub versions: Vec<VersionBody>,
}

/// Prediction requests (every route that predicts) by how they ended.
#[derive(Debug, Default, Serialize)]
pub struct Requests {
    /// All of them.
    pub total: u64,
    /// Answered 4xx: the client's input.
    pub client_errors: u64,
    /// Answered 5xx: the server failed them.
    pub server_errors: u64,
}

/// A histogram summed over its series.
#[derive(Debug, Default, Serialize)]
pub struct Histogram {
    /// `(upper bound, cumulative count)`, the last bound finite.
    pub buckets: Vec<(f64, u64)>,
    /// Observations.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
}

/// Rows one model predicted as one class.
#[derive(Debug, Serialize)]
pub struct ClassCount {
    /// The model.
    pub model: String,
    /// The class index.
    pub class: u32,
    /// Its label, from the model's card (the index when the model is gone).
    pub label: String,
    /// Rows.
    pub count: u64,
}

impl Snapshot {
    /// The host as it is now.
    pub fn now(state: &AppState) -> Self {
        let models = &state.serving.models;
        let families = state.serving.metrics.gather(models);
        let family = |name: &str| families.iter().find(|f| f.name() == name);
        let versions = models
            .versions()
            .into_iter()
            .map(|view| VersionBody::new(view, state))
            .collect();
        Self {
            uptime_seconds: state.started.elapsed().as_secs_f64(),
            rss_bytes: resident_bytes(),
            active_users: family("ml_active_users")
                .and_then(|f| f.get_metric().first())
                .map_or(0.0, |m| m.get_gauge().get_value()),
            requests: family("http_request_duration_seconds")
                .map(requests)
                .unwrap_or_default(),
            latency: family("ml_request_duration_seconds")
                .map(histogram)
                .unwrap_or_default(),
            confidence: family("ml_prediction_confidence")
                .map(histogram)
                .unwrap_or_default(),
            classes: family("ml_predictions_by_class_total")
                .map(|f| classes(f, state))
                .unwrap_or_default(),
            default_model: models.default_name().to_owned(),
            versions,
        }
    }
}

fn label<'a>(metric: &'a prometheus::proto::Metric, name: &str) -> &'a str {
    metric
        .get_label()
        .iter()
        .find(|pair| pair.name() == name)
        .map_or("", |pair| pair.value())
}

/// Prediction routes' request counts by status class.
fn requests(family: &MetricFamily) -> Requests {
    let mut requests = Requests::default();
    for metric in family.get_metric() {
        let route = label(metric, "route");
        if !(route.ends_with("/predict") || route.ends_with("/infer")) {
            continue;
        }
        let count = metric.get_histogram().get_sample_count();
        requests.total += count;
        match label(metric, "status").as_bytes().first() {
            Some(b'4') => requests.client_errors += count,
            Some(b'5') => requests.server_errors += count,
            _ => {}
        }
    }
    requests
}

/// Every series of a histogram family added up, bucket by bucket.
fn histogram(family: &MetricFamily) -> Histogram {
    let mut buckets: BTreeMap<u64, (f64, u64)> = BTreeMap::new();
    let mut total = Histogram::default();
    for metric in family.get_metric() {
        let histogram = metric.get_histogram();
        total.count += histogram.get_sample_count();
        total.sum += histogram.get_sample_sum();
        for bucket in histogram.get_bucket() {
            let bound = bucket.upper_bound();
            let entry = buckets.entry(bound.to_bits()).or_insert((bound, 0));
            entry.1 += bucket.cumulative_count();
        }
    }
    let mut sorted: Vec<(f64, u64)> = buckets.into_values().collect();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    total.buckets = sorted;
    total
}

/// Rows per model and class, named by the active version's labels.
fn classes(family: &MetricFamily, state: &AppState) -> Vec<ClassCount> {
    let mut counts: BTreeMap<(String, u32), u64> = BTreeMap::new();
    for metric in family.get_metric() {
        let Ok(class) = label(metric, "prediction_class").parse::<u32>() else {
            continue;
        };
        *counts
            .entry((label(metric, "model").to_owned(), class))
            .or_default() += metric.get_counter().get_value() as u64;
    }
    counts
        .into_iter()
        .map(|((model, class), count)| {
            let label = state
                .serving
                .models
                .active(&model)
                .and_then(|m| m.info.labels.get(class as usize).cloned())
                .unwrap_or_else(|| class.to_string());
            ClassCount {
                model,
                class,
                label,
                count,
            }
        })
        .collect()
}
