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
    lower_compile_priority();
    let engine = Engine::new(&engine_config())?;
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

/// The configuration of every model engine, and of a compiler child's (whose compiled
/// code the host's engine must accept: same settings, same compatibility hash).
pub fn engine_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.cranelift_opt_level(OptLevel::Speed);
    config.epoch_interruption(true);
    config
}

/// How much lower than serving threads compile threads run (a `nice` value).
pub const COMPILE_NICENESS: i32 = 10;

/// wasmtime compiles a component's functions in parallel on rayon's global pool. Its
/// threads run at a lower priority so that a new version compiling in the background takes
/// the CPU only when requests leave it idle: on two cores, a compile at equal priority
/// doubled `/predict`'s p99. Only the first engine's call builds the pool.
fn lower_compile_priority() {
    let built = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("wasml-compile-{i}"))
        .start_handler(|_| {
            // SAFETY: plain syscalls. On Linux, `PRIO_PROCESS` with `who = 0` sets the
            // calling thread's own niceness.
            if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, COMPILE_NICENESS) } != 0 {
                tracing::debug!("could not lower a compile thread's priority");
            }
        })
        .build_global();
    if built.is_err() {
        tracing::trace!("the compile pool exists already");
    }
}

/// Epoch ticks covering `deadline` (at least one).
pub fn deadline_ticks(deadline: Duration) -> u64 {
    (deadline.as_nanos() / EPOCH_TICK.as_nanos()).max(1) as u64
}
