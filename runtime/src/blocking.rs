//! The async instance API from synchronous code: loading a model on a blocking thread,
//! the swap gate's checks, a test.

use std::future::Future;

/// Runs `future` to completion on a runtime of its own, on a thread of its own, so it
/// works from anywhere: a runtime worker (where blocking on the caller's runtime would
/// panic), a blocking-pool thread or plain `main`. Meant for rare calls (a load, a check);
/// costs a thread start.
pub fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|scope| {
        let joined = scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_time()
                    .build()
                    .expect("a current-thread runtime builds")
                    .block_on(future)
            })
            .join();
        joined.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
