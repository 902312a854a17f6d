//! Model intake: what the host takes as a model. A component is served as it is; an ONNX
//! file (with a card, or with the card inferred from its graph) is packaged on the runner
//! the host binary embeds ([`Intake`]), exactly as `wasml package` would, and tried in the
//! sandbox before it is taken; and with no model configured, the bundled bank-marketing
//! model is packaged the same way from the ONNX file and card embedded in the binary, so a
//! copied binary still has it.

use std::path::Path;

use thiserror::Error;
use wasml_package::{CardHints, PackageError, PackageRequest};
use wasml_runtime::cache::ComponentCache;
use wasml_runtime::digest::DigestedWasm;
use wasml_runtime::limits::SandboxLimits;
use wasml_runtime::trial::SandboxTrial;
use wasmtime::Engine;

/// The bundled model served when none is configured: (name, version directory).
pub const BUNDLED_MODEL: (&str, &str) = ("bank-marketing", "v2");

static BUNDLED_ONNX: &[u8] = include_bytes!("../../guest/models/bank-marketing/v2/model.onnx");
static BUNDLED_CARD: &str = include_str!("../../guest/models/bank-marketing/v2/card.json");

/// Why a model file was not taken.
#[derive(Debug, Error)]
pub enum IntakeError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The ONNX model could not be packaged.
    #[error("packaging {path}: {source}")]
    Package {
        /// The file.
        path: String,
        /// Why.
        source: PackageError,
    },
}

/// Whether `bytes` are a WebAssembly binary (anything else is taken for ONNX).
pub fn is_wasm(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\0asm")
}

/// What the host packages models with: the runner component its binary embeds (the
/// server crate does not: it compiles while the runner is built), and the trial run a
/// package passes before it is taken.
#[derive(Clone)]
pub struct Intake {
    /// The runner component (world `runner` of `wit/model.wit`).
    pub runner: &'static [u8],
    /// How a package is tried.
    pub trial: SandboxTrial,
}

impl Intake {
    /// Packages on `runner`, tries packages with `engine` through `cache` under `limits`.
    pub fn new(
        runner: &'static [u8],
        engine: Engine,
        cache: ComponentCache,
        limits: SandboxLimits,
    ) -> Self {
        Self {
            runner,
            trial: SandboxTrial {
                engine,
                cache,
                limits,
            },
        }
    }

    /// The bundled model, packaged on the runner.
    pub fn bundled(&self) -> DigestedWasm {
        let wasm = wasml_package::package(self.runner, BUNDLED_ONNX, BUNDLED_CARD)
            .expect("the bundled model packages");
        DigestedWasm::new(wasm)
    }

    /// Packages `onnx` on the runner as `name` `version`: with `card`, or with the card
    /// inferred from the graph; tried before it is returned.
    pub fn package_onnx(
        &self,
        onnx: &[u8],
        card: Option<&str>,
        name: &str,
        version: &str,
    ) -> Result<DigestedWasm, PackageError> {
        let request = PackageRequest {
            onnx,
            card,
            hints: CardHints {
                name: name.into(),
                version: version.into(),
                feature_names: None,
            },
            ..PackageRequest::default()
        };
        let packaged = wasml_package::build(self.runner, &request, &self.trial)?;
        Ok(DigestedWasm::new(packaged.wasm))
    }

    /// A model file as a component: `*.wasm` as it is, `*.onnx` packaged (with
    /// `<stem>.card.json` beside it, if present). An ONNX file is named by its place in
    /// the models directory `dir`: `<name>/<version>.onnx`, or `<name>.onnx` as version `1`.
    pub fn read_model_file(
        &self,
        dir: Option<&Path>,
        path: &Path,
    ) -> Result<DigestedWasm, IntakeError> {
        let shown = path.display().to_string();
        let read_error = |source| IntakeError::Read {
            path: shown.clone(),
            source,
        };
        let bytes = std::fs::read(path).map_err(read_error)?;
        if path.extension().is_some_and(|e| e == "wasm") {
            return Ok(DigestedWasm::new(bytes));
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("model");
        let (name, version) = dir
            .and_then(|dir| name_and_version(dir, path))
            .unwrap_or_else(|| (stem.to_owned(), "1".to_owned()));
        let card_path = path.with_file_name(format!("{stem}.card.json"));
        let card = match std::fs::read_to_string(&card_path) {
            Ok(card) => Some(card),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(read_error(e)),
        };
        self.package_onnx(&bytes, card.as_deref(), &name, &version)
            .map_err(|source| IntakeError::Package {
                path: shown,
                source,
            })
    }
}

/// `(name, version)` of `<dir>/<name>/<version>.<ext>`.
pub fn name_and_version(dir: &Path, path: &Path) -> Option<(String, String)> {
    let relative = path.strip_prefix(dir).ok()?;
    let mut parts = relative.components();
    let name = parts.next()?.as_os_str().to_str()?.to_owned();
    let version = Path::new(parts.next()?.as_os_str())
        .file_stem()?
        .to_str()?
        .to_owned();
    parts.next().is_none().then_some((name, version))
}
