//! The Open Inference Protocol over gRPC, on its own listener (`--grpc-listen`, 8001 by
//! default as Triton and KServe use), served by the same accept loop as REST over HTTP/2.
//!
//! | service | module |
//! |---|---|
//! | `inference.GRPCInferenceService` (`ServerLive`, `ServerReady`, `ModelReady`, `ServerMetadata`, `ModelMetadata`, `ModelInfer`) | [`service`] |
//! | `grpc.health.v1.Health` (`""`: the process; the inference service: every model ready) | [`health`] |
//! | `grpc.reflection.v1.ServerReflection` | tonic-reflection, over the vendored `.proto` |
//!
//! Tensors in and out are converted by `wasml_grpc_proto::tensor`; failures become gRPC
//! statuses by [`status`]; every call is observed by [`observe`] (request ID, deadline,
//! metrics, event). Messages larger than `--max-body-bytes` are refused by tonic
//! (`OUT_OF_RANGE`) before they are decoded.

pub mod health;
pub mod observe;
pub mod service;
pub mod status;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse as _, Response};
use tonic::service::Routes;
use tower_http::catch_panic::CatchPanicLayer;
use wasml_grpc_proto::grpc_inference_service_server::GrpcInferenceServiceServer;

use crate::api::AppState;
use crate::api::error::AppError;

/// The gRPC listener's services, and the health reporter [`health::track`] keeps current.
pub fn app(state: AppState) -> (Router, tonic_health::server::HealthReporter) {
    let limit = state.body_limits.max_bytes;
    let inference = GrpcInferenceServiceServer::new(service::Inference::new(state.clone()))
        .max_decoding_message_size(limit);
    let (reporter, health) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(wasml_grpc_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the committed descriptor sets are valid");
    let router = Routes::new(inference)
        .add_service(health)
        .add_service(reflection)
        .prepare()
        .into_axum_router()
        .layer(CatchPanicLayer::custom(panic_status))
        .layer(from_fn_with_state(state, observe::observe));
    (router, reporter)
}

/// A handler that panicked: logged as REST's are, answered `INTERNAL` without its message.
fn panic_status(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    crate::api::error::log_panic(&*panic);
    status::status_of(&AppError::Internal)
        .into_http::<axum::body::Body>()
        .into_response()
}
