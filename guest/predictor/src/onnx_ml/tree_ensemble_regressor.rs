//! `TreeEnsembleRegressor`: what skl2onnx exports for `RandomForestRegressor` (average of
//! the trees), `GradientBoostingRegressor` and `HistGradientBoostingRegressor` (sum plus a
//! base value), and onnxmltools for LightGBM and XGBoost regressors.
//!
//! tract 0.23.9 evaluates tree ensembles (with our patch, `vendor/`) but registers only the
//! classifier. The regressor reads its trees into the same table layout and runs on the
//! same evaluator, one score per target, plus the base values.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;

use super::trees::Trees;
use super::{FromNode, OneToOne, OutputShape, Wired, one_to_one_expansion};

/// The operator: the trees, one score column per target.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub(super) struct TreeEnsembleRegressor {
    trees: Trees,
}

impl FromNode for TreeEnsembleRegressor {
    /// Reads the node. A `post_transform` other than `NONE` is refused by name.
    fn from_node(node: &NodeProto) -> TractResult<Self> {
        let post_transform: Option<&str> = node.get_attr_opt("post_transform")?;
        if let Some(other) = post_transform.filter(|p| *p != "NONE") {
            bail!("Unimplemented(TreeEnsembleRegressor) with post_transform {other}");
        }
        let n_targets: i64 = node.get_attr_opt("n_targets")?.unwrap_or(1);
        let base_values: Vec<f32> = node.get_attr_opt_vec("base_values")?.unwrap_or_default();
        let trees = Trees::from_node(node, "target", n_targets as usize, &base_values)?;
        Ok(Self { trees })
    }
}

impl OneToOne for TreeEnsembleRegressor {
    fn output_type(&self) -> Option<DatumType> {
        Some(DatumType::F32)
    }

    fn output_shape(&self) -> OutputShape {
        OutputShape::RowsBy(self.trees.columns())
    }

    fn wire_ops(&self, prefix: &str, model: &mut TypedModel, x: OutletId) -> Wired {
        Ok(tvec!(self.trees.wire(prefix, model, x)?))
    }
}

one_to_one_expansion!(TreeEnsembleRegressor, "TreeEnsembleRegressor");
