//! Building spans after the fact, from instants measured while the work ran — what both
//! binaries do: the host's request stages, the collector's WAL append.

use std::time::{Instant, SystemTime};

use opentelemetry::trace::{Span as _, SpanContext, SpanKind, TraceFlags, TraceState, Tracer as _};
use opentelemetry::{Context, SpanId, TraceId};

use crate::Telemetry;

/// Instants as wall-clock times (what spans take), both clocks read once.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    instant: Instant,
    system: SystemTime,
}

impl Clock {
    /// The clocks now.
    pub fn now() -> Self {
        Self {
            instant: Instant::now(),
            system: SystemTime::now(),
        }
    }

    /// When this clock was read, as wall-clock time.
    pub fn system_now(&self) -> SystemTime {
        self.system
    }

    /// `instant` (at or before the reading) as wall-clock time.
    pub fn at(&self, instant: Instant) -> SystemTime {
        self.system - self.instant.saturating_duration_since(instant)
    }
}

/// The span that W3C hex IDs name — a caller's, or the one an event carries — as a remote
/// span context; `None` if an ID is not valid hex or is all zeros.
pub fn remote_span_context(
    trace_id: &str,
    span_id: &str,
    sampled: bool,
    state: TraceState,
) -> Option<SpanContext> {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let context = SpanContext::new(
        TraceId::from_hex(trace_id).ok()?,
        SpanId::from_hex(span_id).ok()?,
        flags,
        true,
        state,
    );
    context.is_valid().then_some(context)
}

impl Telemetry {
    /// An internal span `name` from `start` to `end` under `parent`, ended; its context
    /// (a parent for spans within it).
    pub fn internal_span(
        &self,
        name: &'static str,
        start: SystemTime,
        end: SystemTime,
        parent: &Context,
    ) -> SpanContext {
        let tracer = self.tracer();
        let mut span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Internal)
            .with_start_time(start)
            .start_with_context(tracer, parent);
        span.end_with_timestamp(end);
        span.span_context().clone()
    }
}
