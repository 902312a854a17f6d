//! What a prediction handler leaves in its response for the layers around it: the
//! request's event and its spans are made of it.

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use wasml_predictor::Prediction;

use crate::registry::LoadedModel;

/// What a prediction handler leaves in its response for the request's event.
#[derive(Clone, Default)]
pub struct Outcome {
    /// The model the request went to.
    pub model: Option<Arc<LoadedModel>>,
    /// A one-row request's prediction.
    pub prediction: Option<Prediction>,
    /// Rows in the request.
    pub rows: Option<u32>,
    /// Stage times the model reported.
    pub times: StageTimes,
    /// What the call into the model cost.
    pub cost: Option<wasml_runtime::CallCost>,
    /// The wait in the admission queue.
    pub queued: Option<Range<Instant>>,
    /// The call into the model.
    pub call: Option<Range<Instant>>,
}

/// Seconds per stage, as the model measured them.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    /// Validating and encoding the input.
    pub feature: Option<f64>,
    /// Running the model.
    pub inference: Option<f64>,
}
