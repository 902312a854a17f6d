//! A fleet on loopback: three `wasml-host` processes sharing one models directory and one
//! `wasml-collector` (to the Elasticsearch-API test server), behind HAProxy, under steady
//! load through the balancer. A new model version copied into the shared directory becomes
//! active on all three with no request failing, and a `rollout.json` naming the old one rolls
//! all three back; then one host is killed with SIGKILL: only
//! requests in flight at that moment may fail, the health checks route around it, and the
//! events of every request the surviving hosts answered are indexed exactly once.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use wasml_e2e::balancer::Balancer;
use wasml_e2e::load::{Load, ROW, Sent};
use wasml_e2e::{
    ScratchDir, eventually, http, indexed_predictions, start_collector, start_es, start_host,
};

const MODEL: &str = "bank-marketing";
/// Load threads: each has one request open at a time, so at most this many are in flight.
const THREADS: usize = 4;
/// How often each host scans the models directory.
const WATCH_MS: &str = "200";
/// The convergence the README states (a scan to notice, one to see the copy settled, the
/// compile from the shared cache and the gate), with room for a loaded CI machine.
const CONVERGES_WITHIN: Duration = Duration::from_secs(60);

/// The version a host's active `bank-marketing` answers with (asked directly, not through
/// the balancer).
fn active_version(host: SocketAddr) -> Option<String> {
    let (status, body) = http::json(host, "POST", "/predict", ROW).ok()?;
    (status == 200).then(|| body["model"]["version"].as_str().map(str::to_owned))?
}

/// Waits until every host answers with `version`; how long that took.
fn converge(hosts: &[SocketAddr], version: &str) -> Duration {
    let start = Instant::now();
    let converged = eventually(CONVERGES_WITHIN, || {
        hosts
            .iter()
            .all(|host| active_version(*host).as_deref() == Some(version))
    });
    assert!(
        converged,
        "not every host made {version} active within {CONVERGES_WITHIN:?}"
    );
    start.elapsed()
}

/// Copies version 2.0.0 in as an operator should: its conformance set first, then the
/// component under a temporary name, renamed into place (atomic on one filesystem).
fn drop_in_version_2(models: &Path) {
    let dir = models.join(MODEL);
    let set = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../guest/models/bank-marketing/v2/conformance.json");
    std::fs::copy(set, dir.join("2.0.0.conformance.json")).unwrap();
    let staged = dir.join(".2.0.0.wasm.partial");
    std::fs::copy(wasml_test_support::bundled_component(MODEL, "v2"), &staged).unwrap();
    std::fs::rename(staged, dir.join("2.0.0.wasm")).unwrap();
}

#[test]
fn a_fleet_converges_on_a_new_version_and_survives_a_host_killed_under_load() {
    let (_runtime, es) = start_es();
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "fleet");
    let models = dir.join("models");
    std::fs::create_dir_all(models.join(MODEL)).unwrap();
    std::fs::copy(
        wasml_test_support::bundled_component(MODEL, "v1"),
        models.join(MODEL).join("1.0.0.wasm"),
    )
    .unwrap();
    let collector = start_collector(&dir.join("collector"), Some(&es.url()), &[]);
    let collector_url = format!("http://{}", collector.address);
    let models_arg = models.to_str().unwrap();
    let mut hosts: Vec<_> = (0..3)
        .map(|i| {
            start_host(
                &dir.join(format!("host{i}")),
                &[
                    "--collector-url",
                    &collector_url,
                    "--models-dir",
                    models_arg,
                    "--watch-interval-ms",
                    WATCH_MS,
                ],
            )
        })
        .collect();
    let addresses: Vec<SocketAddr> = hosts.iter().map(|h| h.address).collect();
    let balancer = Balancer::start(&dir.join("haproxy"), &addresses);
    // Every server is up in HAProxy's eyes before the load starts.
    let mut seen = std::collections::BTreeSet::new();
    assert!(
        eventually(Duration::from_secs(20), || {
            if let Ok(r) = http::request(
                balancer.address,
                "POST",
                "/predict",
                "application/json",
                ROW.as_bytes(),
            ) && let Some(server) = r.header("x-served-by")
            {
                seen.insert(server.to_owned());
            }
            seen.len() == 3
        }),
        "the balancer reaches all three hosts: {seen:?}"
    );

    let load = Load::start(balancer.address, THREADS, Some(150.0));
    std::thread::sleep(Duration::from_secs(2));

    // Roll out 2.0.0 by copying it into the shared directory: every host takes it.
    drop_in_version_2(&models);
    let convergence = converge(&addresses, "2.0.0");
    std::thread::sleep(Duration::from_secs(1));

    // Roll back for the whole fleet with one file: every host returns to 1.0.0.
    std::fs::write(
        models.join(MODEL).join("rollout.json"),
        r#"{"active": "1.0.0"}"#,
    )
    .unwrap();
    let rollback = converge(&addresses, "1.0.0");
    std::thread::sleep(Duration::from_secs(1));

    // SIGKILL one host under load.
    let killed = Instant::now();
    hosts[1].kill9();
    std::thread::sleep(Duration::from_secs(4));
    let sent = load.stop();

    // Before the kill, through the rollout: every request answered 200.
    let before: Vec<&Sent> = sent.iter().filter(|s| s.at + s.latency < killed).collect();
    let failed_before: Vec<_> = before.iter().filter(|s| !s.succeeded()).collect();
    assert!(
        failed_before.is_empty(),
        "{} of {} requests failed before the kill, e.g. {:?}",
        failed_before.len(),
        before.len(),
        failed_before.first()
    );
    // At the kill: only requests in flight then may fail; afterwards none does.
    let in_flight = |s: &&Sent| s.at < killed && s.at + s.latency >= killed;
    let failed: Vec<&Sent> = sent.iter().filter(|s| !s.succeeded()).collect();
    assert!(
        failed.iter().all(in_flight),
        "a request not in flight at the kill failed: {:?}",
        failed.iter().find(|s| !in_flight(s))
    );
    let in_flight_count = sent.iter().filter(in_flight).count();
    assert!(failed.len() <= in_flight_count && in_flight_count <= THREADS);
    let after: Vec<&Sent> = sent
        .iter()
        .filter(|s| s.at > killed + Duration::from_secs(1))
        .collect();
    assert!(after.len() > 100, "{} requests after the kill", after.len());
    assert!(
        after
            .iter()
            .all(|s| s.served_by.as_deref() != Some("host1"))
    );
    // HAProxy's health checks took it out (not only its retries on a refused connection).
    assert!(
        balancer.log().contains("Server hosts/host1 is DOWN"),
        "{}",
        balancer.log()
    );

    // Events: each answer of a surviving host indexed exactly once; none indexed twice.
    let answered_by = |server: &str| -> Vec<String> {
        sent.iter()
            .filter(|s| s.succeeded() && s.served_by.as_deref() == Some(server))
            .filter_map(|s| s.result.as_ref().ok()?.1.clone())
            .collect()
    };
    let survivors: Vec<String> = ["host0", "host2"]
        .iter()
        .flat_map(|h| answered_by(h))
        .collect();
    let complete = eventually(Duration::from_secs(90), || {
        let now = indexed_predictions(&es);
        survivors.iter().all(|id| now.contains_key(id))
    });
    let counts = indexed_predictions(&es);
    let missing = survivors
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .count();
    assert!(
        complete,
        "{missing} of {} surviving hosts' events missing",
        survivors.len()
    );
    let doubled: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(doubled.is_empty(), "indexed twice: {doubled:?}");
    let of_killed = answered_by("host1");
    let killed_indexed = of_killed
        .iter()
        .filter(|id| counts.contains_key(*id))
        .count();
    eprintln!(
        "fleet: 2.0.0 active on all 3 hosts {:.2} s after the copy, 1.0.0 again {:.2} s after rollout.json named it; {} requests, {} failed \
         at the SIGKILL ({} in flight on the fleet then); surviving hosts' {} events indexed once each; the \
         killed host's: {} of {} answered indexed",
        convergence.as_secs_f64(),
        rollback.as_secs_f64(),
        sent.len(),
        failed.len(),
        in_flight_count,
        survivors.len(),
        killed_indexed,
        of_killed.len()
    );
    drop(balancer);
}
