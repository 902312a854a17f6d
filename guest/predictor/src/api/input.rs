//! From a request body to model rows, and from the model's rejections back to the client:
//! every bad field of every row, whichever side (server or model) found it.

use serde_json::{Map, Value};

use super::error::{ApiError, FieldIssue};
use crate::error::PredictError;
use crate::features::{Feature, FieldError};
use crate::json::{json_type, split_row};
use crate::prediction::Prediction;

/// A prediction request: one row, or a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum PredictInput {
    /// `{"age": 30, ...}`
    Single(Map<String, Value>),
    /// `{"instances": [{"age": 30, ...}, ...]}`
    Batch(Vec<Map<String, Value>>),
}

/// Limits on request bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimits {
    /// Most bytes in a body.
    pub max_bytes: usize,
    /// Most rows in a batch.
    pub max_batch_rows: usize,
}

/// Default [`BodyLimits::max_bytes`]: 1 MiB (a full batch of bank-marketing rows is ~200 KB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
/// Default [`BodyLimits::max_batch_rows`].
pub const DEFAULT_MAX_BATCH_ROWS: usize = 1000;

impl Default for BodyLimits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_BODY_BYTES,
            max_batch_rows: DEFAULT_MAX_BATCH_ROWS,
        }
    }
}

/// `application/json`, with or without parameters, is required.
pub fn require_json(content_type: Option<&[u8]>) -> Result<(), ApiError> {
    let content_type = content_type.map(|v| String::from_utf8_lossy(v).into_owned());
    let is_json = content_type.as_deref().is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
    });
    if is_json {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(
            content_type.unwrap_or_else(|| "no Content-Type".into()),
        ))
    }
}

/// A whole body, already within the size limit, as rows.
pub fn decode_predict_body(bytes: &[u8], max_batch_rows: usize) -> Result<PredictInput, ApiError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    parse_predict_input(value, max_batch_rows)
}

/// Tells a row from a batch and checks the shape.
pub fn parse_predict_input(value: Value, max_batch_rows: usize) -> Result<PredictInput, ApiError> {
    let Value::Object(mut object) = value else {
        return Err(invalid_body(
            "$",
            format!(
                "the body must be a JSON object of fields or {{\"instances\": [...]}}, got {}",
                json_type(&value)
            ),
        ));
    };
    let Some(instances) = object.remove("instances") else {
        return Ok(PredictInput::Single(object));
    };
    if !object.is_empty() {
        let extra: Vec<&str> = object.keys().map(String::as_str).collect();
        return Err(invalid_body(
            "$",
            format!(
                "a batch body holds only \"instances\", also got {}",
                extra.join(", ")
            ),
        ));
    }
    let Value::Array(rows) = instances else {
        return Err(invalid_body(
            "instances",
            format!(
                "must be an array of row objects, got {}",
                json_type(&instances)
            ),
        ));
    };
    if rows.is_empty() {
        return Err(invalid_body(
            "instances",
            "must hold at least one row".into(),
        ));
    }
    if rows.len() > max_batch_rows {
        return Err(ApiError::BatchTooLarge {
            rows: rows.len(),
            limit: max_batch_rows,
        });
    }
    let mut objects = Vec::with_capacity(rows.len());
    let mut issues = Vec::new();
    for (i, row) in rows.into_iter().enumerate() {
        match row {
            Value::Object(object) => objects.push(object),
            other => issues.push(FieldIssue {
                field: format!("instances[{i}]"),
                problem: "invalid-body".into(),
                message: format!("each row must be an object, got {}", json_type(&other)),
                row: Some(i),
            }),
        }
    }
    if issues.is_empty() {
        Ok(PredictInput::Batch(objects))
    } else {
        Err(ApiError::InvalidInput {
            message: format!("{} rows are not objects", issues.len()),
            fields: issues,
        })
    }
}

fn invalid_body(field: &str, message: String) -> ApiError {
    ApiError::InvalidInput {
        message: message.clone(),
        fields: vec![FieldIssue {
            field: field.into(),
            problem: "invalid-body".into(),
            message,
            row: None,
        }],
    }
}

impl PredictInput {
    /// The rows, each as model features plus the fields held back because the model
    /// cannot take their JSON type (null, booleans, arrays, objects). Rows are numbered
    /// in a batch only.
    pub fn rows(&self) -> Vec<(Vec<Feature>, Vec<FieldIssue>)> {
        match self {
            Self::Single(object) => vec![row_features(object, None)],
            Self::Batch(objects) => objects
                .iter()
                .enumerate()
                .map(|(i, object)| row_features(object, Some(i)))
                .collect(),
        }
    }

    /// Rows are numbered (`instances[i]`) in answers and errors.
    pub fn is_batch(&self) -> bool {
        matches!(self, Self::Batch(_))
    }
}

/// A JSON row as model features, and the fields held back (JSON types the model cannot
/// take).
pub fn row_features(
    object: &Map<String, Value>,
    row: Option<usize>,
) -> (Vec<Feature>, Vec<FieldIssue>) {
    let (features, errors) = split_row(object);
    let issues = errors.into_iter().map(|e| issue(e, row)).collect();
    (features, issues)
}

/// The model's results for rows whose held-back fields are `held_back`: every prediction
/// if all rows were good, else every bad field of every row (or the model's own failure).
pub fn settle(
    results: Vec<Result<Prediction, PredictError>>,
    held_back: Vec<Vec<FieldIssue>>,
    batch: bool,
) -> Result<Vec<Prediction>, ApiError> {
    let mut predictions = Vec::with_capacity(results.len());
    let mut issues = Vec::new();
    for (i, (result, held_back)) in results.into_iter().zip(held_back).enumerate() {
        match (result, held_back.is_empty()) {
            (Ok(prediction), true) => predictions.push(prediction),
            (Ok(_), false) => issues.extend(held_back),
            (Err(error), _) => match merge(held_back, error, batch.then_some(i)) {
                Merged::Invalid(found) => issues.extend(found),
                Merged::Internal(message) => return Err(ApiError::ModelFailed(message)),
            },
        }
    }
    if issues.is_empty() {
        Ok(predictions)
    } else {
        Err(ApiError::invalid(issues))
    }
}

/// Everything wrong with one row: the server's findings first, then the model's, leaving
/// out the model's `missing` for a field the server had to hold back.
pub fn merge(held_back: Vec<FieldIssue>, model: PredictError, row: Option<usize>) -> Merged {
    match model {
        PredictError::Internal(message) => Merged::Internal(message),
        PredictError::InvalidInput(errors) => {
            let mut issues = held_back;
            let held = issues.len();
            for error in errors {
                if !issues[..held].iter().any(|i| i.field == error.field) {
                    issues.push(issue(error, row));
                }
            }
            Merged::Invalid(issues)
        }
    }
}

/// What a failed row amounts to.
#[derive(Debug, PartialEq)]
pub enum Merged {
    /// The client's input is wrong.
    Invalid(Vec<FieldIssue>),
    /// The model failed on valid input.
    Internal(String),
}

fn issue(error: FieldError, row: Option<usize>) -> FieldIssue {
    FieldIssue {
        field: error.field,
        problem: error.problem.as_str().to_owned(),
        message: error.message,
        row,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::features::FieldProblem;

    fn problem(result: Result<PredictInput, ApiError>) -> (u16, String) {
        let error = result.unwrap_err();
        (error.status(), error.to_string())
    }

    #[test]
    fn tells_rows_from_batches() {
        let row = json!({"age": 30});
        assert!(matches!(
            parse_predict_input(row.clone(), 10),
            Ok(PredictInput::Single(_))
        ));
        let batch = json!({"instances": [row, row]});
        match parse_predict_input(batch, 10) {
            Ok(PredictInput::Batch(rows)) => assert_eq!(rows.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejects_bad_bodies_with_the_cause() {
        assert_eq!(problem(decode_predict_body(b"{", 10)).0, 400);
        assert_eq!(problem(parse_predict_input(json!([1]), 10)).0, 422);
        assert!(
            problem(parse_predict_input(json!("x"), 10))
                .1
                .contains("got a string")
        );
        assert!(
            problem(parse_predict_input(json!({"instances": 3}), 10))
                .1
                .contains("array")
        );
        assert!(
            problem(parse_predict_input(json!({"instances": []}), 10))
                .1
                .contains("at least one")
        );
        assert!(
            problem(parse_predict_input(json!({"instances": [{}], "x": 1}), 10))
                .1
                .contains("x")
        );
        let (status, message) = problem(parse_predict_input(json!({"instances": [{}, {}, {}]}), 2));
        assert_eq!(
            (status, message.as_str()),
            (413, "the batch has 3 rows; the limit is 2")
        );
        match parse_predict_input(json!({"instances": [{}, 7, null]}), 10).unwrap_err() {
            ApiError::InvalidInput { fields, .. } => {
                let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
                assert_eq!(names, ["instances[1]", "instances[2]"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn json_is_required_with_or_without_parameters() {
        assert!(require_json(Some(b"application/json")).is_ok());
        assert!(require_json(Some(b"Application/JSON; charset=utf-8")).is_ok());
        let error = require_json(Some(b"text/plain")).unwrap_err();
        assert_eq!(
            (error.status(), error.code()),
            (415, "unsupported_media_type")
        );
        assert!(
            require_json(None)
                .unwrap_err()
                .to_string()
                .contains("no Content-Type")
        );
    }

    #[test]
    fn server_and_model_findings_are_merged_once() {
        let object = json!({"age": true, "job": "admin."});
        let (features, held_back) = row_features(object.as_object().unwrap(), None);
        assert_eq!(features.len(), 1, "job passes on, age is held back");
        assert_eq!(held_back[0].problem, "wrong-type");
        let model = PredictError::InvalidInput(vec![
            FieldError {
                field: "age".into(),
                problem: FieldProblem::Missing,
                message: "is required".into(),
            },
            FieldError {
                field: "loan".into(),
                problem: FieldProblem::Missing,
                message: "is required".into(),
            },
        ]);
        let error = settle(vec![Err(model)], vec![held_back], false).unwrap_err();
        let ApiError::InvalidInput { message, fields } = error else {
            panic!("invalid input")
        };
        let found: Vec<_> = fields
            .iter()
            .map(|i| (i.field.as_str(), i.problem.as_str()))
            .collect();
        assert_eq!(found, [("age", "wrong-type"), ("loan", "missing")]);
        assert_eq!(
            message,
            "2 invalid fields: age (wrong-type), loan (missing)"
        );
    }

    #[test]
    fn a_row_the_model_took_is_still_refused_for_its_held_back_fields() {
        let object = json!({"age": null});
        let (_, held_back) = row_features(object.as_object().unwrap(), Some(1));
        let good = Prediction::Value(1.0);
        let error = settle(
            vec![Ok(good.clone()), Ok(good)],
            vec![Vec::new(), held_back],
            true,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "1 invalid field: instances[1].age (wrong-type)"
        );
        let internal = settle(
            vec![Err(PredictError::Internal("tract".into()))],
            vec![Vec::new()],
            false,
        );
        assert_eq!(internal, Err(ApiError::ModelFailed("tract".into())));
    }
}
