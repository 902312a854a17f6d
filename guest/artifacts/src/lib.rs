//! The runner component, built from this workspace by `build.rs` and embedded here, so a
//! copied or `cargo install`ed binary (the host, the `wasml` CLI) carries it.
//!
//! ```no_run
//! let runner: &[u8] = wasml_guest_artifacts::RUNNER;
//! # let _ = runner;
//! ```

/// The runner: the tract predictor with no model inside (world `runner` of
/// `wit/model.wit`). `wasml_package::package` turns it and a model's files into a model
/// component.
pub static RUNNER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/runner.wasm"));
