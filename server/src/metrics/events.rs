//! The event pipeline's counters: events made durable, dropped (by reason) and the
//! retries of a remote collector. The event sink's threads hold a clone.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

use super::register;

/// Why events were not delivered: the `reason` of `wasml_events_dropped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The queue to the writer was full.
    BufferFull,
    /// The writer had stopped (shutdown).
    Closed,
    /// A guest reported more events in one call than the runtime keeps.
    GuestFlood,
    /// Writing them (stdout, the WAL) failed.
    WriteFailed,
    /// A remote collector refused them (not a transient error).
    Rejected,
    /// A remote collector stayed unreachable through shutdown.
    CollectorUnreachable,
}

impl DropReason {
    /// Every reason, for series at zero from the start.
    pub const ALL: [Self; 6] = [
        Self::BufferFull,
        Self::Closed,
        Self::GuestFlood,
        Self::WriteFailed,
        Self::Rejected,
        Self::CollectorUnreachable,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BufferFull => "buffer_full",
            Self::Closed => "closed",
            Self::GuestFlood => "guest_flood",
            Self::WriteFailed => "write_failed",
            Self::Rejected => "rejected",
            Self::CollectorUnreachable => "collector_unreachable",
        }
    }
}

/// `wasml_events_written_total`, `wasml_events_dropped_total{reason}` and
/// `wasml_events_send_retries_total`.
#[derive(Clone)]
pub struct EventCounters {
    written: IntCounter,
    dropped: IntCounterVec,
    send_retries: IntCounter,
}

impl EventCounters {
    /// The counters, registered in `registry`, every drop reason at zero (so `increase()`
    /// sees the first drop).
    pub(super) fn register(registry: &Registry) -> Self {
        let counters = Self {
            written: register(
                registry,
                IntCounter::new(
                    "wasml_events_written_total",
                    "Events made durable by the collector, embedded or remote (or printed to stdout).",
                ),
            ),
            dropped: register(
                registry,
                IntCounterVec::new(
                    Opts::new(
                        "wasml_events_dropped_total",
                        "Events not delivered, by reason.",
                    ),
                    &["reason"],
                ),
            ),
            send_retries: register(
                registry,
                IntCounter::new(
                    "wasml_events_send_retries_total",
                    "Failed attempts to hand events to a remote collector; each is retried.",
                ),
            ),
        };
        for reason in DropReason::ALL {
            counters
                .dropped
                .with_label_values(&[reason.as_str()])
                .inc_by(0);
        }
        counters
    }

    /// `count` events were made durable (or printed).
    pub fn written(&self, count: u64) {
        self.written.inc_by(count);
    }

    /// `count` events were not delivered, for `reason`.
    pub fn dropped(&self, reason: DropReason, count: u64) {
        self.dropped
            .with_label_values(&[reason.as_str()])
            .inc_by(count);
    }

    /// Events made durable (or printed) so far.
    pub fn written_total(&self) -> u64 {
        self.written.get()
    }

    /// Events not delivered for `reason` so far.
    pub fn dropped_total(&self, reason: DropReason) -> u64 {
        self.dropped.with_label_values(&[reason.as_str()]).get()
    }

    /// Handing events to a remote collector failed once (it is retried).
    pub fn send_retried(&self) {
        self.send_retries.inc();
    }
}
