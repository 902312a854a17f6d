//! A Triton/KServe user's view: Triton's own Python HTTP client (`tritonclient[http]`,
//! installed by `.ci/run` into `.venv-v2-client/`) calls the release host over TCP —
//! health, metadata, inference with an explicit request ID, and a bad row — and gets the
//! same predictions as `POST /predict`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use wasml_test_support::process::{Process, host_command};
use wasml_test_support::{http, venv_program};

/// `POST /predict`'s predictions for `rows` (a JSON array of rows) from the host at
/// `address`: what the protocol's clients must get too.
pub(crate) fn predictions_over_rest(address: std::net::SocketAddr, rows: &Value) -> Vec<Value> {
    let body = json!({ "instances": rows }).to_string();
    let (status, native) = http::json(address, "POST", "/predict", &body).unwrap();
    assert_eq!(status, 200, "{native}");
    native["predictions"].as_array().unwrap().clone()
}

/// Runs `tests/v2-client/<script> ADDRESS ROWS` in the client's virtualenv and gives the
/// JSON report it prints.
pub(crate) fn run_client(script: &str, address: &str, rows: &Value) -> Value {
    let script = format!("{}/../tests/v2-client/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(client_python())
        .arg(script)
        .arg(address)
        .arg(rows.to_string())
        .output()
        .expect("the client runs");
    assert!(
        output.status.success(),
        "client failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the client's JSON report")
}

/// The virtualenv's Python, or `$WASML_V2_CLIENT_PYTHON`.
fn client_python() -> PathBuf {
    venv_program(
        ".venv-v2-client",
        "python",
        "WASML_V2_CLIENT_PYTHON",
        "v2-client",
    )
}

#[test]
fn tritonclient_calls_the_host_as_it_calls_triton() {
    let cache = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cwasm");
    let events = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("v2-client-events");
    let mut command = host_command(env!("CARGO_BIN_EXE_wasml-host"));
    command
        .arg("--cache-dir")
        .arg(&cache)
        .arg("--events")
        .arg(&events);
    let host = Process::start(command, Duration::from_secs(120));

    let rows = json!([
        {"age": 30, "job": "admin.", "marital": "single", "education": "secondary",
         "housing": "yes", "loan": "no", "duration": 200, "campaign": 2},
        {"age": 58, "job": "retired", "marital": "married", "education": "tertiary",
         "housing": "no", "loan": "no", "duration": 1200, "campaign": 1}
    ]);
    let report = run_client("client_test.py", &host.address.to_string(), &rows);

    for probe in ["server_live", "server_ready", "model_ready"] {
        assert_eq!(report[probe], true, "{probe}: {report}");
    }
    assert_eq!(report["unknown_model_ready"], false);
    assert_eq!(report["server_name"], "wasml");
    assert_eq!(report["versions"], json!(["2.0.0"]));
    assert_eq!(report["id"], "7", "the request ID comes back");
    assert_eq!(report["model_version"], "2.0.0");

    let predictions = predictions_over_rest(host.address, &rows);
    for (i, prediction) in predictions.iter().enumerate() {
        assert_eq!(report["labels"][i], prediction["label"]);
        assert_eq!(report["probabilities"][i], prediction["probabilities"]);
    }
    // The bad row (age 250) is refused as /predict refuses it, and the client says why.
    assert_eq!(report["bad_row"]["status"], "422", "{report}");
    let message = report["bad_row"]["message"].as_str().unwrap();
    assert!(message.contains("age"), "{message}");
    host.terminate();
}
