//! Typed errors at the predictor's boundary.

use thiserror::Error;

use crate::features::FieldError;

/// How a runner's answer begins when its model did not load (`internal` for every row,
/// the loader's message after it): the host's trial run reads the loader's message there.
pub const LOAD_FAILED: &str = "model failed to load: ";

/// A model that cannot be loaded.
#[derive(Debug, Error)]
pub enum LoadError {
    /// `card.json` is not a valid model card.
    #[error("invalid model card: {0}")]
    Card(#[source] serde_json::Error),
    /// The ONNX bytes are not the file the card describes.
    #[error("ONNX sha256 {actual} does not match the card's {card}")]
    Sha256Mismatch {
        /// sha256 recorded in the card.
        card: String,
        /// sha256 of the bytes given.
        actual: String,
    },
    /// The card's labels do not fit its task.
    #[error("invalid labels: {0}")]
    Labels(String),
    /// The card's feature list does not follow from its schema.
    #[error("the card's encoding.features do not match its inputs")]
    EncodingMismatch,
    /// tract could not load, optimise or run the ONNX model.
    #[error("ONNX model: {0}")]
    Onnx(String),
}

/// Why a prediction failed; mirrors `predict-error` in `wit/model.wit`.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PredictError {
    /// The input broke the schema; every bad field is listed.
    #[error("invalid input: {}", list(.0))]
    InvalidInput(Vec<FieldError>),
    /// The model failed; not the client's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

fn list(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
