//! What one model instance may use: CPU time per call and linear memory.

use std::time::Duration;

use wasmtime::{Engine, ResourceLimiter, Store, UpdateDeadline};

use crate::engine::deadline_ticks;

/// Limits applied to every instance and every call into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SandboxLimits {
    /// Longest a single call may run before it is interrupted (epoch interruption, so the
    /// granularity is [`crate::engine::EPOCH_TICK`]).
    pub deadline: Duration,
    /// Most linear memory an instance may grow to, in bytes.
    pub memory_bytes: usize,
}

impl Default for SandboxLimits {
    /// 100 ms per call, 64 MiB per instance: the bundled models need about 1 µs–1 ms and a
    /// few MiB, so only a runaway guest meets either.
    fn default() -> Self {
        Self {
            deadline: Duration::from_millis(100),
            memory_bytes: 64 << 20,
        }
    }
}

/// Caps an instance's memory and remembers that it refused a growth, so a trap that
/// follows (Rust guests abort on allocation failure) can be reported as what it is; and
/// the largest linear memory it granted, for what a call costs.
#[derive(Debug)]
pub struct MemoryCap {
    max_bytes: usize,
    exceeded: bool,
    peak_bytes: usize,
}

impl MemoryCap {
    /// A cap of `max_bytes` of linear memory.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            exceeded: false,
            peak_bytes: 0,
        }
    }

    /// Whether the guest asked for more than the cap.
    pub fn exceeded(&self) -> bool {
        self.exceeded
    }

    /// The largest linear memory granted so far, in bytes (initial memories included).
    pub fn peak_bytes(&self) -> usize {
        self.peak_bytes
    }
}

/// How many more epoch ticks the current call may run. Re-armed before every call by
/// [`arm_deadline`]; the store's epoch callback counts it down.
#[derive(Debug, Default)]
pub struct CallBudget {
    ticks_left: u64,
}

/// A store's data that carries a [`MemoryCap`] and a [`CallBudget`]: a model instance's
/// or a `wasi:http` component's.
pub trait Sandboxed: 'static {
    /// The cap: the store's resource limiter, and what [`crate::CallError::classify`] asks
    /// whether it refused a growth.
    fn memory_cap(&mut self) -> &mut MemoryCap;
    /// What is left of the current call's deadline.
    fn call_budget(&mut self) -> &mut CallBudget;
}

/// A store for `data` under `limits`: linear memory capped, and every call interrupted
/// (a trap) once it runs [`SandboxLimits::deadline`] past its start. Calls are made with
/// `call_async`: at every epoch tick the guest hands its thread back to the async runtime,
/// so a long call cannot hold a runtime worker for more than one
/// [`crate::engine::EPOCH_TICK`] at a time. This is the one place a store gets its limits;
/// callers re-arm the deadline per call with [`arm_deadline`].
pub fn sandboxed_store<T: Sandboxed>(engine: &Engine, data: T, limits: &SandboxLimits) -> Store<T> {
    let mut store = Store::new(engine, data);
    store.limiter(|state| state.memory_cap());
    // Called at every tick while a call runs: one ticker per engine, a counter per store.
    store.epoch_deadline_callback(move |mut store| {
        let budget = store.data_mut().call_budget();
        if budget.ticks_left == 0 {
            return Ok(UpdateDeadline::Interrupt);
        }
        budget.ticks_left -= 1;
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(tokio::task::yield_now()),
        ))
    });
    arm_deadline(&mut store, limits);
    store
}

/// Starts the deadline of the next call into `store` now: it is interrupted at the tick
/// that completes [`SandboxLimits::deadline`].
pub fn arm_deadline<T: Sandboxed>(store: &mut Store<T>, limits: &SandboxLimits) {
    store.data_mut().call_budget().ticks_left = deadline_ticks(limits.deadline) - 1;
    store.set_epoch_deadline(1);
}

/// Tables hold function references; a model needs few. This bounds a hostile guest.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.exceeded = true;
            return Ok(false);
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
