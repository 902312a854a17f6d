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

/// A model's WIT evaluation figures as the card's.
pub fn evaluation(e: &wit::Evaluation) -> predictor::Evaluation {
    predictor::Evaluation {
        accuracy: e.accuracy,
        precision: e.precision,
        recall: e.recall,
        f1_score: e.f1_score,
        roc_auc: e.roc_auc,
        r2: e.r2,
        mae: e.mae,
        rmse: e.rmse,
        test_rows: e.test_rows,
    }
}

/// A model's WIT task as the card's.
pub fn task(task: wit::Task) -> predictor::Task {
    match task {
        wit::Task::Classification => predictor::Task::Classification,
        wit::Task::Regression => predictor::Task::Regression,
    }
}

/// A WIT prediction as the predictor's.
pub fn prediction(p: wit::Prediction) -> predictor::Prediction {
    match p {
        wit::Prediction::Class(p) => predictor::Prediction::Class(predictor::ClassPrediction {
            class_index: p.class_index,
            label: p.label,
            confidence: p.confidence,
            probabilities: p.probabilities,
        }),
        wit::Prediction::Value(value) => predictor::Prediction::Value(value),
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

/// Why a guest's prediction must not reach a client, if it must not: an answer of the
/// other task, a class index out of range, a label that is not its class's, not one
/// probability per label, a confidence outside [0, 1], or a value that is not finite.
/// The reason never repeats the guest's strings, which a broken or hostile model can make
/// arbitrarily large.
pub fn malformed(
    p: &predictor::Prediction,
    task: predictor::Task,
    labels: &[String],
) -> Option<String> {
    let p = match (p, task) {
        (predictor::Prediction::Class(p), predictor::Task::Classification) => p,
        (predictor::Prediction::Value(v), predictor::Task::Regression) => {
            return (!v.is_finite()).then(|| format!("a value of {v}"));
        }
        (_, task) => return Some(format!("an answer that is not a {}'s", task.as_str())),
    };
    let class = p.class_index as usize;
    if class >= labels.len() {
        return Some(format!(
            "class index {class} of a model with {} labels",
            labels.len()
        ));
    }
    if p.label != labels[class] {
        return Some(format!(
            "a label of {} bytes that is not class {class}'s",
            p.label.len()
        ));
    }
    if p.probabilities.len() != labels.len() {
        return Some(format!(
            "{} probabilities for {} labels",
            p.probabilities.len(),
            labels.len()
        ));
    }
    if !(0.0..=1.0).contains(&p.confidence) {
        return Some(format!("a confidence of {}", p.confidence));
    }
    None
}
