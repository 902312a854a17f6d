//! The pipeline: submitters → appender (group commit into the WAL) → shipper (WAL → sink).
//!
//! [`Pipeline::submit`] returns once its events are fsync'd in the WAL: that is the
//! acknowledgement. The appender thread takes every submission waiting, appends them as
//! one group and fsyncs once, so many small submissions cost one disk flush. The shipper
//! thread reads the WAL from disk in batches, hands each to the sink until it succeeds
//! (exponential backoff with jitter, forever), and only then moves the WAL's checkpoint.
//! [`gauges`] reads the WAL's state for Prometheus at each scrape.

mod gauges;

use std::collections::VecDeque;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

pub use gauges::WalGauges;

use crate::metrics::CollectorMetrics;
use crate::sink::Sink;
use crate::wal::{Wal, WalReader, WalStats};

/// Batch and group limits.
#[derive(Debug, Clone, Copy)]
pub struct PipelineOptions {
    /// Most events handed to the sink at once.
    pub batch_events: usize,
    /// About the most payload bytes handed to the sink at once.
    pub batch_bytes: usize,
    /// Most events appended in one group commit.
    pub group_events: usize,
    /// How long the shipper waits for a batch to fill before delivering a partial one.
    pub linger: Duration,
    /// WAL segment size.
    pub segment_bytes: u64,
    /// First retry delay after a failed delivery; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest delay between retries.
    pub max_backoff: Duration,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        Self {
            batch_events: 5_000,
            batch_bytes: 5 << 20,
            group_events: 50_000,
            linger: Duration::from_millis(20),
            segment_bytes: crate::wal::SEGMENT_BYTES,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(30),
        }
    }
}

/// What `/health` reports of a pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineStatus {
    /// Events acknowledged and not yet delivered.
    pub pending_events: u64,
    /// Bytes of the WAL's segment files.
    pub wal_bytes: u64,
    /// Seconds since the oldest undelivered event was acknowledged (for events recovered
    /// from an earlier run: since this run opened the WAL); `None` when nothing is pending.
    pub oldest_unshipped_seconds: Option<f64>,
    /// Whether the last delivery attempt succeeded.
    pub sink_up: bool,
    /// Whether both threads still run (they stop only on a WAL I/O error, or at shutdown).
    pub running: bool,
    /// The WAL error that stopped them, if one did.
    pub wal_error: Option<String>,
}

/// Reads a pipeline's status without keeping it alive.
#[derive(Clone)]
pub struct PipelineWatch(Weak<Shared>);

impl PipelineWatch {
    /// The status, or `None` once the pipeline stopped.
    pub fn status(&self) -> Option<PipelineStatus> {
        self.0.upgrade().map(|shared| shared.status())
    }
}

struct Submission {
    payloads: Vec<Vec<u8>>,
    ack: mpsc::Sender<io::Result<(u64, u64)>>,
}

pub(crate) struct Shared {
    wal: Mutex<Wal>,
    /// The last durable sequence number, and a signal when it moves (or on stop).
    durable: Mutex<u64>,
    appended: Condvar,
    stopping: AtomicBool,
    /// The last sequence number of each group commit not yet delivered, and when it was
    /// acknowledged: the front is the oldest unshipped event's group.
    unshipped: Mutex<VecDeque<(u64, SystemTime)>>,
    metrics: CollectorMetrics,
    sink_up: AtomicBool,
    /// The WAL error that stopped the pipeline, if one did.
    failure: Mutex<Option<String>>,
}

/// A running pipeline.
pub struct Pipeline {
    tx: Option<mpsc::Sender<Submission>>,
    shared: Arc<Shared>,
    appender: Option<JoinHandle<()>>,
    shipper: Option<JoinHandle<()>>,
}

impl Pipeline {
    /// Opens the WAL in `wal_dir` and starts delivering to `sink`, beginning with what a
    /// previous run left undelivered. `metrics` are updated as events move.
    pub fn start(
        wal_dir: impl Into<PathBuf>,
        sink: Box<dyn Sink>,
        options: PipelineOptions,
        metrics: CollectorMetrics,
    ) -> io::Result<Self> {
        let wal = Wal::open(wal_dir, options.segment_bytes)?;
        let durable = wal.last_seq();
        let mut unshipped = VecDeque::new();
        if wal.stats().pending_events > 0 {
            unshipped.push_back((durable, SystemTime::now()));
        }
        let shared = Arc::new(Shared {
            wal: Mutex::new(wal),
            durable: Mutex::new(durable),
            appended: Condvar::new(),
            stopping: AtomicBool::new(false),
            unshipped: Mutex::new(unshipped),
            metrics,
            sink_up: AtomicBool::new(true),
            failure: Mutex::new(None),
        });
        let (tx, rx) = mpsc::channel();
        let appender = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("collector-wal".into())
                .spawn(move || append_loop(&shared, &rx, options.group_events))?
        };
        let shipper = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("collector-ship".into())
                .spawn(move || ship_loop(&shared, sink, options))?
        };
        Ok(Self {
            tx: Some(tx),
            shared,
            appender: Some(appender),
            shipper: Some(shipper),
        })
    }

    /// Appends `payloads` (one JSON document each) to the WAL and returns their sequence
    /// numbers once they are durable. An error means none of them was acknowledged.
    pub fn submit(&self, payloads: Vec<Vec<u8>>) -> io::Result<(u64, u64)> {
        let (ack, answer) = mpsc::channel();
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| io::Error::other("the pipeline is shutting down"))?;
        tx.send(Submission { payloads, ack })
            .map_err(|_| io::Error::other("the WAL writer stopped"))?;
        answer
            .recv()
            .map_err(|_| io::Error::other("the WAL writer stopped"))?
    }

    /// Pending events and WAL bytes.
    pub fn wal_stats(&self) -> WalStats {
        self.shared.wal.lock().expect("wal lock").stats()
    }

    /// The pipeline's metrics.
    pub fn metrics(&self) -> &CollectorMetrics {
        &self.shared.metrics
    }

    /// The state `/health` reports.
    pub fn status(&self) -> PipelineStatus {
        self.shared.status()
    }

    /// A handle reading this pipeline's status for as long as it runs (for a `/health`
    /// that does not own the pipeline).
    pub fn watch(&self) -> PipelineWatch {
        PipelineWatch(Arc::downgrade(&self.shared))
    }

    /// A Prometheus collector reading the WAL's state at scrape time:
    /// `wasml_collector_wal_events`, `wasml_collector_wal_bytes` and
    /// `wasml_collector_oldest_unshipped_seconds`.
    pub fn gauges(&self) -> WalGauges {
        WalGauges::new(Arc::downgrade(&self.shared))
    }

    /// Stops accepting events, gives the shipper up to `drain` to deliver what the WAL
    /// holds, and stops. Whatever is left stays in the WAL for the next start.
    pub fn shutdown(mut self, drain: Duration) {
        drop(self.tx.take());
        if let Some(appender) = self.appender.take() {
            let _ = appender.join();
        }
        let deadline = Instant::now() + drain;
        while Instant::now() < deadline && self.wal_stats().pending_events > 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.stop_shipper();
    }

    fn stop_shipper(&mut self) {
        self.shared.stopping.store(true, Ordering::Relaxed);
        self.shared.appended.notify_all();
        if let Some(shipper) = self.shipper.take() {
            let _ = shipper.join();
        }
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(appender) = self.appender.take() {
            let _ = appender.join();
        }
        self.stop_shipper();
    }
}

fn append_loop(shared: &Shared, rx: &mpsc::Receiver<Submission>, group_events: usize) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        let mut events = group[0].payloads.len();
        while events < group_events {
            match rx.try_recv() {
                Ok(next) => {
                    events += next.payloads.len();
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        let payloads: Vec<&[u8]> = group
            .iter()
            .flat_map(|s| s.payloads.iter().map(Vec::as_slice))
            .collect();
        let result = shared.wal.lock().expect("wal lock").append(&payloads);
        match result {
            Ok((first_seq, last_seq)) => {
                shared.metrics.persisted.inc_by(payloads.len() as u64);
                shared
                    .unshipped
                    .lock()
                    .expect("unshipped lock")
                    .push_back((last_seq, SystemTime::now()));
                *shared.durable.lock().expect("durable lock") = last_seq;
                shared.appended.notify_all();
                let mut seq = first_seq;
                for submission in group {
                    let n = submission.payloads.len() as u64;
                    let _ = submission.ack.send(Ok((seq, seq + n - 1)));
                    seq += n;
                }
            }
            Err(error) => {
                tracing::error!(%error, "WAL append failed; nothing of this group is acknowledged");
                shared.fail(&error);
                for submission in group {
                    let _ = submission
                        .ack
                        .send(Err(io::Error::new(error.kind(), error.to_string())));
                }
            }
        }
    }
}

fn ship_loop(shared: &Shared, mut sink: Box<dyn Sink>, options: PipelineOptions) {
    let (dir, delivered) = {
        let wal = shared.wal.lock().expect("wal lock");
        (wal.dir().to_owned(), wal.delivered())
    };
    let mut reader = WalReader::new(dir, delivered);
    loop {
        let durable = {
            let mut durable = shared.durable.lock().expect("durable lock");
            while *durable <= reader.position() && !shared.stopping.load(Ordering::Relaxed) {
                durable = shared.appended.wait(durable).expect("durable lock");
            }
            *durable
        };
        if durable <= reader.position() {
            return; // stopping, nothing left
        }
        let waiting = durable - reader.position();
        let durable =
            if waiting < options.batch_events as u64 && !shared.stopping.load(Ordering::Relaxed) {
                // Let a partial batch fill for up to the linger time: fewer, larger writes.
                let guard = shared.durable.lock().expect("durable lock");
                let (guard, _) = shared
                    .appended
                    .wait_timeout_while(guard, options.linger, |d| {
                        *d - reader.position() < options.batch_events as u64
                            && !shared.stopping.load(Ordering::Relaxed)
                    })
                    .expect("durable lock");
                *guard
            } else {
                durable
            };
        let batch = match reader.next_batch(durable, options.batch_events, options.batch_bytes) {
            Ok(batch) => batch,
            Err(error) => {
                tracing::error!(%error, "reading the WAL failed; the shipper stops");
                shared.fail(&error);
                return;
            }
        };
        let Some(&(last, _)) = batch.last() else {
            continue;
        };
        let mut backoff = options.min_backoff;
        loop {
            match sink.deliver(&batch) {
                Ok(()) => {
                    shared.set_sink_up(true);
                    break;
                }
                Err(error) => {
                    shared.set_sink_up(false);
                    shared.metrics.delivery_failures.inc();
                    tracing::warn!(%error, retry_in = ?backoff, "delivery failed; retrying");
                    if shared.stopping.load(Ordering::Relaxed) {
                        return; // the WAL keeps the batch for the next start
                    }
                    std::thread::sleep(jitter(backoff));
                    backoff = (backoff * 2).min(options.max_backoff);
                }
            }
        }
        shared.metrics.delivered.inc_by(batch.len() as u64);
        if let Err(error) = shared.wal.lock().expect("wal lock").delivered_through(last) {
            tracing::error!(%error, "could not move the WAL checkpoint; events may be redelivered");
        }
        let mut unshipped = shared.unshipped.lock().expect("unshipped lock");
        while unshipped
            .front()
            .is_some_and(|(group_last, _)| *group_last <= last)
        {
            unshipped.pop_front();
        }
    }
}

impl Shared {
    fn set_sink_up(&self, up: bool) {
        self.sink_up.store(up, Ordering::Relaxed);
        self.metrics.set_sink_up(up);
    }

    /// Records a WAL error: health turns red (until a restart) and the metric names its
    /// kind. Each refused request's answer names the error too.
    fn fail(&self, error: &io::Error) {
        let kind = format!("{:?}", error.kind());
        self.metrics.wal_failure.with_label_values(&[&kind]).set(1);
        *self.failure.lock().expect("failure lock") = Some(error.to_string());
    }

    pub(crate) fn status(&self) -> PipelineStatus {
        let failure = self.failure.lock().expect("failure lock").clone();
        let stats = self.wal.lock().expect("wal lock").stats();
        let oldest = self
            .unshipped
            .lock()
            .expect("unshipped lock")
            .front()
            .map(|(_, since)| since.elapsed().unwrap_or_default().as_secs_f64());
        PipelineStatus {
            pending_events: stats.pending_events,
            wal_bytes: stats.bytes,
            oldest_unshipped_seconds: oldest.filter(|_| stats.pending_events > 0),
            sink_up: self.sink_up.load(Ordering::Relaxed),
            running: failure.is_none(),
            wal_error: failure,
        }
    }
}

/// `delay` scaled by a factor in [0.5, 1.5), so retrying clients do not move in step.
fn jitter(delay: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let unit = (nanos.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64;
    delay.mul_f64(0.5 + unit)
}

impl Pipeline {
    /// The embedded default: a WAL in `<dir>/.wal` delivering into daily NDJSON files in
    /// `dir`, resuming whatever a previous run left undelivered.
    pub fn to_files(
        dir: &std::path::Path,
        options: PipelineOptions,
        metrics: CollectorMetrics,
    ) -> io::Result<Self> {
        let wal_dir = dir.join(".wal");
        std::fs::create_dir_all(&wal_dir)?;
        let delivered = crate::wal::checkpoint::read(&wal_dir)?;
        let sink = crate::sink::file::FileSink::open(dir, delivered)?;
        Self::start(wal_dir, Box::new(sink), options, metrics)
    }
}
