//! The wasml sandbox runtime: how a model component is compiled, instantiated, called
//! and stopped. No HTTP and no metrics here: the host (`wasml-host`) decides what a
//! request is and what to count; this crate answers "how is a call stopped at 100 ms?"
//! and "what may a model touch?" in one place.
//!
//! - [`engine`]: the one wasmtime `Engine`, its epoch ticker (the deadline's clock) and
//!   low-priority compile threads;
//! - [`cache`]: compiled components cached on disk as `.cwasm`; [`digest`]: a component's
//!   bytes hashed once; [`compile`]: compiling in a child process under time and memory
//!   limits;
//! - [`component`]: a compiled model component, pre-linked and ready to instantiate;
//! - [`instance`]: one sandboxed instance, the calls into its `predictor` export and how a
//!   failed call is classified ([`CallError`]); [`cost`]: what a call cost (time running,
//!   memory high-water mark);
//! - [`limits`]: the CPU deadline and memory cap every store runs under
//!   ([`limits::sandboxed_store`] is the one place a store gets them);
//! - [`host`]: what the host keeps per instance and the host side of the `events` import;
//! - [`pool`]: warm instances shared by concurrent requests, trapped ones replaced;
//!   their calls are futures, run on the caller's task ([`blocking`] runs them from
//!   synchronous code);
//! - [`trial`]: a package tried in the sandbox before the host takes it (ONNX intake);
//! - [`bindings`], [`convert`]: the WIT types and conversions to `wasml-predictor`'s;
//! - [`wasi_http`]: the store of a plain `wasi:http` component (`--wasi-http`): the same
//!   limits, nothing granted, outgoing HTTP denied.

pub mod bindings;
pub mod blocking;
pub mod cache;
pub mod compile;
pub mod component;
pub mod convert;
pub mod cost;
pub mod digest;
pub mod engine;
pub mod host;
pub mod instance;
pub mod limits;
pub mod pool;
pub mod trial;
pub mod wasi_http;

pub use cache::{CacheOutcome, ComponentCache};
pub use component::ModelComponent;
pub use cost::CallCost;
pub use digest::DigestedWasm;
pub use host::GuestEvent;
pub use instance::{CallError, ModelInstance};
pub use limits::SandboxLimits;
pub use pool::{InstancePool, PooledInstance};
