//! The wasmtime engine every model component is compiled and run with.

use std::time::Duration;

use wasmtime::{Config, Engine, OptLevel};

/// How often the engine's epoch advances: the resolution of call deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// A new engine for model components, with a background thread advancing its epoch every
/// [`EPOCH_TICK`] for as long as the engine lives.
///
/// One engine is shared by all components: compiled code is only valid for the engine
/// (and configuration) that produced it. Epoch interruption is how a call that runs past
/// its deadline is stopped: the check compiled into loops and function entries is cheap,
/// unlike fuel metering.
pub fn new_engine() -> wasmtime::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.cranelift_opt_level(OptLevel::Speed);
    config.epoch_interruption(true);
    let engine = Engine::new(&config)?;
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("wasml-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })?;
    Ok(engine)
}

/// Epoch ticks covering `deadline` (at least one).
pub fn deadline_ticks(deadline: Duration) -> u64 {
    (deadline.as_nanos() / EPOCH_TICK.as_nanos()).max(1) as u64
}
