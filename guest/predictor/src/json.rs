//! Request rows from JSON: the shape every wasml API speaks (`{"age": 30, "job": "admin."}`).

use serde_json::{Map, Value};

use crate::features::{Feature, FeatureValue, FieldError, FieldProblem};

/// Turns a JSON object into a row. Numbers and strings pass through for the schema to
/// judge; any other JSON type is rejected here, naming the field.
pub fn row_from_json(object: &Map<String, Value>) -> Result<Vec<Feature>, Vec<FieldError>> {
    let mut row = Vec::with_capacity(object.len());
    let mut errors = Vec::new();
    for (name, value) in object {
        let value = match value {
            Value::Number(n) => n.as_f64().map(FeatureValue::Number),
            Value::String(s) => Some(FeatureValue::Text(s.clone())),
            _ => None,
        };
        match value {
            Some(value) => row.push(Feature {
                name: name.clone(),
                value,
            }),
            None => errors.push(FieldError {
                field: name.clone(),
                problem: FieldProblem::WrongType,
                message: format!(
                    "must be a number or a string, got {}",
                    json_type(&object[name])
                ),
            }),
        }
    }
    if errors.is_empty() {
        Ok(row)
    } else {
        Err(errors)
    }
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
