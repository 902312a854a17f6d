//! `AppError`: every way a request can fail, as a status code and a JSON body that names
//! the cause without leaking the host's internals.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use thiserror::Error;
use utoipa::ToSchema;

use super::request_id;
use crate::feedback::FeedbackError;
use crate::registry::RegistryError;

/// Why a request failed.
#[derive(Debug, Error)]
pub enum AppError {
    /// The body is not JSON.
    #[error("the body is not valid JSON: {0}")]
    MalformedJson(String),
    /// The body could not be read (the client went away or sent a broken stream).
    #[error("the request body could not be read")]
    BodyUnreadable,
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
    /// No model has this name.
    #[error("no model named {0:?} is loaded")]
    ModelNotFound(String),
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
    /// Too many requests in flight.
    #[error("the server is at its limit of {0} concurrent prediction requests; retry shortly")]
    Overloaded(usize),
    /// The model cannot serve now (no instance could be started).
    #[error("the model {0:?} is unavailable")]
    ModelUnavailable(String),
    /// The model ran past its CPU deadline.
    #[error("the model ran past its deadline of {0:?} and was stopped")]
    DeadlineExceeded(Duration),
    /// The model failed: a trap, its memory cap, or an internal error it reported.
    #[error("the model failed: {0}")]
    ModelFailed(String),
    /// An admin request without a bearer token.
    #[error("admin requests need an `Authorization: Bearer <token>` header")]
    Unauthorized,
    /// An admin request with the wrong token.
    #[error("the admin token is not valid")]
    Forbidden,
    /// A model version operation the registry refused.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// Feedback for an unknown prediction, or given twice.
    #[error(transparent)]
    Feedback(#[from] crate::feedback::FeedbackError),
    /// An admin request body that cannot be used (e.g. a conformance set that does not parse).
    #[error("{0}")]
    BadRequest(String),
}

/// One rejected input field.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
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
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
    /// The request's ID (also in the `X-Request-Id` header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// The error itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable, machine-readable code, e.g. `invalid_input`.
    pub code: &'static str,
    /// A sentence for humans.
    pub message: String,
    /// Every rejected field (`invalid_input` only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldIssue>,
}

/// The message of a failed request, left in the response's extensions for the request's
/// event and log line.
#[derive(Debug, Clone)]
pub struct ErrorMessage(pub String);

impl AppError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedJson(_) | Self::BodyUnreadable => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } | Self::BatchTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::InvalidInput { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::ModelNotFound(_) | Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Overloaded(_) | Self::ModelUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::DeadlineExceeded(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::ModelFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Feedback(FeedbackError::Unknown(..)) => StatusCode::NOT_FOUND,
            Self::Feedback(FeedbackError::AlreadyGiven(_)) => StatusCode::CONFLICT,
            Self::Registry(error) => match error {
                RegistryError::UnknownModel(_) | RegistryError::UnknownVersion(..) => {
                    StatusCode::NOT_FOUND
                }
                RegistryError::BadWeight(_) => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::CONFLICT,
            },
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedJson(_) => "malformed_json",
            Self::BodyUnreadable => "body_unreadable",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::BatchTooLarge { .. } => "batch_too_large",
            Self::InvalidInput { .. } => "invalid_input",
            Self::ModelNotFound(_) => "model_not_found",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::Overloaded(_) => "overloaded",
            Self::ModelUnavailable(_) => "model_unavailable",
            Self::DeadlineExceeded(_) => "deadline_exceeded",
            Self::ModelFailed(_) => "model_failed",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::BadRequest(_) => "bad_request",
            Self::Feedback(FeedbackError::Unknown(..)) => "prediction_not_found",
            Self::Feedback(FeedbackError::AlreadyGiven(_)) => "feedback_exists",
            Self::Registry(error) => match error {
                RegistryError::UnknownModel(_) => "model_not_found",
                RegistryError::UnknownVersion(..) => "version_not_found",
                RegistryError::BadWeight(_) => "bad_weight",
                RegistryError::VersionExists(..) => "version_exists",
                RegistryError::NothingToRollBack(_) => "nothing_to_roll_back",
                _ => "wrong_state",
            },
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let code = self.code();
        let message = self.to_string();
        let fields = match self {
            Self::InvalidInput { fields, .. } => fields,
            _ => Vec::new(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: message.clone(),
                fields,
            },
            request_id: request_id::current().map(|id| id.to_string()),
        };
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
        response.extensions_mut().insert(ErrorMessage(message));
        response
    }
}
