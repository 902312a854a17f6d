//! Models the tests serve besides the bundled classifier, committed with the script that
//! made them (`tests/support/fixtures/<model>/make.py`), so no test needs Python for them.

/// A regressor: linear regression on scikit-learn's diabetes data (10 float inputs), its
/// card carrying the held-out R², MAE and RMSE `make.py` computed.
pub mod diabetes {
    /// The ONNX file.
    pub const ONNX: &[u8] = include_bytes!("../fixtures/diabetes/model.onnx");
    /// Its card (name `diabetes`, version `1.0.0`).
    pub const CARD: &str = include_str!("../fixtures/diabetes/card.json");
    /// The input fields, in order.
    pub const INPUTS: [&str; 10] = [
        "age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6",
    ];
}
