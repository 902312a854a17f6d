//! The integration tests of the end-to-end tests across processes, one test binary (one link) with a module per
//! concern.

mod byom;
mod collector_crash;
mod collector_disk_full;
mod collector_replay;
mod console;
mod dist;
mod faults_under_load;
mod fleet;
mod host_to_elasticsearch;
mod ingest_auth;
mod onnx_coverage;
mod own_models;
mod schemathesis;
mod secrets;
mod tracing;
