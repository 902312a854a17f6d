//! One sandboxed instance of a model component and the calls into it.

use wasmtime::component::ResourceTable;
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::types::{Features, ModelInfo, PredictError, Prediction};
use crate::bindings::{Model, ModelPre};
use crate::events::GuestEvent;

/// What the host keeps per instance, reachable from host functions.
pub struct HostState {
    wasi: WasiCtx,
    table: ResourceTable,
    /// Events the guest reported since the last [`ModelInstance::take_events`].
    pub(crate) events: Vec<GuestEvent>,
    /// Events dropped because a call reported more than `MAX_EVENTS_PER_CALL`.
    pub(crate) dropped_events: u64,
}

impl HostState {
    fn new() -> Self {
        // Nothing is granted: no preopened directories, no environment, no arguments, no
        // network; stdout/stderr go nowhere.
        Self {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            events: Vec::new(),
            dropped_events: 0,
        }
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

/// A live instance of a model component.
pub struct ModelInstance {
    store: Store<HostState>,
    model: Model,
}

impl ModelInstance {
    pub(crate) fn new(engine: &Engine, pre: &ModelPre<HostState>) -> wasmtime::Result<Self> {
        let mut store = Store::new(engine, HostState::new());
        let model = pre.instantiate(&mut store)?;
        Ok(Self { store, model })
    }

    /// The model's name, version, schema, labels and card.
    pub fn info(&mut self) -> wasmtime::Result<ModelInfo> {
        self.model
            .wasml_model_predictor()
            .call_info(&mut self.store)
    }

    /// Predicts one row. The outer error is a trap (the instance is then unusable), the
    /// inner one the model's answer.
    pub fn predict(
        &mut self,
        row: &Features,
    ) -> wasmtime::Result<Result<Prediction, PredictError>> {
        self.model
            .wasml_model_predictor()
            .call_predict(&mut self.store, row)
    }

    /// Predicts many rows in one call; one result per row.
    pub fn predict_batch(
        &mut self,
        rows: &[Features],
    ) -> wasmtime::Result<Vec<Result<Prediction, PredictError>>> {
        self.model
            .wasml_model_predictor()
            .call_predict_batch(&mut self.store, rows)
    }

    /// Takes the events the guest reported since the last call, and how many were dropped.
    pub fn take_events(&mut self) -> (Vec<GuestEvent>, u64) {
        let state = self.store.data_mut();
        (
            std::mem::take(&mut state.events),
            std::mem::take(&mut state.dropped_events),
        )
    }
}
