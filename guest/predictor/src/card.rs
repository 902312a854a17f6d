//! The model card: what `guest/training/train.py` writes next to each ONNX file.
//!
//! Only the fields the predictor and host act on are typed here; the card's JSON text is
//! kept as well and handed out whole, so nothing the training script records is lost.

use serde::{Deserialize, Serialize};

/// A model card (`card.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// Model name, e.g. `bank-marketing`; stable across versions.
    pub name: String,
    /// Version of this model, e.g. `2.0.0`.
    pub version: String,
    /// Model family, e.g. `gradient-boosted-trees`.
    pub model_type: String,
    /// What the model predicts, for people.
    pub description: String,
    /// Class labels, indexed by the columns of the probabilities output.
    pub labels: Vec<String>,
    /// The input schema, in feature-vector order.
    pub inputs: Vec<FieldSpec>,
    /// How the schema maps onto the ONNX input tensor.
    pub encoding: Encoding,
    /// Held-out evaluation computed by the training script.
    pub evaluation: Evaluation,
    /// The ONNX file this card describes.
    pub onnx: OnnxFile,
}

/// One input field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// Field name as it appears in requests.
    pub name: String,
    /// What the field means, for people.
    pub description: String,
    /// Whether a request must carry the field.
    pub required: bool,
    /// What the field accepts.
    pub kind: FieldKind,
}

/// What a field accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A number in `[min, max]`, optionally whole.
    Number {
        /// Smallest accepted value.
        min: f64,
        /// Largest accepted value.
        max: f64,
        /// Only whole numbers are accepted.
        integer: bool,
    },
    /// One of a fixed set of strings, one-hot encoded in this order.
    Category {
        /// Accepted values.
        values: Vec<String>,
    },
}

/// How requests become the model's input tensor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoding {
    /// Name of the ONNX input (f32, `[rows, features.len()]`).
    pub input: String,
    /// Name of the ONNX output (f32, `[rows, labels.len()]`).
    pub output: String,
    /// Name of every column of the input tensor, e.g. `age`, `job=admin.`.
    pub features: Vec<String>,
}

/// Held-out evaluation figures (decision threshold 0.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Evaluation {
    /// Accuracy.
    pub accuracy: f64,
    /// Precision of the positive class.
    pub precision: f64,
    /// Recall of the positive class.
    pub recall: f64,
    /// F1 score of the positive class.
    pub f1_score: f64,
    /// Area under the ROC curve.
    pub roc_auc: f64,
    /// Rows of the held-out split.
    pub test_rows: u32,
}

/// The ONNX file a card describes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnnxFile {
    /// File name inside the model directory.
    pub file: String,
    /// sha256 of the file, lowercase hex.
    pub sha256: String,
}

impl FieldSpec {
    /// The names of the input-tensor columns this field encodes to.
    pub fn encoded_names(&self) -> Vec<String> {
        match &self.kind {
            FieldKind::Number { .. } => vec![self.name.clone()],
            FieldKind::Category { values } => values
                .iter()
                .map(|v| format!("{}={v}", self.name))
                .collect(),
        }
    }
}
