//! The collector's ingest protocol (`POST /v1/events`, NDJSON): any bytes give documents
//! or an error naming the line, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasml_collector::ingest::ndjson::documents;

fuzz_target!(|data: &[u8]| {
    let _ = documents(data);
});
