//! Picks the model directory to embed: `WASML_MODEL_DIR`, else the bundled best version.
//! The Spin flavour keeps its model compiled in: Spin builds it with `spin build`, from
//! source, without wasml's packager.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=WASML_MODEL_DIR");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let dir = std::env::var_os("WASML_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest.join("../models/bank-marketing/v2"));
    for (file, var) in [
        ("model.onnx", "WASML_MODEL_ONNX"),
        ("card.json", "WASML_MODEL_CARD"),
    ] {
        let path = dir.join(file);
        let path = path
            .canonicalize()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        println!("cargo:rerun-if-changed={}", path.display());
        println!("cargo:rustc-env={var}={}", path.display());
    }
}
