//! A request's OpenTelemetry spans, when the host exports traces (`--otlp-endpoint`;
//! `wasml-telemetry` exports them; off, nothing here runs and a request only gets the
//! trace and span IDs of its events from [`super::trace_context`]). The server span
//! starts when the request arrives, as a child of the caller's span when `traceparent`
//! names one; its ID is the `span.id` of the request's events, so a log line leads to its
//! trace. The stage spans are built when the request is answered, from what was measured
//! meanwhile: the admission queue's wait, the call into the model, and inside it the
//! feature processing and inference the guest timed (placed one after the other from the
//! call's start: the guest reports durations, not instants); last, the event write, when
//! the span ends.
//!
//! Attributes follow OpenTelemetry's HTTP server conventions (`http.request.method`,
//! `http.route`, `http.response.status_code`, `error.type`); the model's are `ml.*`
//! (`ml.model.name`, `ml.model.version`, `ml.model.type`, `ml.rows`, `ml.prediction.label`)
//! and `wasml.request_id` — OpenTelemetry's `gen_ai.*` conventions describe generative
//! models (tokens, prompts) and fit a tabular predictor no better than custom names.

use std::ops::Range;
use std::time::Instant;

use axum::http::HeaderMap;
use wasml_telemetry::opentelemetry::trace::{
    Span as _, SpanKind, Status, TraceContextExt as _, TraceState, Tracer as _,
};
use wasml_telemetry::opentelemetry::{Context, KeyValue};
use wasml_telemetry::opentelemetry_sdk::trace::Span;
use wasml_telemetry::{Clock, Telemetry, remote_span_context};

use super::outcome::Outcome;
use super::trace_context::{self, Parent, TraceContext};

/// A request's trace context, and its server span when traces are exported: the caller's
/// trace from `headers`, or a new one.
pub fn begin(
    telemetry: Option<&Telemetry>,
    headers: &HeaderMap,
) -> (TraceContext, Option<RequestSpan>) {
    match telemetry {
        None => (TraceContext::from_headers(headers), None),
        Some(telemetry) => {
            let parent = trace_context::caller(headers);
            let state = trace_context::tracestate(headers);
            let (span, context) = RequestSpan::start(telemetry, parent.as_ref(), state);
            (context, Some(span))
        }
    }
}

/// The server span of a request in flight.
pub struct RequestSpan {
    span: Span,
    /// The caller's context with this span in it: its stages' parent.
    context: Context,
    telemetry: Telemetry,
}

impl RequestSpan {
    /// Starts the server span of a request whose caller sent `parent` (and `tracestate`);
    /// the request's trace context. The span is named when the route is known (most
    /// requests are not sampled: they pay for no name).
    pub fn start(
        telemetry: &Telemetry,
        parent: Option<&Parent>,
        tracestate: Option<&str>,
    ) -> (Self, TraceContext) {
        let remote = parent.and_then(|p| {
            let state = tracestate.and_then(|s| s.parse::<TraceState>().ok());
            remote_span_context(
                &p.trace_id,
                &p.parent_id,
                p.sampled,
                state.unwrap_or_default(),
            )
        });
        let caller = match remote {
            Some(remote) => Context::new().with_remote_span_context(remote),
            None => Context::new(),
        };
        let tracer = telemetry.tracer();
        let span = tracer
            .span_builder("HTTP request")
            .with_kind(SpanKind::Server)
            .start_with_context(tracer, &caller);
        let own = span.span_context().clone();
        let ids = TraceContext {
            trace_id: format!("{:032x}", own.trace_id()),
            span_id: format!("{:016x}", own.span_id()),
        };
        let context = caller.with_remote_span_context(own);
        let telemetry = telemetry.clone();
        (
            Self {
                span,
                context,
                telemetry,
            },
            ids,
        )
    }

    /// Names the server span `method route`, gives it the answer's attributes and builds
    /// its stage spans from `outcome`.
    pub fn describe(
        &mut self,
        method: &str,
        route: &str,
        status: u16,
        outcome: Option<&Outcome>,
        request_id: &str,
    ) {
        if !self.span.is_recording() {
            return;
        }
        let clock = Clock::now();
        self.span.update_name(format!("{method} {route}"));
        self.span.set_attributes([
            KeyValue::new("http.request.method", method.to_owned()),
            KeyValue::new("http.route", route.to_owned()),
            KeyValue::new("http.response.status_code", i64::from(status)),
            KeyValue::new("wasml.request_id", request_id.to_owned()),
        ]);
        if status >= 500 {
            self.span
                .set_attribute(KeyValue::new("error.type", status.to_string()));
            self.span
                .set_status(Status::error(format!("HTTP {status}")));
        }
        if let Some(outcome) = outcome {
            self.model_spans(outcome, &clock);
        }
    }

    /// Ends the server span, with `event_write` (handing the request's event to the
    /// writer) as its last stage.
    pub fn end(mut self, event_write: Range<Instant>) {
        if !self.span.is_recording() {
            return;
        }
        let clock = Clock::now();
        let (start, end) = (clock.at(event_write.start), clock.at(event_write.end));
        self.telemetry
            .internal_span("event write", start, end, &self.context);
        self.span.end_with_timestamp(clock.system_now());
    }

    fn model_spans(&mut self, outcome: &Outcome, clock: &Clock) {
        if let Some(model) = &outcome.model {
            self.span.set_attributes([
                KeyValue::new("ml.model.name", model.name().to_owned()),
                KeyValue::new("ml.model.version", model.version().to_owned()),
                KeyValue::new("ml.model.type", model.info.model_type.clone()),
            ]);
        }
        if let Some(rows) = outcome.rows {
            self.span
                .set_attribute(KeyValue::new("ml.rows", i64::from(rows)));
        }
        if let Some(wasml_predictor::Prediction::Class(class)) = &outcome.prediction {
            self.span
                .set_attribute(KeyValue::new("ml.prediction.label", class.label.clone()));
        }
        let telemetry = &self.telemetry;
        if let Some(queue) = &outcome.queued {
            let (start, end) = (clock.at(queue.start), clock.at(queue.end));
            telemetry.internal_span("admission queue", start, end, &self.context);
        }
        let Some(call) = &outcome.call else {
            return;
        };
        let (start, end) = (clock.at(call.start), clock.at(call.end));
        let call_span = telemetry.internal_span("model call", start, end, &self.context);
        let call_context = self.context.with_remote_span_context(call_span);
        let mut at = clock.at(call.start);
        for (name, seconds) in [
            ("feature processing", outcome.times.feature),
            ("inference", outcome.times.inference),
        ] {
            if let Some(seconds) = seconds {
                let end = at + std::time::Duration::from_secs_f64(seconds);
                telemetry.internal_span(name, at, end, &call_context);
                at = end;
            }
        }
    }
}
