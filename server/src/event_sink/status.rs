//! What `/health` says of the event stream: where events go and, for the embedded
//! collector, whether its sink answers, what waits in its WAL and what the Elasticsearch
//! setup installed. Informational: a sink that is down does not make the host unready
//! (predictions never wait for events).

use serde::Serialize;
use utoipa::ToSchema;
use wasml_collector::PipelineWatch;
use wasml_collector::sink::elasticsearch::{SetupReport, SetupStatus};

/// The event stream's part of `/health`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventsHealth {
    /// `stdout`, `files`, `elasticsearch` or `collector` (a collector process).
    pub sink: &'static str,
    /// The embedded collector's last delivery succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sink_reachable: Option<bool>,
    /// Events made durable in the embedded collector's WAL and not yet delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_events: Option<u64>,
    /// What the Elasticsearch setup installed: mode, state (`pending`, `complete`,
    /// `partial`, `skipped`, `blocked`), the server `GET /` described, retention and
    /// each step's outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub elasticsearch_setup: Option<SetupReport>,
}

/// Where the health of the event stream is read from; cloned into every sender.
#[derive(Clone)]
pub(super) struct EventsStatus {
    pub sink: &'static str,
    pub pipeline: Option<PipelineWatch>,
    pub setup: Option<SetupStatus>,
}

impl EventsStatus {
    pub(super) fn health(&self) -> EventsHealth {
        let status = self.pipeline.as_ref().and_then(PipelineWatch::status);
        EventsHealth {
            sink: self.sink,
            sink_reachable: status.as_ref().map(|s| s.sink_up),
            pending_events: status.as_ref().map(|s| s.pending_events),
            elasticsearch_setup: self.setup.as_ref().map(SetupStatus::report),
        }
    }
}
