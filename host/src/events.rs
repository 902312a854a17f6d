//! The host side of the `events` import: what a guest reports is queued on its store and
//! handed to the caller after each call, so the host decides where it goes (log, metrics).

use crate::bindings::wasml::model::events::{Field, Host, Level, Stage};
use crate::instance::HostState;

/// Something a guest reported during a call.
#[derive(Debug, Clone, PartialEq)]
pub enum GuestEvent {
    /// A structured log event.
    Log {
        /// Severity.
        level: Level,
        /// What happened.
        message: String,
        /// Key/value context.
        fields: Vec<(String, String)>,
    },
    /// How long a stage of a prediction took.
    Timing {
        /// The stage.
        stage: Stage,
        /// Wall time, in seconds.
        seconds: f64,
        /// Rows the call covered.
        rows: u32,
    },
}

/// A guest cannot flood the host: past this many events queued since the last
/// [`crate::ModelInstance::take_events`], events are counted, not kept.
pub const MAX_EVENTS_PER_CALL: usize = 1024;

impl HostState {
    fn push_event(&mut self, event: GuestEvent) {
        if self.events.len() < MAX_EVENTS_PER_CALL {
            self.events.push(event);
        } else {
            self.dropped_events += 1;
        }
    }
}

impl Host for HostState {
    fn log(&mut self, level: Level, message: String, fields: Vec<Field>) {
        let fields = fields.into_iter().map(|f| (f.key, f.value)).collect();
        self.push_event(GuestEvent::Log {
            level,
            message,
            fields,
        });
    }

    fn timing(&mut self, stage: Stage, seconds: f64, rows: u32) {
        self.push_event(GuestEvent::Timing {
            stage,
            seconds,
            rows,
        });
    }
}

impl crate::bindings::wasml::model::types::Host for HostState {}
