//! The collector's ingest protocol (`POST /v1/events`, NDJSON): any bytes give documents
//! or an error naming the line, never a panic; and every document it accepts is a JSON
//! object a sink can parse (an accepted line is acknowledged, so it must be deliverable).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasml_collector::ingest::ndjson::documents;

fuzz_target!(|data: &[u8]| {
    if let Ok(documents) = documents(data) {
        for document in documents {
            let value: serde_json::Value =
                serde_json::from_slice(&document).expect("an accepted line parses");
            assert!(value.is_object(), "an accepted line is an object");
        }
    }
});
