//! OpenTelemetry traces: off unless `--otlp-endpoint` (or the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT`) names an OTLP/HTTP receiver (a collector, Jaeger, Tempo,
//! Elastic APM). Then every request is a server span in the caller's trace (W3C
//! `traceparent`/`tracestate`), with child spans for its stages — the admission queue, the
//! call into the model and, inside it, the feature processing and inference the guest
//! timed, and the event write — exported in batches (OTLP/HTTP, protobuf) from a thread of
//! their own. The standard variables apply: `OTEL_SERVICE_NAME` (default `wasml-host`),
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`
//! (default: parent-based, always on), `OTEL_BSP_*` for the batches.
//!
//! When it is off, nothing here runs: requests get a trace ID and span ID for their events
//! ([`crate::api::trace_context`]) and no span is built.

mod export;
pub mod request;

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use thiserror::Error;

pub use request::RequestSpan;

/// The instrumentation scope's name on every span.
const SCOPE: &str = "wasml";

/// Why traces cannot be exported as configured.
#[derive(Debug, Error)]
pub enum TelemetryError {
    /// The endpoint is not a usable URL, or the exporter could not be built.
    #[error("OTLP endpoint {endpoint}: {reason}")]
    Exporter {
        /// The endpoint given.
        endpoint: String,
        /// What failed.
        reason: String,
    },
}

/// The tracer requests take their spans from, and the provider that exports them.
#[derive(Debug, Clone)]
pub struct Telemetry {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Telemetry {
    /// Exports to the OTLP/HTTP receiver at `endpoint` (its base URL: spans go to
    /// `<endpoint>/v1/traces`, as the standard variable means it).
    pub fn start(endpoint: &str) -> Result<Self, TelemetryError> {
        let error = |reason: String| TelemetryError::Exporter {
            endpoint: endpoint.to_owned(),
            reason,
        };
        let traces = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        let client = export::BlockingHttp::new(Duration::from_secs(10)).map_err(&error)?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_endpoint(traces)
            .with_http_client(client)
            .build()
            .map_err(|e| error(e.to_string()))?;
        let mut resource = opentelemetry_sdk::Resource::builder();
        if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
            resource = resource.with_service_name(crate::event_sink::SERVICE);
        }
        let provider = SdkTracerProvider::builder()
            .with_resource(resource.build())
            .with_batch_exporter(exporter)
            .build();
        let tracer = provider.tracer(SCOPE);
        Ok(Self { provider, tracer })
    }

    /// The tracer.
    pub fn tracer(&self) -> &SdkTracer {
        &self.tracer
    }

    /// Exports what is still batched and stops the exporter's thread (blocking: call it
    /// off the async runtime).
    pub fn shutdown(&self) {
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(%error, "spans not exported at shutdown");
        }
    }
}
