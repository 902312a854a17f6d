//! Watching a model in production, from what its card says about itself: the margin by
//! which live accuracy may fall below the card's held-out figure before it is a problem,
//! and the training distribution of its inputs that live traffic is compared with
//! ([`drift`]). What acts on live traffic with these (drift events, shadows, canary
//! analysis) is `crate::watch`, a layer above the registry and the event stream this
//! one sits below.
//!
//! Both live in the card's `monitoring` object, which the training script (or `wasml
//! package --reference-data`) writes:
//!
//! ```json
//! "monitoring": {
//!   "accuracy_drop_margin": 0.03,
//!   "error_rise_margin": 0.25,
//!   "reference": {"rows": 36168, "inputs": {
//!     "age": {"edges": [27, 31, 35], "shares": [0.1, 0.2, 0.3, 0.4]},
//!     "job": {"categories": {"admin.": 0.11, "technician": 0.17}}}}
//! }
//! ```

pub mod drift;

use serde::Deserialize;

pub use drift::{DriftReference, InputReference};

/// What a card says about watching its model.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Monitoring {
    /// How far live accuracy may fall below the card's before `ml_model_live_accuracy_drop`
    /// crosses `ml_model_accuracy_drop_margin`; the host's `--accuracy-drop-margin` when
    /// absent.
    #[serde(default)]
    pub accuracy_drop_margin: Option<f64>,
    /// How far a regressor's live mean absolute error may rise above the card's, as a
    /// share of it, before `ml_model_live_error_rise` crosses `ml_model_error_rise_margin`;
    /// the host's `--error-rise-margin` when absent.
    #[serde(default)]
    pub error_rise_margin: Option<f64>,
    /// The inputs' training distribution, for drift.
    #[serde(default)]
    pub reference: Option<DriftReference>,
}

impl Monitoring {
    /// The `monitoring` object of `card_json`; nothing when the card has none or it does
    /// not parse (logged: the model still serves, unwatched).
    pub fn from_card(model: &str, card_json: &str) -> Self {
        #[derive(Deserialize)]
        struct Card {
            #[serde(default)]
            monitoring: Option<serde_json::Value>,
        }
        let Some(value) = serde_json::from_str::<Card>(card_json)
            .ok()
            .and_then(|card| card.monitoring)
        else {
            return Self::default();
        };
        serde_json::from_value(value).unwrap_or_else(|error| {
            tracing::warn!(model, %error, "the card's monitoring section does not parse; the model is served without it");
            Self::default()
        })
    }
}
