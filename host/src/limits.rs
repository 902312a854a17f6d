//! What one model instance may use: CPU time per call and linear memory.

use std::time::Duration;

use wasmtime::ResourceLimiter;

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
/// follows (Rust guests abort on allocation failure) can be reported as what it is.
#[derive(Debug)]
pub(crate) struct MemoryCap {
    max_bytes: usize,
    pub(crate) exceeded: bool,
}

impl MemoryCap {
    pub(crate) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            exceeded: false,
        }
    }
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
