//! What each call into a model cost, per model version: the time its guest ran and its
//! instance's linear-memory high-water mark (`ml_guest_cpu_seconds`,
//! `ml_guest_memory_bytes`). No ML server reports this per request; with a sandbox per
//! model it is two numbers the runtime already has.

use prometheus::{HistogramOpts, HistogramVec, Registry};
use wasml_runtime::CallCost;

use super::{MODEL, register};

/// `ml_guest_cpu_seconds` and `ml_guest_memory_bytes`.
#[derive(Clone)]
pub struct CostMetrics {
    cpu_seconds: HistogramVec,
    memory_bytes: HistogramVec,
}

impl CostMetrics {
    /// The histograms, registered in `registry`.
    pub fn register(registry: &Registry) -> Self {
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            register(
                registry,
                HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), MODEL),
            )
        };
        Self {
            cpu_seconds: histogram(
                "ml_guest_cpu_seconds",
                "Time each call's guest ran (its model code and the host functions it called; not the time it waited), per model version.",
                vec![
                    1e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 0.1,
                    1.0,
                ],
            ),
            memory_bytes: histogram(
                "ml_guest_memory_bytes",
                "Linear-memory high-water mark of the instance each call ran on, per model version.",
                (16..=28).map(|power| f64::from(1u32 << power)).collect(),
            ),
        }
    }

    /// A call into `model` `version` cost `cost`.
    pub fn record(&self, labels: &[&str; 2], cost: CallCost) {
        self.cpu_seconds
            .with_label_values(labels)
            .observe(cost.cpu.as_secs_f64());
        self.memory_bytes
            .with_label_values(labels)
            .observe(cost.memory_bytes as f64);
    }
}
