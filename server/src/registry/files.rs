//! Where components are found on disk.

use std::path::{Path, PathBuf};

/// The model files in `dir`: `*.wasm` components or `*.onnx` models, directly in it or one
/// directory below (`<name>/<version>.wasm`), sorted so load order is stable.
pub fn model_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            for inner in std::fs::read_dir(&path)? {
                let inner = inner?.path();
                if is_model_file(&inner) {
                    files.push(inner);
                }
            }
        } else if is_model_file(&path) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn is_model_file(path: &Path) -> bool {
    path.is_file() && path.extension().is_some_and(|e| e == "wasm" || e == "onnx")
}
