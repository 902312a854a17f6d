//! `POST /predict` bodies (a row or `{"instances": [...]}`), as the host and the Spin
//! component decode them: any bytes give rows or an `ApiError`, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasml_predictor::api::input::decode_predict_body;

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = decode_predict_body(data, 1_000) {
        let _ = input.rows();
    }
});
