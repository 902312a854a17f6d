//! The runtime's tests, one binary: the bundled and hostile components are compiled once
//! for all of them (`common`).

mod cache;
mod common;
mod engine;
mod fuzz_corpus;
mod model_component;
mod pool;
mod sandbox;
