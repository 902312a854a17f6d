//! The sending side of the ingest protocol, for a process (the host) that ships its events
//! to a collector: one NDJSON `POST` per call, answered once the collector has them
//! fsync'd. It blocks the calling thread (the host calls it from its event-writer thread,
//! never from a request).

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use super::EVENTS_PATH;
use crate::secret::Secret;
use wasml_net::tls::ClientIdentity;

/// Why a client could not be made, or a send failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The URL or a TLS file cannot be used.
    #[error("cannot reach the collector as configured: {0}")]
    Config(String),
    /// No answer, or one saying "later" (503, 429, 5xx): worth retrying.
    #[error("collector unreachable: {0}")]
    Unreachable(String),
    /// The collector refused the credentials (401/403): retried, since the events are
    /// fine and the token may be fixed on either side while they wait.
    #[error("collector refused the token ({status}): {message}")]
    Unauthorized {
        /// The HTTP status.
        status: u16,
        /// The collector's message.
        message: String,
    },
    /// The collector refused the events for good (4xx): retrying would not help.
    #[error("collector refused the events ({status}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The collector's message.
        message: String,
    },
}

impl ClientError {
    /// Whether a retry may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable(_) | Self::Unauthorized { .. })
    }
}

/// How to reach a collector: its URL and what it asks of a client.
#[derive(Debug, Clone)]
pub struct CollectorLink {
    /// Its base URL, e.g. `https://collector:5080`.
    pub url: String,
    /// The bearer token its ingest requires (its `--ingest-token`), if any.
    pub token: Option<Secret>,
    /// The CA to trust for `https://` (the public web roots without one).
    pub ca: Option<PathBuf>,
    /// The certificate to present if it verifies clients (its `--tls-client-ca`).
    pub identity: Option<ClientIdentity>,
}

/// A client for one collector.
pub struct CollectorClient {
    client: reqwest::Client,
    url: String,
    runtime: tokio::runtime::Runtime,
    token: Option<Secret>,
}

impl CollectorClient {
    /// A client for the collector `link` names; requests time out after `timeout`. An
    /// error if the URL or a TLS file cannot be used.
    pub fn new(link: &CollectorLink, timeout: Duration) -> Result<Self, ClientError> {
        let base_url = &link.url;
        let base = reqwest::Url::parse(base_url)
            .map_err(|e| ClientError::Config(format!("bad collector URL {base_url}: {e}")))?;
        let url = base
            .join(EVENTS_PATH)
            .map_err(|e| ClientError::Config(e.to_string()))?;
        let tls = wasml_net::tls::client_config(link.ca.as_deref(), link.identity.as_ref())
            .map_err(|e| ClientError::Config(e.to_string()))?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .no_proxy()
            .use_preconfigured_tls(tls)
            .build()
            .map_err(|e| ClientError::Config(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Config(e.to_string()))?;
        Ok(Self {
            client,
            url: url.to_string(),
            runtime,
            token: link.token.clone(),
        })
    }

    /// Sends `documents` (JSON objects) in one request; `Ok` means the collector
    /// acknowledged every one of them durably.
    pub fn send(&self, documents: &[Vec<u8>]) -> Result<(), ClientError> {
        let mut body = Vec::with_capacity(documents.iter().map(|d| d.len() + 1).sum());
        for document in documents {
            body.extend_from_slice(document);
            body.push(b'\n');
        }
        self.runtime.block_on(async {
            let mut request = self
                .client
                .post(&self.url)
                .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson");
            if let Some(token) = &self.token {
                request = request.bearer_auth(token.expose());
            }
            let response = request
                .body(body)
                .send()
                .await
                .map_err(|e| ClientError::Unreachable(error_chain(&e)))?;
            let status = response.status().as_u16();
            if response.status().is_success() {
                return Ok(());
            }
            let message = response.text().await.unwrap_or_default();
            if status == 401 || status == 403 {
                Err(ClientError::Unauthorized { status, message })
            } else if status == 429 || status >= 500 {
                Err(ClientError::Unreachable(format!("{status}: {message}")))
            } else {
                Err(ClientError::Rejected { status, message })
            }
        })
    }
}

/// An error with its causes: reqwest's own message says only "error sending request",
/// the cause says why (refused, a certificate not trusted, a handshake failure).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
