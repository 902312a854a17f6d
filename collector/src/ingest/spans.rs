//! The collector's spans, with `--otlp-endpoint`: one server span per ingest request
//! (`POST /v1/events`) with the WAL append as its child, **linked** to the span of every
//! event it carries that names one (`trace.id` and `span.id`: the host's request spans).
//! A request holds a burst of events from many traces, so it cannot be a child of each;
//! a link is how OpenTelemetry joins a batch's processing to the traces of its items,
//! and a trace viewer follows it from the request to the collector and back. The events
//! are read for their IDs only when the span is sampled.

use std::time::Instant;

use wasml_telemetry::opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, TraceState, Tracer as _,
};
use wasml_telemetry::opentelemetry::{Context, KeyValue};
use wasml_telemetry::opentelemetry_sdk::trace::Span;
use wasml_telemetry::{Clock, Telemetry, remote_span_context};

/// The IDs an event names, if it names them.
#[derive(serde::Deserialize)]
struct EventSpan {
    #[serde(rename = "trace.id")]
    trace_id: Option<String>,
    #[serde(rename = "span.id")]
    span_id: Option<String>,
}

/// The span of an ingest request whose body is read, before its events go to the WAL.
pub struct IngestSpan {
    span: Span,
    telemetry: Telemetry,
}

impl IngestSpan {
    /// Starts the span of a request that arrived at `arrived` with `documents`, linked
    /// to the spans they name.
    pub fn start(telemetry: &Telemetry, arrived: Instant, documents: &[Vec<u8>]) -> Self {
        let tracer = telemetry.tracer();
        let mut span = tracer
            .span_builder("POST /v1/events")
            .with_kind(SpanKind::Server)
            .with_start_time(Clock::now().at(arrived))
            .with_attributes([
                KeyValue::new("http.request.method", "POST"),
                KeyValue::new("http.route", "/v1/events"),
                KeyValue::new("wasml.events", documents.len() as i64),
            ])
            .start_with_context(tracer, &Context::new());
        if span.is_recording() {
            for linked in documents.iter().filter_map(|d| linked_span(d)) {
                span.add_link(linked, Vec::new());
            }
        }
        Self {
            span,
            telemetry: telemetry.clone(),
        }
    }

    /// Ends the span: the WAL append ran from `append_started` to now and took the events
    /// as sequence numbers `first..=last`, or failed.
    pub fn end(mut self, append_started: Instant, appended: Option<(u64, u64)>) {
        if !self.span.is_recording() {
            return;
        }
        let clock = Clock::now();
        let parent = Context::new().with_remote_span_context(self.span.span_context().clone());
        let (start, end) = (clock.at(append_started), clock.system_now());
        self.telemetry
            .internal_span("wal append", start, end, &parent);
        match appended {
            Some((first, last)) => self.span.set_attributes([
                KeyValue::new("http.response.status_code", 200),
                KeyValue::new("wasml.wal.first_seq", first as i64),
                KeyValue::new("wasml.wal.last_seq", last as i64),
            ]),
            None => {
                self.span
                    .set_attribute(KeyValue::new("http.response.status_code", 503));
                self.span.set_status(Status::error("the WAL append failed"));
            }
        }
        self.span.end_with_timestamp(end);
    }
}

/// The span `document` names, if it names a valid one.
fn linked_span(document: &[u8]) -> Option<wasml_telemetry::opentelemetry::trace::SpanContext> {
    let ids: EventSpan = serde_json::from_slice(document).ok()?;
    remote_span_context(&ids.trace_id?, &ids.span_id?, false, TraceState::default())
}
