//! Conversions between the WIT types and `wasml-predictor`'s, which the host uses for JSON
//! decoding and conformance checks.

use wasml_predictor as predictor;

use crate::bindings::types as wit;

/// A predictor row as WIT features.
pub fn features(row: &[predictor::Feature]) -> wit::Features {
    row.iter()
        .map(|feature| wit::Feature {
            name: feature.name.clone(),
            value: match &feature.value {
                predictor::FeatureValue::Number(x) => wit::FeatureValue::Number(*x),
                predictor::FeatureValue::Text(s) => wit::FeatureValue::Text(s.clone()),
            },
        })
        .collect()
}

/// A WIT prediction result as the predictor's.
pub fn prediction_result(
    result: Result<wit::Prediction, wit::PredictError>,
) -> Result<predictor::Prediction, predictor::PredictError> {
    result.map(prediction).map_err(predict_error)
}

/// A WIT prediction as the predictor's.
pub fn prediction(p: wit::Prediction) -> predictor::Prediction {
    predictor::Prediction {
        class_index: p.class_index,
        label: p.label,
        confidence: p.confidence,
        probabilities: p.probabilities,
    }
}

/// A WIT prediction error as the predictor's.
pub fn predict_error(error: wit::PredictError) -> predictor::PredictError {
    match error {
        wit::PredictError::InvalidInput(errors) => {
            predictor::PredictError::InvalidInput(errors.into_iter().map(field_error).collect())
        }
        wit::PredictError::Internal(message) => predictor::PredictError::Internal(message),
    }
}

fn field_error(error: wit::FieldError) -> predictor::FieldError {
    use predictor::FieldProblem as P;
    use wit::FieldProblem as W;
    let problem = match error.problem {
        W::Missing => P::Missing,
        W::WrongType => P::WrongType,
        W::OutOfRange => P::OutOfRange,
        W::NotAnInteger => P::NotAnInteger,
        W::UnknownCategory => P::UnknownCategory,
        W::UnknownField => P::UnknownField,
        W::DuplicateField => P::DuplicateField,
    };
    predictor::FieldError {
        field: error.field,
        problem,
        message: error.message,
    }
}
