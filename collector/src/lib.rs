//! The wasml log collector: takes the host's structured events and delivers each one
//! exactly once, as far as its sink can tell, to Elasticsearch or daily NDJSON files.
//!
//! - [`wal`]: the write-ahead log every acknowledged event is fsync'd into first, and the
//!   buffer the sink reads from;
//! - [`pipeline`]: group commit into the WAL, and the shipper from the WAL to a sink;
//! - [`sink`]: destinations; [`sink::file`] writes daily NDJSON files exactly once,
//!   [`sink::elasticsearch`] bulk-indexes with `create` and stable IDs.
//!
//! Still to come (issue #4): HTTP ingest, the `collector` binary (`replay`, `/health`,
//! `/metrics`), the index template and ILM policy, TLS and credentials.

pub mod config;
pub mod ingest;
pub mod metrics;
pub mod pipeline;
pub mod process;
pub mod replay;
pub mod server;
pub mod sink;
pub mod wal;

pub use metrics::CollectorMetrics;
pub use pipeline::{Pipeline, PipelineOptions, PipelineStatus};
