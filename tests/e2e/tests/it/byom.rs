//! What the "bring your own model" tests share: the Python that trains and exports the
//! models (`tests/byom`, installed into `.venv-byom` by `.ci/run`), `wasml package` as a
//! user calls it, and how a served model's answers are compared with onnxruntime's.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use wasml_test_support::{venv_program, workspace_binary};

/// The version every trained model is packaged as.
pub const VERSION: &str = "1.0.0";

/// What a training script (`tests/byom/*.py`) wrote: ONNX files, conformance sets, and
/// the list describing them.
pub struct Trained {
    /// Where the files are.
    pub dir: PathBuf,
    /// The list: one JSON object per model (`name`, `task`, `feature_names`, …).
    pub models: Vec<Value>,
}

/// Runs `tests/byom/<script> <target tmp>/<dir>` and reads the `list` it writes there
/// (each run writes the same files over the last run's).
pub fn train(script: &str, dir: &str, list: &str) -> Trained {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(dir);
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../byom")
        .join(script);
    let output = Command::new(python())
        .arg(script)
        .arg(&dir)
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let models = std::fs::read_to_string(dir.join(list)).unwrap();
    Trained {
        models: serde_json::from_str(&models).unwrap(),
        dir,
    }
}

/// The virtualenv's Python, with scikit-learn, skl2onnx, onnxruntime and jsonschema.
pub fn python() -> PathBuf {
    venv_program(".venv-byom", "python", "WASML_BYOM_PYTHON", "byom-venv")
}

impl Trained {
    /// The trained model called `name`, as `models.json` describes it.
    pub fn model(&self, name: &str) -> &Value {
        self.models
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no trained model {name}"))
    }

    /// Packages the trained model `name` into `dir/<name>.wasm` and returns that path and
    /// the card `wasml package` inferred.
    pub fn package_inferred(&self, name: &str, dir: &Path) -> (PathBuf, Value) {
        let wasm = dir.join(format!("{name}.wasm"));
        let card = dir.join(format!("{name}.card.json"));
        let onnx = self.dir.join(format!("{name}.onnx"));
        let made = package(
            self.model(name),
            &onnx,
            &wasm,
            &["--card-out", card.to_str().unwrap()],
        );
        assert!(made.status.success(), "{name}: {}", stderr(&made));
        let card = serde_json::from_str(&std::fs::read_to_string(card).unwrap()).unwrap();
        (wasm, card)
    }

    /// The conformance set `models.py` wrote for `name`: inputs and onnxruntime's outputs.
    pub fn conformance_set(&self, name: &str) -> Value {
        let path = self.dir.join(format!("{name}.conformance.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }
}

pub fn wasml(args: &[&str]) -> Output {
    Command::new(workspace_binary("wasml"))
        .args(args)
        .output()
        .expect("wasml runs")
}

/// `wasml package` for one trained model, as a user would call it.
pub fn package(model: &Value, onnx: &Path, out: &Path, extra: &[&str]) -> Output {
    let name = model["name"].as_str().unwrap();
    let mut args = vec![
        "package",
        onnx.to_str().unwrap(),
        "--name",
        name,
        "--version",
        VERSION,
    ];
    let names = model["feature_names"].as_array().map(|names| {
        names
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(",")
    });
    if let Some(names) = &names {
        args.extend(["--feature-names", names]);
    }
    args.extend(["-o", out.to_str().unwrap()]);
    args.extend(extra);
    wasml(&args)
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The numbers an answer (or a conformance case) carries: the probabilities, or the one
/// value.
pub fn outputs(prediction: &Value) -> Vec<f64> {
    match prediction.get("value") {
        Some(value) => vec![value.as_f64().unwrap()],
        None => prediction["probabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_f64().unwrap())
            .collect(),
    }
}

/// The largest difference between a batch answer's `predictions` and the conformance
/// `cases` (onnxruntime's outputs), as a share of the outputs' scale: absolute for
/// probabilities; for values, relative to the largest (f32 sums of terms in the hundreds
/// differ in the fifth decimal between onnxruntime and tract in wasm).
pub fn largest_difference(cases: &[Value], predictions: &Value) -> f64 {
    let predictions = predictions.as_array().expect("a batch answer");
    assert_eq!(predictions.len(), cases.len());
    let scale = cases
        .iter()
        .filter_map(|c| c.get("value").and_then(Value::as_f64))
        .fold(1.0f64, |s, v| s.max(v.abs()));
    let mut largest = 0f64;
    for (case, prediction) in cases.iter().zip(predictions) {
        let (got, expected) = (outputs(prediction), outputs(case));
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            largest = largest.max((g - e).abs() / scale);
        }
    }
    largest
}
