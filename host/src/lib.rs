//! The wasml host: runs model components (`wit/model.wit`) in wasmtime and serves them
//! over REST.
//!
//! Sandbox and components:
//! - [`engine`]: the one wasmtime `Engine` and its configuration;
//! - [`cache`]: compiled components cached on disk as `.cwasm`;
//! - [`component`]: a compiled model component, pre-linked and ready to instantiate;
//! - [`instance`]: one sandboxed instance and the calls into its `predictor` export;
//! - [`limits`]: the CPU deadline and memory cap every instance runs under;
//! - [`pool`]: warm instances shared by concurrent requests, trapped ones replaced;
//! - [`events`]: the host side of the `events` import (guest logs and timings);
//! - [`convert`]: between the WIT types and `wasml-predictor`'s.
//!
//! Serving:
//! - [`registry`]: the models served and their versions (active, canary, ready, ...),
//!   each loaded version with its pool, card and counters;
//! - [`swap`]: bringing a new version in: background compile, the validation gate;
//! - [`feedback`]: ground truth for earlier predictions, for live accuracy per version;
//! - [`api`]: the REST API (`fn app(state) -> Router`);
//! - [`metrics`]: Prometheus metrics;
//! - [`event_sink`]: structured events, through the collector to files or Elasticsearch;
//! - [`wasi_http`]: serving a plain `wasi:http` component (`--wasi-http`), like `wasmtime serve`;
//! - [`config`], [`server`]: flags, and the server's life (its log and signals come from
//!   `wasml_collector::process`).

pub mod api;
pub mod bindings;
pub mod cache;
pub mod component;
pub mod config;
pub mod convert;
pub mod digest;
pub mod engine;
pub mod event_sink;
pub mod events;
pub mod feedback;
pub mod instance;
pub mod limits;
pub mod metrics;
pub mod pool;
pub mod registry;
pub mod server;
pub mod swap;
pub mod wasi_http;

pub use cache::{CacheOutcome, ComponentCache};
pub use component::ModelComponent;
pub use events::GuestEvent;
pub use instance::{CallError, ModelInstance};
pub use limits::SandboxLimits;
pub use pool::{InstancePool, PooledInstance};
