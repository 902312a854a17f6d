//! The async instance API from synchronous code: loading a model on a blocking thread,
//! the swap gate's checks, the intake's trial, tests and benches.

use std::future::Future;

use tokio::runtime::{Builder, Handle, Runtime};

thread_local! {
    /// A runtime per thread that blocks on instance calls, made on first use.
    static RUNTIME: Runtime = Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime builds");
}

/// Runs `future` to completion from synchronous code. Outside any runtime it runs on this
/// thread's own current-thread runtime (cheap enough for a bench loop); inside one (a
/// runtime worker, or `main` under `#[tokio::main]`), where blocking on a runtime would
/// panic, it runs on a thread of its own.
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    if Handle::try_current().is_err() {
        return RUNTIME.with(|runtime| runtime.block_on(future));
    }
    std::thread::scope(|scope| {
        let joined = scope
            .spawn(|| RUNTIME.with(|runtime| runtime.block_on(future)))
            .join();
        joined.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
