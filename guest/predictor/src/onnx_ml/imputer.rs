//! `Imputer`: each element equal to the replaced value (NaN, for skl2onnx's
//! `SimpleImputer`) becomes its feature's imputed value; the others pass through. This is
//! what gives an absent optional number (which the predictor encodes as NaN) the value the
//! training pipeline would have filled in.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::logic::{CompEq, Iff};
use tract_onnx::tract_core::ops::math::is_nan;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::logic::wire_with_rank_broadcast;

use super::{FromNode, OneToOne, Wired, one_to_one_expansion};

/// The operator, on float inputs: the value to replace and, per feature (or one for all),
/// what replaces it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Imputer {
    replaced: f32,
    imputed: Vec<f32>,
}

impl std::hash::Hash for Imputer {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.replaced.to_bits().hash(state);
        for value in &self.imputed {
            value.to_bits().hash(state);
        }
    }
}

impl FromNode for Imputer {
    /// Integer imputation (`imputed_value_int64s`) is refused by name: no exporter we know
    /// emits it for a float model, and guessing its semantics would be worse.
    fn from_node(node: &NodeProto) -> TractResult<Self> {
        let imputed: Vec<f32> = node
            .get_attr_opt_vec("imputed_value_floats")?
            .unwrap_or_default();
        if imputed.is_empty() {
            bail!("Unimplemented(Imputer) with imputed_value_int64s: only float imputation runs");
        }
        let replaced = node.get_attr_opt("replaced_value_float")?.unwrap_or(0.0);
        Ok(Imputer { replaced, imputed })
    }
}

impl OneToOne for Imputer {
    fn wire_ops(&self, prefix: &str, model: &mut TypedModel, x: OutletId) -> Wired {
        let datum_type = model.outlet_fact(x)?.datum_type;
        ensure!(
            datum_type.is_float(),
            "Imputer on {datum_type:?} input: only float inputs are imputed"
        );
        let missing = if self.replaced.is_nan() {
            model.wire_node(format!("{prefix}.is_nan"), is_nan(), &[x])?
        } else {
            let replaced = super::feature_const(
                &format!("{prefix}.replaced"),
                model,
                &[self.replaced],
                datum_type,
            )?;
            wire_with_rank_broadcast(
                format!("{prefix}.eq"),
                model,
                TypedBinOp(Box::new(CompEq), None),
                &[x, replaced],
            )?
        };
        let imputed = super::feature_const(
            &format!("{prefix}.imputed"),
            model,
            &self.imputed,
            datum_type,
        )?;
        wire_with_rank_broadcast(
            format!("{prefix}.select"),
            model,
            Iff,
            &[missing[0], imputed, x],
        )
    }
}

one_to_one_expansion!(Imputer, "Imputer");
