//! One sandboxed instance of a model component and the calls into it.

use std::time::Duration;

use thiserror::Error;
use wasmtime::{Engine, Store, Trap};

use crate::bindings::types::{Features, ModelInfo, PredictError, Prediction};
use crate::bindings::{Model, ModelPre};
use crate::host::{GuestEvent, HostState};
use crate::limits::{MemoryCap, SandboxLimits, Sandboxed, arm_deadline, sandboxed_store};

/// Why a call into a model instance failed. The instance is unusable afterwards: drop it
/// and take a fresh one.
#[derive(Debug, Error)]
pub enum CallError {
    /// The call ran past its deadline and was interrupted.
    #[error("the model ran past its {0:?} deadline")]
    DeadlineExceeded(Duration),
    /// The guest tried to grow its memory past the limit.
    #[error("the model exceeded its memory limit of {0} bytes")]
    MemoryExceeded(usize),
    /// Any other trap: a panic, a stack overflow, an out-of-bounds access...
    #[error("the model trapped: {0}")]
    Trap(String),
    /// The instance trapped earlier and was not replaced.
    #[error("the instance trapped earlier and cannot be used")]
    Poisoned,
}

/// A live instance of a model component.
pub struct ModelInstance {
    store: Store<HostState>,
    model: Model,
    limits: SandboxLimits,
    poisoned: bool,
}

impl ModelInstance {
    pub(crate) fn new(
        engine: &Engine,
        pre: &ModelPre<HostState>,
        limits: SandboxLimits,
    ) -> wasmtime::Result<Self> {
        let mut store = sandboxed_store(engine, HostState::new(&limits), &limits);
        let model = pre.instantiate(&mut store)?;
        Ok(Self {
            store,
            model,
            limits,
            poisoned: false,
        })
    }

    /// The model's name, version, schema, labels and card.
    pub fn info(&mut self) -> Result<ModelInfo, CallError> {
        self.call(|model, store| model.wasml_model_predictor().call_info(store))
    }

    /// Predicts one row: the outer error is the sandbox's (the instance is then unusable),
    /// the inner one the model's answer.
    pub fn predict(
        &mut self,
        row: &Features,
    ) -> Result<Result<Prediction, PredictError>, CallError> {
        self.call(|model, store| model.wasml_model_predictor().call_predict(store, row))
    }

    /// Predicts many rows in one call; one result per row.
    pub fn predict_batch(
        &mut self,
        rows: &[Features],
    ) -> Result<Vec<Result<Prediction, PredictError>>, CallError> {
        self.call(|model, store| {
            model
                .wasml_model_predictor()
                .call_predict_batch(store, rows)
        })
    }

    /// The instance trapped and must be replaced.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Takes the events the guest reported since the last call, and how many were dropped.
    pub fn take_events(&mut self) -> (Vec<GuestEvent>, u64) {
        self.store.data_mut().take_events()
    }

    /// Runs one export call under the deadline and classifies a trap.
    fn call<R>(
        &mut self,
        f: impl FnOnce(&Model, &mut Store<HostState>) -> wasmtime::Result<R>,
    ) -> Result<R, CallError> {
        if self.poisoned {
            return Err(CallError::Poisoned);
        }
        arm_deadline(&mut self.store, &self.limits);
        f(&self.model, &mut self.store).map_err(|error| {
            self.poisoned = true;
            CallError::classify(&error, self.store.data_mut().memory_cap(), &self.limits)
        })
    }
}

impl CallError {
    /// What a failed call into a store limited by `limits` (and capped by `memory`)
    /// amounts to.
    pub fn classify(error: &wasmtime::Error, memory: &MemoryCap, limits: &SandboxLimits) -> Self {
        if memory.exceeded() {
            return Self::MemoryExceeded(limits.memory_bytes);
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Self::DeadlineExceeded(limits.deadline),
            // The trap's own description; the wasm backtrace stays out of messages.
            Some(trap) => Self::Trap(trap.to_string()),
            None => Self::Trap(error.to_string()),
        }
    }
}
