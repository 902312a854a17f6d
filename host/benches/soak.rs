//! Soak: the release host sending its events to a collector process (`--collector-url`,
//! the collector writing daily files) under steady `/predict` load for `SOAK_SECONDS`
//! (default 600) at half the capacity measured first (a 10 s closed loop over 64
//! connections, collector included; `SOAK_RATE` overrides). Every `SOAK_WINDOW_SECONDS`
//! (default 60) it prints the window's requests, success rate, p50/p99 and the RSS of
//! both processes; at the end, RSS growth since the first window, the host's dropped
//! events, and the `/predict` events in the collector's files against requests sent.
//!
//! `just soak` (builds the collector, then `cargo bench -p wasml-host --bench soak`).

mod http_driver;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use http_driver::{closed_loop, open_loop, start_host};
use wasml_test_support::http;
use wasml_test_support::process::{Process, rss_bytes};
use wasml_test_support::workspace_binary;

const MIB: f64 = 1024.0 * 1024.0;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let seconds = env_or("SOAK_SECONDS", 600);
    let window = env_or("SOAK_WINDOW_SECONDS", 60).clamp(1, seconds);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("soak-bench");
    let _ = std::fs::remove_dir_all(&dir);
    let mut command = Command::new(workspace_binary("wasml-collector"));
    command
        .args(["serve", "--log-format", "json", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.join("collector"));
    let collector = Process::start(command, Duration::from_secs(30));
    let url = format!("http://{}", collector.address);
    let (mut host, address) = start_host(&dir, &["--collector-url", &url]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let (mut sent, mut failed) = (0usize, 0u64);
    let mut rss = Vec::new();
    runtime.block_on(async {
        // Warm-up, then capacity: both count as requests sent (their events too).
        let warm_up = closed_loop(address, 64, Duration::from_secs(2)).await;
        let capacity_run = closed_loop(address, 64, Duration::from_secs(10)).await;
        for run in [&warm_up, &capacity_run] {
            sent += run.latencies_us.len();
            failed += run.failures;
        }
        let capacity = capacity_run.throughput();
        let rate = env_or("SOAK_RATE", (capacity / 2.0) as u64);
        println!(
            "capacity {capacity:.0} req/s (closed loop, 64 connections); soak at {rate} req/s for {seconds} s"
        );
        println!("window  requests  success   p50 ms   p99 ms  host MiB  collector MiB");
        for w in 1..=seconds / window {
            let mut run = open_loop(address, rate, 32, Duration::from_secs(window)).await;
            let n = run.latencies_us.len();
            sent += n;
            failed += run.failures;
            let memory = (
                rss_bytes(host.id()).unwrap_or(0) as f64 / MIB,
                rss_bytes(collector.pid()).unwrap_or(0) as f64 / MIB,
            );
            rss.push(memory);
            println!(
                "{w:>6}  {n:>8}  {:>6.2}%  {:>7.3}  {:>7.3}  {:>8.1}  {:>13.1}",
                100.0 * (n as f64 - run.failures as f64) / n.max(1) as f64,
                run.quantile_ms(0.50),
                run.quantile_ms(0.99),
                memory.0,
                memory.1
            );
        }
    });

    let metrics = http::request(address, "GET", "/metrics", "text/plain", b"").unwrap();
    let dropped: f64 = metrics
        .body
        .lines()
        .filter(|l| l.starts_with("wasml_events_dropped_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    // SIGTERM: the host flushes its queued events to the collector before exiting.
    let _ = Command::new("kill")
        .args(["-TERM", &host.id().to_string()])
        .status();
    let _ = host.wait();
    let delivered = (0..600).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        let health = http::request(collector.address, "GET", "/health", "text/plain", b"");
        health.is_ok_and(|h| h.json()["pending_events"] == 0)
    });
    let events = predict_events(&dir.join("collector").join("events"));
    let (first, last) = (rss[0], rss[rss.len() - 1]);
    println!(
        "requests {sent}, non-200 {failed}; host RSS {:.1} → {:.1} MiB ({:+.1} %), collector RSS {:.1} → {:.1} MiB ({:+.1} %)",
        first.0,
        last.0,
        100.0 * (last.0 - first.0) / first.0,
        first.1,
        last.1,
        100.0 * (last.1 - first.1) / first.1
    );
    println!(
        "events: {events} /predict events in the collector's files for {sent} requests; host dropped {dropped}; collector drained: {delivered}"
    );
}

/// `/predict` request events in the daily files under `dir`.
fn predict_events(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "ndjson"))
        .map(|e| {
            let file = std::fs::File::open(e.path()).unwrap();
            BufReader::new(file)
                .lines()
                .map_while(Result::ok)
                .filter(|line| {
                    serde_json::from_str::<serde_json::Value>(line)
                        .is_ok_and(|event| event["endpoint"] == "/predict")
                })
                .count()
        })
        .sum()
}
