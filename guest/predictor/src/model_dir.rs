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
    ModelDir::new(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../models")
            .join(name)
            .join(version),
    )
}
