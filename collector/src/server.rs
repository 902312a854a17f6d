//! `wasml-collector serve`: the pipeline (WAL, then Elasticsearch or daily files) behind
//! the HTTP ingest routes, until SIGINT/SIGTERM; then stop accepting, finish requests in
//! flight, give the sink a moment to drain the WAL, and leave the rest for the next start.

use std::sync::Arc;
use std::time::Duration;

use crate::config::ServeArgs;
use crate::ingest::{self, IngestState};
use crate::metrics::CollectorMetrics;
use crate::pipeline::Pipeline;
use crate::sink::Sink;
use crate::sink::elasticsearch::ElasticsearchSink;
use crate::sink::file::FileSink;

/// Runs the collector until a shutdown signal.
pub async fn serve(args: ServeArgs) -> Result<(), Box<dyn std::error::Error>> {
    let wal_dir = args.data_dir.join("wal");
    std::fs::create_dir_all(&wal_dir)
        .map_err(|e| format!("cannot create {}: {e}", wal_dir.display()))?;
    let metrics = CollectorMetrics::new();
    let (sink, sink_name): (Box<dyn Sink>, &'static str) = match args
        .elasticsearch
        .config(args.data_dir.clone())
    {
        Some(config) => {
            tracing::info!(url = %config.url, "delivering to Elasticsearch");
            (
                Box::new(ElasticsearchSink::new(config, metrics.clone())?),
                "elasticsearch",
            )
        }
        None => {
            let dir = args.data_dir.join("events");
            tracing::info!(dir = %dir.display(), "no Elasticsearch URL: delivering to daily files");
            let delivered = crate::wal::checkpoint::read(&wal_dir)?;
            (Box::new(FileSink::open(dir, delivered)?), "files")
        }
    };
    let pipeline = Arc::new(Pipeline::start(
        &wal_dir,
        sink,
        args.pipeline_options(),
        metrics.clone(),
    )?);
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

    let state = IngestState::new(
        Arc::clone(&pipeline),
        registry,
        args.ingest_limits(),
        sink_name,
    );
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    axum::serve(listener, ingest::app(state))
        .with_graceful_shutdown(crate::process::shutdown_signal())
        .await?;

    let drain = Duration::from_secs(args.drain_secs);
    tracing::info!(?drain, "ingest stopped; draining the WAL");
    tokio::task::spawn_blocking(move || match Arc::try_unwrap(pipeline) {
        Ok(pipeline) => pipeline.shutdown(drain),
        Err(pipeline) => drop(pipeline),
    })
    .await?;
    tracing::info!("stopped");
    Ok(())
}
