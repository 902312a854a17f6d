//! What a model answers: a prediction per row, by task. Plain data, shared by the
//! predictor, the runner's WIT glue and the host (which has no tract of its own).

use crate::error::PredictError;

/// A classifier's answer for one row.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassPrediction {
    /// Index of the predicted class in the card's labels.
    pub class_index: u32,
    /// The predicted class's label.
    pub label: String,
    /// Probability of the predicted class.
    pub confidence: f64,
    /// One probability per label.
    pub probabilities: Vec<f64>,
}

/// The model's answer for one row, by task.
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// A classifier's.
    Class(ClassPrediction),
    /// A regressor's value.
    Value(f64),
}

impl Prediction {
    /// The numbers the model produced: the probabilities, or the one value. Conformance
    /// sets compare these.
    pub fn outputs(&self) -> &[f64] {
        match self {
            Self::Class(class) => &class.probabilities,
            Self::Value(value) => std::slice::from_ref(value),
        }
    }

    /// The classifier's answer, if this is one.
    pub fn class(&self) -> Option<&ClassPrediction> {
        match self {
            Self::Class(class) => Some(class),
            Self::Value(_) => None,
        }
    }
}

/// A batch's results, one per row, and how long each stage took.
#[derive(Debug, Clone)]
pub struct TimedBatch {
    /// One result per row, in order.
    pub results: Vec<Result<Prediction, PredictError>>,
    /// Validating and encoding the rows.
    pub feature_processing_seconds: f64,
    /// Running the model.
    pub inference_seconds: f64,
}

/// Rows validated and encoded by `Predictor::encode_rows`, waiting for the model.
#[derive(Debug, Clone)]
pub struct EncodedRows {
    pub(crate) values: Vec<f32>,
    pub(crate) checked: Vec<Result<(), PredictError>>,
}

impl EncodedRows {
    /// The valid rows' encodings, row-major, for `Predictor::infer`.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Puts the model's answer for the valid rows back among all rows, in order: a row that
    /// failed validation keeps its error, a valid row gets its prediction (or the model's
    /// error).
    pub fn merge(
        self,
        inferred: Result<Vec<Prediction>, PredictError>,
    ) -> Vec<Result<Prediction, PredictError>> {
        let mut predictions = match inferred {
            Ok(predictions) => predictions.into_iter(),
            Err(error) => {
                return self
                    .checked
                    .into_iter()
                    .map(|c| c.and(Err(error.clone())))
                    .collect();
            }
        };
        self.checked
            .into_iter()
            .map(|c| c.map(|()| predictions.next().expect("one prediction per valid row")))
            .collect()
    }
}
