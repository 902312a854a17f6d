//! A model directory on disk, as `guest/training/train.py` writes it.

use std::path::{Path, PathBuf};

/// The files of one model version: `model.onnx`, `card.json`, `conformance.json`.
#[derive(Debug, Clone)]
pub struct ModelDir {
    /// The directory, e.g. `guest/models/bank-marketing/v2`.
    pub path: PathBuf,
}

impl ModelDir {
    /// The model directory at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The ONNX model's bytes.
    pub fn onnx(&self) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.file("model.onnx"))
    }

    /// The model card's JSON text.
    pub fn card_json(&self) -> std::io::Result<String> {
        std::fs::read_to_string(self.file("card.json"))
    }

    /// The conformance set's JSON text.
    pub fn conformance_json(&self) -> std::io::Result<String> {
        std::fs::read_to_string(self.file("conformance.json"))
    }

    fn file(&self, name: &str) -> PathBuf {
        Path::new(&self.path).join(name)
    }
}

/// The bundled model versions, `guest/models/<name>/<version>`, for tests and benches.
pub fn bundled(name: &str, version: &str) -> ModelDir {
    ModelDir::new(models_root().join(name).join(version))
}

/// `guest/models`: above the running package's directory (cargo sets `CARGO_MANIFEST_DIR`
/// for tests, benches and `cargo run`), else where this crate was compiled. The compiled-in
/// path alone is not enough: a build cache shared by two clones can hand one clone's test
/// a library compiled in the other, which may be gone by then.
fn models_root() -> PathBuf {
    let running = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    running
        .iter()
        .flat_map(|dir| dir.ancestors())
        .map(|dir| dir.join("guest/models"))
        .find(|models| models.is_dir())
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../models"))
}
