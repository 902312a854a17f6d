//! The Spin flavour of the bundled model (the HTTP runner, `guest/spin`, packaged with bank
//! v2's data as `wasml package --world http` does), run as what it is, a plain `wasi:http`
//! component, by the host's `--wasi-http` mode (`wasml_server::wasi_http`): it answers
//! `/predict` and `/health` exactly as the host does, bad input included; it logs JSON
//! lines; it imports only WASI (Spin refuses anything else). `cli/tests/it/spin.rs` checks
//! that `guest/spin/spin.toml` builds it.

use crate::serving;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};
use serving::{Options, Reply, SEED_ROW, TestHost, call, engine};
use wasml_runtime::ComponentCache;
use wasml_runtime::SandboxLimits;
use wasml_runtime::digest::DigestedWasm;
use wasml_server::api::body::BodyLimits;
use wasml_server::wasi_http::{self, GuestOutput, WasiHttpApp};
use wasmtime::component::Component;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

fn compile(path: &str) -> Component {
    let cache = ComponentCache::new(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cwasm"));
    let wasm = DigestedWasm::new(std::fs::read(path).unwrap());
    cache
        .load_or_compile_digested(engine(), wasm.bytes(), wasm.sha256())
        .unwrap()
        .0
}

fn spin_component() -> &'static Component {
    static SPIN: OnceLock<Component> = OnceLock::new();
    SPIN.get_or_init(|| {
        compile(wasml_test_support::bundled_http_component(
            "bank-marketing",
            "v2",
        ))
    })
}

/// The Spin component behind a router, its stdout and stderr captured.
fn spin_app() -> (Router, MemoryOutputPipe) {
    let output = MemoryOutputPipe::new(1 << 20);
    let app = WasiHttpApp::new(
        engine(),
        spin_component(),
        SandboxLimits::default(),
        GuestOutput::Capture(output.clone()),
    )
    .unwrap();
    (wasi_http::app(Arc::new(app)), output)
}

/// The native host with the limits the Spin component has (the API's defaults).
fn native_host() -> TestHost {
    TestHost::start(Options {
        body_limits: BodyLimits::default(),
        ..Options::default()
    })
}

/// One request, as both servers get it.
struct Case {
    name: String,
    method: &'static str,
    path: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
}

impl Case {
    fn post(name: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Self {
            name: name.into(),
            method: "POST",
            path: "/predict",
            content_type: Some("application/json"),
            body: body.into(),
        }
    }

    fn request(&self, id: &str) -> Request<Body> {
        let mut request = Request::builder()
            .method(self.method)
            .uri(self.path)
            .header("x-request-id", id);
        if let Some(content_type) = self.content_type {
            request = request.header("content-type", content_type);
        }
        request.body(Body::from(self.body.clone())).unwrap()
    }
}

fn conformance_inputs() -> Vec<Value> {
    crate::hot_swap::conformance_rows("v2")
}

fn bad_cases() -> Vec<Case> {
    let seed: Value = serde_json::from_str(SEED_ROW).unwrap();
    let with = |key: &str, value: Value| {
        let mut row = seed.clone();
        row[key] = value;
        row.to_string()
    };
    let mut missing = seed.clone();
    missing.as_object_mut().unwrap().remove("age");
    let mut cases =
        vec![
        Case::post("malformed JSON", r#"{"age": 30,"#),
        Case::post("not an object", "[1, 2]"),
        Case::post("wrong type", with("age", json!("thirty"))),
        Case::post("null field", with("age", Value::Null)),
        Case::post("missing field", missing.to_string()),
        Case::post("unknown category", with("job", json!("astronaut"))),
        Case::post("out of range", with("age", json!(-4))),
        Case::post("not an integer", with("campaign", json!(2.5))),
        Case::post("unknown field", with("colour", json!("blue"))),
        Case::post("empty batch", r#"{"instances": []}"#),
        Case::post("batch plus fields", r#"{"instances": [{}], "age": 3}"#),
        Case::post(
            "bad rows in a batch",
            json!({"instances": [seed, 7, with("loan", json!(true)).parse::<Value>().unwrap()]})
                .to_string(),
        ),
        Case::post(
            "batch over the row limit",
            json!({"instances": vec![seed.clone(); BodyLimits::default().max_batch_rows + 1]})
                .to_string(),
        ),
        Case::post(
            "body over the size limit",
            format!(r#"{{"pad": "{}"}}"#, "x".repeat(BodyLimits::default().max_bytes)),
        ),
    ];
    let mut wrong_type = Case::post("not JSON", SEED_ROW);
    wrong_type.content_type = Some("text/plain");
    let mut no_type = Case::post("no content type", SEED_ROW);
    no_type.content_type = None;
    let mut get_predict = Case::post("GET /predict", "");
    get_predict.method = "GET";
    let mut no_route = Case::post("no such route", SEED_ROW);
    no_route.path = "/nowhere";
    let mut health = Case::post("health", "");
    (health.method, health.path, health.content_type) = ("GET", "/health", None);
    cases.extend([wrong_type, no_type, get_predict, no_route, health]);
    cases
}

async fn assert_same_answer(host: &TestHost, spin: &Router, case: &Case, id: &str) -> Reply {
    let native = host.call(case.request(id)).await;
    let component = call(spin, case.request(id)).await;
    let name = &case.name;
    assert_eq!(component.status, native.status, "{name}: status");
    let mut native_body = native.json();
    if case.path == "/health" {
        // Only the host has an event stream (and its sinks) to report on.
        let events = native_body.as_object_mut().unwrap().remove("events");
        assert_eq!(events.unwrap()["sink"], "files", "{name}");
    }
    assert_eq!(
        component.json(),
        native_body,
        "{name}: the Spin component's body differs from the host's"
    );
    for header in ["content-type", "x-request-id"] {
        assert_eq!(
            component.headers.get(header),
            native.headers.get(header),
            "{name}: {header}"
        );
    }
    component
}

#[tokio::test]
async fn the_spin_component_answers_every_conformance_input_as_the_host() {
    let host = native_host();
    let (spin, _) = spin_app();
    let inputs = conformance_inputs();
    assert!(inputs.len() >= 100, "the conformance set has its cases");
    for (i, input) in inputs.iter().enumerate() {
        let case = Case::post(format!("conformance case {i}"), input.to_string());
        let reply = assert_same_answer(&host, &spin, &case, &format!("case-{i}")).await;
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
    }
    let batch = Case::post(
        "the conformance set as one batch",
        json!({ "instances": inputs }).to_string(),
    );
    let reply = assert_same_answer(&host, &spin, &batch, "batch").await;
    assert_eq!(
        reply.json()["predictions"].as_array().unwrap().len(),
        inputs.len()
    );
}

#[tokio::test]
async fn bad_input_gets_the_same_error_from_both() {
    let host = native_host();
    let (spin, _) = spin_app();
    let mut statuses = Vec::new();
    for case in bad_cases() {
        let reply = assert_same_answer(&host, &spin, &case, "bad-input").await;
        statuses.push(reply.status.as_u16());
    }
    // Every kind of failure was met, not only one of them.
    for status in [400, 404, 405, 413, 415, 422, 200] {
        assert!(
            statuses.contains(&status),
            "no case answered {status}: {statuses:?}"
        );
    }
}

#[tokio::test]
async fn the_component_logs_json_lines_to_stdout() {
    let (spin, output) = spin_app();
    let reply = call(&spin, Case::post("seed", SEED_ROW).request("logged-1")).await;
    assert_eq!(reply.status, 200);
    let bad = call(&spin, Case::post("bad", "{").request("logged-2")).await;
    assert_eq!(bad.status, 400);
    let text = String::from_utf8(output.contents().to_vec()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let loaded = lines
        .iter()
        .find(|l| l["message"] == "model loaded")
        .unwrap();
    assert_eq!(loaded["model"], "bank-marketing");
    let request = |id: &str| {
        lines
            .iter()
            .find(|l| l["message"] == "request" && l["request_id"] == id)
            .unwrap_or_else(|| panic!("no request line for {id} in {text}"))
            .clone()
    };
    let good = request("logged-1");
    assert_eq!(
        (good["level"].as_str(), good["status"].as_u64()),
        (Some("info"), Some(200))
    );
    assert_eq!(good["rows"], 1);
    assert!(good["inference_seconds"].as_f64().unwrap() > 0.0);
    assert!(good["timestamp"].as_str().unwrap().ends_with('Z'));
    let failed = request("logged-2");
    assert_eq!(failed["level"], "warn");
    assert!(failed["error"].as_str().unwrap().contains("not valid JSON"));
}

#[test]
fn the_component_imports_only_wasi_and_exports_the_http_handler() {
    let component = spin_component();
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(engine())
        .map(|(name, _)| name.to_owned())
        .collect();
    assert!(!imports.is_empty());
    for import in &imports {
        assert!(
            import.starts_with("wasi:"),
            "Spin refuses the import {import}"
        );
    }
    let exports: Vec<String> = ty
        .exports(engine())
        .map(|(name, _)| name.to_owned())
        .collect();
    assert!(
        exports
            .iter()
            .any(|e| e.starts_with("wasi:http/incoming-handler@0.2.")),
        "{exports:?}"
    );
}

#[test]
fn a_model_component_is_not_a_wasi_http_component() {
    let model = compile(wasml_test_support::bundled_component(
        "bank-marketing",
        "v2",
    ));
    let error = WasiHttpApp::new(
        engine(),
        &model,
        SandboxLimits::default(),
        GuestOutput::default(),
    )
    .err()
    .expect("refused");
    assert!(
        format!("{error:#}").contains("may import only WASI interfaces"),
        "{error:#}"
    );
}

/// The hostile `wasi:http` component with a 100 ms deadline and a 64 MiB cap.
fn hostile_app() -> Router {
    let component = compile(wasml_test_artifacts::HOSTILE_HTTP);
    let app = WasiHttpApp::new(
        engine(),
        &component,
        SandboxLimits::default(),
        GuestOutput::Capture(MemoryOutputPipe::new(1 << 16)),
    )
    .unwrap();
    wasi_http::app(Arc::new(app))
}

async fn get(router: &Router, path: &str) -> Reply {
    call(router, Request::get(path).body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn a_runaway_component_is_stopped_and_the_next_request_served() {
    let hostile = hostile_app();
    for (path, status, code, cause) in [
        ("/loop", 504, "deadline_exceeded", "deadline"),
        ("/hoard", 500, "model_failed", "memory limit"),
        ("/panic", 500, "model_failed", "trapped"),
    ] {
        let reply = get(&hostile, path).await;
        assert_eq!(reply.status, status, "{path}: {:?}", reply.body);
        let error = &reply.json()["error"];
        assert_eq!(error["code"], code, "{path}");
        assert!(
            error["message"].as_str().unwrap().contains(cause),
            "{path}: {error}"
        );
        let next = get(&hostile, "/").await;
        assert_eq!(
            (next.status.as_u16(), &next.body[..]),
            (200, &b"ok"[..]),
            "after {path}"
        );
    }
}

#[tokio::test]
async fn a_component_gets_no_files_sockets_outgoing_http_or_environment() {
    let hostile = hostile_app();
    for path in ["/file", "/socket", "/outgoing"] {
        let reply = get(&hostile, path).await;
        assert_eq!(reply.status, 200, "{path}");
        let text = String::from_utf8_lossy(&reply.body);
        assert!(text.starts_with("denied: "), "{path} was allowed: {text}");
    }
    let outgoing = get(&hostile, "/outgoing").await;
    assert!(
        String::from_utf8_lossy(&outgoing.body).contains("HttpRequestDenied"),
        "the host's hook, not a malformed request, refused it: {:?}",
        outgoing.body
    );
    let env = get(&hostile, "/env").await;
    assert_eq!(&env.body[..], b"0 variables");
}
