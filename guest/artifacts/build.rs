//! Builds the runner (`guest/component`, world `runner`) with a nested cargo build, so
//! that `cargo run` and `cargo test` on a fresh clone need no manual step. Only the runner:
//! the hostile and Spin components are for tests (`guest/test-artifacts`), and models are
//! packaged onto the runner, not compiled.

#[path = "nested.rs"]
mod nested;

fn main() {
    let (root, target_dir) = nested::prepare(&["guest/component"]);
    nested::embed_guest(&root, &target_dir, "wasml-guest", "runner.wasm");
}
