//! The bundled model components, built from this workspace by `build.rs`.
//!
//! ```no_run
//! let (model, version, path) = wasml_guest_artifacts::COMPONENTS[0];
//! let bytes = std::fs::read(path).unwrap();
//! # let _ = (model, version, bytes);
//! ```

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// Path of the component embedding `guest/models/<model>/<version>`.
///
/// # Panics
/// If no such component was built.
pub fn component(model: &str, version: &str) -> &'static str {
    COMPONENTS
        .iter()
        .find(|(m, v, _)| *m == model && *v == version)
        .map(|(_, _, path)| *path)
        .unwrap_or_else(|| panic!("no bundled component {model}/{version}"))
}
