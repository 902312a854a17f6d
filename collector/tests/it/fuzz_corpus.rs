//! Replays `fuzz/corpus/collector_ingest/` (the fuzz target's seeds and finds) on stable:
//! every ingest body splits into documents or is refused naming a line, without a panic.

use std::panic::{AssertUnwindSafe, catch_unwind};

use wasml_collector::ingest::error::IngestError;
use wasml_collector::ingest::ndjson::documents;
use wasml_test_support::fuzz_corpus;

#[test]
fn every_ingest_body_in_the_corpus_splits_or_is_refused_naming_the_line() {
    let (mut accepted, mut refused) = (0, 0);
    for (path, bytes) in fuzz_corpus("collector_ingest") {
        let outcome = catch_unwind(AssertUnwindSafe(|| documents(&bytes)))
            .unwrap_or_else(|_| panic!("{} made the decoder panic", path.display()));
        match outcome {
            Ok(documents) => {
                for document in documents {
                    let value: serde_json::Value = serde_json::from_slice(&document).unwrap();
                    assert!(value.is_object(), "{}", path.display());
                }
                accepted += 1;
            }
            Err(IngestError::Malformed { line, .. }) => {
                assert!(line > 0, "{}", path.display());
                refused += 1;
            }
            Err(IngestError::Empty) => refused += 1,
            Err(other) => panic!("{}: unexpected {other:?}", path.display()),
        }
    }
    // Both oracles must have had something to judge.
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}
