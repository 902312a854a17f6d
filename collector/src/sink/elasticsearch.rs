//! The Elasticsearch sink, through the official `elasticsearch` crate: `_bulk` with
//! `create` and the event's own `event_id` as `_id` (a batch delivered twice yields 409s,
//! which count as delivered, not as duplicates), gzip request bodies, one daily index per
//! event (`ml-pipeline-YYYY.MM.DD` from `@timestamp`).
//!
//! Per item: 2xx and 409 are done; 429 and 5xx are retried (only those items) with
//! backoff; anything else (a mapping error, 400) is rejected for good and written to the
//! dead-letter file with its reason, so it never blocks the queue. A failed request as a
//! whole (connection error, 429, 5xx) fails the delivery: the pipeline retries the batch.
//!
//! Before the first delivery the sink installs (idempotently, `PUT`) the index template and
//! the ILM policy from `observability/elasticsearch/`: the operator's copy and the
//! collector's are the same file.

/// The index template for `ml-pipeline-*`: explicit mappings of every field the host emits.
pub const INDEX_TEMPLATE: &str =
    include_str!("../../../observability/elasticsearch/index-template.json");

/// The retention policy the template names.
pub const ILM_POLICY: &str = include_str!("../../../observability/elasticsearch/ilm-policy.json");

/// The name of both.
pub const SETUP_NAME: &str = "ml-pipeline";

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use elasticsearch::{BulkParts, Elasticsearch};
use serde_json::{Value, json};

use super::{Entry, Sink, SinkError, daily_name};

/// How the sink reaches Elasticsearch.
#[derive(Debug, Clone)]
pub struct ElasticsearchConfig {
    /// Base URL, e.g. `http://127.0.0.1:9200`.
    pub url: String,
    /// Where rejected documents go (`dead-letter.ndjson` in it).
    pub dead_letter_dir: PathBuf,
    /// Longest wait before retrying failed items.
    pub max_backoff: Duration,
    /// Request timeout.
    pub timeout: Duration,
}

/// Bulk-indexes batches into Elasticsearch.
pub struct ElasticsearchSink {
    client: Elasticsearch,
    runtime: tokio::runtime::Runtime,
    config: ElasticsearchConfig,
    /// Documents written to the dead-letter file so far.
    pub dead_lettered: u64,
    /// Items retried after a 429/5xx so far.
    pub retried_items: u64,
    installed: bool,
}

impl ElasticsearchSink {
    /// A sink for `config` (no request is made yet).
    pub fn new(config: ElasticsearchConfig) -> Result<Self, SinkError> {
        let url = elasticsearch::http::Url::parse(&config.url).map_err(|e| {
            SinkError::Unavailable(format!("bad Elasticsearch URL {}: {e}", config.url))
        })?;
        let transport = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            .request_body_compression(true)
            .timeout(config.timeout)
            .disable_proxy()
            .build()
            .map_err(|e| SinkError::Unavailable(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| SinkError::Unavailable(e.to_string()))?;
        std::fs::create_dir_all(&config.dead_letter_dir)
            .map_err(|e| SinkError::Unavailable(format!("dead-letter dir: {e}")))?;
        Ok(Self {
            client: Elasticsearch::new(transport),
            runtime,
            config,
            dead_lettered: 0,
            retried_items: 0,
            installed: false,
        })
    }

    /// Installs the ILM policy and the index template (both `PUT`, so repeating is
    /// harmless).
    fn install(&self) -> Result<(), SinkError> {
        for (path, body) in [
            (format!("/_ilm/policy/{SETUP_NAME}"), ILM_POLICY),
            (format!("/_index_template/{SETUP_NAME}"), INDEX_TEMPLATE),
        ] {
            self.runtime.block_on(async {
                let response = self
                    .client
                    .send(
                        elasticsearch::http::Method::Put,
                        &path,
                        elasticsearch::http::headers::HeaderMap::new(),
                        None::<&()>,
                        Some(body.as_bytes().to_vec()),
                        None,
                    )
                    .await
                    .map_err(|e| SinkError::Unavailable(format!("PUT {path}: {e}")))?;
                let status = response.status_code().as_u16();
                if status >= 300 {
                    let reason = response.text().await.unwrap_or_default();
                    return Err(SinkError::Unavailable(format!(
                        "PUT {path} answered {status}: {reason}"
                    )));
                }
                Ok(())
            })?;
        }
        tracing::info!(name = SETUP_NAME, "index template and ILM policy installed");
        Ok(())
    }

    /// Sends one bulk request; returns each item's status and error.
    fn send(&self, items: &[&Entry]) -> Result<Vec<(u16, Value)>, SinkError> {
        let mut body: Vec<Vec<u8>> = Vec::with_capacity(items.len() * 2);
        for (seq, document) in items {
            let action = json!({"create": {"_index": daily_name(document), "_id": document_id(*seq, document)}});
            body.push(action.to_string().into_bytes());
            body.push(document.clone());
        }
        self.runtime.block_on(async {
            let response = self
                .client
                .bulk(BulkParts::None)
                .body(body)
                .send()
                .await
                .map_err(|e| SinkError::Unavailable(format!("bulk request failed: {e}")))?;
            let status = response.status_code().as_u16();
            let reply: Value = response
                .json()
                .await
                .map_err(|e| SinkError::Unavailable(format!("reading the bulk answer: {e}")))?;
            if status >= 300 {
                return Err(SinkError::Unavailable(format!(
                    "bulk request answered {status}: {}",
                    reply["error"]["reason"].as_str().unwrap_or("no reason")
                )));
            }
            let answers: Vec<(u16, Value)> = reply["items"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|item| {
                            let result = item
                                .as_object()
                                .and_then(|o| o.values().next())
                                .cloned()
                                .unwrap_or_default();
                            (
                                result["status"].as_u64().unwrap_or(0) as u16,
                                result["error"].clone(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            if answers.len() != items.len() {
                return Err(SinkError::Unavailable(format!(
                    "the bulk answer has {} items for {} sent",
                    answers.len(),
                    items.len()
                )));
            }
            Ok(answers)
        })
    }

    fn dead_letter(&mut self, entry: &Entry, status: u16, error: &Value) -> Result<(), SinkError> {
        let line = json!({
            "status": status,
            "reason": error["reason"].as_str().unwrap_or("rejected"),
            "type": error["type"],
            "seq": entry.0,
            "document": String::from_utf8_lossy(&entry.1),
        });
        let path = self.config.dead_letter_dir.join("dead-letter.ndjson");
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{line}").map(|()| f))
            .map_err(|e| SinkError::Unavailable(format!("writing {}: {e}", path.display())))?;
        file.flush()
            .and_then(|()| file.sync_data())
            .map_err(|e| SinkError::Unavailable(format!("syncing {}: {e}", path.display())))?;
        self.dead_lettered += 1;
        tracing::warn!(
            seq = entry.0,
            status,
            "document rejected for good; dead-lettered"
        );
        Ok(())
    }
}

impl Sink for ElasticsearchSink {
    fn deliver(&mut self, batch: &[Entry]) -> Result<(), SinkError> {
        if !self.installed {
            self.install()?;
            self.installed = true;
        }
        let mut pending: Vec<&Entry> = batch.iter().collect();
        let mut backoff = Duration::from_millis(50);
        while !pending.is_empty() {
            let answers = self.send(&pending)?;
            let mut retry = Vec::new();
            for (entry, (status, error)) in pending.into_iter().zip(answers) {
                match status {
                    200..=299 | 409 => {}
                    429 | 500..=599 => retry.push(entry),
                    _ => self.dead_letter(entry, status, &error)?,
                }
            }
            if !retry.is_empty() {
                self.retried_items += retry.len() as u64;
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(self.config.max_backoff);
            }
            pending = retry;
        }
        Ok(())
    }
}

/// The event's `event_id` if it has one (the host always sets it), else one derived from
/// its WAL sequence number, stable across redeliveries.
fn document_id(seq: u64, document: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Id<'a> {
        #[serde(borrow)]
        event_id: Option<&'a str>,
    }
    serde_json::from_slice::<Id>(document)
        .ok()
        .and_then(|d| d.event_id.filter(|id| !id.is_empty()).map(String::from))
        .unwrap_or_else(|| format!("wal-{seq}"))
}
