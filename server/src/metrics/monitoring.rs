//! Series that judge each serving version against its own card, read at scrape time:
//! input drift against the training distribution (`ml_feature_drift_psi`,
//! `ml_feature_drift_level`, `ml_model_drift_score`) and live accuracy against the card's
//! held-out accuracy (`ml_model_live_accuracy_drop`, `ml_model_accuracy_drop_margin`,
//! `ml_model_live_outcomes`), and a regressor's live error against the card's held-out
//! mean absolute error (`ml_model_live_error_rise`, `ml_model_error_rise_margin`). A
//! fixed threshold means nothing across models; "worse than its own card by more than a
//! margin" does.

use std::sync::Arc;

use prometheus::{GaugeVec, IntGaugeVec, Opts, Registry};

use super::{GroundTruthMetrics, MODEL, register};
use crate::monitoring::drift::DriftThresholds;
use crate::registry::LoadedModel;

/// How versions are judged (`--drift-watch`, `--drift-act`, `--accuracy-drop-margin`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonitoringOptions {
    /// PSI thresholds of the drift levels.
    pub drift: DriftThresholds,
    /// How far live accuracy may fall below the card's, unless the card says.
    pub accuracy_drop_margin: f64,
    /// How far a regressor's live mean absolute error may rise above the card's, as a
    /// share of the card's (0.25: 25 % worse), unless the card says.
    pub error_rise_margin: f64,
    /// Count each request's inputs for drift and its cost in the histograms
    /// (`--no-monitoring` turns it off).
    pub per_request: bool,
}

impl Default for MonitoringOptions {
    fn default() -> Self {
        Self {
            drift: DriftThresholds::default(),
            accuracy_drop_margin: 0.03,
            error_rise_margin: 0.25,
            per_request: true,
        }
    }
}

/// The gauges.
pub struct MonitoringGauges {
    pub(super) options: MonitoringOptions,
    drift_psi: GaugeVec,
    drift_level: IntGaugeVec,
    drift_score: GaugeVec,
    accuracy_drop: GaugeVec,
    accuracy_drop_margin: GaugeVec,
    error_rise: GaugeVec,
    error_rise_margin: GaugeVec,
    live_outcomes: IntGaugeVec,
}

impl MonitoringGauges {
    /// The gauges, registered in `registry`.
    pub fn register(registry: &Registry, options: MonitoringOptions) -> Self {
        let per_input = ["model", "version", "feature"];
        Self {
            options,
            drift_psi: register(
                registry,
                GaugeVec::new(
                    Opts::new(
                        "ml_feature_drift_psi",
                        "Population stability index of each input over the last 5 minutes of traffic against the card's training distribution; no series below 200 rows.",
                    ),
                    &per_input,
                ),
            ),
            drift_level: register(
                registry,
                IntGaugeVec::new(
                    Opts::new(
                        "ml_feature_drift_level",
                        "Each input's drift: 0 stable, 1 watch (PSI >= --drift-watch), 2 act (PSI >= --drift-act).",
                    ),
                    &per_input,
                ),
            ),
            drift_score: register(
                registry,
                GaugeVec::new(
                    Opts::new(
                        "ml_model_drift_score",
                        "The largest input PSI of each serving version (its worst input).",
                    ),
                    MODEL,
                ),
            ),
            accuracy_drop: register(
                registry,
                GaugeVec::new(
                    Opts::new(
                        "ml_model_live_accuracy_drop",
                        "The card's held-out accuracy minus live accuracy (ground truth of the last 5 minutes); positive when the version does worse live than on paper.",
                    ),
                    MODEL,
                ),
            ),
            accuracy_drop_margin: register(
                registry,
                GaugeVec::new(
                    Opts::new(
                        "ml_model_accuracy_drop_margin",
                        "How far live accuracy may fall below the card's: the card's monitoring.accuracy_drop_margin, else --accuracy-drop-margin.",
                    ),
                    MODEL,
                ),
            ),
            error_rise: register(
                registry,
                GaugeVec::new(
                    Opts::new(
                        "ml_model_live_error_rise",
                        "A regressor's live mean absolute error (ground truth of the last 5 minutes) over the card's held-out one, minus 1: 0.5 when it does 50 % worse live than on paper.",
                    ),
                    MODEL,
                ),
            ),
            error_rise_margin: register(
                registry,
                GaugeVec::new(
                    Opts::new(
                        "ml_model_error_rise_margin",
                        "How far a regressor's live error may rise above the card's, as a share of it: the card's monitoring.error_rise_margin, else --error-rise-margin.",
                    ),
                    MODEL,
                ),
            ),
            live_outcomes: register(
                registry,
                IntGaugeVec::new(
                    Opts::new(
                        "ml_model_live_outcomes",
                        "Predictions given ground truth over the last 5 minutes, per version: how much live accuracy (or a regressor's live error) rests on.",
                    ),
                    MODEL,
                ),
            ),
        }
    }

    /// Sets every gauge for the `serving` versions at `now`, `live` holding their ground
    /// truth. Rebuilt, not updated: a version that stopped serving has no series.
    pub fn refresh(&self, serving: &[Arc<LoadedModel>], now: u64, live: &GroundTruthMetrics) {
        for vec in [
            &self.drift_psi,
            &self.drift_score,
            &self.accuracy_drop,
            &self.accuracy_drop_margin,
            &self.error_rise,
            &self.error_rise_margin,
        ] {
            vec.reset();
        }
        self.drift_level.reset();
        self.live_outcomes.reset();
        for model in serving {
            let labels = [model.name(), model.version()];
            if let Some(report) = model
                .drift
                .as_ref()
                .and_then(|drift| drift.report(now, self.options.drift))
            {
                self.drift_score
                    .with_label_values(&labels)
                    .set(report.score);
                for input in &report.inputs {
                    let labels = [model.name(), model.version(), input.input.as_str()];
                    self.drift_psi.with_label_values(&labels).set(input.psi);
                    self.drift_level
                        .with_label_values(&labels)
                        .set(input.level.rank());
                }
            }
            self.judge_accuracy(model, now, live);
            self.judge_error(model, now, live);
        }
    }

    /// A classifier's live accuracy against its card's: how far it dropped.
    fn judge_accuracy(&self, model: &LoadedModel, now: u64, live: &GroundTruthMetrics) {
        let Some(card) = model.info.evaluation.and_then(|e| e.accuracy) else {
            return;
        };
        let margin = model.monitoring.accuracy_drop_margin;
        let judged = live
            .accuracy(model.name(), model.version(), now)
            .map(|live| (card - live.accuracy, live.outcomes));
        self.publish(
            model,
            (&self.accuracy_drop, &self.accuracy_drop_margin),
            margin.unwrap_or(self.options.accuracy_drop_margin),
            judged,
        );
    }

    /// A regressor's live mean absolute error against its card's, relative to it (the
    /// error's scale is the target's, so only a ratio compares across models).
    fn judge_error(&self, model: &LoadedModel, now: u64, live: &GroundTruthMetrics) {
        let card = model.info.evaluation.and_then(|e| e.mae);
        let Some(card) = card.filter(|mae| *mae > 0.0) else {
            return;
        };
        let margin = model.monitoring.error_rise_margin;
        let judged = live
            .error(model.name(), model.version(), now)
            .map(|live| (live.mae / card - 1.0, live.outcomes));
        self.publish(
            model,
            (&self.error_rise, &self.error_rise_margin),
            margin.unwrap_or(self.options.error_rise_margin),
            judged,
        );
    }

    /// Sets `model`'s margin, and with ground truth, how far it is from its card and on
    /// how many outcomes.
    fn publish(
        &self,
        model: &LoadedModel,
        (distance, margin_gauge): (&GaugeVec, &GaugeVec),
        margin: f64,
        judged: Option<(f64, u64)>,
    ) {
        let labels = [model.name(), model.version()];
        margin_gauge.with_label_values(&labels).set(margin);
        if let Some((value, outcomes)) = judged {
            distance.with_label_values(&labels).set(value);
            self.live_outcomes
                .with_label_values(&labels)
                .set(outcomes as i64);
        }
    }
}
