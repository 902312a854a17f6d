//! The answer's JSON: one row's prediction, or a batch's, with the model that answered.

use serde::Serialize;

use crate::prediction::Prediction;

/// One row's prediction: a class (classifier) or a value (regressor).
#[derive(Debug, Serialize)]
#[serde(untagged)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RowPrediction {
    /// A classifier's answer.
    Class(ClassRow),
    /// A regressor's answer.
    Value(ValueRow),
}

/// A classifier's answer for one row.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClassRow {
    /// Index of the predicted class in the model's labels.
    pub prediction: u32,
    /// The predicted class's label.
    pub label: String,
    /// Probability of the predicted class.
    pub confidence: f64,
    /// One probability per label, in label order.
    pub probabilities: Vec<f64>,
}

/// A regressor's answer for one row.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValueRow {
    /// The predicted value.
    pub value: f64,
}

impl From<Prediction> for RowPrediction {
    fn from(p: Prediction) -> Self {
        match p {
            Prediction::Class(p) => Self::Class(ClassRow {
                prediction: p.class_index,
                label: p.label,
                confidence: p.confidence,
                probabilities: p.probabilities,
            }),
            Prediction::Value(value) => Self::Value(ValueRow { value }),
        }
    }
}

/// The model that answered.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelRef {
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: String,
}

/// Answer to a one-row request.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PredictionBody {
    /// The prediction.
    #[serde(flatten)]
    pub result: RowPrediction,
    /// The model that answered.
    pub model: ModelRef,
    /// The request's ID.
    pub request_id: String,
}

/// Answer to a batch request: one prediction per row, in order.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchPredictionBody {
    /// The predictions.
    pub predictions: Vec<RowPrediction>,
    /// The model that answered.
    pub model: ModelRef,
    /// The request's ID.
    pub request_id: String,
}

/// The answer's body: one row's, or a batch's.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum AnswerBody {
    /// A one-row request's.
    Single(PredictionBody),
    /// A batch request's.
    Batch(BatchPredictionBody),
}

/// The body answering `predictions` of a request that was a batch or not.
pub fn answer_body(
    predictions: Vec<Prediction>,
    batch: bool,
    model: ModelRef,
    request_id: String,
) -> AnswerBody {
    if batch {
        return AnswerBody::Batch(BatchPredictionBody {
            predictions: predictions.into_iter().map(RowPrediction::from).collect(),
            model,
            request_id,
        });
    }
    let prediction = predictions
        .into_iter()
        .next()
        .expect("one row, one prediction");
    AnswerBody::Single(PredictionBody {
        result: prediction.into(),
        model,
        request_id,
    })
}

/// `GET /health`: the server and each model.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthBody {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// Each model's readiness.
    pub models: Vec<ModelHealth>,
}

/// One model's readiness.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ModelHealth {
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: String,
    /// An instance answered.
    pub ready: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
