//! Replays `fuzz/corpus/grpc_infer/` (the fuzz target's seeds and finds) on stable: every
//! input decodes or not, and a decoded message gives rows or a 4xx — never a panic.

use std::panic::{AssertUnwindSafe, catch_unwind};

use prost::Message as _;
use wasml_grpc_proto::ModelInferRequest;
use wasml_grpc_proto::tensor::inference_request;
use wasml_predictor::api::tensor::rows;

#[test]
fn every_input_in_the_corpus_is_answered_or_refused_with_a_4xx() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/grpc_infer");
    let mut decoded = 0;
    for entry in std::fs::read_dir(dir).expect("the committed corpus") {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let message = ModelInferRequest::decode(bytes.as_slice()).ok()?;
            Some(inference_request(&message).and_then(|request| rows(&request, 1_000)))
        }))
        .unwrap_or_else(|_| panic!("{} made the decoder panic", path.display()));
        if let Some(Err(error)) = &outcome {
            assert!(
                (400..500).contains(&error.status()),
                "{}: {error}",
                path.display()
            );
        }
        decoded += usize::from(outcome.is_some());
    }
    assert!(decoded >= 5, "the seeds are messages");
}
