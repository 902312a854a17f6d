//! Builds the HTTP runner (`guest/spin`, world `http-runner`) with a nested cargo build.
//! A crate of its own, not a feature of `guest/artifacts`: the host never needs it, and a
//! feature would give the host two builds (with and without it) in one target directory.

#[path = "../artifacts/nested.rs"]
mod nested;

fn main() {
    let (root, target_dir) = nested::prepare(&["guest/spin"]);
    nested::embed_guest(&root, &target_dir, "wasml-spin", "http-runner.wasm");
}
