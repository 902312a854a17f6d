//! `TreeEnsembleClassifier`: skl2onnx's trees and forests, gradient boosting
//! (`GradientBoostingClassifier`, `HistGradientBoostingClassifier`), and onnxmltools'
//! LightGBM and XGBoost classifiers.
//!
//! tract 0.23.9 loads this operator itself, but a binary booster (the leaves score only
//! the positive class) with two `base_values`, as skl2onnx and onnxmltools write it, is
//! refused there. This one replaces it, on the same (patched) evaluator and tree tables as
//! the regressor, and follows onnxruntime for a binary booster: the positive class's base
//! value is the second, and the second column is `1 - p` for probabilities, `-s` for
//! margins.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx_opl::ml::tree::TreeEnsemble;
use tract_onnx_opl::ml::tree_ensemble_classifier::parse_aggregate;

use super::FromNode;
use super::classifier::{
    Classifier, PostTransform, SecondColumn, class_labels, classifier_expansion,
};
use super::trees::{read_trees, wire_trees};

/// The operator: the trees, their base values, and how their scores become the outputs.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub(super) struct TreeEnsembleClassifier {
    ensemble: TreeEnsemble,
    labels: Arc<Tensor>,
    /// The base values' bits, one per score column (or none).
    base_values: Vec<u32>,
    post_transform: PostTransform,
    /// For two labels scored in one column: how the other column is made.
    binary: Option<SecondColumn>,
}

impl FromNode for TreeEnsembleClassifier {
    fn from_node(node: &NodeProto) -> TractResult<Self> {
        let labels = class_labels(node)?;
        let class_ids: Vec<usize> = node.get_attr_vec("class_ids")?;
        let weights: Vec<f32> = node.get_attr_vec("class_weights")?;
        let base_values: Vec<f32> = node.get_attr_opt_vec("base_values")?.unwrap_or_default();
        let mut post_transform = PostTransform::from_node(node)?;
        let one_column = labels.len() == 2 && class_ids.iter().all(|id| *id == 0);
        let (columns, base_values, binary) = if one_column {
            // onnxruntime: with two base values, the scores are margins around the second;
            // with fewer and no negative weight, the score is the positive probability.
            let margins = base_values.len() == 2 || weights.iter().any(|w| *w < 0.0);
            let base = base_values.last().copied().into_iter().collect();
            if !margins {
                post_transform = PostTransform::None;
            } else if post_transform == PostTransform::Softmax {
                bail!("Unimplemented(TreeEnsembleClassifier) binary with post_transform SOFTMAX");
            }
            let second = if margins {
                SecondColumn::Negation
            } else {
                SecondColumn::Complement
            };
            (1, base, Some(second))
        } else {
            ensure!(
                base_values.is_empty() || base_values.len() == labels.len(),
                "TreeEnsembleClassifier: {} base values for {} labels",
                base_values.len(),
                labels.len()
            );
            (labels.len(), base_values, None)
        };
        let aggregate = parse_aggregate(node.get_attr_opt("aggregate_function")?.unwrap_or("SUM"))?;
        Ok(Self {
            ensemble: read_trees(node, "class", columns, aggregate)?,
            labels,
            base_values: base_values.iter().map(|v: &f32| v.to_bits()).collect(),
            post_transform,
            binary,
        })
    }
}

impl Classifier for TreeEnsembleClassifier {
    fn labels(&self) -> &Arc<Tensor> {
        &self.labels
    }

    fn wire_scores(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        x: OutletId,
    ) -> TractResult<OutletId> {
        let mut scores = wire_trees(prefix, model, x, &self.ensemble, &self.base_values)?;
        if let Some(second) = self.binary {
            scores = second.wire(prefix, model, scores)?;
        }
        self.post_transform.wire(prefix, model, scores)
    }
}

classifier_expansion!(TreeEnsembleClassifier, "TreeEnsembleClassifier");
