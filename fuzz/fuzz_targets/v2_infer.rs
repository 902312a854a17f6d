//! Open Inference Protocol (V2) infer bodies: any bytes give rows and the outputs asked
//! for, or a 4xx, never a panic or an allocation sized by the client.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasml_predictor::api::tensor::{InferenceRequest, rows, wanted_outputs};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = serde_json::from_slice::<InferenceRequest>(data) {
        if let Err(error) = rows(&request, 1_000) {
            assert!((400..500).contains(&error.status()), "{error}");
        }
        let _ = wanted_outputs(&request, wasml_predictor::Task::Classification);
        let _ = wanted_outputs(&request, wasml_predictor::Task::Regression);
    }
});
