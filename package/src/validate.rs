//! Validation before anything is written or registered: tract loads and optimises the
//! graph as the card describes it, runs it, and (given a conformance set) reproduces it.

use wasml_predictor::{ConformanceReport, ConformanceSet, LoadError, Predictor};

use crate::PackageError;
use crate::infer::parse_onnx;

/// Loads the model natively as the runner will; `Ok` carries the conformance report.
pub fn validate(
    onnx: &[u8],
    card_json: &str,
    conformance: Option<&str>,
) -> Result<Option<ConformanceReport>, PackageError> {
    let predictor = Predictor::load(onnx, card_json).map_err(|error| match error {
        // The graph is parsed again only to explain a failure: not ONNX at all, or which
        // node tract gave up on.
        LoadError::Onnx(message) => match parse_onnx(onnx) {
            Err(not_onnx) => not_onnx,
            Ok(proto) => {
                unsupported_op(&proto, &message).unwrap_or(PackageError::Mismatch(message))
            }
        },
        LoadError::Card(e) => PackageError::Card(e.to_string()),
        other => PackageError::Mismatch(other.to_string()),
    })?;
    let Some(conformance) = conformance else {
        return Ok(None);
    };
    let set = ConformanceSet::from_json(conformance)
        .map_err(|e| PackageError::Conformance(format!("invalid conformance set: {e}")))?;
    let rows = set.rows().map_err(PackageError::Conformance)?;
    let report = set.check(&predictor.predict_batch(&rows));
    if let Some(first) = report.failures.first() {
        return Err(PackageError::Conformance(format!(
            "{} of {} cases failed, first: {first}",
            report.failures.len(),
            report.cases
        )));
    }
    Ok(Some(report))
}

/// The node tract gave up on, when its error names one: tract reports an operator it has
/// no implementation for as `Unimplemented(<op>)` or fails translating its node.
fn unsupported_op(proto: &tract_onnx::pb::ModelProto, message: &str) -> Option<PackageError> {
    let graph = proto.graph.as_ref()?;
    graph
        .node
        .iter()
        .find(|node| {
            message.contains(&format!("Unimplemented({})", node.op_type))
                || (!node.name.is_empty()
                    && message.contains(&format!("\"{}\"", node.name))
                    && message.contains(&node.op_type))
        })
        .map(|node| PackageError::UnsupportedOp {
            op: node.op_type.clone(),
            node: node.name.clone(),
        })
}
