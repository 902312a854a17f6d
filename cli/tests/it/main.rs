//! The `wasml` command line on the bundled model's files: packaging with a card and a
//! conformance set, inspecting the result, and refusing what is not a package. The
//! scikit-learn models (card inferred, served, compared with onnxruntime) are in the
//! end-to-end tests (`tests/e2e/tests/it/own_models.rs`).

mod spin;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use wasml_test_support::ScratchDir;

fn wasml(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasml"))
        .args(args)
        .output()
        .expect("wasml runs")
}

fn bundled(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../guest/models/bank-marketing/v1")
        .join(file)
        .display()
        .to_string()
}

/// `wasml package` of the bundled v1 model with its card into `out`, plus `extra`.
fn package_bundled(out: &Path, extra: &[&str]) -> Output {
    let (onnx, card) = (bundled("model.onnx"), bundled("card.json"));
    let mut args = vec![
        "package",
        &onnx,
        "--name",
        "bank-marketing",
        "--version",
        "1.0.0",
        "--card",
        &card,
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    wasml(&args)
}

#[test]
fn a_model_with_its_card_and_conformance_set_packages_and_inspects() {
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "cli-package");
    let out = dir.path().join("bank.wasm");
    let packaged = package_bundled(&out, &["--conformance", &bundled("conformance.json")]);
    let stdout = String::from_utf8_lossy(&packaged.stdout);
    assert!(
        packaged.status.success(),
        "{}",
        String::from_utf8_lossy(&packaged.stderr)
    );
    assert!(stdout.contains("conformance: 300 cases"), "{stdout}");

    let inspected = wasml(&["inspect", "--json", out.to_str().unwrap()]);
    assert!(inspected.status.success());
    let inspected: Value = serde_json::from_slice(&inspected.stdout).unwrap();
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(bundled("card.json")).unwrap()).unwrap();
    assert_eq!(inspected["card"]["evaluation"], written["evaluation"]);
    assert_eq!(inspected["card"]["labels"], written["labels"]);
    assert_eq!(
        inspected["manifest"]["onnx_sha256"],
        written["onnx"]["sha256"]
    );

    // Packaging is deterministic: the same files make the same bytes.
    let again = dir.path().join("again.wasm");
    assert!(package_bundled(&again, &[]).status.success());
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());
}

#[test]
fn a_conformance_set_the_model_does_not_reproduce_writes_nothing() {
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "cli-conformance");
    let mut set: Value =
        serde_json::from_str(&std::fs::read_to_string(bundled("conformance.json")).unwrap())
            .unwrap();
    set["cases"][0]["probabilities"] = serde_json::json!([0.5, 0.5]);
    let set_path = dir.path().join("set.json");
    std::fs::write(&set_path, set.to_string()).unwrap();
    let out = dir.path().join("bank.wasm");
    let refused = package_bundled(&out, &["--conformance", set_path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("conformance failed: 1 of 300 cases failed, first: case 0"),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn inspect_refuses_what_is_not_a_package() {
    let refused = wasml(&["inspect", &bundled("model.onnx")]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("is not a wasml package"), "{stderr}");
}
