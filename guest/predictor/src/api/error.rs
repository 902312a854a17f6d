//! [`ApiError`]: how a prediction request fails, as a status, a stable code and a body
//! naming the cause ([`ErrorBody`]).

use serde::Serialize;
use thiserror::Error;

/// Why a prediction request failed; the same for every server of the API.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ApiError {
    /// The body is not JSON.
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    /// The body is not declared as JSON.
    #[error("expected Content-Type: application/json, got {0}")]
    UnsupportedMediaType(String),
    /// The body is larger than the configured limit.
    #[error("the body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The batch has more rows than the configured limit.
    #[error("the batch has {rows} rows; the limit is {limit}")]
    BatchTooLarge {
        /// Rows sent.
        rows: usize,
        /// Rows allowed.
        limit: usize,
    },
    /// The input breaks the model's schema; every bad field is listed.
    #[error("{message}")]
    InvalidInput {
        /// A one-line summary.
        message: String,
        /// Every rejected field.
        fields: Vec<FieldIssue>,
    },
    /// The request is well-formed JSON of the wrong shape for its protocol (e.g. an Open
    /// Inference tensor whose shape does not match its data); the message says what.
    #[error("{0}")]
    BadRequest(String),
    /// A well-formed upload that cannot be used as what it claims to be (e.g. an ONNX
    /// model with an operator the runtime lacks); the message names the cause.
    #[error("{0}")]
    Unprocessable(String),
    /// The model failed: a trap, its memory cap, or an internal error it reported.
    #[error("the model failed: {0}")]
    ModelFailed(String),
    /// No route matches the path.
    #[error("no route {0}")]
    NotFound(String),
    /// The route exists, not with this method.
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed {
        /// The method used.
        method: String,
        /// The path asked for.
        path: String,
    },
}

impl ApiError {
    /// Input rejected field by field; the message summarises them.
    pub fn invalid(fields: Vec<FieldIssue>) -> Self {
        Self::InvalidInput {
            message: summary(&fields),
            fields,
        }
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Self::MalformedJson(_) | Self::BadRequest(_) => 400,
            Self::UnsupportedMediaType(_) => 415,
            Self::PayloadTooLarge { .. } | Self::BatchTooLarge { .. } => 413,
            Self::InvalidInput { .. } | Self::Unprocessable(_) => 422,
            Self::ModelFailed(_) => 500,
            Self::NotFound(_) => 404,
            Self::MethodNotAllowed { .. } => 405,
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::BadRequest(_) => "bad_request",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::BatchTooLarge { .. } => "batch_too_large",
            Self::InvalidInput { .. } => "invalid_input",
            Self::Unprocessable(_) => "unprocessable_model",
            Self::ModelFailed(_) => "model_failed",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
        }
    }

    /// The response body, with the request's ID when there is one.
    pub fn body(self, request_id: Option<String>) -> ErrorBody {
        let code = self.code();
        let message = self.to_string();
        let fields = match self {
            Self::InvalidInput { fields, .. } => fields,
            _ => Vec::new(),
        };
        ErrorBody::new(code, message, fields, request_id)
    }
}

/// One rejected input field.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldIssue {
    /// The field, as sent (or as the schema names it, when missing).
    pub field: String,
    /// What is wrong: `missing`, `wrong-type`, `out-of-range`, `not-an-integer`,
    /// `unknown-category`, `unknown-field`, `duplicate-field`, or `invalid-body`.
    pub problem: String,
    /// A sentence for the client.
    pub message: String,
    /// The row, in a batch request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
    /// The request's ID (also in the `X-Request-Id` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ErrorBody {
    /// An error body from its parts.
    pub fn new(
        code: &'static str,
        message: String,
        fields: Vec<FieldIssue>,
        request_id: Option<String>,
    ) -> Self {
        Self {
            error: ErrorDetail {
                code,
                message,
                fields,
            },
            request_id,
        }
    }
}

/// The error itself.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// A stable, machine-readable code, e.g. `invalid_input`.
    pub code: &'static str,
    /// A sentence for humans.
    pub message: String,
    /// Every rejected field (`invalid_input` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldIssue>,
}

/// A one-line summary of rejected fields, e.g. `2 invalid fields: age (out-of-range), job
/// (unknown-category)`.
pub fn summary(issues: &[FieldIssue]) -> String {
    const SHOWN: usize = 5;
    let mut names: Vec<String> = issues
        .iter()
        .take(SHOWN)
        .map(|i| match i.row {
            Some(row) => format!("instances[{row}].{} ({})", i.field, i.problem),
            None => format!("{} ({})", i.field, i.problem),
        })
        .collect();
    if issues.len() > SHOWN {
        names.push(format!("and {} more", issues.len() - SHOWN));
    }
    let noun = if issues.len() == 1 { "field" } else { "fields" };
    format!("{} invalid {noun}: {}", issues.len(), names.join(", "))
}
