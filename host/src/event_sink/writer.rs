//! The writer thread: drains the event channel a burst at a time into the embedded
//! collector (its write-ahead log, then daily NDJSON files) or onto stdout.

use std::io::{self, Write};
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus::{IntCounter, IntCounterVec};
use tokio::sync::mpsc;
use wasml_collector::{Pipeline, PipelineOptions};

use super::{Event, EventSender, EventTarget, Message};

/// Most events handed to the collector in one submission (one fsync).
const MAX_BURST: usize = 10_000;

/// How long the writer lets events gather after the first of a burst: one fsync for many
/// events instead of one per request at low rates.
const LINGER: Duration = Duration::from_millis(5);

/// How long shutdown waits for the collector to write what its WAL holds into the files;
/// anything left stays in the WAL and is written at the next start.
const DRAIN: Duration = Duration::from_secs(10);

/// The running writer; [`EventWriter::finish`] flushes it and waits for it.
pub struct EventWriter {
    tx: mpsc::Sender<Message>,
    thread: JoinHandle<()>,
}

impl EventWriter {
    /// Starts a writer for `target` with room for `capacity` queued events. `written`
    /// counts events made durable (or printed), `dropped` those lost (by reason).
    pub fn start(
        target: EventTarget,
        capacity: usize,
        written: IntCounter,
        dropped: IntCounterVec,
    ) -> io::Result<(EventSender, Self)> {
        let output = match target {
            EventTarget::Stdout => Output::Stdout,
            EventTarget::Directory(dir) => Output::Collector(Pipeline::to_files(
                &dir,
                PipelineOptions::default(),
                wasml_collector::CollectorMetrics::new(),
            )?),
        };
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let sender = EventSender {
            tx: tx.clone(),
            dropped: dropped.clone(),
        };
        let mut writer = Writer {
            output: Some(output),
            written,
            dropped,
        };
        let thread = std::thread::Builder::new()
            .name("wasml-events".into())
            .spawn(move || writer.run(rx))?;
        Ok((sender, Self { tx, thread }))
    }

    /// Makes every event queued so far durable and written, then stops the writer.
    /// Events sent afterwards are counted as dropped (`closed`).
    pub async fn finish(self) {
        if self.tx.send(Message::Finish).await.is_ok() {
            let _ = tokio::task::spawn_blocking(move || self.thread.join()).await;
        }
    }
}

enum Output {
    Stdout,
    Collector(Pipeline),
}

struct Writer {
    output: Option<Output>,
    written: IntCounter,
    dropped: IntCounterVec,
}

impl Writer {
    fn run(&mut self, mut rx: mpsc::Receiver<Message>) {
        let mut finishing = false;
        while let Some(first) = rx.blocking_recv() {
            if !finishing && !matches!(first, Message::Finish) {
                std::thread::sleep(LINGER);
            }
            let mut burst = Vec::new();
            let mut next = Some(first);
            while let Some(message) = next {
                match message {
                    Message::Event(event) => burst.push(document(&event)),
                    Message::Finish if !finishing => {
                        // Refuse new events; what was queued before is still written.
                        finishing = true;
                        rx.close();
                    }
                    Message::Finish => {}
                }
                next = if burst.len() < MAX_BURST {
                    rx.try_recv().ok()
                } else {
                    None
                };
            }
            self.write(burst);
            if finishing && rx.is_empty() {
                break;
            }
        }
        if let Some(Output::Collector(pipeline)) = self.output.take() {
            pipeline.shutdown(DRAIN);
        }
    }

    fn write(&mut self, burst: Vec<Vec<u8>>) {
        let count = burst.len() as u64;
        if count == 0 {
            return;
        }
        let result = match self.output.as_ref().expect("present until run ends") {
            Output::Collector(pipeline) => pipeline.submit(burst).map(drop),
            Output::Stdout => {
                let mut stdout = io::stdout().lock();
                burst
                    .iter()
                    .try_for_each(|line| {
                        stdout
                            .write_all(line)
                            .and_then(|()| stdout.write_all(b"\n"))
                    })
                    .and_then(|()| stdout.flush())
            }
        };
        match result {
            Ok(()) => self.written.inc_by(count),
            Err(error) => {
                self.dropped
                    .with_label_values(&["write_failed"])
                    .inc_by(count);
                tracing::warn!(%error, events = count, "could not write events");
            }
        }
    }
}

fn document(event: &Event) -> Vec<u8> {
    serde_json::to_vec(event).expect("an event serializes")
}
