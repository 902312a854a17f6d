//! Every way a row can break the schema gets the typed error naming the field; valid rows
//! encode exactly as the card says.

use serde_json::json;
use wasml_predictor::model_dir::bundled;
use wasml_predictor::{
    Feature, FeatureEncoder, FieldKind, FieldProblem, FieldSpec, PredictError, Predictor,
    row_from_json,
};

fn predictor() -> Predictor {
    let dir = bundled("bank-marketing", "v2");
    Predictor::load(&dir.onnx().unwrap(), &dir.card_json().unwrap()).unwrap()
}

fn valid() -> serde_json::Value {
    json!({"age": 30, "job": "admin.", "marital": "single", "education": "secondary",
           "housing": "yes", "loan": "no", "duration": 200, "campaign": 2})
}

/// The row `valid()` with `changes` applied (`null` removes a field).
fn row(changes: serde_json::Value) -> Vec<Feature> {
    let mut object = valid().as_object().unwrap().clone();
    for (key, value) in changes.as_object().unwrap() {
        if value.is_null() {
            object.remove(key);
        } else {
            object.insert(key.clone(), value.clone());
        }
    }
    row_from_json(&object).unwrap()
}

/// The (field, problem) pairs `predict` rejects `input` with.
fn problems(input: Vec<Feature>) -> Vec<(String, FieldProblem)> {
    match predictor().predict(&input) {
        Err(PredictError::InvalidInput(errors)) => {
            errors.into_iter().map(|e| (e.field, e.problem)).collect()
        }
        other => panic!("expected invalid input, got {other:?}"),
    }
}

fn one(field: &str, problem: FieldProblem) -> Vec<(String, FieldProblem)> {
    vec![(field.to_string(), problem)]
}

#[test]
fn the_seed_request_is_valid() {
    let prediction = predictor().predict(&row(json!({}))).unwrap();
    let label = &prediction.class().expect("a class").label;
    assert!(label == "no" || label == "yes");
}

#[test]
fn missing_field() {
    assert_eq!(
        problems(row(json!({"duration": null}))),
        one("duration", FieldProblem::Missing)
    );
}

#[test]
fn text_for_a_number() {
    assert_eq!(
        problems(row(json!({"age": "thirty"}))),
        one("age", FieldProblem::WrongType)
    );
}

#[test]
fn number_for_a_category() {
    assert_eq!(
        problems(row(json!({"job": 3}))),
        one("job", FieldProblem::WrongType)
    );
}

#[test]
fn numbers_out_of_range() {
    for age in [17, 101, -5] {
        assert_eq!(
            problems(row(json!({"age": age}))),
            one("age", FieldProblem::OutOfRange)
        );
    }
    assert_eq!(
        problems(row(json!({"campaign": 0}))),
        one("campaign", FieldProblem::OutOfRange)
    );
    let mut input = row(json!({}));
    input.retain(|f| f.name != "duration");
    for x in [f64::NAN, f64::INFINITY] {
        let mut bad = input.clone();
        bad.push(Feature::number("duration", x));
        assert_eq!(problems(bad), one("duration", FieldProblem::OutOfRange));
    }
}

#[test]
fn range_bounds_are_inclusive() {
    let predictor = predictor();
    for age in [18, 100] {
        predictor.predict(&row(json!({"age": age}))).unwrap();
    }
}

#[test]
fn fraction_for_a_whole_number() {
    assert_eq!(
        problems(row(json!({"age": 30.5}))),
        one("age", FieldProblem::NotAnInteger)
    );
    predictor().predict(&row(json!({"age": 30.0}))).unwrap();
}

#[test]
fn unknown_category() {
    assert_eq!(
        problems(row(json!({"marital": "Single"}))),
        one("marital", FieldProblem::UnknownCategory)
    );
}

#[test]
fn unknown_field() {
    assert_eq!(
        problems(row(json!({"salary": 10}))),
        one("salary", FieldProblem::UnknownField)
    );
}

#[test]
fn duplicate_field() {
    let mut input = row(json!({}));
    input.push(Feature::number("age", 40.0));
    assert_eq!(problems(input), one("age", FieldProblem::DuplicateField));
}

#[test]
fn every_bad_field_is_listed_in_schema_order() {
    let found = problems(row(
        json!({"loan": "maybe", "age": "old", "campaign": null}),
    ));
    assert_eq!(
        found,
        vec![
            ("age".to_string(), FieldProblem::WrongType),
            ("loan".to_string(), FieldProblem::UnknownCategory),
            ("campaign".to_string(), FieldProblem::Missing),
        ]
    );
}

#[test]
fn messages_say_what_is_accepted_and_what_was_sent() {
    let Err(PredictError::InvalidInput(errors)) =
        predictor().predict(&row(json!({"age": 150, "housing": "perhaps"})))
    else {
        panic!("expected invalid input");
    };
    assert_eq!(
        errors[0].message,
        "must be a number from 18 to 100, got 150"
    );
    assert_eq!(
        errors[1].message,
        "must be one of \"no\", \"yes\", got \"perhaps\""
    );
}

#[test]
fn hostile_text_is_not_echoed_in_full() {
    let huge = "x".repeat(100_000);
    let Err(PredictError::InvalidInput(errors)) = predictor().predict(&row(json!({"job": huge})))
    else {
        panic!("expected invalid input");
    };
    assert!(
        errors[0].message.len() < 1_000,
        "{} bytes",
        errors[0].message.len()
    );
}

#[test]
fn json_types_other_than_number_and_string_are_rejected_by_name() {
    for (value, kind) in [
        (json!(true), "a boolean"),
        (json!(null), "null"),
        (json!([1]), "an array"),
        (json!({"x": 1}), " an object"),
    ] {
        let mut object = valid().as_object().unwrap().clone();
        object.insert("age".into(), value);
        let errors = row_from_json(&object).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(
            (errors[0].field.as_str(), errors[0].problem),
            ("age", FieldProblem::WrongType)
        );
        assert!(
            errors[0].message.ends_with(kind.trim()),
            "{}",
            errors[0].message
        );
    }
}

#[test]
fn a_bad_row_in_a_batch_fails_alone() {
    let rows = vec![
        row(json!({})),
        row(json!({"age": "x"})),
        row(json!({"age": 60})),
    ];
    let results = predictor().predict_batch(&rows);
    assert!(results[0].is_ok());
    assert!(matches!(&results[1], Err(PredictError::InvalidInput(e)) if e[0].field == "age"));
    assert!(results[2].is_ok());
    // The good rows get the same answers as when predicted alone.
    assert_eq!(
        results[2].as_ref().unwrap(),
        &predictor().predict(&rows[2]).unwrap()
    );
}

#[test]
fn valid_rows_encode_as_the_card_describes() {
    let predictor = predictor();
    let features = &predictor.card().encoding.features;
    let mut encoded = Vec::new();
    predictor
        .encoder()
        .encode_into(&row(json!({})), &mut encoded)
        .unwrap();
    assert_eq!(encoded.len(), features.len());
    let hot: Vec<&str> = features
        .iter()
        .zip(&encoded)
        .filter(|(name, x)| name.contains('=') && **x == 1.0)
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        hot,
        [
            "job=admin.",
            "marital=single",
            "education=secondary",
            "housing=yes",
            "loan=no"
        ]
    );
    let numbers: Vec<(&str, f32)> = features
        .iter()
        .zip(&encoded)
        .filter(|(name, _)| !name.contains('='))
        .map(|(name, x)| (name.as_str(), *x))
        .collect();
    assert_eq!(
        numbers,
        [("age", 30.0), ("duration", 200.0), ("campaign", 2.0)]
    );
}

#[test]
fn absent_optional_fields_encode_as_missing() {
    let fields = vec![
        FieldSpec {
            name: "n".into(),
            description: String::new(),
            required: false,
            kind: FieldKind::Number {
                min: Some(0.0),
                max: Some(1.0),
                integer: false,
            },
        },
        FieldSpec {
            name: "c".into(),
            description: String::new(),
            required: false,
            kind: FieldKind::Category {
                values: vec!["a".into(), "b".into()],
            },
        },
    ];
    let encoder = FeatureEncoder::new(&fields);
    let mut encoded = vec![7.0];
    encoder.encode_into(&[], &mut encoded).unwrap();
    assert_eq!(encoded.len(), 4);
    assert!(encoded[1].is_nan());
    assert_eq!(&encoded[2..], [0.0, 0.0]);
    // A failed row leaves the buffer as it was.
    assert!(
        encoder
            .encode_into(&[Feature::text("n", "x")], &mut encoded)
            .is_err()
    );
    assert_eq!(encoded.len(), 4);
}
