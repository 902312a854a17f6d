//! Models the tests serve besides the bundled classifier, committed with the script that
//! made them (`tests/support/fixtures/<model>/make.py`), so no test needs Python for them.

/// A regressor: linear regression on scikit-learn's diabetes data (10 float inputs), its
/// card carrying the held-out R², MAE and RMSE `make.py` computed.
pub mod diabetes {
    /// The ONNX file.
    pub const ONNX: &[u8] = include_bytes!("../fixtures/diabetes/model.onnx");
    /// Its card (name `diabetes`, version `1.0.0`).
    pub const CARD: &str = include_str!("../fixtures/diabetes/card.json");
    /// A row giving every input of the card `value`.
    pub fn row(value: f64) -> serde_json::Value {
        let card: serde_json::Value = serde_json::from_str(CARD).expect("the fixture's card");
        let fields = card["inputs"].as_array().expect("the card's inputs");
        fields
            .iter()
            .map(|field| (field["name"].as_str().unwrap().to_owned(), value.into()))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}
