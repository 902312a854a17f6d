//! Many models in one host: 1, 10 and 50 small packaged models (the bundled logistic
//! regression, packaged under 50 names on the one runner) served from `--models-dir`
//! by the release `wasml-host`, with the compiled runner already in the cache.
//!
//! For each count it prints the start-up time (spawn to listening), the host's RSS once
//! listening (read from `/proc`), and the latency of a model's first request after its
//! pool scaled to zero (`--idle-timeout-secs 1`: instantiation and model parse included),
//! next to a warm request's. The per-model figures are differences against the 1-model
//! host measured in the same run. First, a 1-model host starts on an empty cache: its RSS
//! after compiling the runner (in a child process) against the cached start's.
//!
//! `cargo bench -p wasml-host --bench models` (or `just bench-models`).

mod http_driver;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use http_driver::{median, start_host};
use wasml_predictor::model_dir::bundled;
use wasml_test_support::{http, process::rss_bytes};

const COUNTS: [usize; 3] = [1, 10, 50];
const SEED_ROW: &str = r#"{"age": 30, "job": "admin.", "marital": "single", "education": "secondary", "housing": "yes", "loan": "no", "duration": 200, "campaign": 2}"#;

/// Writes `count` packages of the bundled v1 model, `model-<i>/1.0.0.wasm`.
fn models_dir(root: &Path, count: usize) -> std::path::PathBuf {
    let dir = root.join(format!("models-{count}"));
    let _ = std::fs::remove_dir_all(&dir);
    let files = bundled("bank-marketing", "v1");
    let onnx = files.onnx().unwrap();
    let mut card: serde_json::Value = serde_json::from_str(&files.card_json().unwrap()).unwrap();
    for i in 0..count {
        let name = format!("model-{i}");
        card["name"] = name.clone().into();
        let wasm = wasml_package::package(wasml_guest_artifacts::RUNNER, &onnx, &card.to_string())
            .unwrap();
        std::fs::create_dir_all(dir.join(&name)).unwrap();
        std::fs::write(dir.join(&name).join("1.0.0.wasm"), wasm).unwrap();
    }
    dir
}

fn predict_ms(address: SocketAddr, model: &str) -> f64 {
    let started = Instant::now();
    let (status, body) = http::json(
        address,
        "POST",
        &format!("/models/{model}/predict"),
        SEED_ROW,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    started.elapsed().as_secs_f64() * 1e3
}

struct Run {
    start_seconds: f64,
    rss_mib: f64,
    cold_ms: f64,
    warm_ms: f64,
}

fn run(root: &Path, count: usize) -> Run {
    let dir = models_dir(root, count);
    let args = [
        "--models-dir",
        dir.to_str().unwrap(),
        "--idle-timeout-secs",
        "1",
        "--watch-interval-ms",
        "0",
    ];
    let started = Instant::now();
    let (mut child, address) = start_host(root, &args);
    let start_seconds = started.elapsed().as_secs_f64();
    let rss_mib = rss_bytes(child.id()).unwrap() as f64 / (1 << 20) as f64;
    let probed: Vec<String> = (0..count.min(10)).map(|i| format!("model-{i}")).collect();
    // Every pool scaled to zero (idle for 1 s, checked every 250 ms).
    std::thread::sleep(Duration::from_millis(2000));
    let cold_ms = median(probed.iter().map(|m| predict_ms(address, m)).collect());
    let warm_ms = median(probed.iter().map(|m| predict_ms(address, m)).collect());
    let _ = child.kill();
    let _ = child.wait();
    Run {
        start_seconds,
        rss_mib,
        cold_ms,
        warm_ms,
    }
}

fn main() {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("models-bench");
    std::fs::create_dir_all(&root).unwrap();
    // A cold cache: the runner is compiled once (in a child process), as on a first start.
    let _ = std::fs::remove_dir_all(root.join("cache"));
    let compiled = run(&root, 1);
    let runs: Vec<(usize, Run)> = COUNTS.iter().map(|&n| (n, run(&root, n))).collect();
    let base = &runs[0].1;
    println!(
        "RSS of a 1-model host once listening: {:.1} MiB after compiling the runner, {:.1} MiB \
         from the cache ({:+.0} %); start-up {:.1} s vs {:.3} s",
        compiled.rss_mib,
        base.rss_mib,
        (compiled.rss_mib / base.rss_mib - 1.0) * 100.0,
        compiled.start_seconds,
        base.start_seconds,
    );
    println!(
        "| models | start-up | RSS after start | first request after idle (median) | warm request (median) | per extra model: RSS | per extra model: start-up |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (count, run) in &runs {
        let extra = (*count as f64 - 1.0).max(1.0);
        let per_model = |total: f64, base: f64| (total - base) / extra;
        println!(
            "| {count} | {:.3} s | {:.1} MiB | {:.2} ms | {:.2} ms | {} | {} |",
            run.start_seconds,
            run.rss_mib,
            run.cold_ms,
            run.warm_ms,
            if *count == 1 {
                "—".into()
            } else {
                format!("{:.2} MiB", per_model(run.rss_mib, base.rss_mib))
            },
            if *count == 1 {
                "—".into()
            } else {
                format!(
                    "{:.1} ms",
                    per_model(run.start_seconds, base.start_seconds) * 1e3
                )
            },
        );
    }
}
