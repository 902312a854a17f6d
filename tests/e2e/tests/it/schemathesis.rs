//! Property-based tests of the host's whole documented API: schemathesis (installed by
//! `.ci/run` into `.venv-schemathesis/`) reads `GET /openapi.json` from the release host
//! and sends thousands of generated requests, valid and not. It fails on any 5xx, any
//! status, body, header or content type the document does not describe, and any
//! schema-valid request refused (except where `tests/schemathesis/schemathesis.toml` says
//! why not). The seed is fixed so a failure reproduces; `just schemathesis` runs longer
//! with a fresh one.

use std::path::PathBuf;
use std::process::Command;

use wasml_e2e::{ScratchDir, start_host};
use wasml_test_support::venv_program;

/// The virtualenv's `schemathesis`, or `$WASML_SCHEMATHESIS`.
fn schemathesis() -> PathBuf {
    venv_program(
        ".venv-schemathesis",
        "schemathesis",
        "WASML_SCHEMATHESIS",
        "schemathesis-venv",
    )
}

#[test]
fn every_generated_request_gets_a_documented_answer_and_no_5xx() {
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "schemathesis");
    let host = start_host(dir.path(), &[]);
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../schemathesis");
    let output = Command::new(schemathesis())
        .current_dir(config)
        .env("NO_COLOR", "1")
        .args([
            "run",
            "--max-examples",
            "100",
            "--workers",
            "1",
            "--seed",
            "20261126",
        ])
        .arg(format!("http://{}/openapi.json", host.address))
        .output()
        .expect("schemathesis runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // It tested every operation of the document, not a few (or none).
    let count = |label: &str| -> usize {
        let line = report.lines().find_map(|l| l.trim().strip_prefix(label));
        let number = line.and_then(|l| l.trim().split(['/', ' ']).next());
        number.and_then(|n| n.parse().ok()).unwrap_or(0)
    };
    let (selected, tested) = (count("Selected:"), count("Tested:"));
    assert!(selected >= 15 && tested == selected, "{report}");
    assert!(
        !host.logged("a request handler panicked"),
        "{:?}",
        host.log()
    );
}
