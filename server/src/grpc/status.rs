//! Failures as gRPC statuses, and statuses as the HTTP status the REST API gives for the
//! same failure (the `status` label of `http_request_duration_seconds` and the events' `status`, so
//! that one error-rate alert covers both protocols).

use axum::http::StatusCode;
use tonic::{Code, Status};
use wasml_predictor::api::ApiError;

use crate::api::error::AppError;

/// `error` as a gRPC status with the REST API's message.
pub fn status_of(error: &AppError) -> Status {
    Status::new(code_of(error), error.to_string())
}

/// The gRPC code of a failure: by its HTTP status, except a shed request
/// (`RESOURCE_EXHAUSTED`, where REST says 503 with `Retry-After`) and a batch over the row
/// limit (`INVALID_ARGUMENT`, as Triton answers a batch over its maximum).
pub fn code_of(error: &AppError) -> Code {
    match error {
        AppError::Overloaded(_) => Code::ResourceExhausted,
        AppError::Api(ApiError::BatchTooLarge { .. }) => Code::InvalidArgument,
        other => match other.status().as_u16() {
            400 | 415 | 422 => Code::InvalidArgument,
            401 => Code::Unauthenticated,
            403 => Code::PermissionDenied,
            404 => Code::NotFound,
            405 => Code::Unimplemented,
            408 | 504 => Code::DeadlineExceeded,
            409 => Code::FailedPrecondition,
            413 | 429 => Code::ResourceExhausted,
            503 => Code::Unavailable,
            _ => Code::Internal,
        },
    }
}

/// The HTTP status a REST client would get for a failure that gRPC reports as `code`
/// (used when the failure did not come from a handler, e.g. tonic refusing a message over
/// the size limit). An unknown method is a client's mistake, as an unknown path is: 404.
pub fn http_status_of(code: Code) -> StatusCode {
    match code {
        Code::Ok => StatusCode::OK,
        Code::InvalidArgument | Code::FailedPrecondition => StatusCode::BAD_REQUEST,
        Code::OutOfRange => StatusCode::PAYLOAD_TOO_LARGE,
        Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        Code::PermissionDenied => StatusCode::FORBIDDEN,
        Code::NotFound | Code::Unimplemented => StatusCode::NOT_FOUND,
        Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
        Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
        // nginx's "client closed request": the client gave up, the server did not fail.
        Code::Cancelled => StatusCode::from_u16(499).expect("a valid status"),
        Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
        Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Code::Unknown | Code::Internal | Code::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::admission::Refusal;

    #[test]
    fn failures_map_to_the_codes_grpc_clients_expect() {
        let cases = [
            (AppError::bad_request("x"), Code::InvalidArgument),
            (AppError::ModelNotFound("m".into()), Code::NotFound),
            (
                AppError::Overloaded(Refusal::QueueFull(8)),
                Code::ResourceExhausted,
            ),
            (AppError::ModelUnavailable("m".into()), Code::Unavailable),
            (
                AppError::DeadlineExceeded(std::time::Duration::from_millis(5)),
                Code::DeadlineExceeded,
            ),
            (
                ApiError::BatchTooLarge { rows: 9, limit: 8 }.into(),
                Code::InvalidArgument,
            ),
            (ApiError::ModelFailed("trap".into()).into(), Code::Internal),
        ];
        for (error, code) in cases {
            assert_eq!(code_of(&error), code, "{error}");
            // A handler's failure keeps the REST status in the metrics; the reverse map is
            // only for failures tonic reports itself, but agrees on the classes.
            assert_eq!(
                http_status_of(code).is_server_error(),
                error.status().is_server_error() && code != Code::ResourceExhausted,
                "{error}"
            );
        }
    }
}
