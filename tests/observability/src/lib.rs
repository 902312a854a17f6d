//! Helpers for the tests of `observability/`: where its files are, reading them, running
//! the Prometheus tools, and a real Prometheus on loopback ([`prometheus`]).

pub mod grafana;
pub mod kibana;
pub mod prometheus;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// `observability/` in this repository.
pub fn observability_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../observability")
}

/// A file under `observability/`, as text.
pub fn read(relative: &str) -> String {
    let path = observability_dir().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A YAML file under `observability/`, as JSON values.
pub fn yaml(relative: &str) -> Value {
    serde_yaml::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// A JSON file under `observability/`.
pub fn json(relative: &str) -> Value {
    serde_json::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Runs a tool from Debian's `prometheus`/`prometheus-alertmanager` packages in
/// `observability/` and returns its output; fails the test with that output if it fails.
pub fn run_tool(tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool)
        .args(args)
        .current_dir(observability_dir())
        .output()
        .unwrap_or_else(|e| {
            panic!("{tool} cannot run ({e}): install Debian's prometheus and prometheus-alertmanager (.ci/run does)")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{tool} {args:?} failed:\n{text}");
    text
}

/// Every alert and recording rule in `observability/prometheus/rules/*.yml`, as
/// `(name, expression)`.
pub fn prometheus_rules(file: &str) -> Vec<(String, String)> {
    let rules = yaml(&format!("prometheus/rules/{file}"));
    rules["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|group| group["rules"].as_array().expect("rules").iter())
        .map(|rule| {
            let name = rule["record"].as_str().or(rule["alert"].as_str());
            (
                name.expect("a record or alert name").to_owned(),
                rule["expr"].as_str().expect("an expr").trim().to_owned(),
            )
        })
        .collect()
}
