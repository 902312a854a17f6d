//! The wasmtime engine every model component is compiled and run with.

use wasmtime::{Config, Engine, OptLevel};

/// A new engine for model components.
///
/// One engine is shared by all components: compiled code is only valid for the engine
/// (and configuration) that produced it.
pub fn new_engine() -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.cranelift_opt_level(OptLevel::Speed);
    Engine::new(&config)
}
