//! The load bench's tracing phase (issue #25): what OpenTelemetry export costs `/predict`.
//! Three hosts — without `--otlp-endpoint` (tracing off: the default), and exporting to an
//! OTLP/HTTP receiver in this process with 10 % and with all requests sampled
//! (`OTEL_TRACES_SAMPLER=traceidratio`, `OTEL_TRACES_SAMPLER_ARG`) — at 64 connections,
//! driven in turn three times ([`alternate`]); medians. The receiver counts exports
//! without decoding them: a real one runs elsewhere, and decoding here would take the
//! 2 cores from what is measured.

use std::path::Path;
use std::time::Duration;

use wasml_test_support::otlp::OtlpReceiver;

use crate::http_driver::{alternate, start_host_in};

/// Runs the phase on hosts of its own under `dir` and prints its rows.
pub fn run(runtime: &tokio::runtime::Runtime, dir: &Path, length: Duration) {
    let receiver = OtlpReceiver::discarding();
    let url = receiver.url();
    let exporting = |name: &str, ratio: &str| {
        let env = [
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", ratio),
        ];
        start_host_in(&dir.join(name), &["--otlp-endpoint", &url], &env)
    };
    let mut hosts = [
        start_host_in(&dir.join("off"), &[], &[]),
        exporting("ten-percent", "0.1"),
        exporting("all", "1.0"),
    ];
    let addresses: Vec<_> = hosts.iter().map(|host| (host.1, None)).collect();
    let goodput = alternate(runtime, &addresses, length);
    for host in &mut hosts {
        let _ = host.0.kill();
        let _ = host.0.wait();
    }
    let exports = receiver.exports();
    println!(
        "| POST /predict, c64, tracing off (median of 3) | {:.0} | | | |",
        goodput[0]
    );
    println!(
        "| POST /predict, c64, OTLP export, 10 % sampled (median of 3) | {:.0} | | | |",
        goodput[1]
    );
    println!(
        "| POST /predict, c64, OTLP export, all sampled (median of 3) | {:.0} | | | |",
        goodput[2]
    );
    println!(
        "/predict with traces exported vs off at c64: {:.1} % at 10 % sampling, {:.1} % at 100 % ({exports} exports received)",
        100.0 * goodput[1] / goodput[0],
        100.0 * goodput[2] / goodput[0]
    );
}
