//! The collector's spans, with `--otlp-endpoint`: one server span per ingest request
//! (`POST /v1/events`) with the WAL append as its child, **linked** to the span of every
//! event it carries that names one (`trace.id` and `span.id`: the host's request spans).
//! A request holds a burst of events from many traces, so it cannot be a child of each;
//! a link is how OpenTelemetry joins a batch's processing to the traces of its items,
//! and a trace viewer follows it from the request to the collector and back.

use std::time::{Instant, SystemTime};

use wasml_telemetry::Telemetry;
use wasml_telemetry::opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanKind, TraceContextExt as _, TraceFlags, TraceState,
    Tracer as _,
};
use wasml_telemetry::opentelemetry::{Context, KeyValue, SpanId, TraceId};

/// The IDs an event names, if it names them.
#[derive(serde::Deserialize)]
struct EventSpan {
    #[serde(rename = "trace.id")]
    trace_id: Option<String>,
    #[serde(rename = "span.id")]
    span_id: Option<String>,
}

/// Records the span of an ingest request that arrived at `arrived` and appended
/// `documents` to the WAL (as sequence numbers `first..=last`) from `append_started` to
/// now.
pub fn record(
    telemetry: &Telemetry,
    documents: &[Vec<u8>],
    arrived: Instant,
    append_started: Instant,
    (first, last): (u64, u64),
) {
    let (now, system_now) = (Instant::now(), SystemTime::now());
    let at = |instant: Instant| system_now - now.saturating_duration_since(instant);
    let links: Vec<Link> = documents.iter().filter_map(|d| link(d)).collect();
    let tracer = telemetry.tracer();
    let mut span = tracer
        .span_builder("POST /v1/events")
        .with_kind(SpanKind::Server)
        .with_start_time(at(arrived))
        .with_links(links)
        .with_attributes([
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("http.route", "/v1/events"),
            KeyValue::new("http.response.status_code", 200),
            KeyValue::new("wasml.events", documents.len() as i64),
            KeyValue::new("wasml.wal.first_seq", first as i64),
            KeyValue::new("wasml.wal.last_seq", last as i64),
        ])
        .start_with_context(tracer, &Context::new());
    if span.is_recording() {
        let parent = Context::new().with_remote_span_context(span.span_context().clone());
        let mut append = tracer
            .span_builder("wal append")
            .with_kind(SpanKind::Internal)
            .with_start_time(at(append_started))
            .start_with_context(tracer, &parent);
        append.end_with_timestamp(system_now);
    }
    span.end_with_timestamp(system_now);
}

/// A link to the span `document` names.
fn link(document: &[u8]) -> Option<Link> {
    let ids: EventSpan = serde_json::from_slice(document).ok()?;
    let trace_id = TraceId::from_hex(&ids.trace_id?).ok()?;
    let span_id = SpanId::from_hex(&ids.span_id?).ok()?;
    let context = SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::default(),
        true,
        TraceState::default(),
    );
    context.is_valid().then(|| Link::with_context(context))
}
