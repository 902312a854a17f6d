//! The request ID: the client's `X-Request-Id` when it is sane, a fresh UUID otherwise.
//! It is in every response header, every event and (through the request's `tracing`
//! span) every log line; [`current`] gives it to code deep inside a request.

use std::fmt;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};

pub use wasml_predictor::api::request_id::{HEADER, MAX_LEN, is_acceptable};

/// A request's ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

tokio::task_local! {
    static CURRENT: RequestId;
}

impl RequestId {
    /// The client's ID if it is 1–[`MAX_LEN`] characters of `A-Z a-z 0-9 . _ : -` (safe
    /// in headers, logs and index fields), otherwise a new UUID.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let given = headers
            .get(HEADER)
            .and_then(|value| value.to_str().ok())
            .filter(|id| is_acceptable(id));
        match given {
            Some(id) => Self(id.into()),
            None => Self(uuid::Uuid::new_v4().simple().to_string().into()),
        }
    }

    /// The ID as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ID as a header value, marked sensitive: over HTTP/2 HPACK then sends it as a
    /// never-indexed literal. Indexing a value that is new on every response would only
    /// evict the entries worth keeping (`content-type`, `grpc-status`), and h2's encoder
    /// walks every earlier ID in its table before adding the next (docs/benchmarks.md).
    pub fn header_value(&self) -> HeaderValue {
        let mut value = HeaderValue::from_str(&self.0).expect("checked or generated as ASCII");
        value.set_sensitive(true);
        value
    }

    /// Runs `future` with this ID as [`current`].
    pub async fn scope<F: Future>(self, future: F) -> F::Output {
        CURRENT.scope(self, future).await
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The ID of the request being handled, if any.
pub fn current() -> Option<RequestId> {
    CURRENT.try_with(Clone::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn honours_sane_ids_and_replaces_others() {
        assert_eq!(
            RequestId::from_headers(&with("abc-123_x:y.z")).as_str(),
            "abc-123_x:y.z"
        );
        for bad in ["", "has space", "quote\"", &"x".repeat(MAX_LEN + 1)] {
            let id = RequestId::from_headers(&with(bad));
            assert_ne!(id.as_str(), bad);
            assert_eq!(id.as_str().len(), 32, "a simple UUID");
        }
        let a = RequestId::from_headers(&HeaderMap::new());
        let b = RequestId::from_headers(&HeaderMap::new());
        assert_ne!(a, b);
    }
}
