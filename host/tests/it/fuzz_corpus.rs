//! Replays `fuzz/corpus/v2_infer/` (the fuzz target's seeds and finds) on stable: V2
//! bodies become rows or a 4xx, never a panic or an allocation the client sized. (The
//! `component_upload` corpus is the runtime's: `runtime/tests/it/fuzz_corpus.rs`.)

use std::panic::{AssertUnwindSafe, catch_unwind};

use wasml_host::api::v2::tensor::{InferenceRequest, rows, wanted_outputs};
use wasml_test_support::fuzz_corpus;

#[test]
fn every_v2_body_in_the_corpus_becomes_rows_or_a_client_error() {
    let (mut decoded, mut refused) = (0, 0);
    for (path, bytes) in fuzz_corpus("v2_infer") {
        let Ok(request) = serde_json::from_slice::<InferenceRequest>(&bytes) else {
            continue;
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let outputs = wanted_outputs(&request).map(|o| o.len());
            let rows = rows(&request, 1_000).map_err(|e| (e.status().as_u16(), e.to_string()));
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
