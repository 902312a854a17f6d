//! The host's configuration: command-line flags, each with an environment variable.

use crate::api::DEFAULT_BODY_READ_TIMEOUT;
use crate::api::admission::AdmissionLimits;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use wasml_collector::ingest::client::CollectorLink;
pub use wasml_collector::process::LogFormat;
use wasml_collector::secret::Secret;
use wasml_collector::sink::elasticsearch::ElasticsearchArgs;
use wasml_predictor::api::input::{DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_BODY_BYTES};

use crate::event_sink::EventTarget;
use crate::metrics::MonitoringOptions;
use crate::monitoring::drift::DriftThresholds;
use wasml_net::tls::ClientIdentity;
use wasml_runtime::cache::ComponentCache;
use wasml_runtime::compile::ChildCompiler;
use wasml_runtime::limits::SandboxLimits;

/// Serve WebAssembly model components over REST, sandboxed and observable.
///
/// Every flag can also be set through the environment variable shown with it.
#[derive(Debug, Clone, Parser)]
#[command(name = "wasml-host", version, about, long_about = None)]
#[command(group(clap::ArgGroup::new("admin_api").args(["admin_token", "admin_token_file"])))]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "WASML_LISTEN", default_value = "0.0.0.0:5000")]
    pub listen: SocketAddr,

    /// Address of the Open Inference Protocol's gRPC listener (`off`: none).
    #[arg(long, env = "WASML_GRPC_LISTEN", default_value = "0.0.0.0:8001")]
    pub grpc_listen: GrpcListen,

    /// TLS on every listener.
    #[command(flatten)]
    pub tls: wasml_net::tls::TlsArgs,

    /// OpenTelemetry traces: a span per request and its stages.
    #[command(flatten)]
    pub otlp: wasml_telemetry::OtlpArgs,

    /// Serve the admin API (`/admin/...`) on this address only, e.g. `127.0.0.1:5001`, so
    /// it need not share the public port; without it, it is on `--listen`. Needs the admin
    /// API on (`--admin-token` or `--admin-token-file`).
    #[arg(
        long,
        env = "WASML_ADMIN_LISTEN",
        value_name = "ADDRESS",
        requires = "admin_api"
    )]
    pub admin_listen: Option<SocketAddr>,

    /// A model component (`.wasm`) to serve; repeat for several. Without this and
    /// without `--models-dir`, the bundled bank-marketing model (v2) is served.
    #[arg(long = "model", env = "WASML_MODEL", value_delimiter = ',')]
    pub models: Vec<PathBuf>,

    /// A directory of model components: every `*.wasm` in it (or one level below, as
    /// `<name>/<version>.wasm`) is served. Name and version come from each component.
    #[arg(long, env = "WASML_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,

    /// Serve this plain `wasi:http` component instead of model components, as `wasmtime
    /// serve` does: every request goes to its `wasi:http/incoming-handler` (e.g. the Spin
    /// flavour of a model, `guest/spin`). Same sandbox limits, no network.
    #[arg(long, env = "WASML_WASI_HTTP", conflicts_with_all = ["models", "models_dir"])]
    pub wasi_http: Option<PathBuf>,

    /// The model `POST /predict` uses; default: the first one loaded.
    #[arg(long, env = "WASML_DEFAULT_MODEL")]
    pub default_model: Option<String>,

    /// Where compiled components are cached (`.cwasm`), so restarts skip compilation.
    #[arg(long, env = "WASML_CACHE_DIR", default_value = "wasml-data/cache")]
    pub cache_dir: PathBuf,

    /// Wall-clock seconds compiling one component may take (in a child process of
    /// `wasml-host`) before the child is killed and the version fails.
    #[arg(long, env = "WASML_COMPILE_TIMEOUT_SECS", default_value_t = 300)]
    pub compile_timeout_secs: u64,

    /// Memory a compiling child process may allocate, in MiB; past it the compile fails
    /// and the server is untouched.
    #[arg(long, env = "WASML_COMPILE_MEMORY_MIB", default_value_t = 4096)]
    pub compile_memory_mib: u64,

    /// The program compiling components (`<program> compile IN OUT`,
    /// `wasml_runtime::compile`): the binary sets itself; unset (a server built in a test),
    /// components compile in this process.
    #[arg(skip)]
    pub compiler: Option<PathBuf>,

    /// CPU time one call into a model may take before it is interrupted (504).
    #[arg(long, env = "WASML_DEADLINE_MS", default_value_t = 100)]
    pub deadline_ms: u64,

    /// Linear memory one model instance may grow to; past it the call fails (500) and
    /// the instance is replaced.
    #[arg(long, env = "WASML_MEMORY_MIB", default_value_t = 64)]
    pub memory_mib: usize,

    /// Idle instances kept per model at most (one at load, more on demand); default: the
    /// number of CPU cores.
    #[arg(long, env = "WASML_POOL_SIZE")]
    pub pool_size: Option<usize>,

    /// Prediction requests served at once; more wait in the admission queue.
    #[arg(long, env = "WASML_MAX_CONCURRENT", default_value_t = 64)]
    pub max_concurrent: usize,

    /// Seconds an admitted prediction request's body may take to arrive (then 408): a
    /// slow sender may not hold a slot.
    #[arg(long, env = "WASML_BODY_READ_TIMEOUT_SECS", default_value_t = DEFAULT_BODY_READ_TIMEOUT.as_secs())]
    pub body_read_timeout_secs: u64,

    /// Prediction requests waiting for a turn, over all models; past it a request is
    /// refused at once with 503 and `Retry-After` (or takes the place of the oldest
    /// waiter of a model with more waiters).
    #[arg(long, env = "WASML_MAX_QUEUED", default_value_t = 4096)]
    pub max_queued: usize,

    /// The wait in line past which the admission queue counts as overloaded: then the
    /// newest waiter goes first and none that waited longer is served (they time out).
    #[arg(long, env = "WASML_QUEUE_TARGET_MS", default_value_t = 20)]
    pub queue_target_ms: u64,

    /// The longest a request waits for its turn before it is refused with 503.
    #[arg(long, env = "WASML_QUEUE_TIMEOUT_MS", default_value_t = 1000)]
    pub queue_timeout_ms: u64,

    /// Connections open at once; one more is closed as soon as it is accepted.
    #[arg(long, env = "WASML_MAX_CONNECTIONS", default_value_t = 10_000)]
    pub max_connections: usize,

    /// Seconds a request's headers may take to arrive before the connection is closed
    /// (slow or silent clients).
    #[arg(long, env = "WASML_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub header_read_timeout_secs: u64,

    /// Largest request body accepted, in bytes (413 beyond).
    #[arg(long, env = "WASML_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,

    /// Most rows in one batch request (413 beyond).
    #[arg(long, env = "WASML_MAX_BATCH_ROWS", default_value_t = DEFAULT_MAX_BATCH_ROWS)]
    pub max_batch_rows: usize,

    /// Where request events go: a directory of daily NDJSON files (through the embedded
    /// collector's write-ahead log in `<dir>/.wal`), or `-` for stdout. With
    /// `--elasticsearch-url`, the directory holds only the WAL and dead letters.
    #[arg(long, env = "WASML_EVENTS", default_value = "wasml-data/events")]
    pub events: PathBuf,

    /// Send events to a collector process (`wasml-collector serve`) at this URL, e.g.
    /// `http://127.0.0.1:5080`, instead of the embedded collector. While it is
    /// unreachable, events wait in the `--event-buffer` queue (then are dropped and
    /// counted); predictions never wait.
    #[arg(
        long,
        env = "WASML_COLLECTOR_URL",
        value_name = "URL",
        conflicts_with = "url"
    )]
    pub collector_url: Option<String>,

    /// The bearer token the collector process requires (its `--ingest-token`), sent with
    /// every batch of events.
    #[arg(
        long,
        env = "WASML_COLLECTOR_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = Secret::parse,
        requires = "collector_url"
    )]
    pub collector_token: Option<Secret>,

    /// A file holding the collector's token (a Docker or Kubernetes secret), instead of
    /// `--collector-token`.
    #[arg(
        long,
        env = "WASML_COLLECTOR_TOKEN_FILE",
        value_name = "FILE",
        value_parser = Secret::read_file,
        conflicts_with = "collector_token",
        requires = "collector_url"
    )]
    pub collector_token_file: Option<Secret>,

    /// The PEM CA certificate(s) to trust for an `https://` `--collector-url` (the public
    /// web roots without it).
    #[arg(
        long,
        env = "WASML_COLLECTOR_CA",
        value_name = "FILE",
        requires = "collector_url"
    )]
    pub collector_ca: Option<PathBuf>,

    /// A PEM certificate to present to a collector that verifies clients (its
    /// `--tls-client-ca`: mutual TLS); needs `--collector-client-key`.
    #[arg(
        long,
        env = "WASML_COLLECTOR_CLIENT_CERT",
        value_name = "FILE",
        requires_all = ["collector_url", "collector_client_key"]
    )]
    pub collector_client_cert: Option<PathBuf>,

    /// The PEM private key of `--collector-client-cert`.
    #[arg(
        long,
        env = "WASML_COLLECTOR_CLIENT_KEY",
        value_name = "FILE",
        requires = "collector_client_cert"
    )]
    pub collector_client_key: Option<PathBuf>,

    /// Turns the admin API (`/admin/...`: upload, activate, canary, roll back, retire
    /// model versions) on; requests must send `Authorization: Bearer <token>`.
    #[arg(
        long,
        env = "WASML_ADMIN_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = Secret::parse
    )]
    pub admin_token: Option<Secret>,

    /// A file holding the admin token (a Docker or Kubernetes secret), instead of
    /// `--admin-token`.
    #[arg(
        long,
        env = "WASML_ADMIN_TOKEN_FILE",
        value_name = "FILE",
        value_parser = Secret::read_file,
        conflicts_with = "admin_token"
    )]
    pub admin_token_file: Option<Secret>,

    /// How often the models directory is scanned for new `<name>/<version>.wasm` files,
    /// in milliseconds (0: never). A new file goes through the validation gate and is
    /// activated if it passes.
    #[arg(long, env = "WASML_WATCH_INTERVAL_MS", default_value_t = 2000)]
    pub watch_interval_ms: u64,

    /// Seconds an idle instance is kept before it is dropped (0: kept for ever). A model
    /// nobody calls scales to zero instances, costing only its data; its next request
    /// instantiates one again (milliseconds: instantiation and model parse).
    #[arg(long, env = "WASML_IDLE_TIMEOUT_SECS", default_value_t = 300)]
    pub idle_timeout_secs: u64,

    /// PSI from which an input's drift is worth watching (`ml_feature_drift_level` 1, a
    /// warning event).
    #[arg(long, env = "WASML_DRIFT_WATCH", default_value_t = 0.1)]
    pub drift_watch: f64,

    /// PSI from which an input's drift is worth acting on (`ml_feature_drift_level` 2, an
    /// error event, the `FeatureDriftHigh` alert).
    #[arg(long, env = "WASML_DRIFT_ACT", default_value_t = 0.25)]
    pub drift_act: f64,

    /// How far a version's live accuracy may fall below its card's before
    /// `ModelAccuracyBelowCard` fires, unless its card sets `monitoring.accuracy_drop_margin`.
    #[arg(long, env = "WASML_ACCURACY_DROP_MARGIN", default_value_t = 0.03)]
    pub accuracy_drop_margin: f64,

    /// How far a regressor's live mean absolute error may rise above its card's, as a
    /// share of it (0.25: 25 % worse), before `ModelErrorAboveCard` fires, unless its card
    /// sets `monitoring.error_rise_margin`.
    #[arg(long, env = "WASML_ERROR_RISE_MARGIN", default_value_t = 0.25)]
    pub error_rise_margin: f64,

    /// Skip the per-request monitoring work: input-drift counting and the call-cost
    /// histograms (a request's event still carries its cost). For measuring what that
    /// work costs (`cargo bench --bench load`); drift and cost series then stay empty.
    #[arg(long, env = "WASML_NO_MONITORING")]
    pub no_monitoring: bool,

    /// Largest component the admin API accepts, in bytes.
    #[arg(long, env = "WASML_MAX_UPLOAD_BYTES", default_value_t = 128 << 20)]
    pub max_upload_bytes: usize,

    /// Deliver events from the embedded collector to Elasticsearch.
    #[command(flatten)]
    pub elasticsearch: ElasticsearchArgs,

    /// Events buffered between requests and the event writer; past it they are counted
    /// as dropped, never waited for.
    #[arg(long, env = "WASML_EVENT_BUFFER", default_value_t = 65_536)]
    pub event_buffer: usize,

    /// Format of the host's own log (stderr).
    #[arg(long, env = "WASML_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Log filter, in `tracing`'s `RUST_LOG` syntax.
    #[arg(long, env = "WASML_LOG", default_value = "info")]
    pub log: String,
}

impl Config {
    /// Where events go: a remote collector, stdout, or the embedded collector delivering
    /// to Elasticsearch or to daily files.
    pub fn event_target(&self) -> EventTarget {
        if let Some(url) = &self.collector_url {
            return EventTarget::Collector(CollectorLink {
                url: url.clone(),
                token: self
                    .collector_token
                    .clone()
                    .or(self.collector_token_file.clone()),
                ca: self.collector_ca.clone(),
                identity: (self.collector_client_cert.clone())
                    .zip(self.collector_client_key.clone())
                    .map(|(cert, key)| ClientIdentity { cert, key }),
            });
        }
        if self.events.as_os_str() == "-" {
            return EventTarget::Stdout;
        }
        match self.elasticsearch.config(self.events.clone()) {
            Some(config) => EventTarget::Elasticsearch {
                dir: self.events.clone(),
                config: Box::new(config),
            },
            None => EventTarget::Files(self.events.clone()),
        }
    }

    /// The admin token, from `--admin-token` or `--admin-token-file`.
    pub fn admin_token(&self) -> Option<&Secret> {
        self.admin_token.as_ref().or(self.admin_token_file.as_ref())
    }

    /// The compiled-component cache in `--cache-dir`, compiling in a child process when
    /// a compiler program is set.
    pub fn component_cache(&self) -> ComponentCache {
        let cache = ComponentCache::new(&self.cache_dir);
        match &self.compiler {
            Some(program) => cache.with_child_compiler(ChildCompiler {
                program: program.clone(),
                timeout: Duration::from_secs(self.compile_timeout_secs),
                memory_bytes: self.compile_memory_mib << 20,
            }),
            None => cache,
        }
    }

    /// The sandbox limits the flags describe.
    pub fn sandbox_limits(&self) -> SandboxLimits {
        SandboxLimits {
            deadline: Duration::from_millis(self.deadline_ms),
            memory_bytes: self.memory_mib << 20,
        }
    }

    /// How prediction requests are admitted, queued and shed.
    pub fn admission_limits(&self) -> AdmissionLimits {
        AdmissionLimits {
            max_running: self.max_concurrent,
            max_queued: self.max_queued,
            queue_target: Duration::from_millis(self.queue_target_ms),
            queue_timeout: Duration::from_millis(self.queue_timeout_ms),
        }
    }

    /// How serving versions are judged against their cards.
    pub fn monitoring_options(&self) -> MonitoringOptions {
        MonitoringOptions {
            drift: DriftThresholds {
                watch: self.drift_watch,
                act: self.drift_act,
            },
            accuracy_drop_margin: self.accuracy_drop_margin,
            error_rise_margin: self.error_rise_margin,
            per_request: !self.no_monitoring,
        }
    }

    /// Idle instances kept per model at most.
    pub fn pool_size(&self) -> usize {
        self.pool_size.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_the_printed_configuration() {
        let config = Config::parse_from([
            "wasml-host",
            "--admin-token",
            "admin-s3cret",
            "--elasticsearch-url",
            "http://127.0.0.1:9200",
            "--elasticsearch-api-key",
            "es-s3cret",
        ]);
        assert_eq!(config.admin_token().unwrap().expose(), "admin-s3cret");
        let printed = format!("{config:?} {:?}", config.event_target());
        assert!(printed.contains("API key (redacted)"), "{printed}");
        for secret in ["admin-s3cret", "es-s3cret"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}

/// Where the gRPC listener listens, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrpcListen(pub Option<SocketAddr>);

impl std::str::FromStr for GrpcListen {
    type Err = std::net::AddrParseError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value == "off" {
            return Ok(Self(None));
        }
        value.parse().map(|address| Self(Some(address)))
    }
}
