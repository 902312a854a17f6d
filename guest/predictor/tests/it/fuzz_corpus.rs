//! Replays `fuzz/corpus/predict_body/` (the fuzz target's seeds and finds) on stable:
//! every input decodes to rows or to an error with a message, without a panic.

use std::panic::{AssertUnwindSafe, catch_unwind};

use wasml_predictor::api::input::decode_predict_body;
use wasml_test_support::fuzz_corpus;

#[test]
fn every_predict_body_in_the_corpus_decodes_or_is_refused_with_a_reason() {
    let mut decoded = 0;
    for (path, bytes) in fuzz_corpus("predict_body") {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            match decode_predict_body(&bytes, 1_000) {
                Ok(input) => Ok(input.rows().len()),
                Err(error) => Err(error.to_string()),
            }
        }));
        match outcome {
            Ok(Ok(rows)) => {
                assert!(rows > 0, "{}", path.display());
                decoded += 1;
            }
            Ok(Err(message)) => assert!(!message.is_empty(), "{}", path.display()),
            Err(_) => panic!("{} made the decoder panic", path.display()),
        }
    }
    assert!(decoded > 0, "the corpus holds valid bodies too");
}
