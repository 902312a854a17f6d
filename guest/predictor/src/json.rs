//! Request rows from JSON: the shape every wasml API speaks (`{"age": 30, "job": "admin."}`).

use serde_json::{Map, Value};

use crate::features::{Feature, FeatureValue, FieldError, FieldProblem};

/// Turns a JSON object into a row. Numbers and strings pass through for the schema to
/// judge; any other JSON type is rejected here, naming the field.
pub fn row_from_json(object: &Map<String, Value>) -> Result<Vec<Feature>, Vec<FieldError>> {
    match split_row(object) {
        (row, errors) if errors.is_empty() => Ok(row),
        (_, errors) => Err(errors),
    }
}

/// Like [`row_from_json`], but keeps the fields that do convert next to the errors, so
/// the schema can still judge them and a client learns of every bad field at once.
pub fn split_row(object: &Map<String, Value>) -> (Vec<Feature>, Vec<FieldError>) {
    let mut row = Vec::with_capacity(object.len());
    let mut errors = Vec::new();
    for (name, value) in object {
        let converted = match value {
            Value::Number(n) => n.as_f64().map(FeatureValue::Number),
            Value::String(s) => Some(FeatureValue::Text(s.clone())),
            _ => None,
        };
        match converted {
            Some(value) => row.push(Feature {
                name: name.clone(),
                value,
            }),
            None => errors.push(FieldError {
                field: name.clone(),
                problem: FieldProblem::WrongType,
                message: format!("must be a number or a string, got {}", json_type(value)),
            }),
        }
    }
    (row, errors)
}

/// The JSON type of `value`, with its article, for messages.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
