//! Per-row predict time of models users export (cases of the ONNX coverage matrix, issue
//! #17), native tract next to the same package inside a wasmtime component, in one run.
//!
//! `cargo bench -p wasml-runtime --bench exports` (or `just bench-exports`). Trains the
//! cases with `tests/byom/coverage.py` in `.venv-byom` (as `.ci/run` installs it), packages
//! each on the embedded runner as `wasml package` does (card inferred), and times one call
//! predicting 64 of the case's conformance rows: `exports/<case>/<runtime>`, with
//! Criterion's throughput in rows. The 300-tree cases are the bundled model's size.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use wasml_package::{CardHints, NativeTrial, PackageRequest};
use wasml_predictor::{ConformanceSet, Predictor};
use wasml_runtime::engine::new_engine;
use wasml_runtime::{ModelComponent, convert};

/// The cases timed: tree ensembles of 300 trees (classifier and regressor), an RBF SVC, a
/// k-NN, an MLP and a binary histogram booster.
const CASES: [&str; 6] = [
    "lightgbm_300_trees",
    "xgboost_regressor_300_trees",
    "svc_rbf",
    "k_neighbors",
    "mlp",
    "hist_gradient_boosting_binary",
];
const ROWS: usize = 64;

/// A trained, exported and packaged case.
struct Case {
    name: String,
    onnx: Vec<u8>,
    card_json: String,
    wasm: Vec<u8>,
    rows: Vec<Vec<wasml_predictor::Feature>>,
}

/// Trains `CASES` and packages each.
fn cases() -> Vec<Case> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("exports-bench");
    let python =
        wasml_test_support::venv_program(".venv-byom", "python", "WASML_BYOM_PYTHON", "byom-venv");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/byom/coverage.py");
    let trained = Command::new(python)
        .arg(script)
        .arg(&dir)
        .args(CASES)
        .output()
        .expect("python runs");
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let described: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("coverage.json")).unwrap()).unwrap();
    described
        .iter()
        .map(|case| {
            let name = case["name"].as_str().unwrap().to_string();
            let onnx = std::fs::read(dir.join(format!("{name}.onnx"))).unwrap();
            let feature_names = case["feature_names"].as_array().map(|names| {
                names
                    .iter()
                    .map(|n| n.as_str().unwrap().to_string())
                    .collect()
            });
            let hints = CardHints {
                name: name.clone(),
                version: "1.0.0".into(),
                feature_names,
            };
            let request = PackageRequest {
                onnx: &onnx,
                hints,
                ..PackageRequest::default()
            };
            let packaged =
                wasml_package::build(wasml_guest_artifacts::RUNNER, &request, &NativeTrial)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            let card_json = serde_json::to_string(&packaged.card).unwrap();
            let set =
                std::fs::read_to_string(dir.join(format!("{name}.conformance.json"))).unwrap();
            let mut rows = ConformanceSet::from_json(&set).unwrap().rows().unwrap();
            rows.truncate(ROWS);
            Case {
                name,
                card_json,
                wasm: packaged.wasm,
                rows,
                onnx,
            }
        })
        .collect()
}

/// `exports/<case>/wasm`, then `exports/<case>/native` (native after wasm, as in the
/// predict bench: once tract's AVX kernels have run, the wasm code measures slower).
fn exports(c: &mut Criterion) {
    let cases = cases();
    let engine = new_engine().unwrap();
    let mut group = c.benchmark_group("exports");
    group.throughput(Throughput::Elements(ROWS as u64));
    for case in &cases {
        let mut wasm = ModelComponent::compile(&engine, &case.wasm)
            .unwrap()
            .instantiate_blocking()
            .unwrap();
        let batch: Vec<_> = case.rows.iter().map(|row| convert::features(row)).collect();
        group.bench_function(BenchmarkId::new(&case.name, "wasm"), |b| {
            b.iter(|| {
                (
                    wasm.predict_batch_blocking(black_box(&batch)).unwrap(),
                    wasm.take_events(),
                )
            })
        });
    }
    for case in &cases {
        let native = Predictor::load(&case.onnx, &case.card_json).unwrap();
        group.bench_function(BenchmarkId::new(&case.name, "native"), |b| {
            b.iter(|| native.predict_batch(black_box(&case.rows)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = exports
}
criterion_main!(benches);
