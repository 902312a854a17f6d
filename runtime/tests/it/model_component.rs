//! The bundled model components, run in wasmtime: they reproduce onnxruntime's
//! probabilities, describe themselves from their card, reject bad input with typed errors
//! without trapping, and report logs and timings through the `events` import.

use crate::common;

use wasml_predictor::model_dir::bundled;
use wasml_predictor::{ConformanceSet, row_from_json};
use wasml_runtime::bindings::types::{FeatureValue, FieldProblem, PredictError};
use wasml_runtime::bindings::{Level, Stage};
use wasml_runtime::convert;
use wasml_runtime::host::GuestEvent;

fn conformance(version: &str) {
    let set = ConformanceSet::from_json(
        &bundled("bank-marketing", version)
            .conformance_json()
            .unwrap(),
    )
    .unwrap();
    let rows: Vec<_> = set
        .rows()
        .unwrap()
        .iter()
        .map(|row| convert::features(row))
        .collect();
    let mut instance = common::bank_marketing(version)
        .instantiate_blocking()
        .unwrap();

    let batch = instance.predict_batch_blocking(&rows).unwrap();
    let report = set.check(
        &batch
            .into_iter()
            .map(convert::prediction_result)
            .collect::<Vec<_>>(),
    );
    assert!(
        report.passed(),
        "{version} batch in wasm: {:#?}",
        report.failures
    );

    let single: Vec<_> = rows
        .iter()
        .map(|row| convert::prediction_result(instance.predict_blocking(row).unwrap()))
        .collect();
    let report = set.check(&single);
    assert!(
        report.passed(),
        "{version} one by one in wasm: {:#?}",
        report.failures
    );
    eprintln!(
        "{version} in wasm: {} cases, max |diff| {:e}",
        report.cases, report.max_abs_diff
    );
}

#[test]
fn v1_in_wasm_matches_onnxruntime() {
    conformance("v1");
}

#[test]
fn v2_in_wasm_matches_onnxruntime() {
    conformance("v2");
}

#[test]
fn info_describes_the_embedded_model_from_its_card() {
    for version in ["v1", "v2"] {
        let dir = bundled("bank-marketing", version);
        let card_json = dir.card_json().unwrap();
        let card: serde_json::Value = serde_json::from_str(&card_json).unwrap();
        let info = common::bank_marketing(version)
            .instantiate_blocking()
            .unwrap()
            .info_blocking()
            .unwrap();
        assert_eq!(info.name, "bank-marketing");
        assert_eq!(info.version, card["version"].as_str().unwrap());
        assert_eq!(info.model_type, card["model_type"].as_str().unwrap());
        assert_eq!(info.onnx_sha256, card["onnx"]["sha256"].as_str().unwrap());
        assert_eq!(info.labels, ["no", "yes"]);
        assert_eq!(
            info.evaluation.as_ref().unwrap().accuracy,
            card["evaluation"]["accuracy"].as_f64()
        );
        assert_eq!(
            info.evaluation.as_ref().unwrap().roc_auc,
            card["evaluation"]["roc_auc"].as_f64()
        );
        assert_eq!(info.card_json, card_json);
        let names: Vec<&str> = info.inputs.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "age",
                "job",
                "marital",
                "education",
                "housing",
                "loan",
                "duration",
                "campaign"
            ]
        );
        assert!(info.inputs.iter().all(|f| f.required));
    }
}

fn seed_row() -> serde_json::Map<String, serde_json::Value> {
    serde_json::json!({"age": 30, "job": "admin.", "marital": "single", "education": "secondary",
                       "housing": "yes", "loan": "no", "duration": 200, "campaign": 2})
    .as_object()
    .unwrap()
    .clone()
}

#[test]
fn invalid_input_crosses_the_boundary_typed_and_the_instance_keeps_serving() {
    let mut instance = common::bank_marketing("v2").instantiate_blocking().unwrap();
    let valid = convert::features(&row_from_json(&seed_row()).unwrap());
    let cases: Vec<(&str, serde_json::Value, FieldProblem)> = vec![
        ("age", serde_json::json!("thirty"), FieldProblem::WrongType),
        ("age", serde_json::json!(150), FieldProblem::OutOfRange),
        ("age", serde_json::json!(30.5), FieldProblem::NotAnInteger),
        (
            "job",
            serde_json::json!("astronaut"),
            FieldProblem::UnknownCategory,
        ),
        ("bonus", serde_json::json!(1), FieldProblem::UnknownField),
    ];
    for (field, value, problem) in cases {
        let mut row = seed_row();
        row.insert(field.to_string(), value);
        let row = convert::features(&row_from_json(&row).unwrap());
        match instance.predict_blocking(&row).unwrap() {
            Err(PredictError::InvalidInput(errors)) => {
                assert_eq!(errors.len(), 1, "{errors:?}");
                assert_eq!(
                    (errors[0].field.as_str(), errors[0].problem),
                    (field, problem)
                );
                assert!(!errors[0].message.is_empty());
            }
            other => panic!("{field}: expected invalid input, got {other:?}"),
        }
        // Not a trap: the same instance answers the next valid request.
        instance.predict_blocking(&valid).unwrap().unwrap();
    }

    let mut missing = valid.clone();
    missing.retain(|f| f.name != "campaign");
    let mut duplicated = valid.clone();
    duplicated.push(wasml_runtime::bindings::types::Feature {
        name: "loan".into(),
        value: FeatureValue::Text("no".into()),
    });
    for (row, field, problem) in [
        (missing, "campaign", FieldProblem::Missing),
        (duplicated, "loan", FieldProblem::DuplicateField),
    ] {
        let Err(PredictError::InvalidInput(errors)) = instance.predict_blocking(&row).unwrap()
        else {
            panic!("expected invalid input for {field}");
        };
        assert_eq!(
            (errors[0].field.as_str(), errors[0].problem),
            (field, problem)
        );
    }
}

#[test]
fn a_bad_row_fails_alone_in_a_wasm_batch() {
    let mut instance = common::bank_marketing("v1").instantiate_blocking().unwrap();
    let good = convert::features(&row_from_json(&seed_row()).unwrap());
    let mut bad = good.clone();
    bad.retain(|f| f.name != "age");
    let results = instance
        .predict_batch_blocking(&[good.clone(), bad, good])
        .unwrap();
    assert_eq!(results.len(), 3);
    assert!(results[0].is_ok() && results[2].is_ok());
    assert!(matches!(&results[1], Err(PredictError::InvalidInput(e)) if e[0].field == "age"));
    assert_eq!(
        common::probabilities(results[0].as_ref().unwrap()),
        common::probabilities(results[2].as_ref().unwrap())
    );
}

#[test]
fn the_guest_reports_loading_and_stage_timings() {
    let mut instance = common::bank_marketing("v2").instantiate_blocking().unwrap();
    let row = convert::features(&row_from_json(&seed_row()).unwrap());
    instance
        .predict_batch_blocking(&[row.clone(), row])
        .unwrap();
    let (events, dropped) = instance.take_events();
    assert_eq!(dropped, 0);

    let loaded = events.iter().find_map(|e| match e {
        GuestEvent::Log {
            level: Level::Info,
            message,
            fields,
        } if message == "model loaded" => Some(fields),
        _ => None,
    });
    let fields = loaded.expect("a 'model loaded' event");
    assert!(
        fields.contains(&("version".into(), "2.0.0".into())),
        "{fields:?}"
    );

    for wanted in [Stage::FeatureProcessing, Stage::Inference] {
        let timing = events.iter().find_map(|e| match e {
            GuestEvent::Timing {
                stage,
                seconds,
                rows,
            } if *stage == wanted => Some((*seconds, *rows)),
            _ => None,
        });
        let (seconds, rows) =
            timing.unwrap_or_else(|| panic!("no {wanted:?} timing in {events:?}"));
        assert_eq!(rows, 2);
        assert!(seconds > 0.0 && seconds < 1.0, "{wanted:?}: {seconds}s");
    }

    // Events are handed out once; the next call starts from an empty queue and, the model
    // being loaded already, logs no second 'model loaded'.
    instance
        .predict_blocking(&convert::features(&row_from_json(&seed_row()).unwrap()))
        .unwrap()
        .unwrap();
    let (events, _) = instance.take_events();
    assert_eq!(events.len(), 2, "{events:?}");
}
