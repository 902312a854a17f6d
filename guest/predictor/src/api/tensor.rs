//! The Open Inference Protocol's JSON tensors, and their translation to and from this
//! host's rows: each model input is a named tensor of shape `[N]` (or `[N, 1]`) holding
//! that field for N rows — `BYTES` for categorical fields, a numeric datatype for numbers.
//! A classifier's answer has tensors `label` (`BYTES [N]`), `class_index` (`INT64 [N]`),
//! `confidence` (`FP64 [N]`) and `probabilities` (`FP64 [N, labels]`); a regressor's has
//! `value` (`FP64 [N]`).
//!
//! Free of any HTTP framework, like the rest of [`crate::api`]: the host serves it, the
//! fuzz target `v2_infer` decodes with it, and any other server of a model can.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::ApiError;
use super::input::PredictInput;
use crate::card::Task;
use crate::prediction::Prediction;

/// Datatypes the protocol defines.
pub const DATATYPES: [&str; 13] = [
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64", "FP16",
    "FP32", "FP64", "BYTES",
];

/// Outputs every classifier's answer can hold.
pub const CLASS_OUTPUTS: [&str; 4] = ["label", "class_index", "confidence", "probabilities"];

/// The output of a regressor's answer.
pub const VALUE_OUTPUTS: [&str; 1] = ["value"];

/// The outputs a model of `task` answers with.
pub fn outputs_of(task: Task) -> &'static [&'static str] {
    match task {
        Task::Classification => &CLASS_OUTPUTS,
        Task::Regression => &VALUE_OUTPUTS,
    }
}

/// `POST /v2/models/{name}[/versions/{version}]/infer`'s body.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct InferenceRequest {
    /// An identifier the answer repeats.
    pub id: Option<String>,
    /// Free-form request parameters (ignored).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub parameters: Option<Map<String, Value>>,
    /// One tensor per model input.
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub inputs: Vec<RequestInput>,
    /// The outputs wanted (all when absent).
    #[serde(default)]
    pub outputs: Option<Vec<RequestOutput>>,
}

/// One input tensor.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    /// The model input (field) it holds.
    pub name: String,
    /// Its shape: `[N]` or `[N, 1]`.
    pub shape: Vec<i64>,
    /// Its datatype.
    pub datatype: String,
    /// Per-tensor parameters (ignored).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub parameters: Option<Map<String, Value>>,
    /// Its elements in row-major order, flat or nested.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<super::schema::FeatureValue>))]
    pub data: Value,
}

/// One requested output.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestOutput {
    /// Its name.
    pub name: String,
    /// Per-output parameters; `binary_data: true` cannot be served.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub parameters: Option<Map<String, Value>>,
}

/// The answer to an inference request.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InferenceResponse {
    /// The model that answered.
    pub model_name: String,
    /// Its version.
    pub model_version: String,
    /// The request's `id`, if it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The host's request ID (for `POST /feedback` and the logs).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub parameters: Map<String, Value>,
    /// The output tensors.
    pub outputs: Vec<ResponseOutput>,
}

/// One output tensor.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResponseOutput {
    /// Its name.
    pub name: &'static str,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its datatype.
    pub datatype: &'static str,
    /// Its elements, row-major.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<super::schema::FeatureValue>))]
    pub data: Vec<Value>,
}

/// The rows the request's tensors hold, or why they do not fit: an unknown datatype, a
/// shape that is not `[N]`/`[N, 1]` or does not match the data, tensors of different N.
pub fn rows(request: &InferenceRequest, max_rows: usize) -> Result<PredictInput, ApiError> {
    if request.inputs.is_empty() {
        return Err(bad("the request has no inputs"));
    }
    let mut rows: Option<Vec<Map<String, Value>>> = None;
    for (i, input) in request.inputs.iter().enumerate() {
        if request.inputs[..i].iter().any(|o| o.name == input.name) {
            return Err(bad(format!("input {:?} is given twice", input.name)));
        }
        let values = tensor_values(input)?;
        let rows = rows.get_or_insert_with(|| vec![Map::new(); values.len()]);
        if values.len() != rows.len() {
            return Err(bad(format!(
                "input {:?} has {} element(s) but the first input has {}; every input needs one element per row",
                input.name,
                values.len(),
                rows.len()
            )));
        }
        for (row, value) in rows.iter_mut().zip(values) {
            row.insert(input.name.clone(), value);
        }
    }
    let mut rows = rows.unwrap_or_default();
    if rows.len() > max_rows {
        return Err(ApiError::BatchTooLarge {
            rows: rows.len(),
            limit: max_rows,
        });
    }
    if rows.len() == 1 {
        return Ok(PredictInput::Single(rows.pop().unwrap()));
    }
    if rows.is_empty() {
        return Err(bad("the inputs hold no rows (N = 0)"));
    }
    Ok(PredictInput::Batch(rows))
}

/// One input's elements, one per row, checked against its datatype and shape.
fn tensor_values(input: &RequestInput) -> Result<Vec<Value>, ApiError> {
    let name = &input.name;
    if !DATATYPES.contains(&input.datatype.as_str()) {
        return Err(bad(format!(
            "input {name:?}: datatype {:?} is not one of {}",
            input.datatype,
            DATATYPES.join(", ")
        )));
    }
    let rows = match input.shape.as_slice() {
        [n] | [n, 1] if *n >= 0 => *n as usize,
        other => {
            return Err(bad(format!(
                "input {name:?}: shape {other:?} is not [N] or [N, 1] (one element per row)"
            )));
        }
    };
    // Not `with_capacity(rows)`: `rows` is the client's word, and a shape of [2^62]
    // would abort the allocation (found by schemathesis).
    let mut values = Vec::new();
    flatten(&input.data, &mut values);
    if values.len() != rows {
        return Err(bad(format!(
            "input {name:?}: shape {:?} holds {rows} elements, data has {}",
            input.shape,
            values.len()
        )));
    }
    let bytes = input.datatype == "BYTES";
    for value in &values {
        let fits = match value {
            Value::String(_) => bytes,
            Value::Number(_) => !bytes && input.datatype != "BOOL",
            Value::Bool(_) => input.datatype == "BOOL",
            _ => false,
        };
        if !fits {
            return Err(bad(format!(
                "input {name:?}: element {value} is not of datatype {}",
                input.datatype
            )));
        }
    }
    Ok(values)
}

fn flatten(data: &Value, out: &mut Vec<Value>) {
    match data {
        Value::Array(items) => items.iter().for_each(|item| flatten(item, out)),
        other => out.push(other.clone()),
    }
}

/// The outputs asked for of a model of `task`, all by default; an unknown name or binary
/// data is refused.
pub fn wanted_outputs(
    request: &InferenceRequest,
    task: Task,
) -> Result<Vec<&'static str>, ApiError> {
    let known = outputs_of(task);
    let Some(asked) = &request.outputs else {
        return Ok(known.to_vec());
    };
    asked
        .iter()
        .map(|output| {
            let binary = output
                .parameters
                .as_ref()
                .and_then(|p| p.get("binary_data"))
                .is_some_and(|v| v == &Value::Bool(true));
            if binary {
                return Err(bad(format!(
                    "output {:?}: the binary tensor data extension is not supported; ask for binary_data false",
                    output.name
                )));
            }
            known
                .iter()
                .find(|o| **o == output.name)
                .copied()
                .ok_or_else(|| {
                    bad(format!(
                        "output {:?} does not exist; the outputs are {}",
                        output.name,
                        known.join(", ")
                    ))
                })
        })
        .collect()
}

/// The output tensors of `predictions`, only those `wanted`.
pub fn outputs(predictions: &[Prediction], wanted: &[&'static str]) -> Vec<ResponseOutput> {
    let n = predictions.len();
    let classes: Vec<_> = predictions.iter().filter_map(Prediction::class).collect();
    let labels = classes.first().map_or(0, |p| p.probabilities.len());
    wanted
        .iter()
        .map(|&name| {
            let (datatype, shape, data): (_, _, Vec<Value>) = match name {
                "label" => (
                    "BYTES",
                    vec![n],
                    classes.iter().map(|p| p.label.clone().into()).collect(),
                ),
                "class_index" => (
                    "INT64",
                    vec![n],
                    classes.iter().map(|p| p.class_index.into()).collect(),
                ),
                "confidence" => (
                    "FP64",
                    vec![n],
                    classes.iter().map(|p| p.confidence.into()).collect(),
                ),
                "value" => (
                    "FP64",
                    vec![n],
                    predictions.iter().map(|p| p.outputs()[0].into()).collect(),
                ),
                _ => (
                    "FP64",
                    vec![n, labels],
                    classes
                        .iter()
                        .flat_map(|p| p.probabilities.iter().map(|&x| x.into()))
                        .collect(),
                ),
            };
            ResponseOutput {
                name,
                shape,
                datatype,
                data,
            }
        })
        .collect()
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(inputs: Value) -> InferenceRequest {
        serde_json::from_value(serde_json::json!({ "inputs": inputs })).unwrap()
    }

    #[test]
    fn a_huge_shape_is_refused_not_allocated() {
        let r = request(serde_json::json!([
            {"name": "age", "shape": [i64::MAX - 1], "datatype": "INT64", "data": [30]}
        ]));
        let error = rows(&r, 10).unwrap_err().to_string();
        assert!(
            error.contains("holds 9223372036854775806 elements, data has 1"),
            "{error}"
        );
    }

    #[test]
    fn tensors_become_rows() {
        let r = request(serde_json::json!([
            {"name": "age", "shape": [2], "datatype": "INT64", "data": [30, 41]},
            {"name": "job", "shape": [2, 1], "datatype": "BYTES", "data": [["admin."], ["technician"]]}
        ]));
        let PredictInput::Batch(rows) = rows(&r, 10).unwrap() else {
            panic!("a batch")
        };
        assert_eq!(rows[1]["age"], 41);
        assert_eq!(rows[1]["job"], "technician");
    }

    #[test]
    fn shapes_datatypes_and_row_counts_are_checked() {
        let cases = [
            (
                serde_json::json!([{"name": "age", "shape": [2], "datatype": "INT64", "data": [1]}]),
                "shape [2] holds 2 elements, data has 1",
            ),
            (
                serde_json::json!([{"name": "age", "shape": [1, 2], "datatype": "INT64", "data": [1, 2]}]),
                "is not [N] or [N, 1]",
            ),
            (
                serde_json::json!([{"name": "age", "shape": [1], "datatype": "STRING", "data": ["a"]}]),
                "datatype \"STRING\" is not one of",
            ),
            (
                serde_json::json!([{"name": "job", "shape": [1], "datatype": "BYTES", "data": [3]}]),
                "element 3 is not of datatype BYTES",
            ),
            (
                serde_json::json!([
                    {"name": "age", "shape": [1], "datatype": "INT64", "data": [1]},
                    {"name": "job", "shape": [2], "datatype": "BYTES", "data": ["a", "b"]}
                ]),
                "has 2 element(s) but the first input has 1",
            ),
        ];
        for (inputs, expected) in cases {
            let error = rows(&request(inputs), 10).unwrap_err().to_string();
            assert!(error.contains(expected), "{error} lacks {expected}");
        }
        let big = request(
            serde_json::json!([{"name": "age", "shape": [3], "datatype": "INT64", "data": [1, 2, 3]}]),
        );
        assert!(matches!(
            rows(&big, 2),
            Err(ApiError::BatchTooLarge { rows: 3, limit: 2 })
        ));
    }
}
