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
}

impl Manifest {
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

    /// The manifest of a component, if it has one.
    pub fn read(component: &[u8]) -> Option<Self> {
        for payload in wasmparser::Parser::new(0).parse_all(component) {
            match payload.ok()? {
                wasmparser::Payload::CustomSection(section) if section.name() == SECTION => {
                    return serde_json::from_slice(section.data()).ok();
                }
                // Nested modules and components come before ours, which is last.
                _ => continue,
            }
        }
        None
    }
}
