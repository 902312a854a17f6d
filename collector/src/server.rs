//! `wasml-collector serve`: the pipeline (WAL, then Elasticsearch or daily files) behind
//! the HTTP(S) ingest routes, until SIGINT/SIGTERM; then stop accepting, finish requests in
//! flight, give the sink a moment to drain the WAL, and leave the rest for the next start.
//! The listener is the host's accept loop (`wasml_net`): bounded connections, a header
//! timeout, and TLS — optionally mutual — when `--tls-cert` is given.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use wasml_net::connections::{ConnectionEvents, ConnectionLimits, Speaks};
use wasml_net::tls::TlsError;

use crate::config::ServeArgs;
use crate::ingest::{self, IngestState};
use crate::metrics::CollectorMetrics;
use crate::pipeline::Pipeline;
use crate::secret::BearerToken;
use crate::sink::Sink;
use crate::sink::elasticsearch::{ConfigError, ElasticsearchSink};
use crate::sink::file::FileSink;

/// Connections open at once on the ingest listener (a collector serves a few hosts).
const MAX_CONNECTIONS: usize = 1024;
/// Time a request's headers (and a TLS handshake) may take.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the collector could not start or stopped with an error.
#[derive(Debug, Error)]
pub enum ServeError {
    /// The data directory (WAL, checkpoint, daily files) is not usable.
    #[error("cannot use the data directory {path}: {source}")]
    DataDir {
        /// The directory or file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The Elasticsearch settings are not usable.
    #[error(transparent)]
    Elasticsearch(#[from] ConfigError),
    /// The pipeline (WAL) could not start.
    #[error("starting the pipeline: {0}")]
    Pipeline(io::Error),
    /// The metrics could not be registered (a name registered twice).
    #[error("registering metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The listen address is not available.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: io::Error,
    },
    /// The TLS files (`--tls-cert`, `--tls-key`, `--tls-client-ca`) are not usable.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// The OpenTelemetry exporter (`--otlp-endpoint`) cannot be built.
    #[error("traces: {0}")]
    Telemetry(#[from] wasml_telemetry::TelemetryError),
    /// The drain at shutdown was lost.
    #[error("draining the WAL: {0}")]
    Drain(#[from] tokio::task::JoinError),
    /// Asked to accept events from the network without authentication.
    #[error(
        "refusing unauthenticated ingest on {0}, which is not a loopback address: give \
         --ingest-token or --ingest-token-file (the hosts send it with --collector-token), or \
         --tls-client-ca to accept only hosts with a client certificate, or \
         --insecure-ingest to accept events from anyone who reaches the port"
    )]
    UnauthenticatedIngest(SocketAddr),
}

/// Runs the collector until a shutdown signal.
pub async fn serve(args: ServeArgs) -> Result<(), ServeError> {
    let token = args.ingest_token().map(|t| BearerToken::new(t.expose()));
    let tls = args.tls.load()?;
    let clients_verified = tls.as_ref().is_some_and(|tls| tls.verifies_clients());
    let authenticated = token.is_some() || clients_verified;
    if !authenticated && !args.listen.ip().is_loopback() && !args.insecure_ingest {
        return Err(ServeError::UnauthenticatedIngest(args.listen));
    }
    let wal_dir = args.data_dir.join("wal");
    let data_dir = |path: &PathBuf| {
        let path = path.clone();
        move |source| ServeError::DataDir { path, source }
    };
    std::fs::create_dir_all(&wal_dir).map_err(data_dir(&wal_dir))?;
    let metrics = CollectorMetrics::new();
    let mut setup = None;
    let (sink, sink_name): (Box<dyn Sink>, &'static str) = match args
        .elasticsearch
        .config(args.data_dir.clone())
    {
        Some(config) => {
            tracing::info!(url = %config.url, target = ?config.target, "delivering to Elasticsearch");
            let sink = ElasticsearchSink::new(config, metrics.clone())?;
            setup = Some(sink.setup_status());
            (Box::new(sink), "elasticsearch")
        }
        None => {
            let dir = args.data_dir.join("events");
            tracing::info!(dir = %dir.display(), "no Elasticsearch URL: delivering to daily files");
            let delivered = crate::wal::checkpoint::read(&wal_dir).map_err(data_dir(&wal_dir))?;
            let sink = FileSink::open(dir.clone(), delivered).map_err(data_dir(&dir))?;
            (Box::new(sink), "files")
        }
    };
    let pipeline = Arc::new(
        Pipeline::start(&wal_dir, sink, args.pipeline_options(), metrics.clone())
            .map_err(ServeError::Pipeline)?,
    );
    let recovered = pipeline.status().pending_events;
    if recovered > 0 {
        tracing::info!(
            events = recovered,
            "delivering events a previous run left in the WAL"
        );
    }
    let registry = prometheus::Registry::new();
    metrics.register(&registry)?;
    registry.register(Box::new(pipeline.gauges()))?;

    let mut state = IngestState::new(
        Arc::clone(&pipeline),
        registry,
        args.ingest_limits(),
        sink_name,
    );
    if let Some(setup) = setup {
        state = state.with_setup(setup);
    }
    if clients_verified {
        tracing::info!("ingest requires a client certificate (mutual TLS)");
    }
    let telemetry = args.otlp.start("wasml-collector")?;
    if let Some(telemetry) = &telemetry {
        state = state.with_telemetry(telemetry.clone());
    }
    match token {
        Some(token) => {
            tracing::info!("ingest requires the bearer token");
            state = state.with_token(token);
        }
        None if args.insecure_ingest && !clients_verified => {
            tracing::warn!(address = %args.listen, "ingest is unauthenticated (--insecure-ingest)");
        }
        None => {}
    }
    let listen_error = |source| ServeError::Listen {
        address: args.listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(listen_error)?;
    let address = listener.local_addr().map_err(listen_error)?;
    let _reloader = tls.as_ref().map(|tls| tls.watch_files());
    let shutdown = crate::process::shutdown_signal();
    tracing::info!(%address, tls = tls.is_some(), "listening");
    let limits = ConnectionLimits {
        max_open: MAX_CONNECTIONS,
        header_read_timeout: HEADER_READ_TIMEOUT,
        speaks: Speaks::Http1,
    };
    wasml_net::connections::serve(
        listener,
        ingest::app(state),
        limits,
        tls.map(|tls| tls.acceptor(&[b"http/1.1"])),
        Arc::new(metrics.clone()) as Arc<dyn ConnectionEvents>,
        shutdown,
    )
    .await;

    let drain = Duration::from_secs(args.drain_secs);
    tracing::info!(?drain, "ingest stopped; draining the WAL");
    tokio::task::spawn_blocking(move || {
        match Arc::try_unwrap(pipeline) {
            Ok(pipeline) => pipeline.shutdown(drain),
            Err(pipeline) => drop(pipeline),
        }
        if let Some(telemetry) = telemetry {
            telemetry.shutdown();
        }
    })
    .await?;
    tracing::info!("stopped");
    Ok(())
}
