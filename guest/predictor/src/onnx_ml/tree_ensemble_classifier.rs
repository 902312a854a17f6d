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

use super::FromNode;
use super::classifier::{
    Classifier, PostTransform, SecondColumn, class_labels, classifier_expansion,
};
use super::trees::Trees;

/// The operator: the trees, their base values, and how their scores become the outputs.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub(super) struct TreeEnsembleClassifier {
    trees: Trees,
    labels: Arc<Tensor>,
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
        let post_transform = PostTransform::from_node(node)?;
        let one_column = labels.len() == 2 && class_ids.iter().all(|id| *id == 0);
        let (columns, base_values, binary, post_transform) = if one_column {
            // onnxruntime: with two base values, the scores are margins around the second;
            // with fewer and no negative weight, the score is the positive probability
            // (and no post-transform applies).
            let margins = base_values.len() == 2 || weights.iter().any(|w| *w < 0.0);
            let (second, post_transform) = match (margins, post_transform) {
                (false, _) => (SecondColumn::Complement, PostTransform::None),
                (true, PostTransform::Softmax) => bail!(
                    "Unimplemented(TreeEnsembleClassifier) binary with post_transform SOFTMAX"
                ),
                (true, transform) => (SecondColumn::Negation, transform),
            };
            let base: Vec<f32> = base_values.last().copied().into_iter().collect();
            (1, base, Some(second), post_transform)
        } else {
            ensure!(
                base_values.is_empty() || base_values.len() == labels.len(),
                "TreeEnsembleClassifier: {} base values for {} labels",
                base_values.len(),
                labels.len()
            );
            (labels.len(), base_values, None, post_transform)
        };
        Ok(Self {
            trees: Trees::from_node(node, "class", columns, &base_values)?,
            labels,
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
        let mut scores = self.trees.wire(prefix, model, x)?;
        if let Some(second) = self.binary {
            scores = second.wire(prefix, model, scores)?;
        }
        self.post_transform.wire(prefix, model, scores)
    }
}

classifier_expansion!(TreeEnsembleClassifier, "TreeEnsembleClassifier");
