//! Predict latency, native tract vs. the same model inside a wasmtime component, and the
//! cost of a fresh instance.
//!
//! `cargo bench -p wasml-runtime --bench predict` (or `just bench-micro`). Groups:
//! - `predict/<version>/<runtime>/<rows>`: one call predicting 1 or 64 rows (validation,
//!   encoding and inference; for wasm also the canonical-ABI copies in and out);
//! - `instantiate/<version>`: a new instance from the pre-linked component;
//! - `instantiate+first-predict/<version>`: the same plus the first prediction, which parses
//!   and optimises the embedded ONNX model.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use wasml_predictor::model_dir::bundled;
use wasml_predictor::{ConformanceSet, Feature, Predictor};
use wasml_runtime::engine::new_engine;
use wasml_runtime::{ModelComponent, convert};

const VERSIONS: [&str; 2] = ["v1", "v2"];

fn rows(version: &str, n: usize) -> Vec<Vec<Feature>> {
    let dir = bundled("bank-marketing", version);
    let set = ConformanceSet::from_json(&dir.conformance_json().unwrap()).unwrap();
    let mut rows = set.rows().unwrap();
    rows.truncate(n);
    rows
}

fn component(version: &str) -> ModelComponent {
    let wasm = std::fs::read(wasml_test_support::bundled_component(
        "bank-marketing",
        version,
    ))
    .unwrap();
    ModelComponent::compile(&new_engine().unwrap(), &wasm).unwrap()
}

/// `predict/<version>/wasm/<rows>`.
fn predict_wasm(c: &mut Criterion) {
    let mut group = c.benchmark_group("predict");
    for version in VERSIONS {
        let mut wasm = component(version).instantiate_blocking().unwrap();
        for n in [1, 64] {
            let batch: Vec<_> = rows(version, n)
                .iter()
                .map(|row| convert::features(row))
                .collect();
            // The guest reports timings per call; the host drains them after each call.
            group.bench_function(BenchmarkId::new(format!("{version}/wasm"), n), |b| {
                if n == 1 {
                    b.iter(|| {
                        let prediction = wasm
                            .predict_blocking(black_box(&batch[0]))
                            .unwrap()
                            .unwrap();
                        (prediction, wasm.take_events())
                    })
                } else {
                    b.iter(|| {
                        (
                            wasm.predict_batch_blocking(black_box(&batch)).unwrap(),
                            wasm.take_events(),
                        )
                    })
                }
            });
        }
    }
    group.finish();
}

/// `predict/<version>/native/<rows>`. Runs after every wasm bench: once native tract's AVX
/// kernels have run in the process, the wasm benches measured about 3 µs slower per call
/// (likely dirty upper vector-register state penalising the SSE code Cranelift emits). The
/// host never runs native tract, so the wasm figures are taken before.
fn predict_native(c: &mut Criterion) {
    let mut group = c.benchmark_group("predict");
    for version in VERSIONS {
        let dir = bundled("bank-marketing", version);
        let native = Predictor::load(&dir.onnx().unwrap(), &dir.card_json().unwrap()).unwrap();
        for n in [1, 64] {
            let batch = rows(version, n);
            group.bench_function(BenchmarkId::new(format!("{version}/native"), n), |b| {
                if n == 1 {
                    b.iter(|| native.predict(black_box(&batch[0])).unwrap())
                } else {
                    b.iter(|| native.predict_batch(black_box(&batch)))
                }
            });
        }
    }
    group.finish();
}

fn instantiate(c: &mut Criterion) {
    for version in VERSIONS {
        let component = component(version);
        let row = convert::features(&rows(version, 1)[0]);
        c.bench_function(&format!("instantiate/{version}"), |b| {
            b.iter(|| component.instantiate_blocking().unwrap())
        });
        c.bench_function(&format!("instantiate+first-predict/{version}"), |b| {
            b.iter(|| {
                let mut instance = component.instantiate_blocking().unwrap();
                instance.predict_blocking(&row).unwrap().unwrap()
            })
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = predict_wasm, instantiate, predict_native
}
criterion_main!(benches);
