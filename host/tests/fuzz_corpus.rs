//! Replays `fuzz/corpus/v2_infer/` and `fuzz/corpus/component_upload/` (the fuzz targets'
//! seeds and finds) on stable: V2 bodies become rows or a 4xx, never a panic or an
//! allocation the client sized; uploaded bytes that are no model component are refused
//! with a reason.

use std::panic::{AssertUnwindSafe, catch_unwind};

use wasml_host::api::v2::tensor::{InferenceRequest, rows, wanted_outputs};
use wasml_host::cache::ComponentCache;
use wasml_host::digest::DigestedWasm;
use wasml_host::engine::new_engine;
use wasml_host::limits::SandboxLimits;
use wasml_host::registry::LoadedModel;
use wasml_test_support::fuzz_corpus;

#[test]
fn every_v2_body_in_the_corpus_becomes_rows_or_a_client_error() {
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
        if let (_, Err((status, message))) = outcome {
            assert!(
                (400..500).contains(&status) && !message.is_empty(),
                "{}: {status} {message}",
                path.display()
            );
        }
    }
}

#[test]
fn every_upload_in_the_corpus_is_refused_with_a_reason() {
    let engine = new_engine().unwrap();
    let cache_dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-corpus-cache");
    let cache = ComponentCache::new(&cache_dir);
    for (path, bytes) in fuzz_corpus("component_upload") {
        let wasm = DigestedWasm::new(bytes);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            LoadedModel::load(
                &engine,
                &wasm,
                "corpus",
                &cache,
                SandboxLimits::default(),
                1,
            )
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
        }))
        .unwrap_or_else(|_| panic!("{} made the loader panic", path.display()));
        let reason = outcome.expect_err("no corpus input is a model component");
        assert!(!reason.is_empty(), "{}", path.display());
    }
}
