//! Test support for tests that run wasml binaries as processes: [`process::Process`]
//! starts one on an ephemeral loopback port and stops it (SIGTERM, or SIGKILL to test
//! crash recovery), [`http`] sends plain HTTP/1.1 requests without a client library,
//! [`ScratchDir`] gives a test a directory that goes away with it, [`modules`] finds
//! import cycles between a crate's modules, [`prometheus`] reads `/metrics`, and
//! [`bundled_component`] packages a bundled model version for tests that serve a `.wasm`
//! file; [`fixtures`] holds the other models tests serve; [`webdriver`] drives a headless
//! chromium; [`tls`] makes certificates with openssl and speaks HTTPS; [`otlp`] receives
//! OpenTelemetry traces.

pub mod bundled;
pub mod fixtures;
pub mod http;
pub mod modules;
pub mod otlp;
pub mod process;
pub mod prometheus;
pub mod tls;
pub mod webdriver;

pub use bundled::{bundled_component, bundled_http_component};

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh, empty directory for one test under `base` (the test crate's
/// `CARGO_TARGET_TMPDIR`), removed when dropped so that repeated runs do not pile up
/// gigabytes in a reused target directory — but kept when the test failed, for a look at
/// what it left.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// Creates `<base>/<name>-<pid>-<n>`.
    pub fn new(base: &str, name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = PathBuf::from(base).join(format!("{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the scratch directory");
        Self(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Deref for ScratchDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for ScratchDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

/// For APIs that take `impl Into<PathBuf>`.
impl From<&ScratchDir> for PathBuf {
    fn from(dir: &ScratchDir) -> PathBuf {
        dir.0.clone()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
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

/// Every input kept in `fuzz/corpus/<target>/` (the seeds and what `just fuzz` found),
/// with its path, for the tests that replay the corpus on stable.
pub fn fuzz_corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut inputs: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a corpus entry").path();
            let bytes = std::fs::read(&path).expect("a corpus file");
            (path, bytes)
        })
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{} holds no inputs", dir.display());
    inputs
}

/// A program of one of the Python virtualenvs `.ci/run` makes at the workspace root
/// (`<venv>/bin/<program>`), or the path in `$<override_var>`; `recipe` is the `just`
/// recipe that installs it, named when it is missing.
pub fn venv_program(venv: &str, program: &str, override_var: &str, recipe: &str) -> PathBuf {
    if let Ok(path) = std::env::var(override_var) {
        return path.into();
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(venv)
        .join("bin")
        .join(program);
    assert!(
        path.exists(),
        "{} is missing: `just {recipe}` (or .ci/run) installs it",
        path.display()
    );
    path
}
