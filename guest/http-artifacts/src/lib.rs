//! The HTTP runner component, built from this workspace by `build.rs` and embedded here,
//! so the `wasml` CLI packages models for Spin without a Rust toolchain.
//!
//! ```no_run
//! let runner: &[u8] = wasml_http_artifacts::HTTP_RUNNER;
//! # let _ = runner;
//! ```

/// The HTTP runner: the tract predictor behind `wasi:http/incoming-handler`, with no model
/// inside (world `http-runner` of `wit/model.wit`). `wasml package --world http` composes
/// it with a model's data into a component Spin, `wasmtime serve` and `wasml-host
/// --wasi-http` run.
pub static HTTP_RUNNER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/http-runner.wasm"));
