//! The package manifest: a custom section (`wasml-package`) of the packaged component
//! saying what is inside, so `wasml inspect` and the host can tell without running it.

use serde::{Deserialize, Serialize};

/// Name of the custom section holding the manifest.
pub const SECTION: &str = "wasml-package";

/// The manifest's format; bumped when the package layout changes.
pub const FORMAT: u32 = 1;

/// What a package holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The layout version ([`FORMAT`]).
    pub format: u32,
    /// Model name, from the card.
    pub name: String,
    /// Model version, from the card.
    pub version: String,
    /// sha256 of the runner component inside.
    pub runner_sha256: String,
    /// Version of the `wasml-package` that packaged it.
    pub packager: String,
    /// sha256 of the ONNX bytes inside.
    pub onnx_sha256: String,
    /// sha256 of the card inside.
    pub card_sha256: String,
    /// The interfaces the package exports (its runner's): `wasml:model/predictor` for a
    /// model component, `wasi:http/incoming-handler` for the HTTP flavour. Packages from
    /// before the HTTP flavour do not list them, and are model components.
    #[serde(default = "model_exports")]
    pub exports: Vec<String>,
}

fn model_exports() -> Vec<String> {
    vec![crate::compose::PREDICTOR.to_owned()]
}

impl Manifest {
    /// Whether the package is a model component the host serves (rather than, say, the
    /// HTTP flavour, which `--wasi-http`, Spin or `wasmtime serve` run).
    pub fn is_model(&self) -> bool {
        self.exports.iter().any(|e| e == crate::compose::PREDICTOR)
    }

    /// The manifest as a component custom section, to append to a component's bytes.
    pub fn append_to(&self, component: &mut Vec<u8>) {
        use wasm_encoder::ComponentSection as _;
        let data = serde_json::to_vec(self).expect("a manifest serialises");
        wasm_encoder::CustomSection {
            name: SECTION.into(),
            data: data.into(),
        }
        .append_to_component(component);
    }

    /// The manifest of a component, if it has one: a top-level custom section, found
    /// without parsing the (large) nested components.
    pub fn read(component: &[u8]) -> Option<Self> {
        crate::data::top_level_sections(component)
            .into_iter()
            .filter(|(id, _)| *id == 0)
            .find_map(|(_, range)| {
                let (name, data) = crate::data::custom_section(&component[range])?;
                (name == SECTION.as_bytes()).then(|| serde_json::from_slice(data).ok())?
            })
    }
}
