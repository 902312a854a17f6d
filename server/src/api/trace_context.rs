//! W3C Trace Context (`traceparent`): a request that arrives inside a trace stays in it.
//! The host is one span of the caller's trace — its events carry the caller's `trace.id`
//! and a `span.id` of their own, with the caller's span as parent — so a request can be
//! followed from the calling service into wasml's events. A request without a valid
//! `traceparent` starts a trace of its own (the specification's rule for a malformed
//! header: restart, never fail the request).

use std::fmt::Write as _;

use axum::http::HeaderMap;

/// The header that carries the trace context.
pub const TRACEPARENT: &str = "traceparent";

/// The header that carries vendors' trace state, kept in the request's span.
pub const TRACESTATE: &str = "tracestate";

/// The trace a request belongs to, and its span in it: what its events carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// This request's span: 16 lowercase hex digits.
    pub span_id: String,
}

impl TraceContext {
    /// The caller's trace if `traceparent` is valid, otherwise a new trace; either way a
    /// new span for this request (when no span is exported for it).
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self {
            trace_id: caller(headers).map_or_else(random_hex::<16>, |parent| parent.trace_id),
            span_id: random_hex::<8>(),
        }
    }
}

/// What a valid `traceparent` says: the caller's span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parent {
    /// The trace: 32 lowercase hex digits.
    pub trace_id: String,
    /// The caller's span: 16 lowercase hex digits.
    pub parent_id: String,
    /// Whether the caller sampled the trace.
    pub sampled: bool,
}

/// The caller's span, if `headers` hold a valid `traceparent`.
pub fn caller(headers: &HeaderMap) -> Option<Parent> {
    headers
        .get(TRACEPARENT)
        .and_then(|value| value.to_str().ok())
        .and_then(parse_traceparent)
}

/// The caller's `tracestate`, if any.
pub fn tracestate(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(TRACESTATE)
        .and_then(|value| value.to_str().ok())
}

/// Parses `version-traceid-parentid-flags` as the specification (level 1, §3.2) says: two
/// hex digits of version (not `ff`); for version `00` exactly four fields; a future
/// version may append fields after a dash; all-zero IDs are invalid; hex is lowercase.
fn parse_traceparent(value: &str) -> Option<Parent> {
    let value = value.trim();
    let mut parts = value.splitn(5, '-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let parent_id = parts.next()?;
    let flags = parts.next()?;
    let rest = parts.next();
    let valid = is_hex(version, 2)
        && version != "ff"
        && is_hex(trace_id, 32)
        && is_hex(parent_id, 16)
        && is_hex(flags, 2)
        && trace_id.bytes().any(|b| b != b'0')
        && parent_id.bytes().any(|b| b != b'0')
        && (rest.is_none() || version != "00");
    if !valid {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(Parent {
        trace_id: trace_id.to_owned(),
        parent_id: parent_id.to_owned(),
        sampled: flags & 1 == 1,
    })
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `N` random bytes as lowercase hex (never all zero: a v4 UUID has fixed non-zero bits).
fn random_hex<const N: usize>() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let mut text = String::with_capacity(2 * N);
    for byte in &bytes[..N] {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, value.parse().unwrap());
        headers
    }

    #[test]
    fn a_valid_traceparent_is_joined_with_a_span_of_our_own() {
        let headers = with(VALID);
        assert_eq!(
            caller(&headers),
            Some(Parent {
                trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                parent_id: "00f067aa0ba902b7".into(),
                sampled: true,
            })
        );
        let context = TraceContext::from_headers(&headers);
        assert_eq!(context.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(is_hex(&context.span_id, 16));
        assert_ne!(context.span_id, "00f067aa0ba902b7");
    }

    #[test]
    fn a_future_version_may_append_fields() {
        let future = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-ever";
        let parent = caller(&with(future)).expect("a future version is read");
        assert_eq!(parent.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert!(!parent.sampled);
    }

    #[test]
    fn an_invalid_traceparent_starts_a_new_trace() {
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "garbage",
        ] {
            let headers = with(bad);
            assert_eq!(caller(&headers), None, "{bad}");
            let context = TraceContext::from_headers(&headers);
            assert!(is_hex(&context.trace_id, 32), "{bad}");
            assert_ne!(
                context.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736",
                "{bad}"
            );
        }
        let fresh = TraceContext::from_headers(&HeaderMap::new());
        assert_ne!(
            fresh.trace_id,
            TraceContext::from_headers(&HeaderMap::new()).trace_id
        );
    }
}
