//! The `wasml-collector` command line: `serve` (ingest over HTTP, deliver to Elasticsearch
//! or daily files) and `replay` (ship daily files into Elasticsearch). Every flag has a
//! `WASML_*` environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::PipelineOptions;
use crate::ingest::IngestLimits;
use crate::process::LogFormat;
use crate::secret::Secret;
use crate::sink::elasticsearch::ElasticsearchArgs;

/// The wasml log collector: takes structured events over HTTP (NDJSON), makes them
/// durable in a write-ahead log, and delivers each one once to Elasticsearch (or to daily
/// NDJSON files when no Elasticsearch URL is given).
#[derive(Debug, Parser)]
#[command(name = "wasml-collector", version, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Format of the collector's own log (stderr).
    #[arg(long, global = true, env = "WASML_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    /// Log filter, in `tracing`'s `RUST_LOG` syntax.
    #[arg(long, global = true, env = "WASML_LOG", default_value = "info")]
    pub log: String,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Receive events on `POST /v1/events` and deliver them.
    Serve(ServeArgs),
    /// Ship daily NDJSON files (as the file sink writes them) into Elasticsearch.
    /// Idempotent: events already indexed are skipped (409), so a replay can be re-run.
    Replay(ReplayArgs),
    /// GET a health URL and exit 0 on a 2xx answer: the container image's health check
    /// (it has no shell or curl), e.g. `probe http://127.0.0.1:5080/health`.
    Probe {
        /// The URL, `http://` only.
        url: String,
    },
}

/// `serve`'s flags.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "WASML_COLLECTOR_LISTEN", default_value = "127.0.0.1:5080")]
    pub listen: SocketAddr,
    /// Directory for the write-ahead log (`wal/`), the dead-letter file and, without
    /// Elasticsearch, the daily files (`events/`).
    #[arg(
        long,
        env = "WASML_COLLECTOR_DATA_DIR",
        default_value = "wasml-data/collector"
    )]
    pub data_dir: PathBuf,
    /// Largest ingest body, in bytes.
    #[arg(long, env = "WASML_COLLECTOR_MAX_BODY_BYTES", default_value_t = 8 << 20)]
    pub max_body_bytes: usize,
    /// Most ingest requests handled at once (more are answered 503).
    #[arg(long, env = "WASML_COLLECTOR_MAX_IN_FLIGHT", default_value_t = 8)]
    pub max_in_flight_requests: usize,
    /// Milliseconds the shipper waits for a batch to fill before sending a partial one.
    #[arg(long, env = "WASML_COLLECTOR_LINGER_MS", default_value_t = 20)]
    pub linger_ms: u64,
    /// Seconds a shutdown waits for the sink to take what the WAL holds (the rest is
    /// delivered after the next start).
    #[arg(long, env = "WASML_COLLECTOR_DRAIN_SECS", default_value_t = 10)]
    pub drain_secs: u64,
    /// Require `Authorization: Bearer <token>` on `POST /v1/events` (401 without, 403
    /// with another token; the hosts send it with `--collector-token`). Needed to listen on
    /// a non-loopback address, unless `--insecure-ingest`.
    #[arg(
        long,
        env = "WASML_COLLECTOR_INGEST_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN",
        value_parser = Secret::parse
    )]
    pub ingest_token: Option<Secret>,
    /// A file holding the ingest token (a Docker or Kubernetes secret), instead of
    /// `--ingest-token`.
    #[arg(
        long,
        env = "WASML_COLLECTOR_INGEST_TOKEN_FILE",
        value_name = "FILE",
        value_parser = Secret::read_file,
        conflicts_with = "ingest_token"
    )]
    pub ingest_token_file: Option<Secret>,
    /// Accept events from anyone who reaches a non-loopback `--listen` address, without a
    /// token or client certificates: anyone on that network could then write documents
    /// into the indices or fill the WAL. Refused without this flag.
    #[arg(long, env = "WASML_COLLECTOR_INSECURE_INGEST")]
    pub insecure_ingest: bool,
    /// OpenTelemetry traces: a span per ingest request, linked to its events' request
    /// spans.
    #[command(flatten)]
    pub otlp: wasml_telemetry::OtlpArgs,
    /// HTTPS on the ingest listener, and mutual TLS: with `--tls-client-ca`, only
    /// clients presenting a certificate that CA signed get in, which authenticates ingest
    /// as a token does.
    #[command(flatten)]
    pub tls: wasml_net::tls::TlsArgs,
    /// Where and how to deliver to Elasticsearch.
    #[command(flatten)]
    pub elasticsearch: ElasticsearchArgs,
}

impl ServeArgs {
    /// The ingest token, from the flag or its file.
    pub fn ingest_token(&self) -> Option<&Secret> {
        self.ingest_token
            .as_ref()
            .or(self.ingest_token_file.as_ref())
    }

    /// The ingest limits the flags describe.
    pub fn ingest_limits(&self) -> IngestLimits {
        IngestLimits {
            max_body_bytes: self.max_body_bytes,
            max_in_flight: self.max_in_flight_requests,
        }
    }

    /// Pipeline options: with Elasticsearch, a shipper batch fills every bulk request in
    /// flight; the linger is the flag's.
    pub fn pipeline_options(&self) -> PipelineOptions {
        let base = self
            .elasticsearch
            .config(self.data_dir.clone())
            .map_or_else(PipelineOptions::default, |c| c.pipeline_options());
        PipelineOptions {
            linger: Duration::from_millis(self.linger_ms),
            ..base
        }
    }
}

/// `replay`'s flags.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The NDJSON files to ship (e.g. `wasml-data/events/ml-pipeline-*.ndjson`).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Where documents Elasticsearch rejects for good are written (`dead-letter.ndjson`).
    #[arg(long, default_value = ".")]
    pub dead_letter_dir: PathBuf,
    /// Where and how to deliver to Elasticsearch.
    #[command(flatten)]
    pub elasticsearch: ElasticsearchArgs,
}
