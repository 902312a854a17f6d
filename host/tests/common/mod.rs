//! Shared by the host's integration tests: the bundled components, compiled once per test
//! binary (a Cranelift compile of a tract component takes seconds).

use std::sync::OnceLock;

use wasml_host::ModelComponent;
use wasml_host::engine::new_engine;

/// The bundled component for `guest/models/bank-marketing/<version>`, compiled.
pub fn bank_marketing(version: &str) -> &'static ModelComponent {
    static V1: OnceLock<ModelComponent> = OnceLock::new();
    static V2: OnceLock<ModelComponent> = OnceLock::new();
    let cell = match version {
        "v1" => &V1,
        "v2" => &V2,
        other => panic!("no bundled version {other}"),
    };
    cell.get_or_init(|| {
        let path = wasml_guest_artifacts::component("bank-marketing", version);
        let wasm = std::fs::read(path).unwrap();
        ModelComponent::compile(&new_engine().unwrap(), &wasm).unwrap()
    })
}
