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

/// `message` as one gRPC length-prefixed message, the body of a unary call: an
/// uncompressed flag, a 4-byte big-endian length, the encoded bytes. For clients that
/// speak HTTP/2 directly (tests that send their own headers, the load bench).
pub fn framed<M: prost::Message>(message: &M) -> Vec<u8> {
    let encoded = message.encode_to_vec();
    let mut framed = Vec::with_capacity(5 + encoded.len());
    framed.push(0);
    framed.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
    framed.extend_from_slice(&encoded);
    framed
}
