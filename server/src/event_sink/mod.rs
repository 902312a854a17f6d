//! The stream of structured events leaving the host: every request's event and what model
//! components reported, in order, towards a sink.
//!
//! Requests never wait for the sink: [`EventSender::send`] puts an event into a bounded
//! channel or, when it is full, counts it as dropped. A writer thread drains the channel
//! into one [`EventTarget`]: the embedded collector (`wasml-collector`'s pipeline: an
//! fsync'd write-ahead log, then daily NDJSON files or Elasticsearch), a remote collector
//! over HTTP, or stdout. On shutdown [`EventWriter::finish`] makes everything queued
//! durable (or hands it to the remote collector) before returning.

mod event;
mod remote;
mod status;
mod tail;
mod writer;

use std::path::PathBuf;

use tokio::sync::mpsc;
use wasml_collector::sink::elasticsearch::ElasticsearchConfig;

use crate::metrics::{DropReason, EventCounters};

pub use event::{Event, SERVICE};
pub use status::EventsHealth;
use status::EventsStatus;
pub use tail::EventTail;
pub use writer::EventWriter;

/// Where events go.
#[derive(Debug, Clone)]
pub enum EventTarget {
    /// One JSON object per line on stdout.
    Stdout,
    /// The embedded collector, into daily NDJSON files in this directory (WAL in `.wal`).
    Files(PathBuf),
    /// The embedded collector, into Elasticsearch; WAL and dead letters in `dir`.
    Elasticsearch {
        /// Directory of the WAL (`.wal`) and the dead-letter file.
        dir: PathBuf,
        /// How to reach Elasticsearch (boxed: it is large next to the other targets).
        config: Box<ElasticsearchConfig>,
    },
    /// A collector process (`POST /v1/events`), over HTTP or HTTPS.
    Collector(wasml_collector::ingest::client::CollectorLink),
}

impl From<PathBuf> for EventTarget {
    /// `-` means stdout; anything else a directory of daily files.
    fn from(path: PathBuf) -> Self {
        if path.as_os_str() == "-" {
            Self::Stdout
        } else {
            Self::Files(path)
        }
    }
}

/// What travels to the writer.
enum Message {
    Event(Box<Event>),
    /// Write what is queued, then stop.
    Finish,
}

/// The sending half, cloned into every request handler.
#[derive(Clone)]
pub struct EventSender {
    tx: mpsc::Sender<Message>,
    counters: EventCounters,
    status: std::sync::Arc<EventsStatus>,
    tail: std::sync::Arc<EventTail>,
}

impl EventSender {
    /// Queues `event` without waiting; counts it as dropped if the queue is full.
    pub fn send(&self, event: Event) {
        let reason = match self.tx.try_send(Message::Event(Box::new(event))) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(_)) => DropReason::BufferFull,
            Err(mpsc::error::TrySendError::Closed(_)) => DropReason::Closed,
        };
        self.counters.dropped(reason, 1);
    }

    /// Where events go and how that is going, for `/health`.
    pub fn health(&self) -> EventsHealth {
        self.status.health()
    }

    /// The last events written, for the console's live tail.
    pub fn tail(&self) -> &EventTail {
        &self.tail
    }
}
