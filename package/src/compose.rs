//! Composition: the runner instantiated with a data component, as one model component.
//!
//! wac-graph wires the data component's `model-data` export into the runner's import; the
//! runner's other imports (`events`, WASI) become the composition's, so the result
//! implements world `model` exactly as a compiled-in model component does.

use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};

use crate::data::MODEL_DATA;

/// The interface every model component exports.
pub const PREDICTOR: &str = "wasml:model/predictor@0.2.0";

/// `runner` with its `model-data` import satisfied by `data`.
pub fn compose(runner: &[u8], data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let runner = Package::from_bytes("wasml:runner", None, runner, graph.types_mut())?;
    let runner = graph.register_package(runner)?;
    let data = Package::from_bytes("wasml:data", None, data, graph.types_mut())?;
    let data = graph.register_package(data)?;

    let data = graph.instantiate(data);
    let runner = graph.instantiate(runner);
    let model_data = graph.alias_instance_export(data, MODEL_DATA)?;
    graph.set_instantiation_argument(runner, MODEL_DATA, model_data)?;
    let predictor = graph.alias_instance_export(runner, PREDICTOR)?;
    graph.export(predictor, PREDICTOR)?;
    // The runner was validated when built and the data component is ours; validating a
    // 17 MB composition again would triple the packaging time.
    Ok(graph.encode(EncodeOptions {
        validate: false,
        ..EncodeOptions::default()
    })?)
}
