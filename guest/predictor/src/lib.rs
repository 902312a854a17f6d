//! The predictor library behind every wasml model component.
//!
//! It turns a model directory written by `guest/training/train.py` (ONNX model + model card)
//! into a [`Predictor`]: the card's schema validates request rows and encodes them
//! ([`features`]), tract runs the ONNX model ([`model`]). It is plain Rust with no wasm in
//! sight, so it builds and is tested natively, and the wasm component
//! (`guest/component`) is a thin layer of WIT glue over it. [`api`] is the JSON API every
//! server of a model speaks (the host, and the Spin component in `guest/spin`).

pub mod api;
pub mod card;
pub mod conformance;
pub mod error;
pub mod features;
pub mod json;
#[cfg(feature = "inference")]
pub mod model;
pub mod model_dir;
#[cfg(feature = "inference")]
pub mod onnx_ml;
pub mod prediction;

pub use card::{Evaluation, FieldKind, FieldSpec, ModelCard, Task};
pub use conformance::{ConformanceReport, ConformanceSet};
pub use error::{LoadError, PredictError};
pub use features::{Feature, FeatureEncoder, FeatureValue, FieldError, FieldProblem};
pub use json::{row_from_json, split_row};
#[cfg(feature = "inference")]
pub use model::Predictor;
pub use model_dir::ModelDir;
pub use prediction::{ClassPrediction, EncodedRows, Prediction, TimedBatch};
