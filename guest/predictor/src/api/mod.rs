//! The JSON prediction API (`POST /predict`, `{"instances": [...]}` batches, the error
//! body), free of any HTTP framework so that every server of a wasml model speaks it the
//! same way: the native host (axum) and the Spin component (`guest/spin`, spin-sdk).
//!
//! [`input`] reads a request body into rows, [`error`] is every way a request fails with
//! its status and JSON body, [`output`] is the answer's JSON, [`request_id`] says which
//! client request IDs are kept, [`tensor`] is the Open Inference Protocol's (KServe V2)
//! JSON tensors to and from rows; `schema` (with the `openapi` feature) holds types that
//! only describe the API.

pub mod error;
pub mod input;
pub mod output;
pub mod request_id;
#[cfg(feature = "openapi")]
pub mod schema;
pub mod tensor;

pub use error::{ApiError, ErrorBody, ErrorDetail, FieldIssue, summary};
pub use input::{
    BodyLimits, Merged, PredictInput, decode_predict_body, merge, parse_predict_input,
    require_json, row_features, settle,
};
pub use output::{
    AnswerBody, BatchPredictionBody, ClassRow, HealthBody, ModelHealth, ModelRef, PredictionBody,
    RowPrediction, ValueRow, answer_body,
};
