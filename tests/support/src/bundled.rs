//! The bundled model versions as packaged components, for tests that serve a `.wasm` file:
//! `guest/models/<model>/<version>` packaged on an embedded runner exactly as `wasml
//! package` does, written once per runner to the temporary directory.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use wasml_predictor::model_dir::bundled;

/// The path of `guest/models/<model>/<version>` packaged on the runner (a `&str`, as the
/// paths of `wasml_test_artifacts` are).
///
/// # Panics
/// If the model directory is missing or packaging fails.
pub fn bundled_component(model: &str, version: &str) -> &'static str {
    packaged(model, version, wasml_guest_artifacts::RUNNER)
}

/// The path of `guest/models/<model>/<version>` packaged on the HTTP runner, as `wasml
/// package --world http` does: the `wasi:http` component Spin runs.
///
/// # Panics
/// If the model directory is missing or packaging fails.
pub fn bundled_http_component(model: &str, version: &str) -> &'static str {
    packaged(model, version, wasml_http_artifacts::HTTP_RUNNER)
}

fn packaged(model: &str, version: &str, runner: &[u8]) -> &'static str {
    // Packaged once per process; across processes the rename is atomic.
    static PACKAGED: LazyLock<Mutex<HashMap<String, &'static str>>> = LazyLock::new(Mutex::default);
    let dir = bundled(model, version);
    let onnx = dir.onnx().expect("bundled ONNX");
    let card = dir.card_json().expect("bundled card");
    let digest = wasml_package::sha256_hex(&[runner, &onnx, card.as_bytes()].concat());
    let mut known = PACKAGED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = known.get(&digest) {
        return path;
    }
    let path = std::env::temp_dir().join(format!("wasml-{model}-{version}-{}.wasm", &digest[..16]));
    if !path.exists() {
        let wasm = wasml_package::package(runner, &onnx, &card).expect("packaging a bundled model");
        let partial = path.with_extension(format!("partial-{}", std::process::id()));
        std::fs::write(&partial, wasm).expect("writing the package");
        std::fs::rename(&partial, &path).expect("renaming the package");
    }
    let path: &'static str = Box::leak(path.display().to_string().into_boxed_str());
    known.insert(digest, path);
    path
}
