//! `POST /predict` bodies (a row or `{"instances": [...]}`), as the host and the Spin
//! component decode them: any bytes give at least one row or a 4xx `ApiError`, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasml_predictor::api::input::decode_predict_body;

fuzz_target!(|data: &[u8]| {
    match decode_predict_body(data, 1_000) {
        Ok(input) => assert!(!input.rows().is_empty(), "a decoded body has rows"),
        Err(error) => assert!((400..500).contains(&error.status()), "{error}"),
    }
});
