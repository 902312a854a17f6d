//! The Open Inference Protocol over gRPC: the messages and the service
//! `inference.GRPCInferenceService` of KServe's `grpc_predict_v2.proto` (vendored in
//! `proto/`), as prost and tonic generate them, and their tensors as the protocol's JSON
//! tensors ([`tensor`]). The host implements
//! [`grpc_inference_service_server::GrpcInferenceService`]; tests call it with
//! [`grpc_inference_service_client::GrpcInferenceServiceClient`].
//!
//! The generated code is committed (`src/generated/`) so that a build needs neither
//! `protoc` nor the generator; `tests/generated.rs` proves it is current.

#[allow(missing_docs, clippy::all, clippy::pedantic)]
mod generated {
    include!("generated/inference.rs");
}

pub mod tensor;

pub use generated::*;

/// The encoded `FileDescriptorSet` of the protocol's `.proto`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("generated/inference.bin");

/// The service's full name, as gRPC paths and health checks spell it.
pub const SERVICE: &str = "inference.GRPCInferenceService";
