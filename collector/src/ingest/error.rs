//! Why an ingest request was refused, and how each reason is answered: a status, a JSON
//! body naming the cause, a `reason` label on `wasml_collector_ingest_rejected_total`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use thiserror::Error;

use crate::secret::TokenRefusal;

/// A refused ingest request. Nothing of it was persisted.
#[derive(Debug, Error)]
pub enum IngestError {
    /// A line is not a JSON object.
    #[error("line {line}: {reason}")]
    Malformed {
        /// 1-based line number in the body.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// Only blank lines.
    #[error("the body holds no events")]
    Empty,
    /// The body is larger than the limit.
    #[error("the body is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// Neither NDJSON nor JSON.
    #[error("content type {0:?} is not accepted; send application/x-ndjson")]
    UnsupportedMediaType(String),
    /// Too many requests in flight already.
    #[error("too many ingest requests in flight; retry shortly")]
    Overloaded,
    /// The body could not be read from the connection.
    #[error("could not read the body: {0}")]
    Body(String),
    /// The WAL could not persist the events (disk full, I/O error, shutting down).
    #[error("the events could not be persisted ({0}); nothing was acknowledged")]
    NotPersisted(String),
    /// No `Authorization: Bearer` token, and ingest requires one.
    #[error("ingest requires Authorization: Bearer <token> (the collector's --ingest-token)")]
    Unauthenticated,
    /// A token other than the collector's.
    #[error("the bearer token is not the collector's ingest token")]
    Forbidden,
}

impl From<TokenRefusal> for IngestError {
    fn from(refusal: TokenRefusal) -> Self {
        match refusal {
            TokenRefusal::Missing => Self::Unauthenticated,
            TokenRefusal::Wrong => Self::Forbidden,
        }
    }
}

impl IngestError {
    /// The status code and the metric's `reason` label.
    pub fn status_and_reason(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Malformed { .. } => (StatusCode::BAD_REQUEST, "malformed"),
            Self::Empty => (StatusCode::BAD_REQUEST, "empty"),
            Self::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Self::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            Self::Body(_) => (StatusCode::BAD_REQUEST, "unreadable_body"),
            Self::NotPersisted(_) => (StatusCode::SERVICE_UNAVAILABLE, "not_persisted"),
            Self::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let (status, reason) = self.status_and_reason();
        let mut body = json!({"error": {"code": reason, "message": self.to_string()}});
        if let Self::Malformed { line, .. } = &self {
            body["error"]["line"] = json!(line);
        }
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
