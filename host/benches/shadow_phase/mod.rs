//! What a shadow costs the client (issue #20): a host whose active version 2 is shadowed
//! by version 1 on every request, and the same host with the shadow stopped, alternated
//! three times under the same open loop (latency from when each request was due), and at
//! 64 connections (goodput: the shadow's work shares the machine's two cores).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use wasml_test_support::{bundled_component, http::admin_ok, prometheus};

use super::http_driver::{Route, Run, closed_loop_to, median, open_loop, start_host};
use super::row;

const TOKEN: &str = "load-bench-shadow";
const SHADOW: &str = "/admin/models/bank-marketing/shadow";

/// Runs the phase on a host of its own under `dir` and prints its rows and the comparison.
pub fn run(runtime: &tokio::runtime::Runtime, dir: &Path, rate: u64, length: Duration) {
    let mut host = start_host(dir, &["--admin-token", TOKEN]);
    let address = host.1;
    let v1 = std::fs::read(bundled_component("bank-marketing", "v1")).unwrap();
    admin(
        address,
        "PUT",
        "/admin/models/bank-marketing/versions/1.0.0",
        &v1,
    );
    let ready = (0..600).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        let path = "/admin/models/bank-marketing/versions/1.0.0";
        admin(address, "GET", path, b"").json()["state"] == "ready"
    });
    assert!(ready, "version 1 never became ready");
    let open = |on: bool| {
        shadow(address, on);
        runtime.block_on(open_loop(address, rate, 16, length))
    };
    open(false);
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        with.push(open(true));
        without.push(open(false));
    }
    let closed = |on: bool| {
        shadow(address, on);
        runtime
            .block_on(closed_loop_to(address, Route::Predict, 64, length))
            .goodput()
    };
    let (mut with_64, mut without_64) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        with_64.push(closed(true));
        without_64.push(closed(false));
    }
    let metrics = admin(address, "GET", "/metrics", b"").body;
    let pair = [("active", "2.0.0"), ("shadow", "1.0.0")];
    let shadowed = prometheus::sample(&metrics, "ml_shadow_requests_total", &pair).unwrap_or(0.0);
    let _ = host.0.kill();
    let _ = host.0.wait();

    let (p50_with, p99_with) = quantiles(&mut with);
    let (p50_without, p99_without) = quantiles(&mut without);
    row(
        &format!("POST /predict, open loop {rate} req/s, 100 % shadow (last of 3)"),
        with.last_mut().unwrap(),
    );
    row(
        &format!("POST /predict, open loop {rate} req/s, no shadow (last of 3)"),
        without.last_mut().unwrap(),
    );
    let (with_64, without_64) = (median(with_64), median(without_64));
    println!("| POST /predict, c64, 100 % shadow (median of 3) | {with_64:.0} | | | |");
    println!("| POST /predict, c64, no shadow (median of 3) | {without_64:.0} | | | |");
    println!();
    println!(
        "a 100 % shadow at {rate} req/s: client p50 {p50_with:.3} vs {p50_without:.3} ms, p99 {p99_with:.3} vs {p99_without:.3} ms (medians of 3); {shadowed:.0} requests shadowed"
    );
    println!(
        "a 100 % shadow at c64 (saturated: the shadow's work shares the cores) costs {:.1} % of goodput",
        100.0 * (1.0 - with_64 / without_64)
    );
}

/// The medians over `runs` of their p50 and p99.
fn quantiles(runs: &mut [Run]) -> (f64, f64) {
    let p50 = runs.iter_mut().map(|r| r.ok_quantile_ms(0.5)).collect();
    let p99 = runs.iter_mut().map(|r| r.ok_quantile_ms(0.99)).collect();
    (median(p50), median(p99))
}

/// Version 1 shadows every request (`on`), or no version does.
fn shadow(address: SocketAddr, on: bool) {
    match on {
        true => admin(
            address,
            "PUT",
            SHADOW,
            br#"{"version": "1.0.0", "percent": 100}"#,
        ),
        false => admin(address, "DELETE", SHADOW, b""),
    };
}

fn admin(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> wasml_test_support::http::Response {
    admin_ok(address, TOKEN, method, path, body)
}
