//! `wasml-collector replay`: ships daily NDJSON files (what the file sink writes) into
//! Elasticsearch through the same sink as live events, so the documents, their `_id`s and
//! the daily indices are the same. Re-running a replay indexes nothing twice: events
//! carry their `event_id`, and `create` answers 409 for those already there.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::ingest::documents;
use crate::metrics::CollectorMetrics;
use crate::sink::elasticsearch::{
    ConfigError, ElasticsearchConfig, ElasticsearchSink, SetupReport,
};
use crate::sink::{Entry, Sink, SinkError};

/// Lines without an `event_id` are given `wal-<n>` IDs from their position in the replay,
/// counted from here, far from any live WAL's numbers.
const FIRST_REPLAY_SEQ: u64 = 1 << 48;

/// Attempts per batch before the replay gives up (it can be re-run: nothing duplicates).
const ATTEMPTS: u32 = 8;

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplayReport {
    /// Events read from the files.
    pub events: u64,
    /// Of those, created in Elasticsearch.
    pub indexed: u64,
    /// Already there (409): shipped before.
    pub already_indexed: u64,
    /// Rejected for good and written to the dead-letter file.
    pub dead_lettered: u64,
    /// Lines that were not JSON objects, skipped: `file:line`.
    pub skipped_lines: Vec<String>,
    /// What the Elasticsearch setup installed (as the collector's `/health` shows it).
    pub setup: Option<SetupReport>,
}

/// Why a replay stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The sink's configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A file cannot be read.
    #[error("cannot read {}: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Elasticsearch kept failing.
    #[error(
        "{error} (after {events} events read; re-run the replay to finish, nothing is duplicated)"
    )]
    Delivery {
        /// The last failure.
        error: SinkError,
        /// Events read before it.
        events: u64,
    },
}

/// Ships `files` into Elasticsearch, `batch_events` at a time.
pub fn replay(
    files: &[PathBuf],
    config: ElasticsearchConfig,
    batch_events: usize,
) -> Result<ReplayReport, ReplayError> {
    let metrics = CollectorMetrics::new();
    let mut sink = ElasticsearchSink::new(config, metrics.clone())?;
    let mut report = ReplayReport::default();
    let mut seq = FIRST_REPLAY_SEQ;
    let mut batch: Vec<Entry> = Vec::with_capacity(batch_events);
    for path in files {
        let read_error = |e: std::io::Error| ReplayError::Read {
            path: path.clone(),
            reason: e.to_string(),
        };
        let reader = BufReader::new(File::open(path).map_err(read_error)?);
        for (index, line) in reader.split(b'\n').enumerate() {
            let line = line.map_err(read_error)?;
            match documents(&line) {
                Ok(mut docs) => {
                    batch.push((seq, docs.remove(0)));
                    seq += 1;
                }
                Err(crate::ingest::IngestError::Empty) => continue,
                Err(_) => {
                    report
                        .skipped_lines
                        .push(format!("{}:{}", display(path), index + 1));
                    continue;
                }
            }
            if batch.len() >= batch_events {
                ship(&mut sink, &mut batch, &mut report)?;
            }
        }
    }
    ship(&mut sink, &mut batch, &mut report)?;
    report.indexed = metrics.indexed.get();
    report.already_indexed = metrics.already_indexed.get();
    report.dead_lettered = metrics.dead_lettered.get();
    report.setup = Some(sink.setup_status().report());
    Ok(report)
}

fn ship(
    sink: &mut ElasticsearchSink,
    batch: &mut Vec<Entry>,
    report: &mut ReplayReport,
) -> Result<(), ReplayError> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut delay = std::time::Duration::from_millis(100);
    for attempt in 1..=ATTEMPTS {
        match sink.deliver(batch) {
            Ok(()) => {
                report.events += batch.len() as u64;
                batch.clear();
                return Ok(());
            }
            Err(error) if attempt == ATTEMPTS => {
                return Err(ReplayError::Delivery {
                    error,
                    events: report.events,
                });
            }
            Err(error) => {
                tracing::warn!(%error, attempt, retry_in = ?delay, "replay batch failed; retrying");
                std::thread::sleep(delay);
                delay = (delay * 2).min(std::time::Duration::from_secs(10));
            }
        }
    }
    unreachable!("the last attempt returns")
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
