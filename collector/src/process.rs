//! What a wasml process (the collector, and the host) does at start and stop: install its
//! own log on stderr, and wait for SIGINT/SIGTERM to shut down gracefully.

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How a process's own log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line, for machines.
    Json,
    /// Human-readable lines.
    Pretty,
}

/// Installs the global subscriber on stderr. `filter` is in `RUST_LOG` syntax.
pub fn init_logging(format: LogFormat, filter: &str) -> Result<(), String> {
    let filter = EnvFilter::try_new(filter).map_err(|e| format!("invalid log filter: {e}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    result.map_err(|e| format!("installing the logger: {e}"))
}

/// Listens for SIGINT (Ctrl-C) and SIGTERM from this call on; the future resolves on the
/// first. The handlers are installed here, not when the future is first polled: call it
/// before announcing the listening address, or a signal sent right after the announcement
/// could still meet the default action and kill the process.
#[cfg(unix)]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind: SignalKind, name: &'static str| {
        let stream = signal(kind);
        async move {
            match stream {
                Ok(mut stream) => {
                    stream.recv().await;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot listen for {name}");
                    std::future::pending::<()>().await;
                }
            }
        }
    };
    let interrupt = listen(SignalKind::interrupt(), "SIGINT");
    let terminate = listen(SignalKind::terminate(), "SIGTERM");
    async move {
        tokio::select! {
            () = interrupt => tracing::info!("SIGINT: shutting down"),
            () = terminate => tracing::info!("SIGTERM: shutting down"),
        }
    }
}

/// Resolves on Ctrl-C (no SIGTERM off Unix).
#[cfg(not(unix))]
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: shutting down");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    /// A SIGTERM sent after `shutdown_signal()` returns but before its future is polled
    /// resolves the future; without the handler in place it would kill this test binary.
    #[tokio::test]
    async fn a_sigterm_before_the_first_poll_is_heard_not_fatal() {
        let signal = super::shutdown_signal();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &std::process::id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
        tokio::time::timeout(Duration::from_secs(10), signal)
            .await
            .expect("the SIGTERM resolves the future");
    }
}
