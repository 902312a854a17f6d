//! The Elasticsearch sink, through the official `elasticsearch` crate: `_bulk` with
//! `create` and the event's own `event_id` as `_id` (a batch delivered twice yields 409s,
//! which count as delivered, not as duplicates), gzip request bodies, into one daily index
//! per event (`ml-pipeline-YYYY.MM.DD` from `@timestamp`) or one data stream
//! (`logs-ml_pipeline-<namespace>`) ([`target`]).
//!
//! A batch from the pipeline is split into bulk requests by count and bytes
//! ([`request_builder`]), sent with at most `bulk_max_in_flight` in flight ([`service`]).
//! Per item: 2xx and 409 are done; 429 and 5xx are retried (only those items) with
//! backoff; anything else (a mapping error, 400) is rejected for good and written to the
//! dead-letter file with its reason ([`dead_letter`]), so it never blocks the queue. A
//! request that fails as a whole (connection error, 429, 5xx), or items still failing
//! after a few rounds, fail the delivery: the pipeline retries the batch, forever, and the
//! items already created then answer 409. Before the first delivery the sink asks which
//! server it talks to ([`detect`]) and installs what that server supports
//! ([`setup_plan`]) as `--elasticsearch-setup` says ([`setup`]): by default a server
//! without an API, or a key without the privilege, does not stop delivery.

mod config;
mod dead_letter;
pub mod detect;
mod request_builder;
mod service;
pub mod setup;
pub mod setup_plan;
pub mod target;

use std::time::Duration;

use elasticsearch::Elasticsearch;
use futures_util::stream::{self, StreamExt};

pub use config::{ConfigError, ElasticsearchArgs, ElasticsearchConfig, SetupMode};
pub use elasticsearch::auth::Credentials;
pub use setup::{SetupReport, SetupState, SetupStatus};
pub use setup_plan::{ILM_POLICY, INDEX_TEMPLATE, SETUP_NAME};
pub use target::{Namespace, Target, TargetKind};

use super::{Entry, Sink, SinkError};
use crate::metrics::CollectorMetrics;
use dead_letter::Rejection;

/// Rounds of retrying failed items inside one delivery before handing the batch back to
/// the pipeline (whose retries are unbounded and watch for shutdown).
const ITEM_ROUNDS: u32 = 5;

/// Bulk-indexes batches into Elasticsearch.
pub struct ElasticsearchSink {
    client: Elasticsearch,
    runtime: tokio::runtime::Runtime,
    config: ElasticsearchConfig,
    metrics: CollectorMetrics,
    setup: SetupStatus,
}

impl ElasticsearchSink {
    /// A sink for `config` (no request is made yet); `metrics` count what it does.
    pub fn new(
        config: ElasticsearchConfig,
        metrics: CollectorMetrics,
    ) -> Result<Self, ConfigError> {
        let client = config.client()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ConfigError::Transport(e.to_string()))?;
        std::fs::create_dir_all(&config.dead_letter_dir).map_err(|e| {
            ConfigError::DeadLetterDir {
                path: config.dead_letter_dir.clone(),
                reason: e.to_string(),
            }
        })?;
        Ok(Self {
            client,
            runtime,
            setup: SetupStatus::new(config.setup, &config.target, &metrics),
            config,
            metrics,
        })
    }

    /// The setup's report, updated as it runs: `/health` shows it.
    pub fn setup_status(&self) -> SetupStatus {
        self.setup.clone()
    }

    /// Delivers one chunk: sends it, retries the items that met a 429/5xx, and returns
    /// those rejected for good.
    async fn deliver_chunk<'a>(
        &self,
        chunk: Vec<&'a Entry>,
    ) -> Result<Vec<Rejection<'a>>, SinkError> {
        let mut pending = chunk;
        let mut rejected = Vec::new();
        let mut backoff = Duration::from_millis(50);
        for _ in 0..ITEM_ROUNDS {
            let answers =
                service::send(&self.client, &self.metrics, &self.config.target, &pending).await?;
            let mut retry = Vec::new();
            for (entry, (status, error)) in pending.into_iter().zip(answers) {
                match status {
                    200..=299 => self.metrics.indexed.inc(),
                    409 => self.metrics.already_indexed.inc(),
                    429 | 500..=599 => retry.push(entry),
                    _ => rejected.push(Rejection {
                        entry,
                        status,
                        error,
                    }),
                }
            }
            if retry.is_empty() {
                return Ok(rejected);
            }
            self.metrics.retried.inc_by(retry.len() as u64);
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(self.config.max_backoff);
            pending = retry;
        }
        Err(SinkError::Unavailable(format!(
            "{} items still failing after {ITEM_ROUNDS} rounds",
            pending.len()
        )))
    }
}

impl Sink for ElasticsearchSink {
    fn deliver(&mut self, batch: &[Entry]) -> Result<(), SinkError> {
        let this = &*self;
        let chunks = request_builder::chunks(
            batch,
            this.config.bulk_max_events,
            this.config.bulk_max_bytes,
        );
        let outcomes: Vec<Result<Vec<Rejection<'_>>, SinkError>> =
            this.runtime.block_on(async {
                if !this.setup.done() {
                    let config = &this.config;
                    setup::install(
                        &this.client,
                        config.setup,
                        &config.target,
                        &this.setup,
                        &this.metrics,
                    )
                    .await?;
                }
                Ok::<_, SinkError>(
                    stream::iter(chunks)
                        .map(|chunk| this.deliver_chunk(chunk))
                        .buffer_unordered(this.config.bulk_max_in_flight)
                        .collect()
                        .await,
                )
            })?;
        let mut rejections = Vec::new();
        for outcome in outcomes {
            rejections.extend(outcome?);
        }
        // Written only once the whole batch is through: a retried batch does not
        // dead-letter the same document twice.
        dead_letter::write(&self.config.dead_letter_dir, &rejections)?;
        self.metrics.dead_lettered.inc_by(rejections.len() as u64);
        Ok(())
    }
}
