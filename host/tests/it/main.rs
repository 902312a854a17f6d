//! The integration tests of the host, one test binary (one link) with a module per
//! concern.

mod admission;
mod api_metrics;
mod api_operations;
mod api_predict;
mod api_sandbox;
mod binary;
mod canary_analysis;
mod compile_child;
mod connections;
mod console;
mod event_mapping;
mod feedback;
mod gauges;
mod grpc;
mod hot_swap;
mod layers;
mod monitoring;
mod open_inference;
mod open_inference_client;
mod open_inference_grpc;
mod rollout_file;
mod serving;
mod shadow;
mod tls;
mod wasi_http;
