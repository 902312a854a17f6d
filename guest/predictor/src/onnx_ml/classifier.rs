//! What the ONNX-ML classifier operators wasml adds share: their class labels, their
//! `post_transform`, and their two outputs — the label of the highest score and the scores
//! (`[rows, labels]`, probabilities for the estimators that have them).
//!
//! The runner reads only the scores; the label output is wired all the same so that a graph
//! reading it (a `ZipMap`, a cast) loads, and it names the highest-scoring class. Where
//! onnxruntime picks the label differently (an `SVC`'s pairwise vote), the two differ only
//! on near ties.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::array::TypedConcat;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::math::{neg, sub};
use tract_onnx::tract_core::ops::nn::{Reduce, Reducer, sigmoid};
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::logic::wire_with_rank_broadcast;
use tract_onnx_opl::ml::DirectLookup;

use super::FromNode;

/// The node's class labels (`classlabels_int64s`, `classlabels_ints` or
/// `classlabels_strings`) as a rank-1 tensor of i64 or strings.
pub(super) fn class_labels(node: &NodeProto) -> TractResult<Arc<Tensor>> {
    let ints: Option<Vec<i64>> = match node.get_attr_opt_vec("classlabels_int64s")? {
        Some(ints) => Some(ints),
        None => node.get_attr_opt_vec("classlabels_ints")?,
    };
    let strings: Option<Vec<String>> = node.get_attr_opt_vec("classlabels_strings")?;
    match (ints, strings) {
        (Some(ints), None) => Ok(rctensor1(&ints)),
        (None, Some(strings)) => Ok(rctensor1(&strings)),
        _ => bail!(
            "{}: one of classlabels_int64s and classlabels_strings",
            node.op_type
        ),
    }
}

/// The function applied to a classifier's scores.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub(super) enum PostTransform {
    None,
    Logistic,
    Softmax,
}

impl PostTransform {
    /// The node's `post_transform` (`NONE` when absent). `SOFTMAX_ZERO` and `PROBIT`, which
    /// no exporter we know emits for these operators, are refused by name.
    pub(super) fn from_node(node: &NodeProto) -> TractResult<Self> {
        match node.get_attr_opt("post_transform")?.unwrap_or("NONE") {
            "NONE" => Ok(Self::None),
            "LOGISTIC" => Ok(Self::Logistic),
            "SOFTMAX" => Ok(Self::Softmax),
            other => bail!(
                "Unimplemented({}) with post_transform {other}",
                node.op_type
            ),
        }
    }

    /// Wires the transform on `scores` (`[rows, classes]`).
    pub(super) fn wire(
        self,
        prefix: &str,
        model: &mut TypedModel,
        scores: OutletId,
    ) -> TractResult<OutletId> {
        Ok(match self {
            Self::None => scores,
            Self::Logistic => {
                model.wire_node(format!("{prefix}.logistic"), sigmoid(), &[scores])?[0]
            }
            Self::Softmax => tract_onnx::tract_hir::ops::nn::LayerSoftmax::new(1, false).wire(
                &format!("{prefix}.softmax"),
                model,
                &[scores],
            )?[0],
        })
    }
}

/// How a binary classifier that scores only the positive class gets its two columns.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq)]
pub(super) enum SecondColumn {
    /// `[1 - s, s]`: the score is a probability.
    Complement,
    /// `[-s, s]`: the score is a margin (a post-transform then applies to both).
    Negation,
}

impl SecondColumn {
    /// `[second, s]` from the one-column `score`.
    pub(super) fn wire(
        self,
        prefix: &str,
        model: &mut TypedModel,
        score: OutletId,
    ) -> TractResult<OutletId> {
        let second = match self {
            Self::Complement => {
                let one = model.add_const(format!("{prefix}.one"), rctensor2(&[[1f32]]))?;
                wire_with_rank_broadcast(
                    format!("{prefix}.complement"),
                    model,
                    sub(),
                    &[one, score],
                )?[0]
            }
            Self::Negation => model.wire_node(format!("{prefix}.negation"), neg(), &[score])?[0],
        };
        Ok(model.wire_node(
            format!("{prefix}.both_classes"),
            TypedConcat::new(1),
            &[second, score],
        )?[0])
    }
}

/// A classifier operator: reads `[rows, features]`, outputs its label and its scores.
pub(super) trait Classifier: FromNode {
    /// The class labels, in the scores' column order.
    fn labels(&self) -> &Arc<Tensor>;

    /// Wires the scores, `[rows, labels]`, post-transform applied.
    fn wire_scores(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        x: OutletId,
    ) -> TractResult<OutletId>;
}

/// The label of each row's highest score.
pub(super) fn wire_label(
    prefix: &str,
    model: &mut TypedModel,
    scores: OutletId,
    labels: &Arc<Tensor>,
) -> TractResult<OutletId> {
    let winner = model.wire_node(
        format!("{prefix}.argmax"),
        Reduce::new(tvec!(1), Reducer::ArgMax(false)),
        &[scores],
    )?;
    let winner = model.wire_node(format!("{prefix}.winner"), AxisOp::Rm(1), &winner)?;
    let winner = model.wire_node(
        format!("{prefix}.winner_i32"),
        tract_onnx::tract_core::ops::cast::cast(i32::datum_type()),
        &winner,
    )?;
    let fallback = Tensor::zero_dt(labels.datum_type(), &[])?.into_arc_tensor();
    Ok(model.wire_node(
        format!("{prefix}.label"),
        DirectLookup::new(labels.clone(), fallback)?,
        &winner,
    )?[0])
}

/// tract's type and shape rules for a [`Classifier`]: `[rows]` labels, `[rows, labels]`
/// f32 scores.
pub(super) fn classifier_rules<'r, 'p: 'r>(
    s: &mut Solver<'r>,
    inputs: &'p [TensorProxy],
    outputs: &'p [TensorProxy],
    labels: &Arc<Tensor>,
) -> InferenceResult {
    check_input_arity(inputs, 1)?;
    check_output_arity(outputs, 2)?;
    s.equals(&outputs[0].datum_type, labels.datum_type())?;
    s.equals(&outputs[0].rank, 1)?;
    s.equals(&outputs[0].shape[0], &inputs[0].shape[0])?;
    s.equals(&outputs[1].datum_type, DatumType::F32)?;
    s.equals(&outputs[1].rank, 2)?;
    s.equals(&outputs[1].shape[0], &inputs[0].shape[0])?;
    s.equals(&outputs[1].shape[1], labels.len().to_dim())
}

/// tract's `Expansion` for a [`Classifier`] called `$name`.
macro_rules! classifier_expansion {
    ($op:ty, $name:literal) => {
        impl Expansion for $op {
            fn name(&self) -> StaticName {
                $name.into()
            }

            fn nboutputs(&self) -> TractResult<usize> {
                Ok(2)
            }

            fn rules<'r, 'p: 'r, 's: 'r>(
                &'s self,
                s: &mut Solver<'r>,
                inputs: &'p [TensorProxy],
                outputs: &'p [TensorProxy],
            ) -> InferenceResult {
                let labels = $crate::onnx_ml::classifier::Classifier::labels(self);
                $crate::onnx_ml::classifier::classifier_rules(s, inputs, outputs, labels)
            }

            fn wire(
                &self,
                prefix: &str,
                model: &mut TypedModel,
                inputs: &[OutletId],
            ) -> TractResult<TVec<OutletId>> {
                use $crate::onnx_ml::classifier::Classifier;
                let scores = self.wire_scores(prefix, model, inputs[0])?;
                let label =
                    $crate::onnx_ml::classifier::wire_label(prefix, model, scores, self.labels())?;
                Ok(tvec!(label, scores))
            }
        }
    };
}
pub(super) use classifier_expansion;
