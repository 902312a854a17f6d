//! Open Inference Protocol `ModelInferRequest` messages as gRPC delivers them: any bytes
//! decode to a message or fail to, and a message gives rows and the outputs asked for, or
//! a 4xx (INVALID_ARGUMENT), never a panic or an allocation sized by the client.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message as _;
use wasml_grpc_proto::ModelInferRequest;
use wasml_grpc_proto::tensor::inference_request;
use wasml_predictor::api::tensor::{rows, wanted_outputs};

fuzz_target!(|data: &[u8]| {
    let Ok(message) = ModelInferRequest::decode(data) else {
        return;
    };
    match inference_request(&message) {
        Ok(request) => {
            if let Err(error) = rows(&request, 1_000) {
                assert!((400..500).contains(&error.status()), "{error}");
            }
            let _ = wanted_outputs(&request, wasml_predictor::Task::Classification);
        }
        Err(error) => assert!((400..500).contains(&error.status()), "{error}"),
    }
});
