//! The native predictor reproduces onnxruntime's probabilities on both bundled versions.

use wasml_predictor::model_dir::bundled;
use wasml_predictor::{ConformanceSet, Prediction, Predictor};

fn check_version(version: &str) {
    let dir = bundled("bank-marketing", version);
    let predictor = Predictor::load(&dir.onnx().unwrap(), &dir.card_json().unwrap()).unwrap();
    let set = ConformanceSet::from_json(&dir.conformance_json().unwrap()).unwrap();
    assert_eq!(
        set.onnx_sha256,
        predictor.card().onnx.sha256,
        "conformance set is for this ONNX"
    );
    assert!(set.tolerance <= 1e-5);
    assert!(
        set.cases.len() >= 200,
        "a few hundred cases, got {}",
        set.cases.len()
    );

    let rows = set.rows().unwrap();
    let batch = predictor.predict_batch(&rows);
    let report = set.check(&batch);
    assert!(report.passed(), "{version} batch: {:#?}", report.failures);

    let single: Vec<_> = rows.iter().map(|row| predictor.predict(row)).collect();
    let report = set.check(&single);
    assert!(
        report.passed(),
        "{version} one by one: {:#?}",
        report.failures
    );
    eprintln!(
        "{version}: {} cases, max |diff| {:e}",
        report.cases, report.max_abs_diff
    );
}

#[test]
fn v1_logistic_regression_matches_onnxruntime() {
    check_version("v1");
}

#[test]
fn v2_gradient_boosted_trees_matches_onnxruntime() {
    check_version("v2");
}

#[test]
fn a_wrong_reference_is_reported() {
    let dir = bundled("bank-marketing", "v1");
    let predictor = Predictor::load(&dir.onnx().unwrap(), &dir.card_json().unwrap()).unwrap();
    let mut set = ConformanceSet::from_json(&dir.conformance_json().unwrap()).unwrap();
    set.cases[3].probabilities[1] += 1e-4;
    let report = set.check(&predictor.predict_batch(&set.rows().unwrap()));
    assert_eq!(report.failures.len(), 1, "{:#?}", report.failures);
    assert!(report.failures[0].starts_with("case 3:"));
}

#[test]
fn predictions_carry_label_confidence_and_probabilities() {
    let dir = bundled("bank-marketing", "v2");
    let predictor = Predictor::load(&dir.onnx().unwrap(), &dir.card_json().unwrap()).unwrap();
    let set = ConformanceSet::from_json(&dir.conformance_json().unwrap()).unwrap();
    let mut classes_seen = [false, false];
    for prediction in predictor.predict_batch(&set.rows().unwrap()) {
        let Prediction::Class(prediction) = prediction.unwrap() else {
            panic!("a classifier answers with a class");
        };
        let p = &prediction.probabilities;
        assert_eq!(p.len(), 2);
        assert!((p[0] + p[1] - 1.0).abs() < 1e-6);
        assert_eq!(prediction.confidence, p[prediction.class_index as usize]);
        assert!(prediction.confidence >= 0.5);
        assert_eq!(
            prediction.label,
            ["no", "yes"][prediction.class_index as usize]
        );
        classes_seen[prediction.class_index as usize] = true;
    }
    assert_eq!(
        classes_seen,
        [true, true],
        "the conformance set exercises both classes"
    );
}
