//! Shared by the runtime's tests: one engine and the bundled components, compiled once per
//! test process (a Cranelift compile of a tract component takes seconds).

use std::sync::OnceLock;

use wasml_runtime::ModelComponent;
use wasml_runtime::bindings::types::Prediction;
use wasml_runtime::engine::new_engine;
use wasml_test_support::ScratchDir;
use wasmtime::Engine;

/// The engine every test shares (compiled code is only valid for the engine that made it).
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| new_engine().unwrap())
}

/// A fresh directory under the target's temp dir, removed with the guard (kept if the
/// test fails).
pub fn scratch_dir(name: &str) -> ScratchDir {
    ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), name)
}

/// The hostile test component (`guest/hostile`), compiled.
pub fn hostile() -> &'static ModelComponent {
    static HOSTILE: OnceLock<ModelComponent> = OnceLock::new();
    HOSTILE.get_or_init(|| compile(wasml_test_artifacts::HOSTILE))
}

fn compile(path: impl AsRef<std::path::Path>) -> ModelComponent {
    ModelComponent::compile(engine(), &std::fs::read(path).unwrap()).unwrap()
}

/// A classifier's probabilities (panics on a regressor's answer).
pub fn probabilities(prediction: &Prediction) -> &[f64] {
    match prediction {
        Prediction::Class(class) => &class.probabilities,
        Prediction::Value(_) => panic!("a regressor's answer"),
    }
}

/// The bundled component for `guest/models/bank-marketing/<version>`, compiled as a
/// whole: the composition `wasml package` writes runs as one component in wasmtime.
pub fn bank_marketing(version: &str) -> &'static ModelComponent {
    static V1: OnceLock<ModelComponent> = OnceLock::new();
    static V2: OnceLock<ModelComponent> = OnceLock::new();
    let cell = match version {
        "v1" => &V1,
        "v2" => &V2,
        other => panic!("no bundled version {other}"),
    };
    cell.get_or_init(|| {
        compile(wasml_test_support::bundled_component(
            "bank-marketing",
            version,
        ))
    })
}
