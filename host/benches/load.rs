//! Load generator: starts the release `wasml-host` on loopback (bundled model, events to
//! files as by default) and drives `POST /predict` with the seed's request over
//! keep-alive HTTP/1.1 connections, then prints throughput and latency percentiles.
//!
//! Two phases, generator and host sharing the machine:
//! - **closed loop**: `CONCURRENCY` connections (default 64), each sending its next
//!   request as soon as the last is answered; reports the throughput reached;
//! - **open loop**: a fixed `RATE` (default 1000 req/s) spread over 16 connections, each
//!   request timed from when it was *due*, so a stall counts for every request it delays
//!   (no coordinated omission).
//!
//! `cargo bench -p wasml-host --bench load` (or `just bench-load`); `LOAD_SECONDS`,
//! `LOAD_CONCURRENCY` and `LOAD_RATE` override the defaults.

mod http_driver;

use std::path::PathBuf;
use std::time::Duration;

use http_driver::{closed_loop, open_loop, start_host};

fn main() {
    let seconds = env_or("LOAD_SECONDS", 10);
    let concurrency = env_or("LOAD_CONCURRENCY", 64);
    let rate = env_or("LOAD_RATE", 1000);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("load-bench");
    let mut host = start_host(&dir, &[]);
    let address = host.1;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        // Warm-up: connections, instance pools, caches.
        closed_loop(address, concurrency, Duration::from_secs(2)).await;
        let run = closed_loop(address, concurrency, Duration::from_secs(seconds)).await;
        run.print(&format!("closed loop, {concurrency} connections"));
        let run = open_loop(address, rate, 16, Duration::from_secs(seconds)).await;
        run.print(&format!("open loop, {rate} req/s"));
    });
    let _ = host.0.kill();
    let _ = host.0.wait();
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
