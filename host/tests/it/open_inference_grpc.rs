//! The Open Inference Protocol over gRPC as Triton's users call it: Triton's own Python
//! gRPC client (`tritonclient[grpc]`, in `.venv-v2-client/`) against the release host —
//! readiness, metadata, inference with raw and with typed contents over the bundled
//! model's whole conformance set, and every kind of bad request with its status code. The
//! predictions must be REST's and the conformance set's; the calls must show in
//! `/metrics` under their gRPC methods and in the events.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Value, json};
use wasml_predictor::api::input::{DEFAULT_MAX_BATCH_ROWS, DEFAULT_MAX_BODY_BYTES};
use wasml_test_support::http;
use wasml_test_support::process::{Process, host_command};

use crate::hot_swap::{conformance_json, conformance_rows};
use crate::open_inference_client::{predictions_over_rest, run_client};

/// The release host with a gRPC listener on an ephemeral port: the process and the gRPC
/// address from its `grpc listening` line.
pub(crate) fn host_with_grpc(events: &str) -> (Process, String) {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let mut command = host_command(env!("CARGO_BIN_EXE_wasml-host"));
    command
        .arg("--cache-dir")
        .arg(tmp.join("cwasm"))
        .arg("--events")
        .arg(tmp.join(events));
    let host = Process::start(command, Duration::from_secs(120));
    let address = host
        .log()
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|entry| entry["fields"]["message"] == "grpc listening")
        .and_then(|entry| entry["fields"]["address"].as_str().map(str::to_owned))
        .expect("the host names its gRPC address before it says it listens");
    (host, address)
}

#[test]
fn tritonclient_calls_the_host_over_grpc_as_it_calls_triton() {
    let events = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("grpc-client-events");
    let _ = std::fs::remove_dir_all(&events);
    let (host, grpc) = host_with_grpc("grpc-client-events");
    let rows = conformance_rows("v2");
    assert!(rows.len() >= 100, "the conformance set has its cases");

    let report = run_client("grpc_client_test.py", &grpc, &Value::from(rows.clone()));

    for probe in ["server_live", "server_ready", "model_ready"] {
        assert_eq!(report[probe], true, "{probe}: {report}");
    }
    assert_eq!(report["unknown_model_ready"], false);
    assert_eq!(report["server_name"], "wasml");
    assert_eq!(report["versions"], json!(["2.0.0"]));
    assert_eq!(report["platform"], "wasml_wasm_component");
    assert_eq!(report["raw"]["id"], "7", "the request's id comes back");
    assert_eq!(report["raw"]["model_version"], "2.0.0");
    assert_eq!(
        report["raw"]["request_id"].as_str().map(str::len),
        Some(32),
        "the host's request ID, for feedback: {report}"
    );
    assert_eq!(report["typed"]["id"], "typed");

    // Raw and typed contents, REST and the conformance set: the same predictions.
    let predictions = predictions_over_rest(host.address, &Value::from(rows.clone()));
    let conformance: Value = serde_json::from_str(&conformance_json("v2")).unwrap();
    let tolerance = conformance["tolerance"].as_f64().unwrap();
    for form in ["raw", "typed"] {
        for (i, prediction) in predictions.iter().enumerate() {
            assert_eq!(report[form]["labels"][i], prediction["label"], "{form} {i}");
            assert_eq!(
                report[form]["probabilities"][i], prediction["probabilities"],
                "{form} {i}"
            );
            let expected = conformance["cases"][i]["probabilities"].as_array().unwrap();
            for (got, want) in report[form]["probabilities"][i]
                .as_array()
                .unwrap()
                .iter()
                .zip(expected)
            {
                let (got, want) = (got.as_f64().unwrap(), want.as_f64().unwrap());
                assert!(
                    (got - want).abs() <= tolerance,
                    "{form} {i}: {got} vs {want}"
                );
            }
        }
    }

    // Every kind of bad request: its code, and REST's message naming the cause.
    let bad = &report["bad"];
    // The client sends 2,000 rows and a 2 MiB message to a host with the default limits.
    let too_many = format!("the batch has 2000 rows; the limit is {DEFAULT_MAX_BATCH_ROWS}");
    let too_large = format!("the limit is: {DEFAULT_MAX_BODY_BYTES} bytes");
    let cases = [
        ("field_value", "INVALID_ARGUMENT", "age"),
        (
            "shape",
            "INVALID_ARGUMENT",
            "shape [2] holds 2 elements, data has 1",
        ),
        (
            "datatype",
            "INVALID_ARGUMENT",
            "datatype \"COMPLEX64\" is not one of",
        ),
        (
            "unknown_model",
            "NOT_FOUND",
            "no model named \"no-such-model\"",
        ),
        ("unknown_version", "NOT_FOUND", "9.9.9"),
        ("missing_input", "INVALID_ARGUMENT", "campaign"),
        ("batch_too_large", "INVALID_ARGUMENT", too_many.as_str()),
        ("message_too_large", "OUT_OF_RANGE", too_large.as_str()),
    ];
    for (kind, code, cause) in cases {
        let refusal = &bad[kind];
        let message = refusal["message"].as_str().unwrap_or_default();
        assert!(
            refusal["code"].as_str().unwrap_or_default().contains(code),
            "{kind}: {refusal}"
        );
        assert!(
            message.contains(cause),
            "{kind}: {message:?} lacks {cause:?}"
        );
    }

    // The calls are counted under their gRPC methods, with REST's statuses.
    let metrics = http::request_with(host.address, "GET", "/metrics", &[], b"")
        .unwrap()
        .body;
    for series in [
        "route=\"/inference.GRPCInferenceService/ModelInfer\",status=\"200\"",
        "route=\"/inference.GRPCInferenceService/ModelInfer\",status=\"400\"",
        "route=\"/inference.GRPCInferenceService/ModelInfer\",status=\"404\"",
        "route=\"/inference.GRPCInferenceService/ModelInfer\",status=\"413\"",
        "route=\"/inference.GRPCInferenceService/ModelMetadata\",status=\"200\"",
        "route=\"/inference.GRPCInferenceService/ServerLive\",status=\"200\"",
    ] {
        assert!(
            metrics.contains(series),
            "no http_request_duration_seconds series with {series}"
        );
    }
    host.terminate();
    drop(host);

    // And each call has its event: the failed ones with the cause.
    let events = crate::serving::read_events(&events);
    let infers: Vec<_> = events
        .iter()
        .filter(|e| e.endpoint.as_deref() == Some("/inference.GRPCInferenceService/ModelInfer"))
        .collect();
    assert!(
        infers.iter().any(|e| e.status == Some(200)
            && e.model.as_deref() == Some("bank-marketing")
            && e.rows == Some(rows.len() as u32)),
        "a served batch's event"
    );
    assert!(
        infers.iter().any(|e| e.status == Some(422)
            && e.error.as_deref().is_some_and(|m| m.contains("age"))),
        "the bad field value's event"
    );
}
