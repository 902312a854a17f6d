//! Faults under steady `/predict` load, along the whole event path: host → collector
//! process (`--collector-url`) → Elasticsearch-API test server. Elasticsearch away for
//! 30 s, the collector killed with SIGKILL and restarted, the host stopped with SIGTERM:
//! every request is answered 200 (or, after SIGTERM, refused at connect), and every
//! answered request's event is indexed exactly once.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use wasml_e2e::load::{Load, ROW, Sent};
use wasml_e2e::{
    ScratchDir, eventually, indexed_predictions, start_collector, start_es, start_host,
};
use wasml_es_test_server::{EsTestServer, Fault};
use wasml_test_support::process::Process;

/// Requests a second the load sends: steady, well under capacity.
const RATE: f64 = 200.0;

/// The three processes (and the test server's runtime).
struct Pipeline {
    _runtime: tokio::runtime::Runtime,
    es: EsTestServer,
    _dir: ScratchDir,
    collector_data: PathBuf,
    collector_address: String,
    collector: Process,
    host: Process,
}

impl Pipeline {
    fn start(name: &str) -> Self {
        let (runtime, es) = start_es();
        let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), name);
        let collector_address = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .to_string();
        let collector_data = dir.join("collector");
        let collector = start_collector(
            &collector_data,
            Some(&es.url()),
            &["--listen", &collector_address],
        );
        let url = format!("http://{collector_address}");
        let host = start_host(&dir.join("host"), &["--collector-url", &url]);
        Self {
            _runtime: runtime,
            es,
            _dir: dir,
            collector_data,
            collector_address,
            collector,
            host,
        }
    }

    /// A new collector process on the old one's address and data directory.
    fn restart_collector(&mut self) {
        self.collector = start_collector(
            &self.collector_data,
            Some(&self.es.url()),
            &["--listen", &self.collector_address],
        );
    }

    /// How many times each request ID's `/predict` event is indexed.
    fn indexed(&self) -> BTreeMap<String, usize> {
        indexed_predictions(&self.es)
    }

    /// Waits for every answered request's event, then checks none is missing, doubled or
    /// unexpected.
    fn assert_indexed_exactly_once(&self, answered: &[String]) {
        let complete = eventually(Duration::from_secs(90), || {
            self.indexed().len() >= answered.len()
        });
        let indexed = self.indexed();
        let missing: Vec<_> = answered
            .iter()
            .filter(|id| !indexed.contains_key(*id))
            .collect();
        assert!(
            complete && missing.is_empty(),
            "{} of {} answered requests have no event, e.g. {:?}",
            missing.len(),
            answered.len(),
            missing.first()
        );
        let doubled: Vec<_> = indexed.iter().filter(|(_, n)| **n > 1).collect();
        assert!(doubled.is_empty(), "indexed twice: {doubled:?}");
        assert_eq!(indexed.len(), answered.len(), "no event without a request");
        eprintln!(
            "{} requests answered 200, {} events indexed once each",
            answered.len(),
            indexed.len()
        );
    }
}

/// The request IDs of the requests answered 200, after checking every request was.
fn all_answered(sent: &[Sent]) -> Vec<String> {
    let failed: Vec<_> = sent.iter().filter(|s| !s.succeeded()).collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed, e.g. {:?}",
        failed.len(),
        sent.len(),
        failed.first()
    );
    request_ids(sent)
}

fn request_ids(sent: &[Sent]) -> Vec<String> {
    sent.iter()
        .filter(|s| s.succeeded())
        .filter_map(|s| s.result.as_ref().ok()?.1.clone())
        .collect()
}

#[test]
fn elasticsearch_down_for_30_seconds_then_every_event_is_indexed_once() {
    let pipeline = Pipeline::start("fault-es-outage");
    let load = Load::start(pipeline.host.address, 2, Some(RATE));
    std::thread::sleep(Duration::from_secs(2));

    // Every bulk is refused with 503 for 30 s (the collector backs off and retries).
    pipeline.es.inject(Fault::Status(503), 100_000);
    std::thread::sleep(Duration::from_secs(5));
    let early = pipeline.indexed().len();
    std::thread::sleep(Duration::from_secs(25));
    assert_eq!(
        pipeline.indexed().len(),
        early,
        "nothing was indexed during the outage"
    );
    pipeline.es.heal();
    std::thread::sleep(Duration::from_secs(2));

    let sent = load.stop();
    assert!(sent.len() > 3_000, "{} requests", sent.len());
    pipeline.assert_indexed_exactly_once(&all_answered(&sent));
}

#[test]
fn collector_killed_mid_stream_and_restarted_loses_and_doubles_nothing() {
    let mut pipeline = Pipeline::start("fault-collector-kill");
    let load = Load::start(pipeline.host.address, 2, Some(RATE));
    std::thread::sleep(Duration::from_secs(2));
    pipeline.collector.kill9();
    std::thread::sleep(Duration::from_secs(3));
    pipeline.restart_collector();
    std::thread::sleep(Duration::from_secs(3));

    // The host never waited for the collector: every prediction succeeded throughout.
    let sent = load.stop();
    pipeline.assert_indexed_exactly_once(&all_answered(&sent));
}

#[test]
fn host_sigterm_finishes_in_flight_requests_refuses_new_ones_and_flushes_events() {
    let mut pipeline = Pipeline::start("fault-host-sigterm");
    let host = pipeline.host.address;
    let load = Load::start(host, 2, Some(RATE));
    std::thread::sleep(Duration::from_secs(1));

    // A request in flight at the signal: its headers and half its body are sent.
    let mut in_flight = TcpStream::connect(host).unwrap();
    in_flight
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let (first, rest) = ROW.as_bytes().split_at(ROW.len() / 2);
    write!(
        in_flight,
        "POST /predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        ROW.len()
    )
    .unwrap();
    in_flight.write_all(first).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    pipeline.host.terminate();

    // New connections are refused while that request is still open.
    assert!(
        eventually(Duration::from_secs(10), || TcpStream::connect(host)
            .is_err()),
        "the host stops accepting"
    );
    let sent = load.stop();
    in_flight.write_all(rest).unwrap();
    let mut answer = String::new();
    in_flight.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let body: Value = serde_json::from_str(answer.split_once("\r\n\r\n").unwrap().1).unwrap();
    let in_flight_id = body["request_id"].as_str().unwrap().to_owned();

    let status = pipeline.host.wait();
    assert!(status.success(), "a clean exit: {status:?}");
    assert!(pipeline.host.logged("writing queued events"));

    // Answers were 200s; after the signal, only failed connections, never an error status.
    for s in &sent {
        if let Ok((status, _)) = s.result {
            assert_eq!(status, 200, "{s:?}");
        }
    }
    let mut answered = request_ids(&sent);
    assert!(answered.len() > 50, "{} answered", answered.len());
    answered.push(in_flight_id);
    pipeline.assert_indexed_exactly_once(&answered);
}
