//! Validation before anything is written or registered: tract loads and optimises the
//! graph as the card describes it, runs it, and (given a conformance set) reproduces it.

use wasml_predictor::{ConformanceReport, ConformanceSet, LoadError, Predictor};

use crate::PackageError;
use crate::infer::{attribute, parse_onnx};

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
    if let Some(margins) = parse_onnx(onnx)
        .ok()
        .and_then(|proto| margin_classifier(&proto))
    {
        return Err(margins);
    }
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
        .map(|node| {
            let unimplemented = format!("Unimplemented({})", node.op_type);
            let how = message
                .split_once(&unimplemented)
                .map(|(_, rest)| rest.lines().next().unwrap_or_default().to_string())
                .unwrap_or_default();
            PackageError::UnsupportedOp {
                op: node.op_type.clone(),
                node: node.name.clone(),
                how,
            }
        })
}

/// A classifier whose scores are decision margins rather than probabilities: a
/// `LinearClassifier` (or an `SVMClassifier` without Platt's `prob_a`) with no
/// post-transform whose scores reach a graph output unchanged, as skl2onnx exports
/// `LinearSVC` or `SVC(probability=False)` (a `CalibratedClassifierCV` computes
/// probabilities from them, and runs). wasml's answer is a probability per label, so such
/// a model is refused here rather than failing every request.
fn margin_classifier(proto: &tract_onnx::pb::ModelProto) -> Option<PackageError> {
    let graph = proto.graph.as_ref()?;
    let node = graph.node.iter().find(|node| {
        let no_transform = attribute(node, "post_transform").is_none_or(|a| a.s == b"NONE");
        let margins = match node.op_type.as_str() {
            "LinearClassifier" => no_transform,
            "SVMClassifier" => {
                no_transform && attribute(node, "prob_a").is_none_or(|a| a.floats.is_empty())
            }
            _ => false,
        };
        margins
            && node
                .output
                .get(1)
                .is_some_and(|scores| output_unchanged(graph, scores))
    })?;
    Some(PackageError::UnsupportedOp {
        op: node.op_type.clone(),
        node: node.name.clone(),
        how: " without a post-transform: it scores decision margins, not probabilities \
              (scikit-learn's LinearSVC, SVC without probability=True; \
              CalibratedClassifierCV makes probabilities of them)"
            .into(),
    })
}

/// Whether `value` becomes a graph output through nothing but copies, casts, reshapes and
/// a `ZipMap`.
fn output_unchanged(graph: &tract_onnx::pb::GraphProto, value: &str) -> bool {
    const UNCHANGING: [&str; 5] = ["Identity", "Cast", "Reshape", "Flatten", "ZipMap"];
    if graph.output.iter().any(|o| o.name == value) {
        return true;
    }
    graph
        .node
        .iter()
        .filter(|next| next.input.iter().any(|i| i == value))
        .any(|next| {
            UNCHANGING.contains(&next.op_type.as_str())
                && next.output.iter().any(|o| output_unchanged(graph, o))
        })
}
