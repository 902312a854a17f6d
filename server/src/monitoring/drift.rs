//! Input drift: how far each input's live distribution has moved from its training
//! distribution, as the population stability index (PSI).
//!
//! The card gives each input's training distribution: a numeric input as quantile bin
//! edges and the share of training rows in each bin (a value `v` falls in the first bin
//! whose edge is `>= v`, past the last edge in the last bin), a categorical input as the
//! share of each category. The host counts, per model version and input, the rows of live
//! traffic in the same bins over a sliding window ([`WINDOW_SLOTS`] × [`SLOT_SECS`]); a
//! row costs one atomic increment per input. The PSI of an input is
//! `Σ (live − train) × ln(live / train)` over its bins (shares floored at [`MIN_SHARE`] so
//! an empty bin is a large term, not an infinite one): under 0.1 the input is stable, 0.1
//! to 0.25 worth watching, over 0.25 worth acting on (the usual rule of thumb; both
//! thresholds are flags).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use wasml_predictor::features::{Feature, FeatureValue};

/// Seconds per slot of the sliding window.
pub const SLOT_SECS: u64 = 30;

/// Slots in the sliding window: 10 × 30 s = the last 5 minutes.
pub const WINDOW_SLOTS: usize = 10;

/// Fewest rows in the window before a PSI is computed: below it, sampling noise alone
/// moves the index past the thresholds.
pub const MIN_ROWS: u64 = 200;

/// The smallest share a bin is given in the PSI (an empty bin otherwise makes it infinite).
pub const MIN_SHARE: f64 = 1e-4;

/// The training distribution of a model's inputs, from its card.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct DriftReference {
    /// Rows the distribution was computed on.
    #[serde(default)]
    pub rows: Option<u64>,
    /// By input name.
    pub inputs: BTreeMap<String, InputReference>,
}

/// One input's training distribution.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum InputReference {
    /// A numeric input: ascending bin edges, and one share per bin (`edges.len() + 1`).
    Numeric {
        /// Upper edges of every bin but the last.
        edges: Vec<f64>,
        /// Share of training rows per bin.
        shares: Vec<f64>,
    },
    /// A categorical input: the share of training rows per category.
    Categorical {
        /// Share per category.
        categories: BTreeMap<String, f64>,
    },
}

impl InputReference {
    /// Why this distribution cannot be used, if it cannot.
    fn problem(&self) -> Option<String> {
        match self {
            Self::Numeric { edges, shares } => {
                if shares.len() != edges.len() + 1 {
                    Some(format!(
                        "{} edges need {} shares, not {}",
                        edges.len(),
                        edges.len() + 1,
                        shares.len()
                    ))
                } else if edges.windows(2).any(|pair| pair[0] >= pair[1]) {
                    Some("the edges are not strictly ascending".into())
                } else {
                    None
                }
            }
            Self::Categorical { categories } if categories.is_empty() => {
                Some("no categories".into())
            }
            Self::Categorical { .. } => None,
        }
    }

    /// Bins: one per numeric bin; for categories, one per category plus one for values the
    /// training data did not have.
    fn bins(&self) -> usize {
        match self {
            Self::Numeric { shares, .. } => shares.len(),
            Self::Categorical { categories } => categories.len() + 1,
        }
    }

    /// The training share of each bin, in [`bins`](Self::bins) order.
    fn shares(&self) -> Vec<f64> {
        match self {
            Self::Numeric { shares, .. } => shares.clone(),
            Self::Categorical { categories } => categories.values().copied().chain([0.0]).collect(),
        }
    }

    /// The bin `value` falls in; `None` for a value of the wrong kind.
    fn bin(&self, value: &FeatureValue) -> Option<usize> {
        match (self, value) {
            (Self::Numeric { edges, .. }, value) => {
                let number = match value {
                    FeatureValue::Number(number) => *number,
                    FeatureValue::Text(text) => text.trim().parse().ok()?,
                };
                Some(edges.partition_point(|edge| *edge < number))
            }
            (Self::Categorical { categories }, FeatureValue::Text(text)) => Some(
                categories
                    .keys()
                    .position(|category| category == text)
                    .unwrap_or(categories.len()),
            ),
            (Self::Categorical { .. }, FeatureValue::Number(_)) => None,
        }
    }
}

/// The population stability index of `live` counts against `train` shares.
pub fn psi(train: &[f64], live: &[u64]) -> f64 {
    let total: u64 = live.iter().sum();
    if total == 0 {
        return 0.0;
    }
    train
        .iter()
        .zip(live)
        .map(|(&expected, &count)| {
            let expected = expected.max(MIN_SHARE);
            let actual = (count as f64 / total as f64).max(MIN_SHARE);
            (actual - expected) * (actual / expected).ln()
        })
        .sum()
}

/// How far an input has drifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DriftLevel {
    /// Below the watch threshold.
    Stable,
    /// Between the watch and act thresholds.
    Watch,
    /// Past the act threshold.
    Act,
}

impl DriftLevel {
    /// The level of `psi` under `thresholds`.
    pub fn of(psi: f64, thresholds: DriftThresholds) -> Self {
        if psi >= thresholds.act {
            Self::Act
        } else if psi >= thresholds.watch {
            Self::Watch
        } else {
            Self::Stable
        }
    }

    /// `0`, `1` or `2`, for `ml_feature_drift_level`.
    pub fn rank(self) -> i64 {
        self as i64
    }

    /// `stable`, `watch` or `act`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stable => "stable",
            Self::Watch => "watch",
            Self::Act => "act",
        }
    }
}

/// The PSI thresholds (`--drift-watch`, `--drift-act`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DriftThresholds {
    /// From here an input is worth watching (0.1).
    pub watch: f64,
    /// From here it is worth acting on (0.25).
    pub act: f64,
}

impl Default for DriftThresholds {
    fn default() -> Self {
        Self {
            watch: 0.1,
            act: 0.25,
        }
    }
}

/// One input's drift now.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct InputDrift {
    /// The input.
    pub input: String,
    /// Its population stability index over the window.
    pub psi: f64,
    /// Where that stands.
    pub level: DriftLevel,
}

/// A model version's drift now.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DriftReport {
    /// Rows counted in the window.
    pub rows: u64,
    /// The window, in seconds.
    pub window_seconds: u64,
    /// The largest input PSI: the version's drift score.
    pub score: f64,
    /// The worst input's level.
    pub level: DriftLevel,
    /// Each input, worst first.
    pub inputs: Vec<InputDrift>,
}

/// One slot of the window: the second it started, and counts per input and bin.
struct Slot {
    epoch: AtomicU64,
    rows: AtomicU64,
    counts: Vec<Vec<AtomicU64>>,
}

/// The live distribution of one model version's inputs over the sliding window.
pub struct LiveDistribution {
    inputs: Vec<(String, InputReference)>,
    slots: Vec<Slot>,
}

impl LiveDistribution {
    /// Counts for the usable inputs of `reference` (an unusable one is logged and left
    /// out); `None` when none is usable.
    pub fn new(model: &str, reference: &DriftReference) -> Option<Self> {
        let inputs: Vec<(String, InputReference)> = reference
            .inputs
            .iter()
            .filter(|(input, spec)| match spec.problem() {
                None => true,
                Some(problem) => {
                    tracing::warn!(model, input = input.as_str(), %problem, "the card's reference distribution of this input is unusable; its drift is not tracked");
                    false
                }
            })
            .map(|(input, spec)| (input.clone(), spec.clone()))
            .collect();
        if inputs.is_empty() {
            return None;
        }
        let slots = (0..WINDOW_SLOTS)
            .map(|_| Slot {
                epoch: AtomicU64::new(u64::MAX),
                rows: AtomicU64::new(0),
                counts: inputs
                    .iter()
                    .map(|(_, spec)| (0..spec.bins()).map(|_| AtomicU64::new(0)).collect())
                    .collect(),
            })
            .collect();
        Some(Self { inputs, slots })
    }

    /// Counts one row seen at `now` (seconds): one increment per input it carries.
    pub fn record(&self, now: u64, row: &[Feature]) {
        let slot = self.slot(now);
        slot.rows.fetch_add(1, Ordering::Relaxed);
        for (index, (input, spec)) in self.inputs.iter().enumerate() {
            let Some(feature) = row.iter().find(|f| f.name == *input) else {
                continue;
            };
            if let Some(bin) = spec.bin(&feature.value) {
                slot.counts[index][bin].fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The slot for `now`, emptied first if it last held an older period. Two rows racing
    /// at a slot's turn may lose a count; drift is a statistic, not a ledger.
    fn slot(&self, now: u64) -> &Slot {
        let period = now / SLOT_SECS;
        let slot = &self.slots[(period % WINDOW_SLOTS as u64) as usize];
        let seen = slot.epoch.load(Ordering::Acquire);
        if seen != period
            && slot
                .epoch
                .compare_exchange(seen, period, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            slot.rows.store(0, Ordering::Relaxed);
            for bins in &slot.counts {
                for count in bins {
                    count.store(0, Ordering::Relaxed);
                }
            }
        }
        slot
    }

    /// The drift over the window ending at `now`; `None` while it holds fewer than
    /// [`MIN_ROWS`] rows.
    pub fn report(&self, now: u64, thresholds: DriftThresholds) -> Option<DriftReport> {
        let period = now / SLOT_SECS;
        let current = |slot: &&Slot| {
            let epoch = slot.epoch.load(Ordering::Acquire);
            epoch != u64::MAX && epoch + (WINDOW_SLOTS as u64) > period && epoch <= period
        };
        let live: Vec<&Slot> = self.slots.iter().filter(current).collect();
        let rows: u64 = live.iter().map(|s| s.rows.load(Ordering::Relaxed)).sum();
        if rows < MIN_ROWS {
            return None;
        }
        let mut inputs: Vec<InputDrift> = self
            .inputs
            .iter()
            .enumerate()
            .map(|(index, (input, spec))| {
                let counts: Vec<u64> = (0..spec.bins())
                    .map(|bin| {
                        live.iter()
                            .map(|s| s.counts[index][bin].load(Ordering::Relaxed))
                            .sum()
                    })
                    .collect();
                let psi = psi(&spec.shares(), &counts);
                InputDrift {
                    input: input.clone(),
                    psi,
                    level: DriftLevel::of(psi, thresholds),
                }
            })
            .collect();
        inputs.sort_by(|a, b| b.psi.total_cmp(&a.psi));
        let score = inputs.first().map_or(0.0, |worst| worst.psi);
        Some(DriftReport {
            rows,
            window_seconds: SLOT_SECS * WINDOW_SLOTS as u64,
            score,
            level: DriftLevel::of(score, thresholds),
            inputs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> DriftReference {
        serde_json::from_value(serde_json::json!({
            "rows": 1000,
            "inputs": {
                "age": {"edges": [30.0, 40.0, 50.0], "shares": [0.25, 0.25, 0.25, 0.25]},
                "job": {"categories": {"admin": 0.5, "technician": 0.5}}
            }
        }))
        .unwrap()
    }

    fn row(age: f64, job: &str) -> Vec<Feature> {
        vec![
            Feature {
                name: "age".into(),
                value: FeatureValue::Number(age),
            },
            Feature {
                name: "job".into(),
                value: FeatureValue::Text(job.into()),
            },
        ]
    }

    #[test]
    fn values_fall_in_the_bins_the_training_script_made() {
        let spec = &reference().inputs["age"];
        let bin = |v: f64| spec.bin(&FeatureValue::Number(v)).unwrap();
        assert_eq!(
            [bin(18.0), bin(30.0), bin(30.5), bin(50.0), bin(90.0)],
            [0, 0, 1, 2, 3]
        );
        assert_eq!(spec.bin(&FeatureValue::Text(" 41 ".into())), Some(2));
        let job = &reference().inputs["job"];
        assert_eq!(job.bin(&FeatureValue::Text("technician".into())), Some(1));
        assert_eq!(
            job.bin(&FeatureValue::Text("pilot".into())),
            Some(2),
            "unseen"
        );
    }

    #[test]
    fn psi_is_zero_for_the_same_distribution_and_grows_with_the_shift() {
        assert!(psi(&[0.25; 4], &[100, 100, 100, 100]).abs() < 1e-12);
        let small = psi(&[0.25; 4], &[120, 100, 100, 80]);
        let large = psi(&[0.25; 4], &[0, 0, 0, 400]);
        assert!(small > 0.0 && small < 0.1, "{small}");
        assert!(large > 2.0, "{large}");
    }

    #[test]
    fn the_window_reports_drift_once_it_has_enough_rows_and_forgets_old_ones() {
        let live = LiveDistribution::new("m", &reference()).unwrap();
        let thresholds = DriftThresholds::default();
        let start = 1_000_000;
        // In distribution: every bin and category equally.
        for i in 0..(MIN_ROWS - 1) {
            let age = [25.0, 35.0, 45.0, 55.0][i as usize % 4];
            live.record(start, &row(age, ["admin", "technician"][i as usize % 2]));
        }
        assert_eq!(live.report(start, thresholds), None, "too few rows");
        live.record(start, &row(25.0, "admin"));
        let stable = live.report(start, thresholds).unwrap();
        assert_eq!(stable.rows, MIN_ROWS);
        assert_eq!(stable.level, DriftLevel::Stable, "{stable:?}");
        // Everyone is old now: age drifts, job does not.
        let later = start + SLOT_SECS;
        for i in 0..(4 * MIN_ROWS) {
            live.record(later, &row(70.0, ["admin", "technician"][i as usize % 2]));
        }
        let drifted = live.report(later, thresholds).unwrap();
        assert_eq!(drifted.level, DriftLevel::Act, "{drifted:?}");
        assert_eq!(drifted.inputs[0].input, "age");
        assert_eq!(drifted.inputs[1].level, DriftLevel::Stable, "{drifted:?}");
        // A window later only the old rows' slots have expired: still drifted.
        let window = SLOT_SECS * WINDOW_SLOTS as u64;
        assert_eq!(
            live.report(start + window, thresholds).unwrap().rows,
            4 * MIN_ROWS
        );
        // Two windows later, nothing is left.
        assert_eq!(live.report(later + window, thresholds), None);
    }

    #[test]
    fn unusable_references_are_left_out() {
        let bad: DriftReference = serde_json::from_value(serde_json::json!({
            "inputs": {"age": {"edges": [3.0, 1.0], "shares": [0.3, 0.3, 0.4]},
                       "x": {"edges": [1.0], "shares": [1.0]}}
        }))
        .unwrap();
        assert!(LiveDistribution::new("m", &bad).is_none());
    }
}
