//! The collector's Prometheus metrics, shared by ingest, the pipeline and the sinks.
//!
//! Counters and the bulk latency histogram live in [`CollectorMetrics`], cloned into each
//! part (a clone shares the same series). The WAL's state (pending events, bytes, age of
//! the oldest unshipped event) is read at scrape time by [`crate::Pipeline::gauges`]
//! (`pipeline::gauges`), so
//! it is never stale. Whoever owns the registry (the collector binary, or the host when
//! the pipeline is embedded) registers both.

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
};

/// Every series the collector maintains itself, prefixed `wasml_collector_`.
#[derive(Clone)]
pub struct CollectorMetrics {
    /// Events in ingest requests that were accepted for the WAL.
    pub received: IntCounter,
    /// Ingest requests refused, by reason (`malformed`, `too_large`, `overloaded`, ...).
    pub rejected_requests: IntCounterVec,
    /// Events acknowledged: fsync'd in the WAL.
    pub persisted: IntCounter,
    /// Events the sink took for good (indexed, already present, written or dead-lettered).
    pub delivered: IntCounter,
    /// Events Elasticsearch created.
    pub indexed: IntCounter,
    /// Events Elasticsearch already had (409 on `create`): a redelivery, not a duplicate.
    pub already_indexed: IntCounter,
    /// Bulk items retried after a 429 or 5xx.
    pub retried: IntCounter,
    /// Events rejected for good and written to the dead-letter file.
    pub dead_lettered: IntCounter,
    /// Failed delivery attempts of a whole batch (the pipeline retries them).
    pub delivery_failures: IntCounter,
    /// Duration of bulk requests, by outcome.
    pub bulk_seconds: Histogram,
    /// 1 when the last request to the sink got an answer, 0 when it could not reach it;
    /// no series until the sink was first tried (nothing known yet is not "down").
    pub sink_up: IntGaugeVec,
    /// 1, labelled with the I/O error's kind (`StorageFull`, `PermissionDenied`, ...),
    /// once the WAL could not be written or read: the collector acknowledges nothing more.
    pub wal_failure: IntGaugeVec,
    /// 1 for each setup step (`ilm_policy`, `ism_policy`, `index_template`, `retention`)
    /// labelled with how it went (`installed`, `unsupported`, `forbidden`); absent until
    /// setup ran.
    pub setup_state: IntGaugeVec,
    /// 1 on the Elasticsearch setup's overall state (`pending`, `complete`, `partial`,
    /// `skipped`, `blocked`); `pending` from the sink's start.
    pub setup_status: IntGaugeVec,
}

impl CollectorMetrics {
    /// Fresh series, not registered anywhere yet.
    pub fn new() -> Self {
        let counter = |name: &str, help: &str| {
            IntCounter::new(format!("wasml_collector_{name}"), help).expect("valid metric")
        };
        Self {
            received: counter(
                "events_received_total",
                "Events in accepted ingest requests.",
            ),
            rejected_requests: IntCounterVec::new(
                Opts::new(
                    "wasml_collector_ingest_rejected_total",
                    "Ingest requests refused, by reason.",
                ),
                &["reason"],
            )
            .expect("valid metric"),
            persisted: counter(
                "events_persisted_total",
                "Events fsync'd in the write-ahead log (acknowledged).",
            ),
            delivered: counter(
                "events_delivered_total",
                "Events the sink took for good (indexed, already present, written or dead-lettered).",
            ),
            indexed: counter("events_indexed_total", "Events Elasticsearch created."),
            already_indexed: counter(
                "events_already_indexed_total",
                "Events Elasticsearch already had (409 on create): redeliveries, not duplicates.",
            ),
            retried: counter(
                "events_retried_total",
                "Bulk items retried after a 429 or 5xx.",
            ),
            dead_lettered: counter(
                "events_dead_lettered_total",
                "Events rejected for good and written to the dead-letter file.",
            ),
            delivery_failures: counter(
                "delivery_failures_total",
                "Failed deliveries of a whole batch; each is retried with backoff.",
            ),
            bulk_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "wasml_collector_bulk_request_seconds",
                    "Duration of bulk requests to Elasticsearch.",
                )
                .buckets(vec![
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
            )
            .expect("valid metric"),
            sink_up: IntGaugeVec::new(
                Opts::new(
                    "wasml_collector_sink_up",
                    "1 when the last request to the sink was answered, 0 when the sink could not be reached; absent until the sink was first tried.",
                ),
                &[],
            )
            .expect("valid metric"),
            wal_failure: IntGaugeVec::new(
                Opts::new(
                    "wasml_collector_wal_failure",
                    "1 once the write-ahead log failed (disk full, unwritable...), by I/O error kind; the collector then acknowledges nothing.",
                ),
                &["kind"],
            )
            .expect("valid metric"),
            setup_state: IntGaugeVec::new(
                Opts::new(
                    "wasml_collector_setup_state",
                    "1 per Elasticsearch setup step (ilm_policy, ism_policy, index_template, retention), labelled with its state: installed, unsupported (the server has no such API or setting), forbidden (the key may not).",
                ),
                &["step", "state"],
            )
            .expect("valid metric"),
            setup_status: IntGaugeVec::new(
                Opts::new(
                    "wasml_collector_setup_status",
                    "1 on the Elasticsearch setup's state: pending (not run yet: no delivery tried, or no answer), complete, partial (steps refused, delivering without them), skipped, blocked (--elasticsearch-setup require and a step refused: nothing delivered).",
                ),
                &["state"],
            )
            .expect("valid metric"),
        }
    }

    /// Registers every series in `registry`.
    pub fn register(&self, registry: &Registry) -> prometheus::Result<()> {
        for counter in [
            &self.received,
            &self.persisted,
            &self.delivered,
            &self.indexed,
            &self.already_indexed,
            &self.retried,
            &self.dead_lettered,
            &self.delivery_failures,
        ] {
            registry.register(Box::new(counter.clone()))?;
        }
        registry.register(Box::new(self.rejected_requests.clone()))?;
        registry.register(Box::new(self.bulk_seconds.clone()))?;
        registry.register(Box::new(self.wal_failure.clone()))?;
        registry.register(Box::new(self.setup_state.clone()))?;
        registry.register(Box::new(self.setup_status.clone()))?;
        registry.register(Box::new(self.sink_up.clone()))
    }
}

impl CollectorMetrics {
    /// Whether the sink answered its last request (`wasml_collector_sink_up`).
    pub fn set_sink_up(&self, up: bool) {
        self.sink_up
            .with_label_values::<&str>(&[])
            .set(i64::from(up));
    }

    /// `wasml_collector_sink_up`, or `None` while the sink was never tried.
    pub fn sink_up(&self) -> Option<i64> {
        let families = prometheus::core::Collector::collect(&self.sink_up);
        let metric = families.first()?.get_metric().first()?;
        Some(metric.get_gauge().get_value() as i64)
    }
}

/// Connections the ingest listener turned away count as refused ingest: `reason` is
/// `too_many_connections` or `tls_handshake` (no or an untrusted client certificate, plain
/// HTTP on the TLS port); nothing such a connection sent was read.
impl wasml_net::connections::ConnectionEvents for CollectorMetrics {
    fn refused(&self) {
        self.rejected_requests
            .with_label_values(&["too_many_connections"])
            .inc();
    }

    fn handshake_failed(&self) {
        self.rejected_requests
            .with_label_values(&["tls_handshake"])
            .inc();
    }
}

impl Default for CollectorMetrics {
    fn default() -> Self {
        Self::new()
    }
}
