//! An Elasticsearch-API test server for the collector's tests.
//!
//! Elasticsearch cannot be installed where this project is built and tested, so the
//! collector is tested against this: it speaks the wire format of the parts the collector
//! uses — index templates (their mappings are enforced), ILM policies, `_bulk` NDJSON with
//! `create` (409 on an existing `_id`) and `index`, gzip bodies, per-item errors,
//! `_refresh`, `_cat/indices`, `_count` and `_search` with `term`/`range`/`bool` — and
//! injects faults on demand (`POST /_fault`, see [`faults::Fault`]): statuses such as 429
//! and 503, delays, dropped connections before or after applying a bulk, failing items.
//! It can answer as OpenSearch or Elastic Serverless ([`Flavor`]: ISM or no lifecycle API
//! at all, their own template rules, data streams) and as if called with a writer-only
//! key (403 on `GET /` and setup).

pub mod bulk;
pub mod faults;
pub mod flavor;
pub mod query;
mod routes;
pub mod store;
mod tls;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::net::TcpListener;

pub use faults::Fault;
pub use flavor::Flavor;
pub use routes::app;
pub use store::Store;

/// The shared state of a server.
pub type Shared = Arc<Mutex<Store>>;

/// A server on a loopback port, stopped when dropped.
pub struct EsTestServer {
    /// Where it listens.
    pub address: SocketAddr,
    /// Its state, for assertions.
    pub store: Shared,
    task: tokio::task::JoinHandle<()>,
    tls: bool,
}

impl EsTestServer {
    /// Starts a server on `127.0.0.1` (an ephemeral port) on a tokio runtime of its own
    /// with `workers` threads, for callers that block (the collector's sink, tests,
    /// benches). The runtime must outlive the server.
    pub fn start_in_background(workers: usize) -> std::io::Result<(tokio::runtime::Runtime, Self)> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .enable_all()
            .build()?;
        let server = runtime.block_on(Self::start())?;
        Ok((runtime, server))
    }

    /// Starts a server on `127.0.0.1` (an ephemeral port) on the current tokio runtime.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0".parse().expect("an address")).await
    }

    /// Starts a server on `address` on the current tokio runtime.
    pub async fn start_on(address: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let store = Shared::default();
        let router = app(Arc::clone(&store));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            address,
            store,
            task,
            tls: false,
        })
    }

    /// Starts a server speaking HTTPS on `127.0.0.1` (an ephemeral port), presenting
    /// `cert_chain_pem` (leaf first) with the key in `key_pem`.
    pub async fn start_tls(cert_chain_pem: &[u8], key_pem: &[u8]) -> std::io::Result<Self> {
        let acceptor = tls::acceptor(cert_chain_pem, key_pem)?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let store = Shared::default();
        let router = app(Arc::clone(&store));
        let task = tokio::spawn(tls::serve(listener, acceptor, router));
        Ok(Self {
            address,
            store,
            task,
            tls: true,
        })
    }

    /// `http://127.0.0.1:<port>` (`https://` for a TLS server).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.address)
    }

    /// Queues `fault` for the next `times` matching requests.
    pub fn inject(&self, fault: Fault, times: usize) {
        let mut store = self.store.lock().expect("store lock");
        store.faults.extend(std::iter::repeat_n(fault, times));
    }

    /// Answers as `flavor` from now on.
    pub fn set_flavor(&self, flavor: Flavor) {
        self.store.lock().expect("store lock").flavor = flavor;
    }

    /// Acts as if every request carried a least-privilege writer's key: 403 on `GET /`,
    /// index templates and policies, documents still created.
    pub fn restrict_to_writer_key(&self) {
        self.store.lock().expect("store lock").writer_key_only = true;
    }

    /// Drops every queued fault: the server answers normally again.
    pub fn heal(&self) {
        self.store.lock().expect("store lock").faults.clear();
    }

    /// Every document in the indices matching `pattern`, with its `_id`.
    pub fn documents(&self, pattern: &str) -> Vec<(String, Value)> {
        let store = self.store.lock().expect("store lock");
        store
            .matching(pattern)
            .into_iter()
            .flat_map(|(_, index)| index.docs.iter().map(|(id, doc)| (id.clone(), doc.clone())))
            .collect()
    }
}

impl Drop for EsTestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
