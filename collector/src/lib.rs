//! The wasml log collector: takes the host's structured events and delivers each one
//! exactly once, as far as its sink can tell, to Elasticsearch or daily NDJSON files.
//!
//! - [`wal`]: the write-ahead log every acknowledged event is fsync'd into first, and the
//!   buffer the sink reads from;
//! - [`pipeline`]: group commit into the WAL, and the shipper from the WAL to a sink;
//! - [`sink`]: destinations; [`sink::file`] writes daily NDJSON files exactly once,
//!   [`sink::elasticsearch`] bulk-indexes with `create` and stable IDs;
//! - [`ingest`]: the HTTP front door (`POST /v1/events`, `/health`, `/metrics`) and the
//!   client the host sends with;
//! - [`metrics`]: the `wasml_collector_*` Prometheus series;
//! - [`replay`]: daily files into Elasticsearch;
//! - [`probe`]: the images' health check, `probe <url>`, for both binaries;
//! - [`config`], [`server`], [`process`]: the `wasml-collector` binary (the host embeds the
//!   pipeline and shares [`process`]).

pub mod config;
pub mod ingest;
pub mod metrics;
pub mod pipeline;
pub mod probe;
pub mod process;
pub mod replay;
pub mod secret;
pub mod server;
pub mod sink;
pub mod wal;

pub use metrics::CollectorMetrics;
pub use pipeline::{Pipeline, PipelineOptions, PipelineStatus, PipelineWatch};
