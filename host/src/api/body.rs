//! Reading a prediction request's body: content type, size limit, JSON, shape.
//!
//! Done by hand rather than with axum's `Json` extractor so that each failure gets its own
//! status and a message naming the cause (415, 413, 400 with line and column, 422).

use axum::body::{Body, Bytes, to_bytes};
use axum::http::{HeaderMap, header};
use serde_json::{Map, Value};

use super::error::{AppError, FieldIssue};

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

/// Reads and checks a prediction body.
pub async fn read_predict_input(
    headers: &HeaderMap,
    body: Body,
    limits: BodyLimits,
) -> Result<PredictInput, AppError> {
    require_json(headers)?;
    let bytes = read_limited(headers, body, limits.max_bytes).await?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| AppError::MalformedJson(e.to_string()))?;
    parse_predict_input(value, limits.max_batch_rows)
}

/// The whole body, refused with 413 as soon as it (or its declared length) passes
/// `max_bytes`.
pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    max_bytes: usize,
) -> Result<Bytes, AppError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > max_bytes) {
        return Err(AppError::PayloadTooLarge { limit: max_bytes });
    }
    to_bytes(body, max_bytes).await.map_err(|error| {
        let over_limit = std::error::Error::source(&error)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if over_limit {
            AppError::PayloadTooLarge { limit: max_bytes }
        } else {
            AppError::BodyUnreadable
        }
    })
}

/// `application/json`, with or without parameters, is required.
fn require_json(headers: &HeaderMap) -> Result<(), AppError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let is_json = content_type.as_deref().is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
    });
    if is_json {
        Ok(())
    } else {
        Err(AppError::UnsupportedMediaType(
            content_type.unwrap_or_else(|| "no Content-Type".into()),
        ))
    }
}

/// Tells a row from a batch and checks the shape.
pub fn parse_predict_input(value: Value, max_batch_rows: usize) -> Result<PredictInput, AppError> {
    let Value::Object(mut object) = value else {
        return Err(invalid_body(
            "$",
            format!(
                "the body must be a JSON object of fields or {{\"instances\": [...]}}, got {}",
                wasml_predictor::json::json_type(&value)
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
                wasml_predictor::json::json_type(&instances)
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
        return Err(AppError::BatchTooLarge {
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
                message: format!(
                    "each row must be an object, got {}",
                    wasml_predictor::json::json_type(&other)
                ),
                row: Some(i),
            }),
        }
    }
    if issues.is_empty() {
        Ok(PredictInput::Batch(objects))
    } else {
        Err(AppError::InvalidInput {
            message: format!("{} rows are not objects", issues.len()),
            fields: issues,
        })
    }
}

fn invalid_body(field: &str, message: String) -> AppError {
    AppError::InvalidInput {
        message: message.clone(),
        fields: vec![FieldIssue {
            field: field.into(),
            problem: "invalid-body".into(),
            message,
            row: None,
        }],
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn problem(result: Result<PredictInput, AppError>) -> (u16, String) {
        let error = result.unwrap_err();
        (error.status().as_u16(), error.to_string())
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
    fn rejects_bad_shapes_with_the_cause() {
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
            AppError::InvalidInput { fields, .. } => {
                let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
                assert_eq!(names, ["instances[1]", "instances[2]"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
