//! A request followed across processes: a caller's trace enters the host (`traceparent`),
//! whose request span carries it, and the collector's span for the ingest request that
//! brought the request's event in links to that span — both exported over OTLP/HTTP to
//! one receiver, as a trace viewer would get them.

use wasml_e2e::load::ROW;
use wasml_e2e::{ScratchDir, http, start_collector, start_host};
use wasml_test_support::otlp::OtlpReceiver;

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const CALLER: &str = "b7ad6b7169203331";

#[test]
fn the_collectors_ingest_span_links_to_the_request_span_of_each_event() {
    let receiver = OtlpReceiver::start();
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "e2e-tracing");
    let mut collector = start_collector(
        &dir.join("collector"),
        None,
        &["--otlp-endpoint", &receiver.url()],
    );
    let mut host = start_host(
        &dir.join("host"),
        &[
            "--collector-url",
            &format!("http://{}", collector.address),
            "--otlp-endpoint",
            &receiver.url(),
        ],
    );
    let traceparent = format!("00-{TRACE}-{CALLER}-01");
    let headers = [
        ("Content-Type", "application/json"),
        ("traceparent", traceparent.as_str()),
    ];
    let answer =
        http::request_with(host.address, "POST", "/predict", &headers, ROW.as_bytes()).unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    // The host stops after sending its events; the collector after exporting its spans.
    host.terminate();
    assert!(host.wait().success());
    collector.terminate();
    assert!(collector.wait().success());

    let spans = receiver.spans();
    let request = spans
        .iter()
        .find(|s| s.trace_id == TRACE && s.parent_span_id == CALLER)
        .unwrap_or_else(|| panic!("the host's request span: {spans:#?}"));
    assert_eq!(request.service_name, "wasml-host");
    let ingest = spans
        .iter()
        .find(|s| {
            s.service_name == "wasml-collector"
                && s.links
                    .contains(&(TRACE.to_owned(), request.span_id.clone()))
        })
        .unwrap_or_else(|| panic!("no collector span links to {request:?}: {spans:#?}"));
    assert_eq!(ingest.name, "POST /v1/events");
    assert_eq!(ingest.kind, 2);
    let append = spans
        .iter()
        .find(|s| s.parent_span_id == ingest.span_id)
        .expect("the WAL append is the ingest span's child");
    assert_eq!(append.name, "wal append");
    assert!(ingest.start_ns <= append.start_ns && append.end_ns <= ingest.end_ns);
}
