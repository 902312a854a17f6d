//! The wasml host: serves model components (`wit/model.wit`) over REST and the Open
//! Inference Protocol, with metrics, events and hot swap.
//!
//! How a component is compiled, instantiated, limited and called is the runtime's
//! (`wasml-runtime`: engine, cache, instances, pools, deadline and memory cap); this crate
//! is the serving layer on top of it:
//! - [`registry`]: the models served and their versions (active, canary, ready, ...),
//!   each loaded version with its pool, card and counters;
//! - [`serving`]: what serving takes (registry, metrics, events), shared by the API and
//!   the swap pipeline;
//! - [`swap`]: bringing a new version in (background compile, the validation gate) and
//!   its lifecycle (activate, canary, rollback, retire), for the admin API and the
//!   models-directory watcher alike;
//! - [`intake`]: what the host takes as a model: a component, or an ONNX file it packages
//!   on the runner it embeds (and the bundled model, packaged the same way);
//! - [`feedback`]: ground truth for earlier predictions, for live accuracy per version;
//! - [`monitoring`]: what a model's card says about watching it (accuracy margin, input
//!   drift against its training distribution); [`watch`]: acting on live traffic with it
//!   (drift events, shadow traffic, automatic canary analysis);
//! - [`api`]: the REST API (`fn app(state) -> Router`), and the live console at `/ui`
//!   (`api::console`, a page embedded in the binary); every request's W3C trace context
//!   and, with `--otlp-endpoint`, its OpenTelemetry spans (`api::request_span`);
//! - [`grpc`]: the Open Inference Protocol over gRPC on its own listener, with health
//!   checking and reflection, through the same serve path as REST;
//! - [`metrics`]: Prometheus metrics;
//! - [`event_sink`]: structured events, through the collector to files or Elasticsearch;
//! - [`wasi_http`]: serving a plain `wasi:http` component (`--wasi-http`), like `wasmtime serve`;
//! - [`config`], [`server`]: flags, and the server's life (its log and signals come from
//!   `wasml_collector::process`; the accept loop and TLS from `wasml_net`).

pub mod api;
pub mod config;
pub mod event_sink;
pub mod feedback;
pub mod grpc;
pub mod intake;
pub mod metrics;
pub mod monitoring;
pub mod registry;
pub mod server;
pub mod serving;
pub mod swap;
pub mod wasi_http;
pub mod watch;
