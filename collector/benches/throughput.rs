//! Collector throughput: host-shaped events pushed through HTTP ingest → fsync'd WAL →
//! gzip'd `_bulk` into the Elasticsearch-API test server, with the real `wasml-collector`
//! binary as its own process. Reports the sustained ingest rate (events acknowledged,
//! i.e. fsync'd, per second), the end-to-end rate (events indexed per second) and the
//! collector's peak RSS (`VmHWM` from `/proc`).
//!
//! `cargo bench -p wasml-collector --bench throughput` (`just bench-collector`).
//! `WASML_BENCH_EVENTS` sets the number of events (default 1,000,000),
//! `WASML_BENCH_SENDERS` the concurrent senders (default 4), `WASML_BENCH_BATCH` the
//! events per ingest request (default 1,000).

use std::net::SocketAddr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use wasml_es_test_server::EsTestServer;
use wasml_test_support::http;
use wasml_test_support::process::{Process, peak_rss_bytes};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One request event as the host writes it (same fields, typical sizes).
fn event(i: usize) -> String {
    format!(
        concat!(
            r#"{{"@timestamp":"2026-11-26T10:{:02}:{:02}.{:03}Z","event_id":"8c1f0b6e-4d7a-4b8e-9a3f-{:012}","#,
            r#""level":"info","service":"wasml-host","message":"prediction served","request_id":"req-{:012}","#,
            r#""method":"POST","endpoint":"/predict","status":200,"duration":0.00182,"model":"bank-marketing","#,
            r#""model_version":"v2","model_type":"gradient_boosted_trees","prediction":{},"label":"{}","#,
            r#""confidence":0.{:04},"rows":1,"feature_seconds":0.0000121,"inference_seconds":0.0000064}}"#
        ),
        (i / 60_000) % 60,
        (i / 1000) % 60,
        i % 1000,
        i,
        i,
        i % 2,
        if i % 2 == 1 { "yes" } else { "no" },
        5000 + i % 4999,
    )
}

/// User + system CPU seconds of process `pid`, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at state (field 3).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

fn indexed(server: &EsTestServer) -> usize {
    let store = server.store.lock().expect("store lock");
    store.indices.values().map(|index| index.docs.len()).sum()
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is expected.
    let total = env_usize("WASML_BENCH_EVENTS", 1_000_000);
    let senders = env_usize("WASML_BENCH_SENDERS", 4);
    let batch = env_usize("WASML_BENCH_BATCH", 1_000);

    let (_runtime, server) = EsTestServer::start_in_background(2).expect("the test server");
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("collector-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasml-collector"));
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
            "--log",
            "warn,wasml_collector::server=info",
        ])
        .arg("--data-dir")
        .arg(&dir)
        .args(["--elasticsearch-url", &server.url()]);
    let collector = Process::start(command, Duration::from_secs(30));
    let address: SocketAddr = collector.address;

    // Bodies are built before the clock starts: the bench measures the collector.
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..total.div_ceil(batch))
            .map(|b| {
                (b * batch..((b + 1) * batch).min(total))
                    .flat_map(|i| (event(i) + "\n").into_bytes())
                    .collect()
            })
            .collect(),
    );
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    println!(
        "collector throughput: {total} events ({:.0} bytes each), {senders} senders × {batch}-event requests",
        bytes as f64 / total as f64
    );

    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let threads: Vec<_> = (0..senders)
        .map(|_| {
            let bodies = Arc::clone(&bodies);
            let next = Arc::clone(&next);
            std::thread::spawn(move || {
                loop {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(b) else { return };
                    loop {
                        let response = http::request(
                            address,
                            "POST",
                            "/v1/events",
                            "application/x-ndjson",
                            body,
                        )
                        .expect("the collector answers");
                        match response.status {
                            200 => break,
                            503 => std::thread::sleep(Duration::from_millis(5)),
                            other => panic!("ingest answered {other}: {}", response.body),
                        }
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("a sender");
    }
    let acknowledged = started.elapsed();
    while indexed(&server) < total {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "indexing stalled at {}",
            indexed(&server)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let all_indexed = started.elapsed();
    let peak = peak_rss_bytes(collector.pid()).unwrap_or(0);
    let cpu = cpu_seconds(collector.pid());
    let rate = |d: Duration| total as f64 / d.as_secs_f64();
    println!(
        "  ingest (acknowledged = fsync'd in the WAL): {:>9.0} events/s  ({:.2} s, {:.1} MB/s)",
        rate(acknowledged),
        acknowledged.as_secs_f64(),
        bytes as f64 / acknowledged.as_secs_f64() / 1e6
    );
    println!(
        "  end to end (indexed in the test server):    {:>9.0} events/s  ({:.2} s)",
        rate(all_indexed),
        all_indexed.as_secs_f64()
    );
    println!(
        "  collector peak RSS (VmHWM):                 {:>9.1} MiB",
        peak as f64 / (1 << 20) as f64
    );
    println!(
        "  collector CPU: {cpu:.2} s ({:.0} µs per event; the test server and senders share the same cores)",
        cpu * 1e6 / total as f64
    );
    let store = server.store.lock().expect("store lock");
    println!(
        "  bulk requests: {} (all gzip: {})",
        store.bulk_requests,
        store.gzip_bulk_requests == store.bulk_requests
    );
    drop(store);
    drop(collector);
    let _ = std::fs::remove_dir_all(&dir);
}
