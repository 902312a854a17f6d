//! Replays `fuzz/corpus/component_upload/` (the fuzz target's seeds and finds) on stable:
//! bytes that are no model component are refused with a reason, never a panic or a hang.

use std::panic::{AssertUnwindSafe, catch_unwind};

use wasml_runtime::blocking::block_on;
use wasml_runtime::{ComponentCache, DigestedWasm, InstancePool, ModelComponent, SandboxLimits};
use wasml_test_support::fuzz_corpus;

use crate::common::{engine, scratch_dir};

/// What the admin upload does first with any bytes: compile (through the cache), link,
/// instantiate and ask `info()` (the pool warms its instance that way).
fn load(wasm: &DigestedWasm, cache: &ComponentCache) -> Result<(), String> {
    let (component, _) =
        ModelComponent::load_digested(engine(), wasm.bytes(), wasm.sha256(), cache)
            .map_err(|e| format!("{e:#}"))?;
    block_on(InstancePool::new(
        component.with_limits(SandboxLimits::default()),
        1,
    ))
    .map(|_| ())
    .map_err(|e| format!("{e:#}"))
}

#[test]
fn every_upload_in_the_corpus_is_refused_with_a_reason() {
    let dir = scratch_dir("fuzz-corpus-cache");
    let cache = ComponentCache::new(dir.path());
    // `fuzz_corpus` refuses an empty corpus.
    for (path, bytes) in fuzz_corpus("component_upload") {
        let wasm = DigestedWasm::new(bytes);
        let outcome = catch_unwind(AssertUnwindSafe(|| load(&wasm, &cache)))
            .unwrap_or_else(|_| panic!("{} made the loader panic", path.display()));
        let reason = outcome.expect_err("no corpus input is a model component");
        assert!(!reason.is_empty(), "{}", path.display());
    }
}

#[test]
fn the_bundled_component_loads_the_same_way() {
    let dir = scratch_dir("fuzz-corpus-positive");
    let cache = ComponentCache::new(dir.path());
    let path = wasml_test_support::bundled_component("bank-marketing", "v1");
    let wasm = DigestedWasm::new(std::fs::read(path).unwrap());
    load(&wasm, &cache).expect("the oracle's loader accepts a real model");
}
