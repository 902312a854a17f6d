//! The integration tests of the predictor library, one test binary (one link) with a module per
//! concern.

mod conformance;
mod fuzz_corpus;
mod invalid_input;
mod load;
mod readme_figures;
mod tract_tree_patch;
