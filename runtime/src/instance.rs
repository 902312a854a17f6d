//! One sandboxed instance of a model component and the calls into it.

use std::time::Duration;

use thiserror::Error;
use wasmtime::{Engine, Store, Trap};

use crate::bindings::types::{Features, ModelInfo, PredictError, Prediction};
use crate::bindings::{Model, ModelPre};
use crate::blocking::block_on;
use crate::cost::{CallCost, Timed};
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

/// How many call deadlines an instance's first call (the model parse) may take.
pub const WARM_UP_FACTOR: u32 = 20;

/// A live instance of a model component. Its calls are futures: a call runs on a fiber
/// on the calling task and yields to the runtime at every epoch tick (the serving path);
/// the `_blocking` forms run them from synchronous code.
pub struct ModelInstance {
    store: Store<HostState>,
    model: Model,
    limits: SandboxLimits,
    poisoned: bool,
    last_cost: CallCost,
}

impl ModelInstance {
    pub(crate) async fn new(
        engine: &Engine,
        pre: &ModelPre<HostState>,
        limits: SandboxLimits,
    ) -> wasmtime::Result<Self> {
        let mut store = sandboxed_store(engine, HostState::new(&limits), &limits);
        let model = pre.instantiate_async(&mut store).await?;
        Ok(Self {
            store,
            model,
            limits,
            poisoned: false,
            last_cost: CallCost::default(),
        })
    }

    /// The model's name, version, schema, labels and card.
    pub async fn info(&mut self) -> Result<ModelInfo, CallError> {
        self.arm()?;
        let mut cpu = Duration::ZERO;
        let call = self
            .model
            .wasml_model_predictor()
            .call_info(&mut self.store);
        let result = Timed::new(call, &mut cpu).await;
        self.settle(result, cpu)
    }

    /// `info()` as the instance's first call, which is when the guest parses its model:
    /// that may take longer than a request may (more so while other work shares the CPU,
    /// as when a model is loaded under load), so it gets [`WARM_UP_FACTOR`] times the
    /// call deadline. A guest that loops still stops, at that longer deadline.
    pub async fn warm_up(&mut self) -> Result<ModelInfo, CallError> {
        let limits = self.lengthen_deadline();
        let result = self.info().await;
        self.limits = limits;
        result
    }

    /// `predict_batch(rows)` as the instance's first call, with the same allowance as
    /// [`warm_up`](Self::warm_up): for a caller that wants the model's own answer when it
    /// cannot load (a batch answers every row with the loader's error; `info` traps).
    pub async fn warm_up_batch(
        &mut self,
        rows: &[Features],
    ) -> Result<Vec<Result<Prediction, PredictError>>, CallError> {
        let limits = self.lengthen_deadline();
        let result = self.predict_batch(rows).await;
        self.limits = limits;
        result
    }

    /// Gives the next call [`WARM_UP_FACTOR`] times the deadline; returns the limits to
    /// restore after it.
    fn lengthen_deadline(&mut self) -> SandboxLimits {
        let limits = self.limits;
        self.limits.deadline = limits.deadline * WARM_UP_FACTOR;
        limits
    }

    /// Predicts one row: the outer error is the sandbox's (the instance is then unusable),
    /// the inner one the model's answer.
    pub async fn predict(
        &mut self,
        row: &Features,
    ) -> Result<Result<Prediction, PredictError>, CallError> {
        self.arm()?;
        let mut cpu = Duration::ZERO;
        let call = self
            .model
            .wasml_model_predictor()
            .call_predict(&mut self.store, row);
        let result = Timed::new(call, &mut cpu).await;
        self.settle(result, cpu)
    }

    /// Predicts many rows in one call; one result per row.
    pub async fn predict_batch(
        &mut self,
        rows: &[Features],
    ) -> Result<Vec<Result<Prediction, PredictError>>, CallError> {
        self.arm()?;
        let mut cpu = Duration::ZERO;
        let call = self
            .model
            .wasml_model_predictor()
            .call_predict_batch(&mut self.store, rows);
        let result = Timed::new(call, &mut cpu).await;
        self.settle(result, cpu)
    }

    /// [`info`](Self::info) from synchronous code.
    pub fn info_blocking(&mut self) -> Result<ModelInfo, CallError> {
        block_on(self.info())
    }

    /// [`predict`](Self::predict) from synchronous code.
    pub fn predict_blocking(
        &mut self,
        row: &Features,
    ) -> Result<Result<Prediction, PredictError>, CallError> {
        block_on(self.predict(row))
    }

    /// [`predict_batch`](Self::predict_batch) from synchronous code.
    pub fn predict_batch_blocking(
        &mut self,
        rows: &[Features],
    ) -> Result<Vec<Result<Prediction, PredictError>>, CallError> {
        block_on(self.predict_batch(rows))
    }

    /// The instance trapped and must be replaced.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    /// Takes the events the guest reported since the last call, and how many were dropped.
    pub fn take_events(&mut self) -> (Vec<GuestEvent>, u64) {
        self.store.data_mut().take_events()
    }

    /// Before a call: refuses a trapped instance and starts the call's deadline. The
    /// instance counts as poisoned until the call settles: a call abandoned midway (its
    /// future dropped when a client goes away or a deadline passes) leaves the guest in
    /// the middle of its work, and such an instance must not serve again.
    fn arm(&mut self) -> Result<(), CallError> {
        if self.poisoned {
            return Err(CallError::Poisoned);
        }
        self.poisoned = true;
        arm_deadline(&mut self.store, &self.limits);
        Ok(())
    }

    /// What the last call cost (also a call that trapped).
    pub fn last_cost(&self) -> CallCost {
        self.last_cost
    }

    /// After a call that ran for `cpu`: its cost is kept; a trap poisons the instance and
    /// is classified.
    fn settle<R>(&mut self, result: wasmtime::Result<R>, cpu: Duration) -> Result<R, CallError> {
        self.last_cost = CallCost {
            cpu,
            memory_bytes: self.store.data_mut().memory_cap().peak_bytes() as u64,
        };
        self.poisoned = result.is_err();
        result.map_err(|error| {
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
