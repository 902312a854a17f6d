//! OpenTelemetry traces for wasml's binaries: a tracer exporting in batches over
//! OTLP/HTTP (protobuf) from a thread of its own, to a receiver named by `--otlp-endpoint`
//! (or the standard `OTEL_EXPORTER_OTLP_ENDPOINT`): an OpenTelemetry Collector, Jaeger,
//! Tempo, Elastic APM. The standard variables apply: `OTEL_SERVICE_NAME` (default: the
//! binary's name), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER` and
//! `OTEL_TRACES_SAMPLER_ARG` (default: parent-based, always on), `OTEL_BSP_*` for the
//! batches. What the spans are is each binary's: the host's request spans
//! (`wasml_server::api::request_span`), the collector's ingest spans (`wasml_collector::ingest`).

mod export;
pub mod spans;

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use thiserror::Error;

pub use opentelemetry;
pub use opentelemetry_sdk;
pub use spans::{Clock, remote_span_context};

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

/// The flag that turns traces on, shared by the binaries.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OtlpArgs {
    /// Export OpenTelemetry traces to this OTLP/HTTP receiver's base URL, e.g.
    /// `http://127.0.0.1:4318` (spans go to `/v1/traces`). Off without it;
    /// `OTEL_SERVICE_NAME` and `OTEL_TRACES_SAMPLER[_ARG]` apply.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_name = "URL")]
    pub otlp_endpoint: Option<String>,
}

impl OtlpArgs {
    /// The exporter, as `service`, if an endpoint is given (logged).
    pub fn start(&self, service: &'static str) -> Result<Option<Telemetry>, TelemetryError> {
        let Some(endpoint) = &self.otlp_endpoint else {
            return Ok(None);
        };
        let telemetry = Telemetry::start(endpoint, service)?;
        tracing::info!(%endpoint, "exporting traces (OTLP/HTTP)");
        Ok(Some(telemetry))
    }
}

/// The tracer requests take their spans from, and the provider that exports them.
#[derive(Debug, Clone)]
pub struct Telemetry {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Telemetry {
    /// Exports to the OTLP/HTTP receiver at `endpoint` (its base URL: spans go to
    /// `<endpoint>/v1/traces`, as the standard variable means it), as `service` unless
    /// `OTEL_SERVICE_NAME` says otherwise.
    pub fn start(endpoint: &str, service: &'static str) -> Result<Self, TelemetryError> {
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
            resource = resource.with_service_name(service);
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
