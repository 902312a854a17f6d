//! The conformance set shipped with each model version: schema-generated inputs and the
//! probabilities onnxruntime computed for them. Any runtime that serves the model (native
//! tract, the wasm component, a candidate version behind the host's validation gate) must
//! reproduce them within the set's tolerance.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::PredictError;
use crate::features::Feature;
use crate::json::row_from_json;
use crate::prediction::Prediction;

/// A parsed `conformance.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ConformanceSet {
    /// Model name.
    pub model: String,
    /// Model version.
    pub version: String,
    /// sha256 of the ONNX file the references were computed with.
    pub onnx_sha256: String,
    /// Where the references come from, e.g. `onnxruntime 1.32.0`.
    pub reference: String,
    /// Largest accepted difference per output, as a share of the outputs' scale: the
    /// largest reference output in the set, or 1 if none is larger. For probabilities that
    /// is an absolute tolerance; for a regressor's values, one relative to their range —
    /// f32 arithmetic on values in the hundreds differs in the fifth decimal between two
    /// correct runtimes (onnxruntime and tract in wasm sum in different orders).
    pub tolerance: f64,
    /// The cases.
    pub cases: Vec<ConformanceCase>,
}

/// One input and its reference output: probabilities for a classifier, a value for a
/// regressor.
#[derive(Debug, Clone, Deserialize)]
pub struct ConformanceCase {
    /// The request row, as JSON.
    pub input: Map<String, Value>,
    /// Reference probabilities, one per label (classifier).
    #[serde(default)]
    pub probabilities: Vec<f64>,
    /// Reference value (regressor).
    #[serde(default)]
    pub value: Option<f64>,
}

impl ConformanceCase {
    /// The reference numbers, as [`Prediction::outputs`] gives them.
    pub fn expected(&self) -> &[f64] {
        match &self.value {
            Some(value) => std::slice::from_ref(value),
            None => &self.probabilities,
        }
    }
}

/// How a runtime did on a conformance set.
#[derive(Debug, Clone, PartialEq)]
pub struct ConformanceReport {
    /// Cases run.
    pub cases: usize,
    /// Largest difference seen over all outputs, as a share of the set's [`scale`](ConformanceSet::scale).
    pub max_abs_diff: f64,
    /// A description of each case that failed (error or difference over tolerance).
    pub failures: Vec<String>,
}

impl ConformanceReport {
    /// Every case passed.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl ConformanceSet {
    /// Parses a `conformance.json`.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The cases' inputs as rows.
    pub fn rows(&self) -> Result<Vec<Vec<Feature>>, String> {
        self.cases
            .iter()
            .enumerate()
            .map(|(i, case)| {
                row_from_json(&case.input).map_err(|e| format!("case {i}: invalid input {e:?}"))
            })
            .collect()
    }

    /// What differences are measured against: the largest reference output, at least 1.
    pub fn scale(&self) -> f64 {
        self.cases
            .iter()
            .flat_map(|case| case.expected().iter())
            .fold(1.0, |scale, x| scale.max(x.abs()))
    }

    /// Checks the results a runtime gave for `rows()`, one per case, in order.
    pub fn check(&self, results: &[Result<Prediction, PredictError>]) -> ConformanceReport {
        let mut report = ConformanceReport {
            cases: self.cases.len(),
            max_abs_diff: 0.0,
            failures: Vec::new(),
        };
        if results.len() != self.cases.len() {
            report.failures.push(format!(
                "{} results for {} cases",
                results.len(),
                self.cases.len()
            ));
            return report;
        }
        let scale = self.scale();
        for (i, (case, result)) in self.cases.iter().zip(results).enumerate() {
            let prediction = match result {
                Ok(prediction) => prediction,
                Err(error) => {
                    report.failures.push(format!("case {i}: {error}"));
                    continue;
                }
            };
            let (got, expected) = (prediction.outputs(), case.expected());
            if got.len() != expected.len() {
                report.failures.push(format!(
                    "case {i}: {} outputs, expected {}",
                    got.len(),
                    expected.len()
                ));
                continue;
            }
            let diff = got
                .iter()
                .zip(expected)
                .map(|(got, want)| (got - want).abs() / scale)
                .fold(0.0, f64::max);
            report.max_abs_diff = report.max_abs_diff.max(diff);
            if diff > self.tolerance || diff.is_nan() {
                report.failures.push(format!(
                    "case {i}: got {got:?}, expected {expected:?} (difference {diff:e})"
                ));
            }
        }
        report
    }
}
