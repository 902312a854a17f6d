//! The WAL's state as gauges, read from a running pipeline at each scrape (a stopped
//! pipeline reports nothing), so they are never stale.

use std::sync::Weak;

use prometheus::IntGauge;

use super::Shared;

/// `wasml_collector_wal_events`, `wasml_collector_wal_bytes` and
/// `wasml_collector_oldest_unshipped_seconds` of one pipeline.
pub struct WalGauges {
    pipeline: Weak<Shared>,
    events: IntGauge,
    bytes: IntGauge,
    oldest: prometheus::Gauge,
}

impl WalGauges {
    pub(crate) fn new(pipeline: Weak<Shared>) -> Self {
        Self {
            pipeline,
            events: IntGauge::new(
                "wasml_collector_wal_events",
                "Events acknowledged and not yet delivered.",
            )
            .expect("valid metric"),
            bytes: IntGauge::new(
                "wasml_collector_wal_bytes",
                "Bytes of the write-ahead log's segment files.",
            )
            .expect("valid metric"),
            oldest: prometheus::Gauge::new(
                "wasml_collector_oldest_unshipped_seconds",
                "Age of the oldest acknowledged event not yet delivered (0 when none).",
            )
            .expect("valid metric"),
        }
    }
}

impl prometheus::core::Collector for WalGauges {
    fn desc(&self) -> Vec<&prometheus::core::Desc> {
        [&self.events.desc(), &self.bytes.desc(), &self.oldest.desc()]
            .into_iter()
            .flatten()
            .copied()
            .collect()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        let Some(pipeline) = self.pipeline.upgrade() else {
            return Vec::new();
        };
        let status = pipeline.status();
        self.events.set(status.pending_events as i64);
        self.bytes.set(status.wal_bytes as i64);
        self.oldest
            .set(status.oldest_unshipped_seconds.unwrap_or_default());
        [
            self.events.collect(),
            self.bytes.collect(),
            self.oldest.collect(),
        ]
        .concat()
    }
}
