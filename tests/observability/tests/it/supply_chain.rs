//! The dependency policy in `deny.toml`: `cargo deny check licenses bans sources` passes
//! for the workspace and for the fuzz workspace (permissive licences only, each exception
//! with its reason; no OpenSSL; crates.io only), and the check does bite: the same policy
//! without MIT refuses the tree. Advisories need the RustSec database from GitHub, which CI
//! cannot reach: `just deny-advisories` runs them where it can.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `cargo deny` on `manifest` (relative to the root), the checks `checks`, with `config`.
fn cargo_deny(manifest: &str, config: &Path, checks: &[&str]) -> Output {
    Command::new("cargo")
        .args(["deny", "--frozen", "--manifest-path", manifest, "--config"])
        .arg(config)
        .arg("check")
        .args(checks)
        .current_dir(workspace_root())
        .output()
        .expect("cargo deny runs (`cargo install cargo-deny --locked`; .ci/run does)")
}

#[test]
fn every_dependency_keeps_the_licence_ban_and_source_policy() {
    let policy = workspace_root().join("deny.toml");
    for manifest in ["Cargo.toml", "fuzz/Cargo.toml"] {
        let output = cargo_deny(manifest, &policy, &["licenses", "bans", "sources"]);
        // The findings go to stderr, the summary line to stdout.
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        assert!(output.status.success(), "{manifest}:\n{report}");
        assert!(
            report.contains("bans ok, licenses ok, sources ok"),
            "{manifest}: {report}"
        );
    }
}

#[test]
fn the_licence_check_refuses_what_the_policy_does_not_allow() {
    let policy = std::fs::read_to_string(workspace_root().join("deny.toml")).unwrap();
    let without_mit = policy.replace("    \"MIT\",\n", "");
    assert_ne!(
        without_mit, policy,
        "deny.toml allows MIT on a line of its own"
    );
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("deny-without-mit");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("deny.toml");
    std::fs::write(&config, without_mit).unwrap();
    let output = cargo_deny("Cargo.toml", &config, &["licenses"]);
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{report}");
    assert!(
        report.contains("license is not explicitly allowed"),
        "{report}"
    );
}
