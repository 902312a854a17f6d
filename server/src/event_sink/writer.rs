//! The writer thread: drains the event channel a burst at a time into the embedded
//! collector (its write-ahead log, then daily files or Elasticsearch), a remote collector,
//! or stdout.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc;
use wasml_collector::sink::Sink;
use wasml_collector::sink::elasticsearch::ElasticsearchSink;
use wasml_collector::{CollectorMetrics, Pipeline, PipelineOptions};

use super::remote::RemoteCollector;
use super::{Event, EventSender, EventTail, EventTarget, EventsStatus, Message};
use crate::metrics::{DropReason, EventCounters, Metrics};

/// Most events handed to the collector in one submission (one fsync).
const MAX_BURST: usize = 10_000;

/// How long the writer lets events gather after the first of a burst: one fsync for many
/// events instead of one per request at low rates.
const LINGER: Duration = Duration::from_millis(5);

/// How long shutdown waits for the sink to take what the WAL holds (anything left stays
/// in the WAL for the next start), or for an unreachable remote collector to come back.
const DRAIN: Duration = Duration::from_secs(10);

/// The running writer; [`EventWriter::finish`] flushes it and waits for it.
pub struct EventWriter {
    tx: mpsc::Sender<Message>,
    finishing: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl EventWriter {
    /// Starts a writer for `target` with room for `capacity` queued events; `metrics`
    /// count events written and dropped, and get the embedded collector's series.
    pub fn start(
        target: EventTarget,
        capacity: usize,
        metrics: &Metrics,
    ) -> io::Result<(EventSender, Self)> {
        let finishing = Arc::new(AtomicBool::new(false));
        let (output, status) = open(target, metrics, &finishing)?;
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let tail = Arc::new(EventTail::default());
        let sender = EventSender {
            tx: tx.clone(),
            counters: metrics.events().clone(),
            status: Arc::new(status),
            tail: Arc::clone(&tail),
        };
        let mut writer = Writer {
            output: Some(output),
            counters: metrics.events().clone(),
            tail,
        };
        let thread = std::thread::Builder::new()
            .name("wasml-events".into())
            .spawn(move || writer.run(rx))?;
        Ok((
            sender,
            Self {
                tx,
                finishing,
                thread,
            },
        ))
    }

    /// Makes every event queued so far durable and written, then stops the writer.
    /// Events sent afterwards are counted as dropped (`closed`).
    pub async fn finish(self) {
        self.finishing.store(true, Ordering::Relaxed);
        if self.tx.send(Message::Finish).await.is_ok() {
            let _ = tokio::task::spawn_blocking(move || self.thread.join()).await;
        }
    }
}

/// Opens the output for `target`, registering the embedded collector's metrics; with
/// where `/health` reads the output's state.
fn open(
    target: EventTarget,
    metrics: &Metrics,
    finishing: &Arc<AtomicBool>,
) -> io::Result<(Output, EventsStatus)> {
    let embedded = |sink: &'static str, pipeline: Pipeline, setup| {
        let registry = metrics.registry();
        pipeline
            .metrics()
            .register(registry)
            .and_then(|()| registry.register(Box::new(pipeline.gauges())))
            .map_err(io::Error::other)?;
        let status = EventsStatus {
            sink,
            pipeline: Some(pipeline.watch()),
            setup,
        };
        Ok((Output::Pipeline(pipeline), status))
    };
    let plain = |sink| EventsStatus {
        sink,
        pipeline: None,
        setup: None,
    };
    match target {
        EventTarget::Stdout => Ok((Output::Stdout, plain("stdout"))),
        EventTarget::Files(dir) => embedded(
            "files",
            Pipeline::to_files(&dir, PipelineOptions::default(), CollectorMetrics::new())?,
            None,
        ),
        EventTarget::Elasticsearch { dir, config } => {
            let options = config.pipeline_options();
            let collector_metrics = CollectorMetrics::new();
            let sink = ElasticsearchSink::new(*config, collector_metrics.clone())
                .map_err(io::Error::other)?;
            let setup = sink.setup_status();
            let pipeline = Pipeline::start(
                dir.join(".wal"),
                Box::new(sink) as Box<dyn Sink>,
                options,
                collector_metrics,
            )?;
            embedded("elasticsearch", pipeline, Some(setup))
        }
        EventTarget::Collector(link) => Ok((
            Output::Remote(RemoteCollector::new(
                &link,
                Arc::clone(finishing),
                DRAIN,
                metrics.events().clone(),
            )?),
            plain("collector"),
        )),
    }
}

enum Output {
    Stdout,
    Pipeline(Pipeline),
    Remote(RemoteCollector),
}

struct Writer {
    output: Option<Output>,
    counters: EventCounters,
    /// What the console's live tail shows.
    tail: Arc<EventTail>,
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
                    Message::Event(event) => {
                        let document = document(&event);
                        self.tail.push(&document);
                        burst.push(document);
                    }
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
        if let Some(Output::Pipeline(pipeline)) = self.output.take() {
            pipeline.shutdown(DRAIN);
        }
    }

    fn write(&mut self, burst: Vec<Vec<u8>>) {
        let count = burst.len() as u64;
        if count == 0 {
            return;
        }
        let result = match self.output.as_ref().expect("present until run ends") {
            Output::Remote(remote) => {
                // Counts written and dropped itself, chunk by chunk.
                remote.send(&burst);
                return;
            }
            Output::Pipeline(pipeline) => pipeline.submit(burst).map(drop),
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
            Ok(()) => self.counters.written(count),
            Err(error) => {
                self.counters.dropped(DropReason::WriteFailed, count);
                tracing::warn!(%error, events = count, "could not write events");
            }
        }
    }
}

fn document(event: &Event) -> Vec<u8> {
    serde_json::to_vec(event).expect("an event serializes")
}
