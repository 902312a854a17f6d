//! The pipeline end to end with the file sink: acknowledged events reach the daily files
//! exactly once, through sink outages, restarts and a crash between a write and its
//! checkpoint.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasml_collector::sink::file::FileSink;
use wasml_collector::sink::{Entry, Sink, SinkError};
use wasml_collector::{CollectorMetrics, Pipeline, PipelineOptions};
use wasml_test_support::ScratchDir;

fn scratch(name: &str) -> ScratchDir {
    ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), &format!("pipeline-{name}"))
}

fn event(i: usize, day: u32) -> Vec<u8> {
    format!(r#"{{"@timestamp":"2026-11-{day:02}T10:00:00.000Z","event_id":"e{i}","message":"event {i}"}}"#)
        .into_bytes()
}

fn options() -> PipelineOptions {
    PipelineOptions {
        batch_events: 100,
        linger: Duration::from_millis(1),
        min_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(10),
        ..PipelineOptions::default()
    }
}

/// Every line of every file in `dir`, as event ids.
fn ids_in(dir: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    for file in std::fs::read_dir(dir).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_some_and(|e| e == "ndjson") {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let doc: serde_json::Value = serde_json::from_str(line).unwrap();
                ids.push(doc["event_id"].as_str().unwrap().to_owned());
            }
        }
    }
    ids.sort();
    ids
}

fn expected(n: usize) -> Vec<String> {
    let mut ids: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
    ids.sort();
    ids
}

fn wait_delivered(pipeline: &Pipeline) {
    for _ in 0..1000 {
        if pipeline.wal_stats().pending_events == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("not delivered: {:?}", pipeline.wal_stats());
}

#[test]
fn concurrent_submitters_are_group_committed_and_delivered_once_into_daily_files() {
    let dir = scratch("daily");
    let files = dir.join("files");
    let pipeline = Arc::new(start(&dir, FileSink::open(&files, 0).unwrap()));
    std::thread::scope(|scope| {
        for t in 0..4 {
            let pipeline = Arc::clone(&pipeline);
            scope.spawn(move || {
                for chunk in 0..25 {
                    let events = (0..10)
                        .map(|k| event(t * 250 + chunk * 10 + k, 25 + (k % 2) as u32))
                        .collect();
                    pipeline.submit(events).unwrap();
                }
            });
        }
    });
    wait_delivered(&pipeline);
    assert_eq!(ids_in(&files), expected(1000));
    let mut names: Vec<String> = std::fs::read_dir(&files)
        .unwrap()
        .map(|f| f.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".ndjson"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ml-pipeline-2026.11.25.ndjson",
            "ml-pipeline-2026.11.26.ndjson"
        ]
    );
    let metrics = pipeline.metrics();
    assert_eq!(metrics.persisted.get(), 1000);
    assert_eq!(metrics.delivered.get(), 1000);
    let status = pipeline.status();
    assert_eq!(status.pending_events, 0);
    assert_eq!(status.oldest_unshipped_seconds, None);
}

/// A sink that fails its first `failures` attempts, then records what it gets.
struct Flaky {
    failures: Arc<AtomicUsize>,
    got: Arc<Mutex<Vec<u64>>>,
}

impl Sink for Flaky {
    fn deliver(&mut self, batch: &[Entry]) -> Result<(), SinkError> {
        if self.failures.load(Ordering::Relaxed) > 0 {
            self.failures.fetch_sub(1, Ordering::Relaxed);
            return Err(SinkError::Unavailable("injected".into()));
        }
        self.got
            .lock()
            .unwrap()
            .extend(batch.iter().map(|(seq, _)| *seq));
        Ok(())
    }
}

/// A pipeline with the WAL in `dir/wal`, delivering to `sink`.
fn start(dir: &Path, sink: impl Sink + 'static) -> Pipeline {
    Pipeline::start(
        dir.join("wal"),
        Box::new(sink),
        options(),
        CollectorMetrics::new(),
    )
    .unwrap()
}

/// Runs a pipeline into `sink` until events `ids` are delivered, then stops it.
fn run_until_delivered(dir: &Path, sink: impl Sink + 'static, ids: std::ops::Range<usize>) {
    let pipeline = start(dir, sink);
    pipeline
        .submit(ids.map(|i| event(i, 26)).collect())
        .unwrap();
    wait_delivered(&pipeline);
}

/// A pipeline into a [`Flaky`] sink failing its first `failures` deliveries, and what
/// the sink took.
fn flaky_pipeline(dir: &Path, failures: usize) -> (Pipeline, Arc<Mutex<Vec<u64>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = Flaky {
        failures: Arc::new(AtomicUsize::new(failures)),
        got: Arc::clone(&got),
    };
    (start(dir, sink), got)
}

#[test]
fn an_unavailable_sink_is_retried_until_it_takes_everything_in_order() {
    let dir = scratch("flaky");
    let (pipeline, got) = flaky_pipeline(&dir, 5);
    for i in 0..3 {
        pipeline
            .submit((0..100).map(|k| event(i * 100 + k, 26)).collect())
            .unwrap();
    }
    wait_delivered(&pipeline);
    assert_eq!(*got.lock().unwrap(), (1..=300).collect::<Vec<u64>>());
    assert_eq!(pipeline.metrics().delivery_failures.get(), 5);
    assert!(pipeline.status().sink_up);
    assert_eq!(pipeline.metrics().sink_up(), Some(1));
}

#[test]
fn sink_up_says_nothing_until_the_sink_was_tried() {
    let dir = scratch("sink-up");
    let (pipeline, got) = flaky_pipeline(&dir, 0);
    std::thread::sleep(Duration::from_millis(50));
    // Nothing to deliver yet: the sink's state is unknown, not "up" (nor "down").
    assert_eq!(pipeline.metrics().sink_up(), None);
    let registry = prometheus::Registry::new();
    pipeline.metrics().register(&registry).unwrap();
    let scraped = |registry: &prometheus::Registry| {
        registry
            .gather()
            .iter()
            .any(|f| f.name() == "wasml_collector_sink_up")
    };
    assert!(!scraped(&registry), "no series before the first contact");
    pipeline.submit(vec![event(1, 26)]).unwrap();
    wait_delivered(&pipeline);
    assert_eq!(got.lock().unwrap().len(), 1, "the sink took the event");
    assert_eq!(pipeline.metrics().sink_up(), Some(1));
    assert!(scraped(&registry));
}

#[test]
fn what_was_not_delivered_before_a_stop_is_delivered_after_the_restart() {
    let dir = scratch("restart");
    let files = dir.join("files");
    // The sink is down for the whole first run.
    let (pipeline, _) = flaky_pipeline(&dir, usize::MAX);
    pipeline
        .submit((0..500).map(|i| event(i, 26)).collect())
        .unwrap();
    assert_eq!(pipeline.wal_stats().pending_events, 500);
    std::thread::sleep(Duration::from_millis(20));
    let status = pipeline.status();
    assert!(!status.sink_up);
    assert_eq!(pipeline.metrics().sink_up(), Some(0));
    assert_eq!(status.pending_events, 500);
    assert!(status.oldest_unshipped_seconds.unwrap() >= 0.02);
    // The same figures as Prometheus gauges, read at scrape time.
    let registry = prometheus::Registry::new();
    registry.register(Box::new(pipeline.gauges())).unwrap();
    let families = registry.gather();
    let gauge = |name: &str| {
        families
            .iter()
            .find(|f| f.name() == name)
            .map(|f| f.get_metric()[0].get_gauge().get_value())
            .unwrap()
    };
    assert_eq!(gauge("wasml_collector_wal_events"), 500.0);
    assert!(gauge("wasml_collector_wal_bytes") > 500.0 * 50.0);
    assert!(gauge("wasml_collector_oldest_unshipped_seconds") >= 0.02);
    pipeline.shutdown(Duration::from_millis(50));

    let pipeline = start(&dir, FileSink::open(&files, 0).unwrap());
    wait_delivered(&pipeline);
    assert_eq!(ids_in(&files), expected(500));
}

#[test]
fn a_crash_between_writing_files_and_the_checkpoint_does_not_duplicate() {
    let dir = scratch("crash");
    let files = dir.join("files");
    run_until_delivered(&dir, FileSink::open(&files, 0).unwrap(), 0..50);
    // Simulate the crash window: the files got a batch (51..=60) the WAL checkpoint never
    // recorded. Write it through a sink whose checkpoint is then "lost".
    let wal_dir = dir.join("wal");
    let checkpoint = std::fs::read_to_string(wal_dir.join("delivered")).unwrap();
    run_until_delivered(&dir, FileSink::open(&files, 50).unwrap(), 50..60);
    std::fs::write(wal_dir.join("delivered"), checkpoint).unwrap();
    assert_eq!(ids_in(&files).len(), 60, "the batch reached the files");

    // Restart: the sink undoes the unacknowledged batch, the pipeline redelivers it once.
    let delivered: u64 = std::fs::read_to_string(wal_dir.join("delivered"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let pipeline = start(&dir, FileSink::open(&files, delivered).unwrap());
    wait_delivered(&pipeline);
    assert_eq!(ids_in(&files), expected(60));
}
