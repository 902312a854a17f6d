//! Composition: a runner instantiated with a data component, as one component.
//!
//! wac-graph wires the data component's `model-data` export into the runner's import; the
//! runner's other imports (`events`, WASI) become the composition's, and its exports are
//! the composition's. With the runner (`guest/component`) the result implements world
//! `model` exactly as a compiled-in model component does; with the HTTP runner
//! (`guest/spin`) it is a plain `wasi:http` component.

use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};

use crate::data::MODEL_DATA;

/// The interface every model component exports.
pub const PREDICTOR: &str = "wasml:model/predictor@0.2.0";

/// `runner` with its `model-data` import satisfied by `data`, and the names of what the
/// composition exports (the runner's exports).
pub fn compose(runner: &[u8], data: &[u8]) -> anyhow::Result<(Vec<u8>, Vec<String>)> {
    let mut graph = CompositionGraph::new();
    let runner = Package::from_bytes("wasml:runner", None, runner, graph.types_mut())?;
    let exports: Vec<String> = graph.types()[runner.ty()].exports.keys().cloned().collect();
    let runner = graph.register_package(runner)?;
    let data = Package::from_bytes("wasml:data", None, data, graph.types_mut())?;
    let data = graph.register_package(data)?;

    let data = graph.instantiate(data);
    let runner = graph.instantiate(runner);
    let model_data = graph.alias_instance_export(data, MODEL_DATA)?;
    graph.set_instantiation_argument(runner, MODEL_DATA, model_data)?;
    for name in &exports {
        let export = graph.alias_instance_export(runner, name)?;
        graph.export(export, name)?;
    }
    // The runner was validated when built and the data component is ours; validating a
    // 17 MB composition again would triple the packaging time.
    let wasm = graph.encode(EncodeOptions {
        validate: false,
        ..EncodeOptions::default()
    })?;
    Ok((wasm, exports))
}
