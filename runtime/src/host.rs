//! What the host keeps per model instance ([`HostState`], the store's data) and the host
//! side of the `events` import: what a guest reports is queued on its store and handed to
//! the caller after each call, so the caller decides where it goes (log, metrics).

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::wasml::model::events::{Field, Host, Level, Stage};
use crate::limits::{CallBudget, MemoryCap, SandboxLimits, Sandboxed};

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

/// What the host keeps per instance, reachable from host functions.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Events the guest reported since the last [`HostState::take_events`].
    events: Vec<GuestEvent>,
    /// Events dropped because more than [`MAX_EVENTS_PER_CALL`] were queued.
    dropped_events: u64,
    memory: MemoryCap,
    budget: CallBudget,
}

impl HostState {
    /// Nothing is granted: no preopened directories, no environment, no arguments, no
    /// network; stdout/stderr go nowhere.
    pub(crate) fn new(limits: &SandboxLimits) -> Self {
        Self {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            events: Vec::new(),
            dropped_events: 0,
            memory: MemoryCap::new(limits.memory_bytes),
            budget: CallBudget::default(),
        }
    }

    /// Takes the events reported since the last take, and how many were dropped.
    pub(crate) fn take_events(&mut self) -> (Vec<GuestEvent>, u64) {
        (
            std::mem::take(&mut self.events),
            std::mem::take(&mut self.dropped_events),
        )
    }

    fn push_event(&mut self, event: GuestEvent) {
        if self.events.len() < MAX_EVENTS_PER_CALL {
            self.events.push(event);
        } else {
            self.dropped_events += 1;
        }
    }
}

impl Sandboxed for HostState {
    fn memory_cap(&mut self) -> &mut MemoryCap {
        &mut self.memory
    }

    fn call_budget(&mut self) -> &mut CallBudget {
        &mut self.budget
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
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
