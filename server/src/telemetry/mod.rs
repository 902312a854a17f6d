//! The host's OpenTelemetry traces (`wasml-telemetry` exports them): off unless
//! `--otlp-endpoint` (or `OTEL_EXPORTER_OTLP_ENDPOINT`) is given. Then every request is a
//! server span in the caller's trace (W3C `traceparent`/`tracestate`), with child spans
//! for its stages — the admission queue, the call into the model and, inside it, the
//! feature processing and inference the guest timed, and the event write.
//!
//! When it is off, nothing here runs: requests get a trace ID and span ID for their events
//! ([`crate::api::trace_context`]) and no span is built.

pub mod request;

pub use request::RequestSpan;
pub use wasml_telemetry::{Telemetry, TelemetryError};
