//! The ONNX coverage matrix: every estimator and pipeline of `tests/byom/coverage.py`
//! (scikit-learn's linear models, SVMs, trees, forests, boosting, k-NN, MLP and naive
//! Bayes; LightGBM and XGBoost; scaler, imputer and column-transformer pipelines; with and
//! without ZipMap) trained, exported, packaged with `wasml package`, served by one release
//! host and compared with onnxruntime on 240 rows each. The test writes the table users
//! read, `docs/onnx-coverage.md`, and fails on any case that does not run unless the
//! script lists it as a known gap (and on a listed gap that runs after all).

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};
use wasml_e2e::{ScratchDir, start_host};
use wasml_test_support::{http, prometheus};

use super::byom::{VERSION, largest_difference, package, stderr, train};

/// Batches sent per case: the first is compared, all are timed.
const BATCHES: usize = 4;

/// How one case went.
struct Outcome {
    /// onnxruntime's outputs on the case's rows (its conformance set's cases).
    reference: Vec<Value>,
    /// The largest difference allowed, as the conformance set says: absolute for
    /// probabilities, relative to the largest value for a regressor's values.
    tolerance: f64,
    /// `None` when it ran within tolerance, else why not.
    failure: Option<String>,
    largest_difference: Option<f64>,
    micros_per_row: Option<f64>,
}

#[test]
fn every_estimator_of_the_matrix_runs_as_onnxruntime_does() {
    let trained = train("coverage.py", "onnx-coverage", "coverage.json");
    let scratch = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "onnx-coverage");
    let models_dir = scratch.path().join("models");

    let mut outcomes: Vec<Outcome> = Vec::new();
    for case in &trained.models {
        let name = case["name"].as_str().unwrap();
        let dir = models_dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let onnx = trained.dir.join(format!("{name}.onnx"));
        let packaged = package(case, &onnx, &dir.join(format!("{VERSION}.wasm")), &[]);
        let failure = (!packaged.status.success()).then(|| {
            let error = stderr(&packaged);
            format!(
                "wasml package: {}",
                error.trim().lines().last().unwrap_or("")
            )
        });
        let set = trained.conformance_set(name);
        outcomes.push(Outcome {
            reference: set["cases"].as_array().unwrap().clone(),
            tolerance: set["tolerance"].as_f64().unwrap(),
            failure,
            largest_difference: None,
            micros_per_row: None,
        });
    }

    let host = start_host(
        scratch.path(),
        &["--models-dir", models_dir.to_str().unwrap()],
    );
    for (case, outcome) in trained.models.iter().zip(&mut outcomes) {
        if outcome.failure.is_some() {
            continue;
        }
        let name = case["name"].as_str().unwrap();
        let rows: Vec<&Value> = outcome.reference.iter().map(|c| &c["input"]).collect();
        let body = json!({ "instances": rows }).to_string();
        let path = format!("/models/{name}/predict");
        let (status, answer) = http::json(host.address, "POST", &path, &body).unwrap();
        if status != 200 {
            outcome.failure = Some(format!("HTTP {status}: {}", answer["error"]["message"]));
            continue;
        }
        let largest = largest_difference(&outcome.reference, &answer["predictions"]);
        outcome.largest_difference = Some(largest);
        if largest > outcome.tolerance {
            outcome.failure = Some(format!("differs from onnxruntime by {largest:.1e}"));
        }
        for _ in 1..BATCHES {
            let (status, _) = http::json(host.address, "POST", &path, &body).unwrap();
            assert_eq!(status, 200, "{name}: a repeated batch");
        }
    }
    let metrics = http::request(host.address, "GET", "/metrics", "text/plain", b"")
        .unwrap()
        .body;
    for (case, outcome) in trained.models.iter().zip(&mut outcomes) {
        let name = case["name"].as_str().unwrap();
        let model = [("model", name)];
        let seconds = prometheus::sample(&metrics, "ml_inference_seconds_sum", &model);
        let rows = prometheus::sample(&metrics, "ml_predictions_total", &model);
        if let (Some(seconds), Some(rows)) = (seconds, rows.filter(|r| *r > 0.0)) {
            outcome.micros_per_row = Some(seconds * 1e6 / rows);
        }
    }

    let table = coverage_table(&trained.models, &outcomes);
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/onnx-coverage.md");
    std::fs::write(&doc, table).unwrap();

    let mut wrong = Vec::new();
    for (case, outcome) in trained.models.iter().zip(&outcomes) {
        let name = case["name"].as_str().unwrap();
        match (&outcome.failure, case["gap"].as_str()) {
            (Some(failure), None) => wrong.push(format!("{name}: {failure}")),
            (None, Some(gap)) => wrong.push(format!("{name} runs, but is listed as a gap: {gap}")),
            _ => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases (see {}):\n{}",
        wrong.len(),
        outcomes.len(),
        doc.display(),
        wrong.join("\n")
    );
}

/// `docs/onnx-coverage.md`: how the table is made, then one row per case.
fn coverage_table(cases: &[Value], outcomes: &[Outcome]) -> String {
    let rows = cases.first().map_or(0, |c| c["rows"].as_u64().unwrap_or(0));
    let running = outcomes.iter().filter(|o| o.failure.is_none()).count();
    let mut doc = format!(
        "# ONNX coverage: the models wasml runs\n\n\
         Generated by the test `tests/e2e/tests/it/onnx_coverage.rs` (part of the test suite;\n\
         alone: `cargo test --release -p wasml-e2e --test it onnx_coverage`). Each case is\n\
         trained by `tests/byom/coverage.py` on a data set that ships with scikit-learn, exported\n\
         by its exporter, packaged with `wasml package` (card inferred), served by `wasml-host`,\n\
         and compared with onnxruntime on {rows} rows: the held-out quarter of the data set, then\n\
         random rows within each feature's training range. A case runs (✓) when its largest\n\
         difference from onnxruntime (absolute for probabilities, relative to the largest value\n\
         for a regressor's values) is within its conformance set's tolerance. *µs per row* is\n\
         the runner's inference time inside wasm (`ml_inference_seconds` over rows predicted)\n\
         for batches of {rows} rows, on the machine that last ran the test. A case that does not run fails the\n\
         test unless `coverage.py` lists it as a known gap, with its reason.\n\n\
         **{running} of {} cases run.**\n\n\
         | Case | Estimator | Exporter | Operators in the graph | Runs | Largest difference | Tolerance | µs per row |\n\
         |---|---|---|---|---|---|---|---|\n",
        cases.len()
    );
    for (case, outcome) in cases.iter().zip(outcomes) {
        let ops: Vec<&str> = case["ops"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let runs = match (&outcome.failure, case["gap"].as_str()) {
            (None, _) => "✓".to_string(),
            (Some(_), Some(_)) => "✗ known gap (below)".to_string(),
            (Some(failure), None) => format!("✗ {}", failure.replace('|', "\\|")),
        };
        let difference = outcome
            .largest_difference
            .map_or("–".into(), |d| format!("{d:.1e}"));
        let micros = outcome
            .micros_per_row
            .map_or("–".into(), |m| format!("{m:.1}"));
        writeln!(
            doc,
            "| `{}` | {} | {} | {} | {runs} | {difference} | {:.0e} | {micros} |",
            case["name"].as_str().unwrap(),
            case["estimator"].as_str().unwrap(),
            case["exporter"].as_str().unwrap(),
            ops.join(", "),
            outcome.tolerance,
        )
        .unwrap();
    }
    let gaps: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            Some(format!(
                "- `{}`: {}",
                c["name"].as_str()?,
                c["gap"].as_str()?
            ))
        })
        .collect();
    doc.push_str("\n## Known gaps\n\n");
    if gaps.is_empty() {
        doc.push_str("None: every case above runs.\n");
    } else {
        doc.push_str(&gaps.join("\n"));
        doc.push('\n');
    }
    doc
}
