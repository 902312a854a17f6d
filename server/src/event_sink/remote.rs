//! Shipping events to a collector process. The writer thread calls [`RemoteCollector::send`]
//! with each burst; it posts chunks and retries transient failures with backoff, so while
//! the collector is away the writer holds one burst and the bounded channel fills (and
//! then counts drops) — requests are never held up. Once shutdown began, retries stop at
//! a deadline and what is left is counted as dropped (`collector_unreachable`). A refused
//! token (401/403) is retried like an unreachable collector: fixing the token loses nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasml_collector::ingest::client::{CollectorClient, CollectorLink};

use crate::metrics::{DropReason, EventCounters};

/// Most events in one request to the collector (well under its 8 MiB body limit).
const CHUNK_EVENTS: usize = 2_000;

/// Retry delays: from the first to the longest.
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A collector process, with the counters its outcomes move.
pub struct RemoteCollector {
    client: CollectorClient,
    url: String,
    finishing: Arc<AtomicBool>,
    drain: Duration,
    counters: EventCounters,
}

impl RemoteCollector {
    /// A sender to the collector `link` names; `finishing` turns on when shutdown begins,
    /// after which retries last at most `drain`.
    pub fn new(
        link: &CollectorLink,
        finishing: Arc<AtomicBool>,
        drain: Duration,
        counters: EventCounters,
    ) -> std::io::Result<Self> {
        let client = CollectorClient::new(link, Duration::from_secs(10))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok(Self {
            client,
            url: link.url.clone(),
            finishing,
            drain,
            counters,
        })
    }

    /// Delivers `burst` (JSON documents), counting each event as written or dropped.
    pub fn send(&self, burst: &[Vec<u8>]) {
        let mut deadline: Option<Instant> = None;
        for chunk in burst.chunks(CHUNK_EVENTS) {
            let mut backoff = MIN_BACKOFF;
            loop {
                let error = match self.client.send(chunk) {
                    Ok(()) => {
                        self.counters.written(chunk.len() as u64);
                        break;
                    }
                    Err(error) => error,
                };
                if !error.is_transient() {
                    tracing::error!(%error, events = chunk.len(), "the collector refused events; dropped");
                    self.counters
                        .dropped(DropReason::Rejected, chunk.len() as u64);
                    break;
                }
                if self.finishing.load(Ordering::Relaxed) {
                    let deadline = *deadline.get_or_insert_with(|| Instant::now() + self.drain);
                    if Instant::now() >= deadline {
                        tracing::error!(%error, url = %self.url, "collector still unreachable at shutdown; events dropped");
                        self.counters
                            .dropped(DropReason::CollectorUnreachable, chunk.len() as u64);
                        break;
                    }
                }
                tracing::warn!(%error, url = %self.url, retry_in = ?backoff, "the collector did not take the events; retrying");
                self.counters.send_retried();
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}
