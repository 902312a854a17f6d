//! The admin upload path's first step: any bytes handed to the host as a model component
//! are compiled (wasmtime's validation first), instantiated and asked `info()` under the
//! sandbox limits, or refused with an error, never a panic or a hang. Only the runtime is
//! involved: this is `wasml-runtime`'s loading path, without the host's registry.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wasml_runtime::engine::new_engine;
use wasml_runtime::{ComponentCache, DigestedWasm, InstancePool, ModelComponent, SandboxLimits};

struct Loader {
    engine: wasmtime::Engine,
    cache: ComponentCache,
}

fuzz_target!(|data: &[u8]| {
    static LOADER: OnceLock<Loader> = OnceLock::new();
    let loader = LOADER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("wasml-fuzz-cache-{}", std::process::id()));
        Loader {
            engine: new_engine().expect("the runtime's engine"),
            cache: ComponentCache::new(&dir),
        }
    });
    let wasm = DigestedWasm::new(data.to_vec());
    let loaded =
        ModelComponent::load_digested(&loader.engine, wasm.bytes(), wasm.sha256(), &loader.cache);
    if let Ok((component, _)) = loaded {
        // Warming the pool's one instance instantiates it and calls info().
        let _ = InstancePool::new(component.with_limits(SandboxLimits::default()), 1);
    }
});
