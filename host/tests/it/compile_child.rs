//! The host compiles components in a child process (`wasml-host compile IN OUT`) under a
//! time and a memory limit: a compile past either fails with its cause, writes no
//! cache entry, and leaves the server serving; within them, the child's entry is what the
//! server maps.

use std::time::{Duration, Instant};

use serde_json::Value;
use wasml_test_support::http;
use wasml_test_support::process::host_command;

use crate::binary::{scratch, start_host};

const TOKEN: &str = "compile-child-token";

/// The `.cwasm` entries in a host's cache directory.
fn entries(cache: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(cache)
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|name| name.ends_with(".cwasm"))
                .collect()
        })
        .unwrap_or_default()
}

/// `wasml-host` serving the bundled model in `dir`, run to its end: the start must fail.
fn failed_start(dir: &std::path::Path, extra: &[&str]) -> String {
    let output = host_command(env!("CARGO_BIN_EXE_wasml-host"))
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .arg("--events")
        .arg(dir.join("events"))
        .args(extra)
        .output()
        .unwrap();
    assert!(!output.status.success(), "the host started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn a_compile_past_its_limits_fails_with_the_cause_and_writes_nothing() {
    let dir = scratch("compile-child-limits");
    let log = failed_start(&dir, &["--compile-timeout-secs", "0"]);
    assert!(
        log.contains("compiling took longer than 0ns; the compiler process was killed"),
        "{log}"
    );
    // Too little memory to compile a runner.
    let log = failed_start(&dir, &["--compile-memory-mib", "64"]);
    assert!(log.contains("compiler process"), "{log}");
    assert!(
        entries(&dir.join("cache")).is_empty(),
        "no entry was written"
    );

    // Within the limits, the child writes the entry the server then maps.
    let host = start_host(&dir, &[]);
    let (status, body) = http::json(host.address, "GET", "/status", "").unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["models"][0]["cache"], "compiled", "{body}");
    assert_eq!(entries(&dir.join("cache")).len(), 1);
}

#[test]
fn an_upload_whose_compile_is_killed_fails_while_the_model_serves() {
    let dir = scratch("compile-child-upload");
    // A first run compiles the runner into the cache, so the second starts from it.
    drop(start_host(&dir, &[]));
    let host = start_host(
        &dir,
        &["--admin-token", TOKEN, "--compile-timeout-secs", "0"],
    );
    let auth = format!("Bearer {TOKEN}");
    let hostile = std::fs::read(wasml_test_artifacts::HOSTILE).unwrap();
    let path = "/admin/models/hostile/versions/0.0.0";
    let reply = http::request_with(
        host.address,
        "PUT",
        path,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/wasm"),
        ],
        &hostile,
    )
    .unwrap();
    assert_eq!(reply.status, 202, "{}", reply.body);

    let started = Instant::now();
    let listing = loop {
        let reply = http::request_with(host.address, "GET", path, &[("Authorization", &auth)], b"")
            .unwrap();
        let listing: Value = reply.json();
        if listing["state"] != "compiling" || started.elapsed() > Duration::from_secs(60) {
            break listing;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(listing["state"], "failed", "{listing}");
    let reason = listing["reason"].as_str().unwrap();
    assert!(
        reason.contains("the compiler process was killed"),
        "{reason}"
    );

    let row = r#"{"age": 30, "job": "admin.", "marital": "single", "education": "secondary", "housing": "yes", "loan": "no", "duration": 200, "campaign": 2}"#;
    let (status, prediction) = http::json(host.address, "POST", "/predict", row).unwrap();
    assert_eq!(status, 200, "the active model still serves: {prediction}");
}
