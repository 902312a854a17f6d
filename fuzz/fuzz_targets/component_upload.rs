//! The admin upload path's first step: any bytes handed to the host as a model component
//! are compiled (wasmtime's validation first), instantiated and asked `info()` under the
//! sandbox limits, or refused with an error, never a panic or a hang.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wasml_host::cache::ComponentCache;
use wasml_host::digest::DigestedWasm;
use wasml_host::engine::new_engine;
use wasml_host::limits::SandboxLimits;
use wasml_host::registry::LoadedModel;

struct Loader {
    engine: wasmtime::Engine,
    cache: ComponentCache,
}

fuzz_target!(|data: &[u8]| {
    static LOADER: OnceLock<Loader> = OnceLock::new();
    let loader = LOADER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("wasml-fuzz-cache-{}", std::process::id()));
        Loader {
            engine: new_engine().expect("the host's engine"),
            cache: ComponentCache::new(&dir),
        }
    });
    let wasm = DigestedWasm::new(data.to_vec());
    let _ = LoadedModel::load(
        &loader.engine,
        &wasm,
        "fuzz",
        &loader.cache,
        SandboxLimits::default(),
        1,
    );
});
