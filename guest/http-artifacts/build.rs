//! Builds the HTTP runner (`guest/spin`, world `http-runner`) with a nested cargo build.
//! A crate of its own, not a feature of `guest/artifacts`: the host never needs it, and a
//! feature would give the host two builds (with and without it) in one target directory.

#[path = "../artifacts/nested.rs"]
mod nested;

use std::path::PathBuf;

fn main() {
    let (root, target_dir) = nested::dirs();
    nested::watch(
        &root,
        &[
            "wit",
            "guest/spin",
            "guest/predictor/src",
            "vendor",
            "Cargo.lock",
        ],
    );
    nested::ensure_wasm_target(&root);
    let runner = nested::build_guest(&root, &target_dir, "wasml-spin", None);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    std::fs::copy(runner, out_dir.join("http-runner.wasm")).unwrap();
}
