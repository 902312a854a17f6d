//! The dependency policy in `deny.toml`: `cargo deny check licenses bans sources` passes
//! for the workspace and for the fuzz workspace (permissive licences only, each exception
//! with its reason; no OpenSSL; crates.io only), and the check does bite: the same policy
//! without MIT refuses the tree. `cargo deny check advisories` passes against the RustSec
//! snapshot in `deny/advisory-db` (offline: CI cannot reach GitHub), and bites too: without
//! its one documented exception it names that advisory.

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
        let report = report(&output);
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

/// Where cargo-deny 0.20 looks for the default database (`https://github.com/rustsec/advisory-db`)
/// under `db-path`: the repository's name and a hash of its URL.
const ADVISORY_DB_DIR: &str = "advisory-db-3157b0e258782691";

/// `policy` with `deny/advisory-db` as its database, as cargo-deny expects a fetched one (a
/// git repository: it reads the commit's date, here the snapshot's), in a scratch
/// directory named `name`; the config's path.
fn with_snapshot_db(name: &str, policy: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let db = dir.join("db");
    std::fs::create_dir_all(&db).unwrap();
    let repository = db.join(ADVISORY_DB_DIR);
    let run = |command: &mut Command| {
        let output = command.output().unwrap();
        assert!(
            output.status.success(),
            "{command:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(Command::new("cp")
        .arg("-r")
        .arg(workspace_root().join("deny/advisory-db"))
        .arg(&repository));
    let snapshot = std::fs::read_to_string(repository.join("SNAPSHOT")).unwrap();
    let (_, date) = snapshot
        .trim()
        .split_once(' ')
        .expect("SNAPSHOT: commit date");
    let git = |args: &[&str]| {
        run(Command::new("git")
            .args([
                "-c",
                "user.name=snapshot",
                "-c",
                "user.email=snapshot@localhost",
            ])
            .args(args)
            .current_dir(&repository)
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date))
    };
    git(&["init", "-q"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "RustSec advisory-db snapshot"]);
    let config = policy.replace(
        "[advisories]\n",
        &format!("[advisories]\ndb-path = {:?}\n", db.display().to_string()),
    );
    assert_ne!(config, policy, "deny.toml has an [advisories] table");
    let path = dir.join("deny.toml");
    std::fs::write(&path, config).unwrap();
    path
}

fn report(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    )
}

#[test]
fn no_dependency_has_an_advisory_in_the_rustsec_snapshot() {
    let policy = std::fs::read_to_string(workspace_root().join("deny.toml")).unwrap();
    let config = with_snapshot_db("deny-advisories", &policy);
    for manifest in ["Cargo.toml", "fuzz/Cargo.toml"] {
        let output = cargo_deny(manifest, &config, &["advisories"]);
        let report = report(&output);
        assert!(output.status.success(), "{manifest}:\n{report}");
        assert!(report.contains("advisories ok"), "{manifest}: {report}");
    }
}

#[test]
fn the_advisory_check_names_an_advisory_not_excepted() {
    let policy = std::fs::read_to_string(workspace_root().join("deny.toml")).unwrap();
    let exception = policy
        .lines()
        .find(|line| line.contains("id = \"RUSTSEC-2026-0249\""))
        .expect("deny.toml excepts smartstring's advisory");
    let without = policy.replace(&format!("{exception}\n"), "");
    let config = with_snapshot_db("deny-advisories-unexcepted", &without);
    let output = cargo_deny("Cargo.toml", &config, &["advisories"]);
    let report = report(&output);
    assert!(!output.status.success(), "{report}");
    assert!(report.contains("RUSTSEC-2026-0249"), "{report}");
}
