//! The `wasml-host` binary as a process: starts, serves over TCP, caches compiled
//! components across restarts, and on SIGTERM finishes in-flight requests, refuses new
//! ones and writes its queued events before exiting 0.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use wasml_server::event_sink::Event;
use wasml_test_support::process::{Process, host_command};
use wasml_test_support::{ScratchDir, http};

use crate::serving;

const SEED_ROW: &str = r#"{"age": 30, "job": "admin.", "marital": "single", "education": "secondary", "housing": "yes", "loan": "no", "duration": 200, "campaign": 2}"#;

/// A host process on a loopback port, with its cache and events in `dir`.
pub(crate) fn start_host(dir: &Path, extra: &[&str]) -> Process {
    let mut command = host_command(env!("CARGO_BIN_EXE_wasml-host"));
    command
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .arg("--events")
        .arg(dir.join("events"))
        .args(extra);
    Process::start(command, Duration::from_secs(120))
}

fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> std::io::Result<(u16, Value)> {
    http::json(address, method, path, body)
}

fn call(host: &Process, method: &str, path: &str, body: &str) -> (u16, Value) {
    request(host.address, method, path, body).expect("the host answers")
}

/// The address a `<message>` log line of `host` names.
pub(crate) fn logged_address(host: &Process, message: &str) -> SocketAddr {
    host.log()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|entry| entry["fields"]["message"] == message)
        .and_then(|entry| entry["fields"]["address"].as_str()?.parse().ok())
        .unwrap_or_else(|| panic!("no `{message}` line with an address"))
}

pub(crate) fn scratch(name: &str) -> ScratchDir {
    ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), name)
}

fn events(dir: &Path) -> Vec<Event> {
    serving::read_events(&dir.join("events"))
}

#[test]
fn serves_caches_across_restarts_and_stops_cleanly() {
    let dir = scratch("binary-restart");
    let mut host = start_host(&dir, &[]);
    let (status, prediction) = call(&host, "POST", "/predict", SEED_ROW);
    assert_eq!(status, 200, "{prediction}");
    assert_eq!(prediction["model"]["name"], "bank-marketing");
    let id = prediction["request_id"].as_str().unwrap().to_owned();
    assert_eq!(
        call(&host, "GET", "/status", "").1["models"][0]["cache"],
        "compiled"
    );
    assert!(host.logged("still compiling") || host.logged("compiled and cached"));

    host.terminate();
    assert!(host.wait().success());
    assert!(host.logged("\"stopped\""));
    // The request's event reached the file before exit.
    assert!(
        events(&dir)
            .iter()
            .any(|e| e.request_id.as_deref() == Some(id.as_str()) && e.status == Some(200))
    );

    let mut again = start_host(&dir, &[]);
    let (_, status) = call(&again, "GET", "/status", "");
    assert_eq!(
        status["models"][0]["cache"], "hit",
        "a restart loads the cached code"
    );
    assert_eq!(
        call(&again, "POST", "/predict", SEED_ROW).1["probabilities"],
        prediction["probabilities"]
    );
    again.terminate();
    assert!(again.wait().success());
}

#[test]
fn sigterm_lets_in_flight_requests_finish_and_refuses_new_ones() {
    let dir = scratch("binary-drain");
    let bank = wasml_test_support::bundled_component("bank-marketing", "v2");
    let hostile = wasml_test_artifacts::HOSTILE;
    let mut host = start_host(
        &dir,
        &["--model", bank, "--model", hostile, "--deadline-ms", "1500"],
    );
    let address = host.address;
    // A request that runs until its 1.5 s deadline, in flight when SIGTERM arrives.
    let slow = std::thread::spawn(move || {
        request(
            address,
            "POST",
            "/models/hostile/predict",
            r#"{"mode": "loop"}"#,
        )
    });
    std::thread::sleep(Duration::from_millis(500));
    host.terminate();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        request(address, "GET", "/health", "").is_err(),
        "no new connections once shutting down"
    );
    let (status, body) = slow
        .join()
        .unwrap()
        .expect("the in-flight request got its answer");
    assert_eq!(status, 504, "{body}");
    assert!(host.wait().success());
    let id = body["request_id"].as_str().unwrap();
    assert!(
        events(&dir)
            .iter()
            .any(|e| e.request_id.as_deref() == Some(id) && e.status == Some(504))
    );
    // Log lines written while serving carry the request's ID (its span).
    let log = host.log();
    let failure = log
        .iter()
        .find(|l| l.contains("model call failed"))
        .expect("the trap is logged");
    let failure: Value = serde_json::from_str(failure).unwrap();
    assert_eq!(failure["span"]["request_id"], id, "{failure}");
}

#[test]
fn help_explains_every_flag_with_its_environment_variable() {
    let output = Command::new(env!("CARGO_BIN_EXE_wasml-host"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for (flag, env) in [
        ("--listen", "WASML_LISTEN"),
        ("--grpc-listen", "WASML_GRPC_LISTEN"),
        ("--model", "WASML_MODEL"),
        ("--models-dir", "WASML_MODELS_DIR"),
        ("--cache-dir", "WASML_CACHE_DIR"),
        ("--compile-timeout-secs", "WASML_COMPILE_TIMEOUT_SECS"),
        ("--compile-memory-mib", "WASML_COMPILE_MEMORY_MIB"),
        ("--deadline-ms", "WASML_DEADLINE_MS"),
        ("--memory-mib", "WASML_MEMORY_MIB"),
        ("--pool-size", "WASML_POOL_SIZE"),
        ("--max-concurrent", "WASML_MAX_CONCURRENT"),
        ("--max-queued", "WASML_MAX_QUEUED"),
        ("--body-read-timeout-secs", "WASML_BODY_READ_TIMEOUT_SECS"),
        ("--queue-target-ms", "WASML_QUEUE_TARGET_MS"),
        ("--queue-timeout-ms", "WASML_QUEUE_TIMEOUT_MS"),
        ("--max-body-bytes", "WASML_MAX_BODY_BYTES"),
        ("--events", "WASML_EVENTS"),
        ("--collector-url", "WASML_COLLECTOR_URL"),
        ("--elasticsearch-url", "WASML_ELASTICSEARCH_URL"),
        ("--elasticsearch-api-key", "WASML_ELASTICSEARCH_API_KEY"),
        ("--elasticsearch-ca-cert", "WASML_ELASTICSEARCH_CA_CERT"),
        ("--elasticsearch-setup", "WASML_ELASTICSEARCH_SETUP"),
        ("--bulk-max-in-flight", "WASML_BULK_MAX_IN_FLIGHT"),
        ("--log-format", "WASML_LOG_FORMAT"),
    ] {
        assert!(
            help.contains(flag) && help.contains(env),
            "{flag} / {env} in --help"
        );
    }
}

#[test]
fn a_bad_configuration_fails_at_start_with_the_cause() {
    let dir = scratch("binary-bad");
    let output = host_command(env!("CARGO_BIN_EXE_wasml-host"))
        .arg("--model")
        .arg(dir.join("missing.wasm"))
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("missing.wasm"), "{log}");
    let not_a_component = dir.join("junk.wasm");
    std::fs::write(&not_a_component, b"\0asm junk").unwrap();
    let output = host_command(env!("CARGO_BIN_EXE_wasml-host"))
        .arg("--model")
        .arg(&not_a_component)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("compiling the component"));
}

#[test]
fn the_probe_command_is_a_health_check_without_a_shell_or_curl() {
    let dir = scratch("binary-probe");
    let host = start_host(&dir, &[]);
    let probe = |url: String| {
        let output = Command::new(env!("CARGO_BIN_EXE_wasml-host"))
            .args(["probe", &url])
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let (healthy, text) = probe(format!("http://{}/health", host.address));
    assert!(healthy, "{text}");
    assert!(text.starts_with("HTTP/1.0 200"), "{text}");
    let (healthy, text) = probe(format!("http://{}/no-such-route", host.address));
    assert!(!healthy && text.contains("404"), "{text}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (healthy, text) = probe(format!("http://{closed}/health"));
    assert!(!healthy && text.contains("refused"), "{text}");
    let (healthy, text) = probe("https://127.0.0.1/health".to_owned());
    assert!(!healthy && text.contains("only http://"), "{text}");
}

#[test]
fn the_admin_api_can_have_a_listener_of_its_own() {
    let dir = scratch("binary-admin-listen");
    let host = start_host(
        &dir,
        &[
            "--admin-token",
            "split-t0ken",
            "--admin-listen",
            "127.0.0.1:0",
        ],
    );
    let admin_address = logged_address(&host, "admin listening");
    let bearer = [("Authorization", "Bearer split-t0ken")];
    let on = |address, path: &str| {
        http::request_with(address, "GET", path, &bearer, b"")
            .unwrap()
            .status
    };
    assert_eq!(on(admin_address, "/admin/models"), 200);
    assert_eq!(
        on(host.address, "/admin/models"),
        404,
        "not on the public port"
    );
    assert_eq!(
        on(admin_address, "/health"),
        404,
        "only the admin API there"
    );
    assert_eq!(on(host.address, "/health"), 200);

    // Without the admin API on, an admin listener is a configuration error, refused
    // before any model is loaded.
    let output = host_command(env!("CARGO_BIN_EXE_wasml-host"))
        .args(["--admin-listen", "127.0.0.1:0", "--cache-dir"])
        .arg(dir.join("cache"))
        .arg("--events")
        .arg(dir.join("events"))
        .env_remove("WASML_ADMIN_TOKEN")
        .env_remove("WASML_ADMIN_TOKEN_FILE")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("required arguments were not provided")
            && log.contains("--admin-token <TOKEN>|--admin-token-file <FILE>"),
        "{log}"
    );
}
