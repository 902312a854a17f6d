//! The sending side of the ingest protocol, for a process (the host) that ships its events
//! to a collector: one NDJSON `POST` per call, answered once the collector has them
//! fsync'd. It blocks the calling thread (the host calls it from its event-writer thread,
//! never from a request).

use std::time::Duration;

use thiserror::Error;

use super::EVENTS_PATH;
use crate::secret::Secret;

/// Why a send failed.
#[derive(Debug, Error)]
pub enum ClientError {
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

/// A client for one collector.
pub struct CollectorClient {
    client: reqwest::Client,
    url: String,
    runtime: tokio::runtime::Runtime,
    token: Option<Secret>,
}

impl CollectorClient {
    /// A client for the collector at `base_url` (e.g. `http://127.0.0.1:5080`); requests
    /// time out after `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, ClientError> {
        let base = reqwest::Url::parse(base_url)
            .map_err(|e| ClientError::Unreachable(format!("bad collector URL {base_url}: {e}")))?;
        let url = base
            .join(EVENTS_PATH)
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .no_proxy()
            .build()
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        Ok(Self {
            client,
            url: url.to_string(),
            runtime,
            token: None,
        })
    }

    /// Sends `Authorization: Bearer <token>` with every request, if a token is given.
    pub fn with_token(self, token: Option<Secret>) -> Self {
        Self { token, ..self }
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
                .map_err(|e| ClientError::Unreachable(e.to_string()))?;
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
