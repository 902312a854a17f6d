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
    /// Classification (the default) or regression.
    #[serde(default)]
    pub task: Task,
    /// What the model predicts, for people.
    #[serde(default)]
    pub description: String,
    /// Class labels, indexed by the columns of the probabilities output; none for
    /// regression.
    #[serde(default)]
    pub labels: Vec<String>,
    /// The input schema, in feature-vector order.
    pub inputs: Vec<FieldSpec>,
    /// How the schema maps onto the ONNX input tensor.
    pub encoding: Encoding,
    /// Held-out evaluation computed by the training script, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation: Option<Evaluation>,
    /// The ONNX file this card describes.
    pub onnx: OnnxFile,
}

/// One input field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldSpec {
    /// Field name as it appears in requests.
    pub name: String,
    /// What the field means, for people.
    #[serde(default)]
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
        /// Smallest accepted value; none: no lower bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// Largest accepted value; none: no upper bound.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
        /// Only whole numbers are accepted.
        #[serde(default)]
        integer: bool,
    },
    /// One of a fixed set of strings, one-hot encoded in this order.
    Category {
        /// Accepted values.
        values: Vec<String>,
    },
}

/// What a model predicts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Task {
    /// One of the labels, with a probability per label.
    #[default]
    Classification,
    /// One number.
    Regression,
}

impl Task {
    /// `classification` or `regression`, as in the card and the metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Classification => "classification",
            Self::Regression => "regression",
        }
    }
}

/// How requests become the model's inputs, and which output answers.
///
/// Two layouts: with `input`, every row becomes one f32 tensor `[rows, features.len()]`
/// (numbers as themselves, categories one-hot, columns named by `features`); without it,
/// every field feeds the ONNX input of the same name as a `[rows, 1]` tensor of that
/// input's type (how skl2onnx exports one column per input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoding {
    /// Name of the one ONNX input of the tensor layout; none: one ONNX input per field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Name of the ONNX output read: probabilities `[rows, labels.len()]` for a
    /// classifier, values `[rows, 1]` (or `[rows]`) for a regressor.
    pub output: String,
    /// Name of every column of the input tensor, e.g. `age`, `job=admin.` (tensor layout).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

/// Held-out evaluation figures; each is present when the training script computed it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Evaluation {
    /// Accuracy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Precision (positive class, or macro average over classes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<f64>,
    /// Recall (positive class, or macro average).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall: Option<f64>,
    /// F1 score (positive class, or macro average).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f1_score: Option<f64>,
    /// Area under the ROC curve (one-vs-rest macro average for many classes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roc_auc: Option<f64>,
    /// Coefficient of determination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub r2: Option<f64>,
    /// Mean absolute error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mae: Option<f64>,
    /// Root mean squared error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rmse: Option<f64>,
    /// Rows of the held-out split.
    #[serde(default)]
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
