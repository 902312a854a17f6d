//! A model only loads with the card that describes it.

use wasml_predictor::model_dir::bundled;
use wasml_predictor::{LoadError, Predictor};

#[test]
fn onnx_from_another_version_is_refused() {
    let v1 = bundled("bank-marketing", "v1");
    let v2 = bundled("bank-marketing", "v2");
    let error = Predictor::load(&v1.onnx().unwrap(), &v2.card_json().unwrap()).unwrap_err();
    assert!(matches!(error, LoadError::Sha256Mismatch { .. }), "{error}");
}

#[test]
fn a_card_that_is_not_json_is_refused() {
    let v1 = bundled("bank-marketing", "v1");
    let error = Predictor::load(&v1.onnx().unwrap(), "{").unwrap_err();
    assert!(matches!(error, LoadError::Card(_)), "{error}");
}

#[test]
fn an_encoding_that_does_not_follow_the_schema_is_refused() {
    let v1 = bundled("bank-marketing", "v1");
    let mut card: serde_json::Value = serde_json::from_str(&v1.card_json().unwrap()).unwrap();
    card["encoding"]["features"]
        .as_array_mut()
        .unwrap()
        .swap(0, 1);
    let error = Predictor::load(&v1.onnx().unwrap(), &card.to_string()).unwrap_err();
    assert!(matches!(error, LoadError::EncodingMismatch), "{error}");
}

#[test]
fn bytes_that_are_not_onnx_are_refused() {
    let v1 = bundled("bank-marketing", "v1");
    let garbage = b"definitely not protobuf".to_vec();
    let mut card: serde_json::Value = serde_json::from_str(&v1.card_json().unwrap()).unwrap();
    let sha = {
        use sha2::Digest;
        sha2::Sha256::digest(&garbage)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    card["onnx"]["sha256"] = sha.into();
    let error = Predictor::load(&garbage, &card.to_string()).unwrap_err();
    assert!(matches!(error, LoadError::Onnx(_)), "{error}");
}
