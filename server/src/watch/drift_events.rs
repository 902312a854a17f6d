//! Drift as events: every few seconds the serving versions' input drift is read, and an
//! input whose level changed (stable, watch, act) becomes an event — a warning when it
//! starts being worth watching, an error when it is worth acting on, info when it is back
//! — so Kibana shows when each input moved, next to the requests of that moment.

use std::collections::HashMap;
use std::time::Duration;

use crate::event_sink::{Event, SERVICE};
use crate::monitoring::drift::DriftLevel;
use crate::serving::Serving;

/// How often drift is checked.
pub const CHECK_EVERY: Duration = Duration::from_secs(10);

/// The last level seen per model, version and input.
#[derive(Default)]
pub struct DriftWatch {
    levels: HashMap<(String, String, String), DriftLevel>,
}

impl DriftWatch {
    /// Reads the drift of every serving version now and sends an event for each input
    /// whose level changed since the last check; returns how many.
    pub fn check(&mut self, serving: &Serving) -> usize {
        let now = serving.metrics.now();
        let thresholds = serving.metrics.monitoring_options().drift;
        let mut changes = 0;
        for model in serving.models.serving() {
            let Some(report) = model
                .drift
                .as_ref()
                .and_then(|drift| drift.report(now, thresholds))
            else {
                continue;
            };
            for input in report.inputs {
                let key = (
                    model.name().to_owned(),
                    model.version().to_owned(),
                    input.input.clone(),
                );
                let before = self
                    .levels
                    .insert(key, input.level)
                    .unwrap_or(DriftLevel::Stable);
                if before == input.level {
                    continue;
                }
                changes += 1;
                let level = match input.level {
                    DriftLevel::Stable => "info",
                    DriftLevel::Watch => "warn",
                    DriftLevel::Act => "error",
                };
                let message = format!(
                    "input drift: {} went from {} to {} (PSI {:.3})",
                    input.input,
                    before.as_str(),
                    input.level.as_str(),
                    input.psi
                );
                tracing::warn!(model = model.name(), version = model.version(), "{message}");
                let mut event = Event::now(level, SERVICE, message);
                event.model = Some(model.name().to_owned());
                event.model_version = Some(model.version().to_owned());
                event.fields.extend([
                    ("feature".to_owned(), input.input),
                    ("psi".to_owned(), format!("{:.6}", input.psi)),
                    ("drift_level".to_owned(), input.level.as_str().to_owned()),
                    ("rows".to_owned(), report.rows.to_string()),
                ]);
                serving.events.send(event);
            }
        }
        changes
    }

    /// Checks every [`CHECK_EVERY`] for as long as the host runs.
    pub fn spawn(serving: Serving) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut watch = Self::default();
            let mut ticker = tokio::time::interval(CHECK_EVERY);
            loop {
                ticker.tick().await;
                watch.check(&serving);
            }
        })
    }
}
