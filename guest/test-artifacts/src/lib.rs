//! Paths of the test components, built from this workspace by `build.rs`.
//!
//! ```no_run
//! let bytes = std::fs::read(wasml_test_artifacts::HOSTILE).unwrap();
//! # let _ = bytes;
//! ```

include!(concat!(env!("OUT_DIR"), "/components.rs"));
