//! The predictor: a model card plus its ONNX model, parsed and optimised once.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;

use crate::card::ModelCard;
use crate::error::{LoadError, PredictError};
use crate::features::{Feature, FeatureEncoder};

/// The model's answer for one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Index of the predicted class in the card's labels.
    pub class_index: u32,
    /// The predicted class's label.
    pub label: String,
    /// Probability of the predicted class.
    pub confidence: f64,
    /// One probability per label.
    pub probabilities: Vec<f64>,
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

/// Rows validated and encoded by [`Predictor::encode_rows`], waiting for the model.
#[derive(Debug, Clone)]
pub struct EncodedRows {
    values: Vec<f32>,
    checked: Vec<Result<(), PredictError>>,
}

impl EncodedRows {
    /// The valid rows' encodings, row-major, for [`Predictor::infer`].
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

/// A loaded model, ready to predict.
///
/// Loading parses and optimises the ONNX graph (milliseconds); predicting only runs the
/// optimised plan (microseconds), so build one `Predictor` and keep it.
#[derive(Debug, Clone)]
pub struct Predictor {
    card: ModelCard,
    card_json: String,
    encoder: FeatureEncoder,
    single_row: Plan,
    many_rows: Plan,
}

impl Predictor {
    /// Loads a model from its ONNX bytes and its card's JSON text, checking that they
    /// belong together (sha256, feature encoding, number of labels).
    pub fn load(onnx: &[u8], card_json: &str) -> Result<Self, LoadError> {
        let card: ModelCard = serde_json::from_str(card_json).map_err(LoadError::Card)?;
        let actual = hex(&Sha256::digest(onnx));
        if actual != card.onnx.sha256 {
            return Err(LoadError::Sha256Mismatch {
                card: card.onnx.sha256,
                actual,
            });
        }
        let encoder = FeatureEncoder::new(&card.inputs);
        let schema_columns: Vec<String> = card
            .inputs
            .iter()
            .flat_map(|field| field.encoded_names())
            .collect();
        if schema_columns != card.encoding.features {
            return Err(LoadError::EncodingMismatch);
        }
        let (single_row, many_rows) =
            build_plans(onnx, &card).map_err(|e| LoadError::Onnx(format!("{e:#}")))?;
        let predictor = Self {
            card,
            card_json: card_json.to_string(),
            encoder,
            single_row,
            many_rows,
        };
        predictor.check_output_width()?;
        Ok(predictor)
    }

    /// The model card.
    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    /// The model card's JSON text, as embedded.
    pub fn card_json(&self) -> &str {
        &self.card_json
    }

    /// The schema validator and encoder.
    pub fn encoder(&self) -> &FeatureEncoder {
        &self.encoder
    }

    /// Predicts one row.
    pub fn predict(&self, row: &[Feature]) -> Result<Prediction, PredictError> {
        let mut encoded = Vec::with_capacity(self.encoder.width());
        self.encoder
            .encode_into(row, &mut encoded)
            .map_err(PredictError::InvalidInput)?;
        let mut predictions = self.infer(&encoded)?;
        Ok(predictions.remove(0))
    }

    /// Predicts many rows with one model run; one result per row, in order.
    pub fn predict_batch(&self, rows: &[Vec<Feature>]) -> Vec<Result<Prediction, PredictError>> {
        self.predict_batch_timed(rows).results
    }

    /// [`predict_batch`](Self::predict_batch), timing its two stages for the servers'
    /// metrics and logs.
    pub fn predict_batch_timed(&self, rows: &[Vec<Feature>]) -> TimedBatch {
        let started = Instant::now();
        let encoded = self.encode_rows(rows);
        let feature_processing_seconds = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let inferred = self.infer(encoded.values());
        let inference_seconds = started.elapsed().as_secs_f64();
        TimedBatch {
            results: encoded.merge(inferred),
            feature_processing_seconds,
            inference_seconds,
        }
    }

    /// Validates and encodes rows; the valid ones go to [`Predictor::infer`] together.
    pub fn encode_rows(&self, rows: &[Vec<Feature>]) -> EncodedRows {
        let mut values = Vec::with_capacity(rows.len() * self.encoder.width());
        let checked = rows
            .iter()
            .map(|row| {
                self.encoder
                    .encode_into(row, &mut values)
                    .map_err(PredictError::InvalidInput)
            })
            .collect();
        EncodedRows { values, checked }
    }

    /// Runs the model on already-encoded rows (`width()` columns each, row-major).
    pub fn infer(&self, encoded: &[f32]) -> Result<Vec<Prediction>, PredictError> {
        let width = self.encoder.width();
        let rows = encoded.len() / width;
        if rows == 0 {
            return Ok(Vec::new());
        }
        let input = Tensor::from_shape(&[rows, width], encoded).map_err(internal)?;
        let plan = if rows == 1 {
            &self.single_row
        } else {
            &self.many_rows
        };
        let outputs = plan.run(input).map_err(internal)?;
        let probabilities = outputs[0].to_plain_array_view::<f32>().map_err(internal)?;
        let labels = self.card.labels.len();
        if probabilities.shape() != [rows, labels] {
            return Err(PredictError::Internal(format!(
                "model output has shape {:?}, expected [{rows}, {labels}]",
                probabilities.shape()
            )));
        }
        Ok(probabilities
            .outer_iter()
            .map(|row| self.prediction(row.iter().copied()))
            .collect())
    }

    fn prediction(&self, probabilities: impl Iterator<Item = f32>) -> Prediction {
        let probabilities: Vec<f64> = probabilities.map(f64::from).collect();
        // First maximum wins, so a 0.5/0.5 tie goes to class 0 like argmax in numpy.
        let (class_index, confidence) = probabilities.iter().copied().enumerate().fold(
            (0, f64::NEG_INFINITY),
            |best, (i, p)| {
                if p > best.1 { (i, p) } else { best }
            },
        );
        Prediction {
            class_index: class_index as u32,
            label: self.card.labels[class_index].clone(),
            confidence,
            probabilities,
        }
    }

    /// Runs both plans on all-zero rows: proves they execute and yield one column per label.
    fn check_output_width(&self) -> Result<(), LoadError> {
        for rows in [1, 2] {
            self.infer(&vec![0.0; rows * self.encoder.width()])
                .map_err(|e| LoadError::Onnx(e.to_string()))?;
        }
        Ok(())
    }
}

/// One optimised execution plan, with the execution states kept between runs: spawning a
/// state allocates per graph node, a large share of a one-row prediction (more so under
/// wasm's allocator).
#[derive(Debug, Clone)]
struct Plan {
    plan: Arc<TypedRunnableModel>,
    idle_states: Arc<Mutex<Vec<TypedSimpleState>>>,
}

impl Plan {
    fn new(model: TypedModel) -> TractResult<Self> {
        Ok(Self {
            plan: model.into_runnable()?,
            idle_states: Arc::default(),
        })
    }

    fn run(&self, input: Tensor) -> TractResult<TVec<TValue>> {
        let idle = self.idle_states.lock().ok().and_then(|mut idle| idle.pop());
        let mut state = match idle {
            Some(state) => state,
            None => self.plan.spawn()?,
        };
        let outputs = state.run(tvec!(input.into()))?;
        if let Ok(mut idle) = self.idle_states.lock() {
            idle.push(state);
        }
        Ok(outputs)
    }
}

/// Parses the ONNX model once and optimises it twice: for exactly one row (shapes fully
/// known, the common online case) and for any number of rows.
fn build_plans(onnx: &[u8], card: &ModelCard) -> TractResult<(Plan, Plan)> {
    let mut model = tract_onnx::onnx().model_for_read(&mut &onnx[..])?;
    let outputs = model.output_outlets()?.to_vec();
    let labels: Vec<Option<&str>> = outputs.iter().map(|o| model.outlet_label(*o)).collect();
    if labels != [Some(card.encoding.output.as_str())] {
        return Err(TractError::msg(format!(
            "the card expects one output {:?}, the ONNX graph has {labels:?}",
            card.encoding.output
        )));
    }
    let width = card.encoding.features.len().to_dim();
    let mut single = model.clone();
    single.set_input_fact(0, f32::fact([1.to_dim(), width.clone()]).into())?;
    let rows = model.symbols.sym("rows");
    model.set_input_fact(0, f32::fact([rows.to_dim(), width]).into())?;
    Ok((
        Plan::new(single.into_optimized()?)?,
        Plan::new(model.into_optimized()?)?,
    ))
}

fn internal(error: impl std::fmt::Display) -> PredictError {
    PredictError::Internal(format!("{error:#}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
