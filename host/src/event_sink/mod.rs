//! The stream of structured events leaving the host: every request's event and what model
//! components reported, in order, towards a sink.
//!
//! Requests never wait for the sink: [`EventSender::send`] puts an event into a bounded
//! channel or, when it is full, counts it as dropped. A writer thread drains the channel
//! into the embedded collector (`wasml-collector`: fsync'd write-ahead log, then daily
//! NDJSON files `ml-pipeline-YYYY.MM.DD.ndjson`, exactly once) or onto stdout; on shutdown
//! [`EventWriter::finish`] makes everything queued durable before returning.

mod event;
mod writer;

use std::path::PathBuf;

use prometheus::IntCounterVec;
use tokio::sync::mpsc;

pub use event::{Event, SERVICE};
pub use writer::EventWriter;

/// Where events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTarget {
    /// One JSON object per line on stdout.
    Stdout,
    /// Daily NDJSON files in this directory.
    Directory(PathBuf),
}

impl From<PathBuf> for EventTarget {
    /// `-` means stdout; anything else a directory.
    fn from(path: PathBuf) -> Self {
        if path.as_os_str() == "-" {
            Self::Stdout
        } else {
            Self::Directory(path)
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
    dropped: IntCounterVec,
}

impl EventSender {
    /// Queues `event` without waiting; counts it as dropped if the queue is full.
    pub fn send(&self, event: Event) {
        let reason = match self.tx.try_send(Message::Event(Box::new(event))) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(_)) => "buffer_full",
            Err(mpsc::error::TrySendError::Closed(_)) => "closed",
        };
        self.dropped.with_label_values(&[reason]).inc();
    }
}
