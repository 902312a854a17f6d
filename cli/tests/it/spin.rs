//! `guest/spin/spin.toml`: its build command is a `wasml package --world http` that works,
//! and its `source` is where that command writes, a `wasi:http` package of the bundled
//! model, on route `/...` with no outbound hosts. (`host/tests/it/wasi_http.rs` serves the
//! same package and compares every answer with the host's.)

use std::path::Path;

use serde_json::Value;
use wasml_test_support::ScratchDir;

use crate::wasml;

/// What `cargo run` is given before the CLI's own arguments.
const CARGO_RUN: &str = "cargo run --release --locked -p wasml-cli -- ";

#[test]
fn spin_toml_builds_an_http_package_of_the_bundled_model_where_it_serves_from() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let manifest_dir = root.join("guest/spin");
    let text = std::fs::read_to_string(manifest_dir.join("spin.toml")).unwrap();
    let manifest: toml_edit::DocumentMut = text.parse().unwrap();
    assert_eq!(manifest["spin_manifest_version"].as_integer(), Some(2));

    let trigger = manifest["trigger"]["http"].as_array_of_tables().unwrap();
    assert_eq!(trigger.len(), 1);
    let trigger = trigger.get(0).unwrap();
    assert_eq!(
        trigger["route"].as_str(),
        Some("/..."),
        "/predict and /health"
    );
    let name = trigger["component"].as_str().unwrap();
    let component = &manifest["component"][name];
    let outbound = component["allowed_outbound_hosts"].as_array().unwrap();
    assert!(outbound.is_empty());

    let build = &component["build"];
    let workdir = manifest_dir.join(build["workdir"].as_str().unwrap());
    assert_eq!(
        workdir.canonicalize().unwrap(),
        root.canonicalize().unwrap()
    );
    let command = build["command"].as_str().unwrap();
    let mut args: Vec<&str> = command
        .strip_prefix(CARGO_RUN)
        .unwrap_or_else(|| panic!("{command:?} does not start with {CARGO_RUN:?}"))
        .split_whitespace()
        .collect();
    let at = args
        .iter()
        .position(|a| *a == "-o")
        .expect("an -o argument");
    let output = args[at + 1];
    // `source` is relative to the manifest, `-o` to the workdir: the same file.
    let source = manifest_dir.join(component["source"].as_str().unwrap());
    assert_eq!(normalise(&source), normalise(&workdir.join(output)));

    // The command as Spin runs it (in the workdir), writing to a scratch file instead.
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "spin-build");
    let out = dir.path().join("nested/bank-marketing.wasm");
    let out = out.to_str().unwrap();
    args[at + 1] = out;
    let built = std::process::Command::new(env!("CARGO_BIN_EXE_wasml"))
        .args(&args)
        .current_dir(&workdir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&built.stdout);
    assert!(stdout.contains("conformance: 300 cases"), "{stdout}");

    let inspected = wasml(&["inspect", "--json", out]);
    assert!(inspected.status.success());
    let inspected: Value = serde_json::from_slice(&inspected.stdout).unwrap();
    assert_eq!(inspected["card"]["name"], "bank-marketing");
    assert_eq!(inspected["card"]["version"], "2.0.0");
    assert_eq!(
        inspected["manifest"]["exports"],
        serde_json::json!(["wasi:http/incoming-handler@0.2.0"]),
        "a plain wasi:http component"
    );
}

/// `path` with `.` and `..` resolved lexically (the file need not exist).
fn normalise(path: &Path) -> std::path::PathBuf {
    let mut out = std::path::PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
