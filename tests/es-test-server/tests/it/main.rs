//! The integration tests of the Elasticsearch-API test server, one test binary (one link) with a module per
//! concern.

mod flavors;
mod store;
mod wire;
