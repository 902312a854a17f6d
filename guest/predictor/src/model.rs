//! The predictor: a model card plus its ONNX model, parsed and optimised once.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid as _;

use crate::card::{FieldKind, ModelCard, Task};
use crate::error::{LoadError, PredictError};
use crate::features::{Feature, FeatureEncoder};
use crate::prediction::{ClassPrediction, EncodedRows, Prediction, TimedBatch};

/// A loaded model, ready to predict.
///
/// Loading parses and optimises the ONNX graph (milliseconds); predicting only runs the
/// optimised plan (microseconds), so build one `Predictor` and keep it.
#[derive(Debug, Clone)]
pub struct Predictor {
    card: ModelCard,
    card_json: String,
    encoder: FeatureEncoder,
    inputs: Inputs,
    single_row: Plan,
    many_rows: Plan,
}

/// How encoded rows become the graph's input tensors.
#[derive(Debug, Clone)]
enum Inputs {
    /// One f32 tensor `[rows, width]`.
    Tensor,
    /// One `[rows, 1]` tensor per graph input, in the graph's order.
    Columns(Vec<Column>),
}

/// Where one graph input of the per-field layout is read from in the encoded rows.
#[derive(Debug, Clone)]
enum Column {
    /// A number: its encoded column, cast to the input's type.
    Number {
        column: usize,
        datum_type: DatumType,
    },
    /// A category the graph takes as a string (its own `OneHotEncoder` encodes it): the
    /// category whose one-hot column is set in the block at `offset`, or `""` for an
    /// absent optional one (no column set), which the encoder maps to all zeros.
    Category { offset: usize, values: Vec<String> },
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
        check_card(&card)?;
        let (inputs, single_row, many_rows) =
            build_plans(onnx, &card, encoder.width()).map_err(LoadError::Onnx)?;
        let predictor = Self {
            card,
            card_json: card_json.to_string(),
            encoder,
            inputs,
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
        let inputs = self.input_tensors(encoded, rows).map_err(internal)?;
        let plan = if rows == 1 {
            &self.single_row
        } else {
            &self.many_rows
        };
        let outputs = plan.run(inputs).map_err(internal)?;
        // Borrowed when the output is f32 already (the usual case): no copy per call.
        let output = outputs[0].cast_to::<f32>().map_err(internal)?;
        let output = output.to_plain_array_view::<f32>().map_err(internal)?;
        match self.card.task {
            Task::Classification => {
                let labels = self.card.labels.len();
                if output.shape() != [rows, labels] {
                    return Err(PredictError::Internal(format!(
                        "model output has shape {:?}, expected [{rows}, {labels}]",
                        output.shape()
                    )));
                }
                Ok(output
                    .outer_iter()
                    .map(|row| self.prediction(row.iter().copied()))
                    .collect())
            }
            Task::Regression => {
                if output.len() != rows || output.shape().first() != Some(&rows) {
                    return Err(PredictError::Internal(format!(
                        "model output has shape {:?}, expected [{rows}, 1]",
                        output.shape()
                    )));
                }
                Ok(output
                    .iter()
                    .map(|v| Prediction::Value(f64::from(*v)))
                    .collect())
            }
        }
    }

    /// The graph's inputs for `rows` encoded rows.
    fn input_tensors(&self, encoded: &[f32], rows: usize) -> TractResult<TVec<TValue>> {
        let width = self.encoder.width();
        match &self.inputs {
            Inputs::Tensor => Ok(tvec!(Tensor::from_shape(&[rows, width], encoded)?.into())),
            Inputs::Columns(columns) => columns
                .iter()
                .map(|column| match column {
                    Column::Number { column, datum_type } => {
                        let values: Vec<f32> = encoded
                            .iter()
                            .skip(*column)
                            .step_by(width)
                            .copied()
                            .collect();
                        let tensor = Tensor::from_shape(&[rows, 1], &values)?;
                        Ok(tensor.cast_to_dt(*datum_type)?.into_owned().into())
                    }
                    Column::Category { offset, values } => {
                        let categories: Vec<String> = encoded
                            .chunks(width)
                            .map(|row| {
                                let block = &row[*offset..*offset + values.len()];
                                block
                                    .iter()
                                    .position(|v| *v == 1.0)
                                    .map(|i| values[i].clone())
                                    .unwrap_or_default()
                            })
                            .collect();
                        let array = tract_ndarray::Array2::from_shape_vec((rows, 1), categories)?;
                        Ok(array.into_tensor().into())
                    }
                })
                .collect::<TractResult<_>>(),
        }
    }

    fn prediction(&self, probabilities: impl Iterator<Item = f32>) -> Prediction {
        let probabilities: Vec<f64> = probabilities.map(rounded_probability).collect();
        // First maximum wins, so a 0.5/0.5 tie goes to class 0 like argmax in numpy.
        let (class_index, confidence) = probabilities.iter().copied().enumerate().fold(
            (0, f64::NEG_INFINITY),
            |best, (i, p)| {
                if p > best.1 { (i, p) } else { best }
            },
        );
        Prediction::Class(ClassPrediction {
            class_index: class_index as u32,
            label: self.card.labels[class_index].clone(),
            confidence,
            probabilities,
        })
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
    /// Whether a state may serve another call: only when no op keeps anything between
    /// calls. tract's `Scan` (skl2onnx's k-NN distances) does, and a reused state computes
    /// with the last call's, so such a plan gets a fresh state per call.
    reusable: bool,
}

impl Plan {
    fn new(model: TypedModel) -> TractResult<Self> {
        let plan = model.into_runnable()?;
        let state = plan.spawn()?;
        let reusable = state.op_states.iter().all(Option::is_none);
        let idle = if reusable { vec![state] } else { Vec::new() };
        Ok(Self {
            plan,
            idle_states: Arc::new(Mutex::new(idle)),
            reusable,
        })
    }

    fn run(&self, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let idle = self.idle_states.lock().ok().and_then(|mut idle| idle.pop());
        let mut state = match idle {
            Some(state) => state,
            None => self.plan.spawn()?,
        };
        let outputs = state.run(inputs)?;
        if let (true, Ok(mut idle)) = (self.reusable, self.idle_states.lock()) {
            idle.push(state);
        }
        Ok(outputs)
    }
}

/// A probability as f64. An f32 average of tree leaves can overshoot 1 (or 0) by a few
/// units in the last place, which rounds back to the bound; a score further out is left as
/// it is, for the host to refuse (it is no probability).
fn rounded_probability(p: f32) -> f64 {
    const ROUNDING: f32 = 1e-5;
    let p = if (1.0..=1.0 + ROUNDING).contains(&p) {
        1.0
    } else if (-ROUNDING..=0.0).contains(&p) {
        0.0
    } else {
        p
    };
    f64::from(p)
}

/// What the card promises about itself, before the graph is read: its labels fit its
/// task, and the tensor layout's columns follow from its schema.
fn check_card(card: &ModelCard) -> Result<(), LoadError> {
    match (card.task, card.labels.len()) {
        (Task::Classification, 0 | 1) => {
            return Err(LoadError::Labels(
                "a classifier needs at least two labels".into(),
            ));
        }
        (Task::Regression, n) if n > 0 => {
            return Err(LoadError::Labels("a regressor has no labels".into()));
        }
        _ => {}
    }
    if card.encoding.input.is_some() {
        let schema_columns: Vec<String> = card
            .inputs
            .iter()
            .flat_map(|field| field.encoded_names())
            .collect();
        if schema_columns != card.encoding.features {
            return Err(LoadError::EncodingMismatch);
        }
    }
    Ok(())
}

/// Parses the ONNX model once and optimises it twice: for exactly one row (shapes fully
/// known, the common online case) and for any number of rows. Only the card's output is
/// kept (a classifier's `label` output, for one, is pruned).
fn build_plans(
    onnx: &[u8],
    card: &ModelCard,
    width: usize,
) -> Result<(Inputs, Plan, Plan), String> {
    let mut model = crate::onnx_ml::onnx()
        .model_for_read(&mut &onnx[..])
        .map_err(|e| format!("{e:#}"))?;
    let outputs = model
        .output_outlets()
        .map_err(|e| format!("{e:#}"))?
        .to_vec();
    let names: Vec<String> = outputs
        .iter()
        .map(|o| model.outlet_label(*o).unwrap_or_default().to_string())
        .collect();
    let Some(output) = names.iter().position(|n| *n == card.encoding.output) else {
        return Err(format!(
            "the card's output {:?} is not an output of the graph (outputs: {names:?})",
            card.encoding.output
        ));
    };
    model
        .select_output_outlets(&[outputs[output]])
        .map_err(|e| format!("{e:#}"))?;
    let inputs = input_layout(&model, card)?;
    let rows = model.symbols.sym("rows").to_dim();
    let mut single = model.clone();
    for (graph, rows) in [(&mut single, 1.to_dim()), (&mut model, rows)] {
        set_input_facts(graph, &inputs, rows, width).map_err(|e| format!("{e:#}"))?;
    }
    let plan = |model: InferenceModel| {
        model
            .into_optimized()
            .and_then(Plan::new)
            .map_err(|e| format!("{e:#}"))
    };
    Ok((inputs, plan(single)?, plan(model)?))
}

/// Matches the graph's inputs with the card: the tensor layout's one input, or one input
/// per field of the same name (any order), each with the type the graph declares.
fn input_layout(model: &InferenceModel, card: &ModelCard) -> Result<Inputs, String> {
    let graph_inputs: Vec<String> = model
        .input_outlets()
        .map_err(|e| format!("{e:#}"))?
        .iter()
        .map(|o| model.node(o.node).name.clone())
        .collect();
    if let Some(input) = &card.encoding.input {
        return if graph_inputs == [input.clone()] {
            Ok(Inputs::Tensor)
        } else {
            Err(format!(
                "the card feeds one input {input:?}, the graph has inputs {graph_inputs:?}"
            ))
        };
    }
    if let Some(field) = card.inputs.iter().find(|f| !graph_inputs.contains(&f.name)) {
        return Err(format!(
            "field {:?} is not an input of the graph (inputs: {graph_inputs:?})",
            field.name
        ));
    }
    // Each field's first column in the encoded row.
    let offsets: Vec<usize> = card
        .inputs
        .iter()
        .scan(0, |next, field| {
            let offset = *next;
            *next += field.encoded_names().len();
            Some(offset)
        })
        .collect();
    graph_inputs
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let field = card
                .inputs
                .iter()
                .position(|f| &f.name == name)
                .ok_or_else(|| format!("the graph's input {name:?} is not a field of the card"))?;
            let fact = model.input_fact(i).map_err(|e| format!("{e:#}"))?;
            let declared = fact.datum_type.concretize();
            match &card.inputs[field].kind {
                FieldKind::Category { values } if declared == Some(String::datum_type()) => {
                    Ok(Column::Category {
                        offset: offsets[field],
                        values: values.clone(),
                    })
                }
                FieldKind::Category { .. } => Err(format!(
                    "field {name:?} is a category, but the graph's input {name:?} is {declared:?}, \
                     not a string; one-hot encode it into one f32 input tensor (`encoding.input`)"
                )),
                FieldKind::Number { .. } => {
                    let datum_type = declared.unwrap_or(f32::datum_type());
                    if !(datum_type.is_float() || datum_type.is_integer()) {
                        return Err(format!(
                            "the graph's input {name:?} is {datum_type:?}; a number field needs a number input"
                        ));
                    }
                    Ok(Column::Number {
                        column: offsets[field],
                        datum_type,
                    })
                }
            }
        })
        .collect::<Result<_, _>>()
        .map(Inputs::Columns)
}

fn set_input_facts(
    model: &mut InferenceModel,
    inputs: &Inputs,
    rows: TDim,
    width: usize,
) -> TractResult<()> {
    match inputs {
        Inputs::Tensor => model.set_input_fact(0, f32::fact([rows, width.to_dim()]).into()),
        Inputs::Columns(columns) => {
            for (i, column) in columns.iter().enumerate() {
                let datum_type = match column {
                    Column::Number { datum_type, .. } => *datum_type,
                    Column::Category { .. } => String::datum_type(),
                };
                model.set_input_fact(i, datum_type.fact([rows.clone(), 1.to_dim()]).into())?;
            }
            Ok(())
        }
    }
}

fn internal(error: impl std::fmt::Display) -> PredictError {
    PredictError::Internal(format!("{error:#}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::rounded_probability;

    #[test]
    fn probabilities_a_rounding_past_their_bounds_are_the_bounds_and_scores_stay_scores() {
        assert_eq!(rounded_probability(1.000_000_4), 1.0);
        assert_eq!(rounded_probability(-0.000_000_1), 0.0);
        assert_eq!(rounded_probability(0.25), 0.25);
        // A margin is no probability: the host refuses it rather than see it clamped.
        assert_eq!(rounded_probability(2.5), 2.5);
        assert_eq!(rounded_probability(-0.5), -0.5);
    }
}
