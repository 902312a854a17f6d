//! Validation before anything is written or registered: the package's model loads as
//! the card describes it, runs (a [`Trial`]), and, given a conformance set, reproduces it.
//! A failure is explained from the graph: not ONNX at all, which node could not run, or a
//! classifier that scores margins.

use wasml_predictor::{ConformanceReport, ConformanceSet};

use crate::PackageError;
use crate::infer::attribute;
use crate::onnx_pb as pb;
use crate::trial::Trial;

/// Proves that `package` (made of the ONNX model `proto` and its card) runs; `Ok` carries
/// the conformance report.
pub fn validate(
    proto: &pb::ModelProto,
    package: &[u8],
    conformance: Option<&str>,
    trial: &dyn Trial,
) -> Result<Option<ConformanceReport>, PackageError> {
    if let Some(margins) = margin_classifier(proto) {
        return Err(margins);
    }
    let set = conformance
        .map(|text| {
            ConformanceSet::from_json(text)
                .map_err(|e| PackageError::Conformance(format!("invalid conformance set: {e}")))
        })
        .transpose()?;
    let rows = match &set {
        Some(set) => set.rows().map_err(PackageError::Conformance)?,
        None => Vec::new(),
    };
    let results = trial.run(package, &rows).map_err(|message| {
        unsupported_op(proto, &message).unwrap_or(PackageError::Mismatch(message))
    })?;
    let Some(set) = set else {
        return Ok(None);
    };
    let report = set.check(&results);
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
fn unsupported_op(proto: &pb::ModelProto, message: &str) -> Option<PackageError> {
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
fn margin_classifier(proto: &pb::ModelProto) -> Option<PackageError> {
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
fn output_unchanged(graph: &pb::GraphProto, value: &str) -> bool {
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
