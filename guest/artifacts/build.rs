//! Builds the runner (`guest/component`, world `runner`) with a nested cargo build, so
//! that `cargo run` and `cargo test` on a fresh clone need no manual step. Only the runner:
//! the hostile and Spin components are for tests (`guest/test-artifacts`), and models are
//! packaged onto the runner, not compiled.

#[path = "nested.rs"]
mod nested;

use std::path::PathBuf;

fn main() {
    let (root, target_dir) = nested::dirs();
    nested::watch(
        &root,
        &[
            "wit",
            "guest/component",
            "guest/predictor/src",
            "vendor",
            "Cargo.lock",
        ],
    );
    nested::ensure_wasm_target(&root);
    let runner = nested::build_guest(&root, &target_dir, "wasml-guest", None);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::copy(runner, out_dir.join("runner.wasm")).unwrap();
}
