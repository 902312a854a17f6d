//! The integration tests of the collector, one test binary (one link) with a module per
//! concern.

mod elasticsearch;
mod fuzz_corpus;
mod ingest;
mod layers;
mod pipeline;
mod setup;
mod wal;
