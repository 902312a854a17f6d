//! Packaging: an ONNX model becomes a wasml model component without compiling anything.
//!
//! A package is the generic runner (`guest/component`, world `runner`) composed with a
//! data component holding the model's ONNX bytes and card ([`data`], [`compose`]), plus a
//! [`manifest`] saying what is inside. [`build`] is what `wasml package` and the host's
//! ONNX intake run: infer or complete the card ([`infer`]), prove that tract runs the graph
//! as the card says ([`validate`]), then package. [`unpack`] is the host's way back: it
//! finds the runner and the data in a package, so every model on one runner shares one
//! compiled runner.

pub mod compose;
pub mod data;
pub mod infer;
pub mod manifest;
pub mod validate;

use sha2::{Digest, Sha256};
use thiserror::Error;
use wasml_predictor::{ConformanceReport, ModelCard};

pub use infer::CardHints;
pub use manifest::Manifest;

/// Why a model could not be packaged. Each names the file, field, op or mismatch.
#[derive(Debug, Error)]
pub enum PackageError {
    /// The bytes are not an ONNX model.
    #[error("not an ONNX model: {0}")]
    NotOnnx(String),
    /// The card cannot be inferred from the graph; a card must be given.
    #[error("cannot infer the model card: {0}")]
    CannotInfer(String),
    /// The given card is not valid JSON for a card.
    #[error("invalid model card: {0}")]
    Card(String),
    /// The graph uses an operator tract cannot run.
    #[error("unsupported ONNX operator {op} (node {node:?}): tract 0.23.9 cannot run it")]
    UnsupportedOp {
        /// The operator, e.g. `Scaler`.
        op: String,
        /// The node's name.
        node: String,
    },
    /// tract loaded the graph, but not as the card describes it.
    #[error("the model does not match its card: {0}")]
    Mismatch(String),
    /// The outputs differ from the conformance set's.
    #[error("conformance failed: {0}")]
    Conformance(String),
    /// Composing the runner with the data failed (the runner is not a runner).
    #[error("composing the package: {0}")]
    Compose(String),
}

/// What to package.
#[derive(Debug, Clone, Default)]
pub struct PackageRequest<'a> {
    /// The ONNX bytes.
    pub onnx: &'a [u8],
    /// A card (JSON) overriding the inferred one; its name, version and sha256 are
    /// completed from the hints and the bytes.
    pub card: Option<&'a str>,
    /// Name, version and column names.
    pub hints: CardHints,
    /// A conformance set (JSON) the outputs must reproduce.
    pub conformance: Option<&'a str>,
}

/// A packaged model.
#[derive(Debug)]
pub struct Packaged {
    /// The model component.
    pub wasm: Vec<u8>,
    /// The card inside.
    pub card: ModelCard,
    /// How the conformance set went, when one was given.
    pub conformance: Option<ConformanceReport>,
}

/// Infers or completes the card, validates the model with tract, and packages it on
/// `runner`. Nothing is produced unless every check passed.
pub fn build(runner: &[u8], request: &PackageRequest) -> Result<Packaged, PackageError> {
    let (card, card_json) = match request.card {
        Some(card) => complete_card(card, request.onnx, &request.hints)?,
        None => {
            let card = infer::infer_card(request.onnx, &request.hints)?;
            let json = serde_json::to_string_pretty(&card).expect("a card serialises");
            (card, json)
        }
    };
    let conformance = validate::validate(request.onnx, &card_json, request.conformance)?;
    let wasm = package(runner, request.onnx, &card_json)?;
    Ok(Packaged {
        wasm,
        card,
        conformance,
    })
}

/// A given card, with name and version from the hints (when given) and the ONNX file's
/// sha256 filled in; a card naming another file's sha256 is refused. The JSON keeps every
/// field the card had, typed or not (a training script's extra figures included).
fn complete_card(
    card: &str,
    onnx: &[u8],
    hints: &CardHints,
) -> Result<(ModelCard, String), PackageError> {
    let mut value: serde_json::Value =
        serde_json::from_str(card).map_err(|e| PackageError::Card(e.to_string()))?;
    let sha256 = sha256_hex(onnx);
    let object = value
        .as_object_mut()
        .ok_or_else(|| PackageError::Card("the card is not a JSON object".into()))?;
    for (key, hint) in [("name", &hints.name), ("version", &hints.version)] {
        if !hint.is_empty() {
            object.insert(key.into(), hint.clone().into());
        }
    }
    let file = object
        .entry("onnx")
        .or_insert_with(|| serde_json::json!({"file": "model.onnx"}));
    match file.get("sha256").and_then(|s| s.as_str()) {
        Some(declared) if declared != sha256 => {
            return Err(PackageError::Card(format!(
                "onnx.sha256 is {declared}, but the ONNX file's is {sha256}"
            )));
        }
        _ => file["sha256"] = sha256.into(),
    }
    let typed =
        serde_json::from_value(value.clone()).map_err(|e| PackageError::Card(e.to_string()))?;
    let json = serde_json::to_string_pretty(&value).expect("a card serialises");
    Ok((typed, json))
}

/// Packages already validated model files on `runner`: the composition plus its manifest.
pub fn package(runner: &[u8], onnx: &[u8], card_json: &str) -> Result<Vec<u8>, PackageError> {
    let card: ModelCard =
        serde_json::from_str(card_json).map_err(|e| PackageError::Card(e.to_string()))?;
    let data = data::encode(onnx, card_json);
    let (mut wasm, exports) =
        compose::compose(runner, &data).map_err(|e| PackageError::Compose(format!("{e:#}")))?;
    Manifest {
        format: manifest::FORMAT,
        name: card.name,
        version: card.version,
        runner_sha256: sha256_hex(runner),
        packager: env!("CARGO_PKG_VERSION").into(),
        onnx_sha256: sha256_hex(onnx),
        card_sha256: sha256_hex(card_json.as_bytes()),
        exports,
    }
    .append_to(&mut wasm);
    Ok(wasm)
}

/// A package taken apart: the runner (borrowed from the package) and the model's data.
#[derive(Debug)]
pub struct Unpacked<'a> {
    /// The manifest.
    pub manifest: Manifest,
    /// The runner component's bytes, whose sha256 the manifest claims: whoever compiles
    /// them under that name must check it.
    pub runner: &'a [u8],
    /// The ONNX bytes.
    pub onnx: Vec<u8>,
    /// The card's JSON.
    pub card_json: String,
}

/// The runner and data of a package [`package`] wrote, or `None` for any other component.
/// Whoever links the runner itself checks [`Manifest::is_model`] first: an HTTP package is
/// compiled as it is.
pub fn unpack(component: &[u8]) -> Option<Unpacked<'_>> {
    if !component.starts_with(b"\0asm") {
        return None;
    }
    let manifest = Manifest::read(component)?;
    if manifest.format != manifest::FORMAT {
        return None;
    }
    let nested = data::nested_sections(component, data::Nested::Component);
    let [first, second] = <[std::ops::Range<usize>; 2]>::try_from(nested).ok()?;
    // wac-graph defines the data component first; either order is taken.
    let ((onnx, card_json), runner) = match data::decode(&component[first.clone()]) {
        Some(data) => (data, second),
        None => (data::decode(&component[second])?, first),
    };
    let matches = sha256_hex(&onnx) == manifest.onnx_sha256
        && sha256_hex(card_json.as_bytes()) == manifest.card_sha256;
    matches.then(|| Unpacked {
        manifest,
        runner: &component[runner],
        onnx,
        card_json,
    })
}

/// sha256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
