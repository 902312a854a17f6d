//! Test support for tests that run wasml binaries as processes: [`process::Process`]
//! starts one on an ephemeral loopback port and stops it (SIGTERM, or SIGKILL to test
//! crash recovery), [`http`] sends plain HTTP/1.1 requests without a client library.

pub mod http;
pub mod process;

use std::path::PathBuf;

/// A fresh, empty directory under `base` for one test, unique to this test process.
pub fn scratch_dir(base: &str, name: &str) -> PathBuf {
    let dir = PathBuf::from(base).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// A binary of this workspace, built by the same `cargo test` run, for tests in a package
/// that does not own it (`CARGO_BIN_EXE_*` only names a package's own binaries).
pub fn workspace_binary(name: &str) -> PathBuf {
    let test = std::env::current_exe().expect("the test's own path");
    // target/<profile>/deps/<test> → target/<profile>/<name>
    let path = test
        .parent()
        .and_then(|deps| deps.parent())
        .expect("a target directory")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests through `cargo test` at the workspace root, which builds it",
        path.display()
    );
    path
}
