//! OpenTelemetry traces (`--otlp-endpoint`), received by an OTLP/HTTP receiver: a request
//! sent inside a sampled trace is a server span under the caller's span, with its stages
//! as children — admission queue, model call (and within it the guest's feature
//! processing and inference), event write — carrying the HTTP and model attributes, and
//! its event names that very span; a request in an unsampled trace exports nothing; one
//! without `traceparent` is the root of a trace of its own.

use std::collections::BTreeMap;

use wasml_test_support::http;
use wasml_test_support::otlp::{OtlpReceiver, ReceivedSpan};

use crate::binary::{scratch, start_host};
use crate::serving::{SEED_ROW, event_of, read_events};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER: &str = "00f067aa0ba902b7";
const UNSAMPLED: &str = "5bf92f3577b34da6a3ce929d0e0e4737";

/// `POST /predict` with `traceparent`, if given; the request ID.
fn predict(address: std::net::SocketAddr, traceparent: Option<&str>) -> String {
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend(traceparent.map(|t| ("traceparent", t)));
    let answer =
        http::request_with(address, "POST", "/predict", &headers, SEED_ROW.as_bytes()).unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
    body["request_id"].as_str().unwrap().to_owned()
}

#[test]
fn a_request_is_a_server_span_with_its_stages_in_the_callers_trace() {
    let receiver = OtlpReceiver::start();
    let dir = scratch("otlp");
    let mut host = start_host(&dir, &["--otlp-endpoint", &receiver.url()]);
    let traced = predict(host.address, Some(&format!("00-{TRACE}-{CALLER}-01")));
    predict(host.address, Some(&format!("00-{UNSAMPLED}-{CALLER}-00")));
    let root = predict(host.address, None);
    // Stopping exports what is batched.
    host.terminate();
    assert!(host.wait().success());
    let spans = receiver.spans();
    assert!(
        spans.iter().all(|s| s.trace_id != UNSAMPLED),
        "an unsampled trace exported spans"
    );
    let server = spans
        .iter()
        .find(|s| s.trace_id == TRACE && s.kind == 2)
        .unwrap_or_else(|| panic!("no server span in the caller's trace: {spans:#?}"));
    assert_eq!(server.name, "POST /predict");
    assert_eq!(server.parent_span_id, CALLER);
    assert_eq!(server.service_name, "wasml-host");
    for (key, value) in [
        ("http.request.method", "POST"),
        ("http.route", "/predict"),
        ("http.response.status_code", "200"),
        ("ml.model.name", "bank-marketing"),
        ("wasml.request_id", traced.as_str()),
    ] {
        assert_eq!(
            server.attributes.get(key).map(String::as_str),
            Some(value),
            "{key}"
        );
    }
    let children = |parent: &ReceivedSpan| -> BTreeMap<String, ReceivedSpan> {
        spans
            .iter()
            .filter(|s| s.trace_id == TRACE && s.parent_span_id == parent.span_id)
            .map(|s| (s.name.clone(), s.clone()))
            .collect()
    };
    let stages = children(server);
    let names: Vec<&str> = stages.keys().map(String::as_str).collect();
    assert_eq!(names, ["admission queue", "event write", "model call"]);
    let call = &stages["model call"];
    let guest = children(call);
    let names: Vec<&str> = guest.keys().map(String::as_str).collect();
    assert_eq!(names, ["feature processing", "inference"]);
    for span in stages.values().chain(guest.values()) {
        assert_eq!(span.kind, 1, "{} is internal", span.name);
        assert!(
            server.start_ns <= span.start_ns
                && span.start_ns <= span.end_ns
                && span.end_ns <= server.end_ns,
            "{} lies within the request: {span:?} in {server:?}",
            span.name
        );
    }
    assert!(guest["feature processing"].end_ns <= guest["inference"].start_ns);

    // The events name the spans: a log line leads to its trace.
    let events = read_events(&dir.join("events"));
    let traced = event_of(&events, &traced);
    assert_eq!(traced.trace_id.as_deref(), Some(TRACE));
    assert_eq!(traced.span_id.as_deref(), Some(server.span_id.as_str()));
    let root = event_of(&events, &root);
    let root_span = spans
        .iter()
        .find(|s| Some(s.span_id.as_str()) == root.span_id.as_deref())
        .expect("the request without traceparent has a span");
    assert_eq!(root_span.parent_span_id, "", "a root");
    assert_eq!(Some(root_span.trace_id.as_str()), root.trace_id.as_deref());
}
