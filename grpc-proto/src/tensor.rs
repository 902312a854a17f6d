//! The protocol's protobuf tensors and its JSON tensors ([`wasml_predictor::api::tensor`]):
//! a `ModelInferRequest` is turned into the same `InferenceRequest` a REST client would
//! send, so both are checked by the same code with the same messages; the answer's tensors
//! are written back as typed `contents` or, when the request came raw, as
//! `raw_output_contents` (what Triton's clients read). Free of any server, like the JSON
//! side: the host uses it, and the fuzz target `grpc_infer` decodes with it.
//!
//! Raw contents are the elements packed little-endian without padding; a `BYTES` element
//! is a 4-byte little-endian length and then its bytes.

use crate::infer_parameter::ParameterChoice;
use crate::model_infer_request::InferInputTensor;
use crate::model_infer_response::InferOutputTensor;
use crate::{InferParameter, InferTensorContents, ModelInferRequest};
use serde_json::{Number, Value};
use wasml_predictor::api::ApiError;
use wasml_predictor::api::tensor::{InferenceRequest, RequestInput, RequestOutput, ResponseOutput};

/// `request` as the REST side's inference request.
pub fn inference_request(request: &ModelInferRequest) -> Result<InferenceRequest, ApiError> {
    let raw = &request.raw_input_contents;
    if !raw.is_empty() && raw.len() != request.inputs.len() {
        return Err(bad(format!(
            "raw_input_contents has {} entries for {} inputs; give one per input, in order",
            raw.len(),
            request.inputs.len()
        )));
    }
    let inputs = request
        .inputs
        .iter()
        .enumerate()
        .map(|(i, input)| {
            let data = match raw.get(i) {
                Some(bytes) => {
                    if input.contents.is_some() {
                        return Err(bad(format!(
                            "input {:?} has contents as well as raw_input_contents; send one or the other",
                            input.name
                        )));
                    }
                    raw_values(input, bytes)?
                }
                None => typed_values(input)?,
            };
            Ok(RequestInput {
                name: input.name.clone(),
                shape: input.shape.clone(),
                datatype: input.datatype.clone(),
                parameters: None,
                data: Value::Array(data),
            })
        })
        .collect::<Result<_, _>>()?;
    // An empty list means "every output", as an absent one does over REST. Output
    // parameters are ignored: there is no binary extension to ask for over gRPC.
    let outputs = (!request.outputs.is_empty()).then(|| {
        request
            .outputs
            .iter()
            .map(|output| RequestOutput {
                name: output.name.clone(),
                parameters: None,
            })
            .collect()
    });
    Ok(InferenceRequest {
        id: (!request.id.is_empty()).then(|| request.id.clone()),
        parameters: None,
        inputs,
        outputs,
    })
}

/// The typed contents `input`'s datatype calls for, as JSON values.
fn typed_values(input: &InferInputTensor) -> Result<Vec<Value>, ApiError> {
    let name = &input.name;
    let Some(contents) = &input.contents else {
        return Err(bad(format!(
            "input {name:?} has no contents and the request has no raw_input_contents"
        )));
    };
    let (field, values): (&str, Vec<Value>) = match input.datatype.as_str() {
        "BOOL" => (
            "bool_contents",
            contents.bool_contents.iter().map(|&b| b.into()).collect(),
        ),
        "INT8" | "INT16" | "INT32" => (
            "int_contents",
            contents.int_contents.iter().map(|&n| n.into()).collect(),
        ),
        "INT64" => (
            "int64_contents",
            contents.int64_contents.iter().map(|&n| n.into()).collect(),
        ),
        "UINT8" | "UINT16" | "UINT32" => (
            "uint_contents",
            contents.uint_contents.iter().map(|&n| n.into()).collect(),
        ),
        "UINT64" => (
            "uint64_contents",
            contents.uint64_contents.iter().map(|&n| n.into()).collect(),
        ),
        "FP32" => (
            "fp32_contents",
            floats(name, contents.fp32_contents.iter().map(|&x| f64::from(x)))?,
        ),
        "FP64" => (
            "fp64_contents",
            floats(name, contents.fp64_contents.iter().copied())?,
        ),
        "BYTES" => (
            "bytes_contents",
            contents
                .bytes_contents
                .iter()
                .enumerate()
                .map(|(i, bytes)| text(name, i, bytes))
                .collect::<Result<_, _>>()?,
        ),
        "FP16" => {
            return Err(bad(format!(
                "input {name:?}: FP16 has no typed contents; send it in raw_input_contents"
            )));
        }
        // An unknown datatype: the shared check names it and the ones there are.
        _ => return Ok(Vec::new()),
    };
    if values.is_empty()
        && let Some(other) = filled_field(contents)
    {
        return Err(bad(format!(
            "input {name:?}: datatype {} takes {field}, but the request fills {other}",
            input.datatype
        )));
    }
    Ok(values)
}

/// The first typed field of `contents` that holds elements.
fn filled_field(contents: &InferTensorContents) -> Option<&'static str> {
    [
        ("bool_contents", contents.bool_contents.len()),
        ("int_contents", contents.int_contents.len()),
        ("int64_contents", contents.int64_contents.len()),
        ("uint_contents", contents.uint_contents.len()),
        ("uint64_contents", contents.uint64_contents.len()),
        ("fp32_contents", contents.fp32_contents.len()),
        ("fp64_contents", contents.fp64_contents.len()),
        ("bytes_contents", contents.bytes_contents.len()),
    ]
    .into_iter()
    .find(|(_, len)| *len > 0)
    .map(|(field, _)| field)
}

/// `input`'s raw content, unpacked by its datatype.
fn raw_values(input: &InferInputTensor, bytes: &[u8]) -> Result<Vec<Value>, ApiError> {
    let name = &input.name;
    let datatype = input.datatype.as_str();
    if datatype == "BYTES" {
        return unpack_bytes(name, bytes);
    }
    let size = match datatype {
        "BOOL" | "INT8" | "UINT8" => 1,
        "INT16" | "UINT16" | "FP16" => 2,
        "INT32" | "UINT32" | "FP32" => 4,
        "INT64" | "UINT64" | "FP64" => 8,
        _ => return Ok(Vec::new()),
    };
    if !bytes.len().is_multiple_of(size) {
        return Err(bad(format!(
            "input {name:?}: {} bytes of raw content are not a whole number of {datatype} elements ({size} bytes each)",
            bytes.len()
        )));
    }
    let elements = bytes.chunks_exact(size);
    let values = match datatype {
        "BOOL" => elements.map(|b| Value::Bool(b[0] != 0)).collect(),
        "INT8" => elements.map(|b| (b[0] as i8).into()).collect(),
        "UINT8" => elements.map(|b| b[0].into()).collect(),
        "INT16" => elements
            .map(|b| i16::from_le_bytes([b[0], b[1]]).into())
            .collect(),
        "UINT16" => elements
            .map(|b| u16::from_le_bytes([b[0], b[1]]).into())
            .collect(),
        "INT32" => elements
            .map(|b| i32::from_le_bytes(word(b)).into())
            .collect(),
        "UINT32" => elements
            .map(|b| u32::from_le_bytes(word(b)).into())
            .collect(),
        "INT64" => elements
            .map(|b| i64::from_le_bytes(double(b)).into())
            .collect(),
        "UINT64" => elements
            .map(|b| u64::from_le_bytes(double(b)).into())
            .collect(),
        "FP16" => floats(name, elements.map(|b| half_to_f64([b[0], b[1]])))?,
        "FP32" => floats(
            name,
            elements.map(|b| f64::from(f32::from_le_bytes(word(b)))),
        )?,
        _ => floats(name, elements.map(|b| f64::from_le_bytes(double(b))))?,
    };
    Ok(values)
}

/// Raw `BYTES` elements: each a 4-byte little-endian length, then that many bytes.
fn unpack_bytes(name: &str, mut bytes: &[u8]) -> Result<Vec<Value>, ApiError> {
    let mut values = Vec::new();
    while !bytes.is_empty() {
        let i = values.len();
        let cut = || {
            bad(format!(
                "input {name:?}: raw BYTES content ends inside element {i} (each element is a 4-byte little-endian length, then its bytes)"
            ))
        };
        let (length, rest) = bytes.split_first_chunk::<4>().ok_or_else(cut)?;
        let length = u32::from_le_bytes(*length) as usize;
        let element = rest.get(..length).ok_or_else(cut)?;
        values.push(text(name, i, element)?);
        bytes = &rest[length..];
    }
    Ok(values)
}

/// A `BYTES` element as text: categories are words.
fn text(name: &str, i: usize, bytes: &[u8]) -> Result<Value, ApiError> {
    std::str::from_utf8(bytes)
        .map(|s| Value::String(s.to_owned()))
        .map_err(|_| bad(format!("input {name:?}: element {i} is not UTF-8 text")))
}

/// Numbers as JSON numbers; NaN and infinities have none and are refused by name.
fn floats(name: &str, values: impl Iterator<Item = f64>) -> Result<Vec<Value>, ApiError> {
    values
        .map(|x| {
            Number::from_f64(x).map(Value::Number).ok_or_else(|| {
                bad(format!(
                    "input {name:?}: element {x} is not a finite number"
                ))
            })
        })
        .collect()
}

fn word(b: &[u8]) -> [u8; 4] {
    b.try_into().expect("4-byte chunks")
}

fn double(b: &[u8]) -> [u8; 8] {
    b.try_into().expect("8-byte chunks")
}

/// An IEEE 754 half-precision float (little-endian bytes) as an `f64`.
fn half_to_f64(bytes: [u8; 2]) -> f64 {
    let bits = u16::from_le_bytes(bytes);
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let fraction = f64::from(bits & 0x3ff);
    sign * match exponent {
        0 => fraction * 2f64.powi(-24),
        0x1f if fraction == 0.0 => f64::INFINITY,
        0x1f => f64::NAN,
        e => (1.0 + fraction / 1024.0) * 2f64.powi(e - 15),
    }
}

/// The answer's tensors as protobuf outputs: with their elements in typed `contents`, or
/// (`raw`) with empty outputs and the elements in the returned raw contents, in order.
pub fn outputs(tensors: Vec<ResponseOutput>, raw: bool) -> (Vec<InferOutputTensor>, Vec<Vec<u8>>) {
    let mut raw_contents = Vec::new();
    let outputs = tensors
        .into_iter()
        .map(|tensor| {
            let contents = typed_contents(tensor.datatype, &tensor.data);
            let contents = if raw {
                raw_contents.push(pack(&contents));
                None
            } else {
                Some(contents)
            };
            InferOutputTensor {
                name: tensor.name.to_owned(),
                datatype: tensor.datatype.to_owned(),
                shape: tensor.shape.iter().map(|&n| n as i64).collect(),
                parameters: Default::default(),
                contents,
            }
        })
        .collect();
    (outputs, raw_contents)
}

/// An answer tensor's elements in the typed field of its datatype (`BYTES`, `INT64` and
/// `FP64` are all an answer holds).
fn typed_contents(datatype: &str, data: &[Value]) -> InferTensorContents {
    let mut contents = InferTensorContents::default();
    match datatype {
        "BYTES" => {
            contents.bytes_contents = data
                .iter()
                .map(|v| v.as_str().unwrap_or_default().as_bytes().to_vec())
                .collect();
        }
        "INT64" => {
            contents.int64_contents = data
                .iter()
                .map(|v| v.as_i64().unwrap_or_default())
                .collect();
        }
        _ => {
            contents.fp64_contents = data
                .iter()
                .map(|v| v.as_f64().unwrap_or_default())
                .collect();
        }
    }
    contents
}

/// Typed contents packed as raw content.
fn pack(contents: &InferTensorContents) -> Vec<u8> {
    let mut out = Vec::new();
    for bytes in &contents.bytes_contents {
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    }
    for n in &contents.int64_contents {
        out.extend_from_slice(&n.to_le_bytes());
    }
    for x in &contents.fp64_contents {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// A string parameter, as the response's `request_id` is given.
pub fn string_parameter(value: String) -> InferParameter {
    InferParameter {
        parameter_choice: Some(ParameterChoice::StringParam(value)),
    }
}

fn bad(message: String) -> ApiError {
    ApiError::BadRequest(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasml_predictor::api::input::PredictInput;
    use wasml_predictor::api::tensor::rows;

    fn tensor(name: &str, datatype: &str, n: i64) -> InferInputTensor {
        InferInputTensor {
            name: name.into(),
            datatype: datatype.into(),
            shape: vec![n],
            ..Default::default()
        }
    }

    fn request(inputs: Vec<InferInputTensor>, raw: Vec<Vec<u8>>) -> ModelInferRequest {
        ModelInferRequest {
            inputs,
            raw_input_contents: raw,
            ..Default::default()
        }
    }

    fn error(request: &ModelInferRequest) -> String {
        match inference_request(request).and_then(|r| rows(&r, 10)) {
            Ok(_) => panic!("accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn raw_and_typed_contents_give_the_same_rows() {
        let mut age = tensor("age", "INT32", 2);
        let mut job = tensor("job", "BYTES", 2);
        let mut score = tensor("score", "FP16", 2);
        let raw = request(
            vec![age.clone(), job.clone(), score.clone()],
            vec![
                [30i32.to_le_bytes(), 41i32.to_le_bytes()].concat(),
                [
                    &5u32.to_le_bytes()[..],
                    b"admin",
                    &3u32.to_le_bytes(),
                    b"cto",
                ]
                .concat(),
                // 1.5 and -2.0 in half precision.
                vec![0x00, 0x3e, 0x00, 0xc0],
            ],
        );
        age.contents = Some(InferTensorContents {
            int_contents: vec![30, 41],
            ..Default::default()
        });
        job.contents = Some(InferTensorContents {
            bytes_contents: vec![b"admin".to_vec(), b"cto".to_vec()],
            ..Default::default()
        });
        score.datatype = "FP32".into();
        score.contents = Some(InferTensorContents {
            fp32_contents: vec![1.5, -2.0],
            ..Default::default()
        });
        let typed = request(vec![age, job, score], Vec::new());
        let rows_of = |r| match rows(&inference_request(r).unwrap(), 10).unwrap() {
            PredictInput::Batch(rows) => rows,
            PredictInput::Single(_) => panic!("two rows"),
        };
        let (raw, typed) = (rows_of(&raw), rows_of(&typed));
        assert_eq!(raw, typed);
        assert_eq!(raw[1]["job"], "cto");
        assert_eq!(raw[0]["score"], 1.5);
        assert_eq!(raw[1]["score"], -2.0);
    }

    #[test]
    fn bad_contents_are_named() {
        let cases = [
            (
                request(vec![tensor("age", "INT64", 1)], vec![vec![0; 7]]),
                "7 bytes of raw content are not a whole number of INT64 elements",
            ),
            (
                request(
                    vec![tensor("job", "BYTES", 1)],
                    vec![vec![9, 0, 0, 0, b'a']],
                ),
                "raw BYTES content ends inside element 0",
            ),
            (
                request(
                    vec![tensor("job", "BYTES", 1)],
                    vec![[&2u32.to_le_bytes()[..], &[0xff, 0xfe]].concat()],
                ),
                "element 0 is not UTF-8 text",
            ),
            (
                request(vec![tensor("age", "INT64", 1)], Vec::new()),
                "input \"age\" has no contents",
            ),
            (
                request(
                    vec![tensor("a", "INT64", 1), tensor("b", "INT64", 1)],
                    vec![vec![0; 8]],
                ),
                "raw_input_contents has 1 entries for 2 inputs",
            ),
            (
                request(
                    vec![tensor("age", "FP32", 1)],
                    vec![f32::NAN.to_le_bytes().to_vec()],
                ),
                "is not a finite number",
            ),
            (
                request(vec![tensor("age", "COMPLEX", 1)], vec![vec![0; 8]]),
                "datatype \"COMPLEX\" is not one of",
            ),
            (
                request(vec![tensor("age", "INT64", 2)], vec![vec![0; 8]]),
                "shape [2] holds 2 elements, data has 1",
            ),
        ];
        for (request, expected) in cases {
            let message = error(&request);
            assert!(message.contains(expected), "{message:?} lacks {expected:?}");
        }
        let mut wrong_field = tensor("age", "FP64", 1);
        wrong_field.contents = Some(InferTensorContents {
            int64_contents: vec![3],
            ..Default::default()
        });
        let message = error(&request(vec![wrong_field], Vec::new()));
        assert!(
            message.contains(
                "datatype FP64 takes fp64_contents, but the request fills int64_contents"
            ),
            "{message}"
        );
    }

    #[test]
    fn answers_pack_as_triton_reads_them() {
        let tensors = vec![
            ResponseOutput {
                name: "label",
                shape: vec![2],
                datatype: "BYTES",
                data: vec!["no".into(), "yes".into()],
            },
            ResponseOutput {
                name: "confidence",
                shape: vec![2],
                datatype: "FP64",
                data: vec![0.75.into(), 0.5.into()],
            },
        ];
        let (outputs, raw) = outputs(tensors, true);
        assert!(outputs.iter().all(|o| o.contents.is_none()));
        assert_eq!(outputs[0].shape, [2]);
        assert_eq!(
            raw[0],
            [&2u32.to_le_bytes()[..], b"no", &3u32.to_le_bytes(), b"yes"].concat()
        );
        assert_eq!(
            raw[1],
            [0.75f64.to_le_bytes(), 0.5f64.to_le_bytes()].concat()
        );
    }
}
