//! Reading a prediction request's body: content type, size limit, then the shared JSON
//! API's decoding (`wasml_predictor::api::input`).
//!
//! Done by hand rather than with axum's `Json` extractor so that each failure gets its own
//! status and a message naming the cause (415, 413, 400 with line and column, 422).

use axum::body::{Body, Bytes, to_bytes};
use axum::http::{HeaderMap, header};
use wasml_predictor::api::{ApiError, decode_predict_body, require_json};
pub use wasml_predictor::api::{BodyLimits, PredictInput};

use super::error::AppError;

/// Reads and checks a prediction body.
pub async fn read_predict_input(
    headers: &HeaderMap,
    body: Body,
    limits: BodyLimits,
) -> Result<PredictInput, AppError> {
    require_json(headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()))?;
    let bytes = read_limited(headers, body, limits.max_bytes).await?;
    Ok(decode_predict_body(&bytes, limits.max_batch_rows)?)
}

/// The whole body, refused with 413 as soon as it (or its declared length) passes
/// `max_bytes`.
pub async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    max_bytes: usize,
) -> Result<Bytes, AppError> {
    let too_large = || AppError::from(ApiError::PayloadTooLarge { limit: max_bytes });
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > max_bytes) {
        return Err(too_large());
    }
    to_bytes(body, max_bytes).await.map_err(|error| {
        let over_limit = std::error::Error::source(&error)
            .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
        if over_limit {
            too_large()
        } else {
            AppError::BodyUnreadable
        }
    })
}
