//! An OpenTelemetry receiver for tests: OTLP/HTTP with protobuf bodies (`POST
//! /v1/traces`, an `ExportTraceServiceRequest`), as a collector, Jaeger or Tempo takes it.
//! It keeps every span it was sent, flattened for assertions, and answers as the
//! specification says (200 with an empty `ExportTraceServiceResponse`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message as _;

/// One span as received, its IDs in lowercase hex.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// The span's name.
    pub name: String,
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// The parent's span ID, empty for a root.
    pub parent_span_id: String,
    /// OTLP's `SpanKind` (2: server, 1: internal).
    pub kind: i32,
    /// Start and end, nanoseconds since the epoch.
    pub start_ns: u64,
    /// End.
    pub end_ns: u64,
    /// The span's attributes, each value as text.
    pub attributes: BTreeMap<String, String>,
    /// The resource's `service.name`.
    pub service_name: String,
    /// OTLP's status code (2: error).
    pub status_code: i32,
    /// The spans it links to: (trace ID, span ID).
    pub links: Vec<(String, String)>,
}

/// What the receiver does with an export.
#[derive(Clone)]
struct Received {
    /// Decoded spans; `None`: exports are counted, not decoded (a bench's receiver must not
    /// take the machine's CPU from what it measures).
    spans: Option<Arc<Mutex<Vec<ReceivedSpan>>>>,
    /// Export requests taken.
    exports: Arc<std::sync::atomic::AtomicU64>,
}

/// A receiver on a loopback port, until dropped.
pub struct OtlpReceiver {
    address: SocketAddr,
    received: Received,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OtlpReceiver {
    /// Starts a receiver on `127.0.0.1` (an ephemeral port) that keeps every span.
    pub fn start() -> Self {
        Self::start_with(Some(Arc::default()))
    }

    /// Starts a receiver that answers every export without decoding it, only counting.
    pub fn discarding() -> Self {
        Self::start_with(None)
    }

    fn start_with(spans: Option<Arc<Mutex<Vec<ReceivedSpan>>>>) -> Self {
        let received = Received {
            spans,
            exports: Arc::default(),
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).expect("non-blocking");
        let address = listener.local_addr().expect("its address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .route("/v1/traces", post(receive))
            .with_state(received.clone());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("the receiver serves");
            });
        });
        Self {
            address,
            received,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Its base URL (`--otlp-endpoint`, `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Every span received so far (none if [`OtlpReceiver::discarding`]).
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.received
            .spans
            .as_ref()
            .map(|spans| spans.lock().expect("spans lock").clone())
            .unwrap_or_default()
    }

    /// Export requests received so far.
    pub fn exports(&self) -> u64 {
        self.received
            .exports
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn receive(State(received): State<Received>, body: Bytes) -> impl IntoResponse {
    received
        .exports
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let answer = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        Vec::new(),
    );
    let Some(spans) = received.spans else {
        return answer.into_response();
    };
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, Vec::new()).into_response();
    };
    let mut received = spans.lock().expect("spans lock");
    for resource_spans in request.resource_spans {
        let resource = resource_spans.resource.unwrap_or_default();
        let service_name = attributes(&resource.attributes)
            .remove("service.name")
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                received.push(ReceivedSpan {
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    kind: span.kind,
                    start_ns: span.start_time_unix_nano,
                    end_ns: span.end_time_unix_nano,
                    attributes: attributes(&span.attributes),
                    service_name: service_name.clone(),
                    status_code: span.status.map_or(0, |s| s.code),
                    links: span
                        .links
                        .iter()
                        .map(|link| (hex(&link.trace_id), hex(&link.span_id)))
                        .collect(),
                });
            }
        }
    }
    answer.into_response()
}

fn attributes(
    pairs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|pair| {
            let value = match pair.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s.clone(),
                Some(Value::IntValue(i)) => i.to_string(),
                Some(Value::DoubleValue(d)) => d.to_string(),
                Some(Value::BoolValue(b)) => b.to_string(),
                other => format!("{other:?}"),
            };
            (pair.key.clone(), value)
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
