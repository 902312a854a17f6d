//! Replays `fuzz/corpus/predict_body/` and `fuzz/corpus/v2_infer/` (the fuzz targets'
//! seeds and finds) on stable: every native body decodes to rows or to an error with a
//! message; every V2 body becomes rows or a 4xx, never a panic or an allocation the
//! client sized. (The `component_upload` corpus is the runtime's.)

use std::panic::{AssertUnwindSafe, catch_unwind};

use wasml_predictor::api::input::decode_predict_body;
use wasml_predictor::api::tensor::{InferenceRequest, rows, wanted_outputs};
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

#[test]
fn every_v2_body_in_the_corpus_becomes_rows_or_a_client_error() {
    let (mut decoded, mut refused) = (0, 0);
    for (path, bytes) in fuzz_corpus("v2_infer") {
        let Ok(request) = serde_json::from_slice::<InferenceRequest>(&bytes) else {
            continue;
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let outputs =
                wanted_outputs(&request, wasml_predictor::Task::Classification).map(|o| o.len());
            let rows = rows(&request, 1_000).map_err(|e| (e.status(), e.to_string()));
            (outputs.is_ok(), rows.map(|r| r.rows().len()))
        }))
        .unwrap_or_else(|_| panic!("{} made the decoder panic", path.display()));
        match outcome {
            (_, Ok(rows)) => {
                assert!(rows > 0, "{}: decoded into no rows", path.display());
                decoded += 1;
            }
            (_, Err((status, message))) => {
                assert!(
                    (400..500).contains(&status) && !message.is_empty(),
                    "{}: {status} {message}",
                    path.display()
                );
                refused += 1;
            }
        }
    }
    // A corpus that decodes nothing (or is missing) would make this test vacuous.
    assert!(
        decoded > 0,
        "no corpus body decoded into rows ({refused} refused)"
    );
    assert!(
        refused > 0,
        "no corpus body was refused ({decoded} decoded)"
    );
}
