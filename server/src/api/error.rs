//! `AppError`: every way a request can fail, as a status code and a JSON body that names
//! the cause without leaking the host's internals.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use thiserror::Error;
pub use wasml_predictor::api::{ApiError, ErrorBody, ErrorDetail, FieldIssue};

use super::admission::Refusal;
use super::request_id;
use crate::feedback::FeedbackError;
use crate::registry::RegistryError;

/// Why a request failed.
#[derive(Debug, Error)]
pub enum AppError {
    /// A prediction API error, as every server of the API reports it (bad body, bad
    /// input, a failed model, no such route).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The body could not be read (the client went away or sent a broken stream).
    #[error("the request body could not be read")]
    BodyUnreadable,
    /// The body did not arrive in time.
    #[error("the request body did not arrive within {0:?}")]
    BodyTimeout(Duration),
    /// No model has this name.
    #[error("no model named {0:?} is loaded")]
    ModelNotFound(String),
    /// Not admitted: the queue was full, or no turn came in time.
    #[error("{}", overloaded_message(.0))]
    Overloaded(Refusal),
    /// The model cannot serve now (no instance could be started).
    #[error("the model {0:?} is unavailable")]
    ModelUnavailable(String),
    /// The model ran past its CPU deadline.
    #[error("the model ran past its deadline of {0:?} and was stopped")]
    DeadlineExceeded(Duration),
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
    /// A bug: the handler panicked. The panic is logged; the client learns nothing more.
    #[error("the server failed to handle the request; it has been logged")]
    Internal,
}

/// The message of a failed request, left in the response's extensions for the request's
/// event and log line.
#[derive(Debug, Clone)]
pub struct ErrorMessage(pub String);

impl AppError {
    /// A request of the wrong shape (an admin body that cannot be used, an Open Inference
    /// request that is not one): the shared API's 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(message.into()).into()
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Api(error) => StatusCode::from_u16(error.status())
                .expect("ApiError statuses are valid HTTP statuses"),
            Self::BodyUnreadable => StatusCode::BAD_REQUEST,
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::ModelNotFound(_) => StatusCode::NOT_FOUND,
            Self::Overloaded(_) | Self::ModelUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::DeadlineExceeded(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Feedback(FeedbackError::Unknown(..)) => StatusCode::NOT_FOUND,
            Self::Feedback(FeedbackError::AlreadyGiven(_)) => StatusCode::CONFLICT,
            Self::Registry(error) => match error {
                RegistryError::UnknownModel(_) | RegistryError::UnknownVersion(..) => {
                    StatusCode::NOT_FOUND
                }
                RegistryError::BadWeight(_) | RegistryError::BadShadow(_) => {
                    StatusCode::UNPROCESSABLE_ENTITY
                }
                _ => StatusCode::CONFLICT,
            },
        }
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Api(error) => error.code(),
            Self::BodyUnreadable => "body_unreadable",
            Self::BodyTimeout(_) => "body_timeout",
            Self::ModelNotFound(_) => "model_not_found",
            Self::Overloaded(_) => "overloaded",
            Self::ModelUnavailable(_) => "model_unavailable",
            Self::DeadlineExceeded(_) => "deadline_exceeded",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::Internal => "internal",
            Self::Feedback(FeedbackError::Unknown(..)) => "prediction_not_found",
            Self::Feedback(FeedbackError::AlreadyGiven(_)) => "feedback_exists",
            Self::Registry(error) => match error {
                RegistryError::UnknownModel(_) => "model_not_found",
                RegistryError::UnknownVersion(..) => "version_not_found",
                RegistryError::BadWeight(_) => "bad_weight",
                RegistryError::BadShadow(_) => "bad_shadow",
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
        let message = self.to_string();
        let request_id = request_id::current().map(|id| id.to_string());
        let body = match self {
            Self::Api(error) => error.body(request_id),
            other => ErrorBody::new(other.code(), message.clone(), Vec::new(), request_id),
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

/// The answer to a handler that panicked (`CatchPanicLayer`): the panic message goes to
/// the log, the client gets a plain 500, and the connection and server live on.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    log_panic(&*panic);
    AppError::Internal.into_response()
}

/// Logs a request handler's panic with its message (which the client never sees).
pub fn log_panic(panic: &(dyn std::any::Any + Send)) {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    tracing::error!(panic = message, "a request handler panicked");
}

fn overloaded_message(refusal: &Refusal) -> String {
    match refusal {
        Refusal::QueueFull(max) => format!(
            "the server is overloaded: its queue of {max} waiting prediction requests is full; retry shortly"
        ),
        Refusal::Displaced => "the server is overloaded: the request gave its place in the full queue to another model's; retry shortly".to_owned(),
        Refusal::TimedOut(after) => format!(
            "the server is overloaded: the request waited {} ms in its queue without a turn; retry shortly",
            after.as_millis()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_plain_500_without_its_message() {
        let response = panic_response(Box::new(String::from("secret internals")));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let message = response.extensions().get::<ErrorMessage>().unwrap();
        assert!(!message.0.contains("secret internals"), "{}", message.0);
    }
}
