//! Load generator: starts the release `wasml-host` on loopback (bundled model, events to
//! files as by default) and drives it over keep-alive HTTP/1.1 connections from a 2-thread
//! client on the same machine, then prints, side by side (issue #18):
//!
//! - `POST /predict` and the same server's trivial route (`GET /v2/health/live`, the HTTP
//!   floor) at 64 connections, and at 1 connection (p50);
//! - `/predict` in closed loops at 1, 64, 256, 1,000 and 2,000 connections: goodput (200
//!   answers per second), the share of other answers, and p50/p99 of the 200s;
//! - an open loop at `RATE` (default 1,000 req/s) over 16 threads timed by the OS, each
//!   latency from when the request was due (no coordinated omission);
//! - the seed's architecture (gunicorn 2 workers + Flask + onnxruntime + prometheus_client,
//!   `host/benches/flask_peer/`) at 64 connections, when `.venv-bench-peer` exists
//!   (`just bench` makes it);
//! - what the per-request monitoring (input-drift counting, call-cost histograms, issue
//!   #20) costs: `/predict` at 64 connections on this host and on one started with
//!   `--no-monitoring`, alternated three times, medians compared;
//! - what a shadow costs the client: a 100 % shadow on and off, alternated, under the open
//!   loop (p50, p99) and at 64 connections (goodput) ([`shadow_phase`]);
//! - the Open Inference Protocol over gRPC against its REST form and `/predict`, 64
//!   requests in flight, alternated ([`grpc_phase`], issue #22);
//! - TLS on the listener: the full handshake's cost per connection, and `/predict` at 64
//!   connections over TLS against plain, alternated ([`tls_phase`], issue #24);
//! - OpenTelemetry export off, at 10 % and at 100 % sampling, `/predict` at 64
//!   connections, alternated ([`tracing_phase`], issue #25).
//!
//! `cargo bench -p wasml-host --bench load` (or `just bench`); `LOAD_SECONDS` (per phase,
//! default 10) and `LOAD_RATE` override the defaults.

mod grpc_phase;
mod http_driver;
mod shadow_phase;
mod tls_phase;
mod tracing_phase;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_driver::{Route, Run, alternate, closed_loop_to, open_loop, start_host};

fn main() {
    let seconds = Duration::from_secs(env_or("LOAD_SECONDS", 10));
    let rate = env_or("LOAD_RATE", 1000);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("load-bench");
    // `LOAD_ONLY=c64` drives one phase for `LOAD_SECONDS` and stops (for profiling);
    // `LOAD_ONLY=grpc` (or `tls`, `tracing`) runs that phase alone.
    let only = std::env::var("LOAD_ONLY").ok();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    match only.as_deref() {
        Some("grpc") => return grpc_phase::run(&runtime, &dir.join("grpc"), seconds),
        Some("tls") => return tls_phase::run(&runtime, &dir.join("tls"), seconds),
        Some("tracing") => return tracing_phase::run(&runtime, &dir.join("tracing"), seconds),
        _ => {}
    }
    let mut host = start_host(&dir, &[]);
    let address = host.1;
    println!("host pid {}", host.0.id());
    let closed = |route, connections, length| {
        runtime.block_on(closed_loop_to(address, route, connections, length))
    };
    // Warm-up: connections, instance pools, caches.
    closed(Route::Predict, 64, Duration::from_secs(2));
    if let Some(connections) = only.and_then(|c| c.strip_prefix('c')?.parse().ok()) {
        row(
            &format!("POST /predict, c{connections}"),
            &mut closed(Route::Predict, connections, seconds),
        );
        let _ = host.0.kill();
        let _ = host.0.wait();
        return;
    }

    println!("| phase | goodput (200/s) | non-200 | p50 of 200s | p99 of 200s |");
    println!("|---|---|---|---|---|");
    let mut live_64 = closed(Route::Live, 64, seconds);
    row("GET /v2/health/live, c64", &mut live_64);
    let mut live_1 = closed(Route::Live, 1, seconds);
    row("GET /v2/health/live, c1", &mut live_1);
    // Goodput by connections, and the p50 at one connection, for the ratios below.
    let mut goodput = BTreeMap::new();
    let mut predict_p50_at_1 = 0.0;
    for connections in [1, 64, 256, 1000, 2000] {
        if connections == 256 {
            // Before the overload phases, whose refused connections linger a while.
            let mut open = runtime.block_on(open_loop(address, rate, 16, seconds));
            row(&format!("POST /predict, open loop {rate} req/s"), &mut open);
        }
        let mut run = closed(Route::Predict, connections, seconds);
        row(&format!("POST /predict, c{connections}"), &mut run);
        goodput.insert(connections, run.goodput());
        if connections == 1 {
            predict_p50_at_1 = run.ok_quantile_ms(0.5);
        }
    }
    // Monitoring on (this host) and off (another), alternated so drift in the machine's
    // speed hits both alike.
    let mut bare = start_host(&dir.join("no-monitoring"), &["--no-monitoring"]);
    let monitoring = alternate(&runtime, &[(address, None), (bare.1, None)], seconds);
    let _ = bare.0.kill();
    let _ = bare.0.wait();
    let _ = host.0.kill();
    let _ = host.0.wait();
    shadow_phase::run(&runtime, &dir.join("shadow"), rate, seconds);
    grpc_phase::run(&runtime, &dir.join("grpc"), seconds);
    tls_phase::run(&runtime, &dir.join("tls"), seconds);
    tracing_phase::run(&runtime, &dir.join("tracing"), seconds);
    let (with, without) = (monitoring[0], monitoring[1]);
    println!("| POST /predict, c64, monitoring on (median of 3) | {with:.0} | | | |");
    println!("| POST /predict, c64, --no-monitoring (median of 3) | {without:.0} | | | |");

    let peer = peer_at_c64(&runtime, seconds);
    let p50_ratio = predict_p50_at_1 / live_1.ok_quantile_ms(0.5);
    let (predict_64, predict_2000) = (goodput[&64], goodput[&2000]);
    println!();
    println!(
        "/predict vs the trivial route at c64: {:.0} %",
        100.0 * predict_64 / live_64.goodput()
    );
    println!("p50 at 1 connection, /predict vs the trivial route: {p50_ratio:.2}x");
    println!(
        "goodput at c2000 vs c64: {:.0} %",
        100.0 * predict_2000 / predict_64
    );
    println!(
        "per-request monitoring (drift counting, cost histograms) costs {:.1} % of /predict goodput at c64",
        100.0 * (1.0 - with / without)
    );
    match peer {
        Some(mut peer) => {
            row("seed architecture (Flask peer), c64", &mut peer);
            println!(
                "/predict vs the seed architecture at c64: {:.1}x",
                predict_64 / peer.goodput()
            );
        }
        None => println!(
            "the seed architecture was not measured: no .venv-bench-peer (`just bench` makes it)"
        ),
    }
}

fn row(name: &str, run: &mut Run) {
    println!(
        "| {name} | {:.0} | {:.1} % | {:.3} ms | {:.3} ms |",
        run.goodput(),
        100.0 * run.failed_share(),
        run.ok_quantile_ms(0.50),
        run.ok_quantile_ms(0.99),
    );
}

/// The seed's architecture under the same closed loop at 64 connections, if its venv
/// exists; the host is stopped by then, so each has the machine to itself.
fn peer_at_c64(runtime: &tokio::runtime::Runtime, length: Duration) -> Option<Run> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let gunicorn = root.join(".venv-bench-peer/bin/gunicorn");
    if !gunicorn.exists() {
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut peer = PeerProcess(
        Command::new(gunicorn)
            .args(["-w", "2", "-b", &address.to_string(), "--chdir"])
            .arg(root.join("host/benches/flask_peer"))
            .arg("app:app")
            .env(
                "WASML_CARD",
                root.join("guest/models/bank-marketing/v2/card.json"),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gunicorn starts"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(address).is_err() {
        assert!(Instant::now() < deadline, "the Flask peer did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    runtime.block_on(closed_loop_to(
        address,
        Route::Predict,
        64,
        Duration::from_secs(2),
    ));
    let run = runtime.block_on(closed_loop_to(address, Route::Predict, 64, length));
    peer.stop();
    Some(run)
}

/// gunicorn's master, stopped with SIGTERM so that it stops its workers too.
struct PeerProcess(Child);

impl PeerProcess {
    fn stop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let _ = self.0.wait();
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            self.stop();
        }
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}
