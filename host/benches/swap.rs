//! Hot-swap bench: the release `wasml-host` serving bank-marketing 1.0.0 with the admin
//! API on, under an open loop of `/predict` requests. Reports the time from upload to
//! active for version 2.0.0 with a cold `.cwasm` cache (first upload: compiled) and a
//! warm one (retired, uploaded again: loaded from the cache), and `/predict` latency
//! during each kind of swap next to steady state.
//!
//! `cargo bench -p wasml-host --bench swap` (`just bench-swap`); `SWAP_RATE` (default
//! 500 req/s) and `SWAP_WARM_ROUNDS` (default 5) override the defaults.

mod http_driver;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use http_driver::{open_loop, start_host};
use wasml_test_support::http::{Response, admin_ok};

const TOKEN: &str = "bench-token";
const MODEL: &str = "bank-marketing";

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn admin(address: SocketAddr, method: &str, path: &str, body: &[u8]) -> Response {
    admin_ok(address, TOKEN, method, path, body)
}

/// Uploads 2.0.0 and activates it as soon as it is ready; returns (upload → ready,
/// upload → active).
fn swap_in(address: SocketAddr, wasm: &[u8], conformance: &[u8]) -> (Duration, Duration) {
    let base = format!("/admin/models/{MODEL}/versions/2.0.0");
    admin(address, "PUT", &format!("{base}/conformance"), conformance);
    let started = Instant::now();
    admin(address, "PUT", &base, wasm);
    let ready = loop {
        let state = admin(address, "GET", &base, b"").json()["state"].clone();
        match state.as_str() {
            Some("ready") => break started.elapsed(),
            Some("compiling" | "validating") => std::thread::sleep(Duration::from_millis(1)),
            other => panic!("2.0.0 is {other:?}"),
        }
    };
    admin(address, "POST", &format!("{base}/activate"), b"");
    (ready, started.elapsed())
}

fn main() {
    let rate = env_or("SWAP_RATE", 500);
    let warm_rounds = env_or("SWAP_WARM_ROUNDS", 5);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("swap-bench");
    let _ = std::fs::remove_dir_all(&dir);
    let v1 = wasml_test_support::bundled_component(MODEL, "v1");
    let v2 = std::fs::read(wasml_test_support::bundled_component(MODEL, "v2")).unwrap();
    let conformance = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../guest/models/bank-marketing/v2/conformance.json"
    ))
    .unwrap();
    let (mut child, address) = start_host(&dir, &["--model", v1, "--admin-token", TOKEN]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    runtime.block_on(open_loop(address, rate, 16, Duration::from_secs(2)));
    let steady = runtime.block_on(open_loop(address, rate, 16, Duration::from_secs(10)));
    steady.print(&format!("steady state, {rate} req/s"));

    // Each kind of swap runs while an open loop keeps going; it lasts long enough to
    // cover it.
    let during_cold = runtime.spawn(open_loop(address, rate, 16, Duration::from_secs(16)));
    std::thread::sleep(Duration::from_millis(500));
    let (ready, active) = swap_in(address, &v2, &conformance);
    println!(
        "cold cache: upload → ready {:.1} ms, → active {:.1} ms",
        ready.as_secs_f64() * 1e3,
        active.as_secs_f64() * 1e3
    );
    let during_cold = runtime.block_on(during_cold).unwrap();
    during_cold.print(&format!("during the cold swap, {rate} req/s"));
    let during = runtime.spawn(open_loop(address, rate, 16, Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(500));
    let mut warm = Vec::new();
    for _ in 0..warm_rounds {
        admin(
            address,
            "POST",
            &format!("/admin/models/{MODEL}/rollback"),
            b"",
        );
        admin(
            address,
            "DELETE",
            &format!("/admin/models/{MODEL}/versions/2.0.0"),
            b"",
        );
        std::thread::sleep(Duration::from_millis(200));
        warm.push(swap_in(address, &v2, &conformance));
    }
    warm.sort();
    let (ready, active) = warm[warm.len() / 2];
    println!(
        "warm cache (median of {warm_rounds}): upload → ready {:.1} ms, → active {:.1} ms (fastest {:.1} ms, slowest {:.1} ms)",
        ready.as_secs_f64() * 1e3,
        active.as_secs_f64() * 1e3,
        warm[0].1.as_secs_f64() * 1e3,
        warm[warm.len() - 1].1.as_secs_f64() * 1e3,
    );
    let listing = admin(
        address,
        "GET",
        &format!("/admin/models/{MODEL}/versions/2.0.0"),
        b"",
    )
    .json();
    let checks: Vec<String> = listing["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| format!("{} {:.1} ms", c["check"], c["milliseconds"]))
        .collect();
    println!("last warm round's gate: {}", checks.join(", "));
    let during = runtime.block_on(during).unwrap();
    during.print(&format!("during the warm swaps, {rate} req/s"));
    let _ = child.kill();
    let _ = child.wait();
}
