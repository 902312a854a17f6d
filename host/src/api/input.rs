//! From JSON rows to the model's input, and from the model's rejections back to the
//! client: every bad field of every row, whichever side (host or model) found it.

use serde_json::{Map, Value};
use wasml_predictor as predictor;

use super::error::FieldIssue;
use crate::bindings::types::{Features, PredictError};
use crate::convert;

/// A JSON row as model features, and the fields the host already rejected (JSON types
/// the model cannot take: null, booleans, arrays, objects).
pub fn features(object: &Map<String, Value>, row: Option<usize>) -> (Features, Vec<FieldIssue>) {
    let (features, errors) = predictor::split_row(object);
    let issues = errors.into_iter().map(|e| issue(e, row)).collect();
    (convert::features(&features), issues)
}

/// Everything wrong with one row: the host's findings first, then the model's, leaving
/// out the model's `missing` for a field the host had to hold back.
pub fn merge(host: Vec<FieldIssue>, model: PredictError, row: Option<usize>) -> Merged {
    match convert::predict_error(model) {
        predictor::PredictError::Internal(message) => Merged::Internal(message),
        predictor::PredictError::InvalidInput(errors) => {
            let mut issues = host;
            let held_back = issues.len();
            for error in errors {
                if !issues[..held_back].iter().any(|i| i.field == error.field) {
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

fn issue(error: predictor::FieldError, row: Option<usize>) -> FieldIssue {
    FieldIssue {
        field: error.field,
        problem: error.problem.as_str().to_owned(),
        message: error.message,
        row,
    }
}

/// A one-line summary of rejected fields, e.g. `2 invalid fields: age (out-of-range), job
/// (unknown-category)`.
pub fn summary(issues: &[FieldIssue]) -> String {
    const SHOWN: usize = 5;
    let mut names: Vec<String> = issues
        .iter()
        .take(SHOWN)
        .map(|i| match i.row {
            Some(row) => format!("instances[{row}].{} ({})", i.field, i.problem),
            None => format!("{} ({})", i.field, i.problem),
        })
        .collect();
    if issues.len() > SHOWN {
        names.push(format!("and {} more", issues.len() - SHOWN));
    }
    let noun = if issues.len() == 1 { "field" } else { "fields" };
    format!("{} invalid {noun}: {}", issues.len(), names.join(", "))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::bindings::types::{FieldError, FieldProblem};

    #[test]
    fn host_and_model_findings_are_merged_once() {
        let object = json!({"age": true, "job": "admin."});
        let (features, host) = features(object.as_object().unwrap(), None);
        assert_eq!(features.len(), 1, "job passes on, age is held back");
        assert_eq!(host[0].problem, "wrong-type");
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
        let Merged::Invalid(issues) = merge(host, model, None) else {
            panic!("invalid input")
        };
        let found: Vec<_> = issues
            .iter()
            .map(|i| (i.field.as_str(), i.problem.as_str()))
            .collect();
        assert_eq!(found, [("age", "wrong-type"), ("loan", "missing")]);
        assert_eq!(
            summary(&issues),
            "2 invalid fields: age (wrong-type), loan (missing)"
        );
    }
}
