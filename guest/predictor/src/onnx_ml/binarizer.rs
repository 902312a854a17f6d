//! `Binarizer`: `Y = X > threshold ? 1 : 0`, in the input's type — skl2onnx's export of
//! scikit-learn's `Binarizer`.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::cast;
use tract_onnx::tract_core::ops::logic::CompGT;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::logic::wire_with_rank_broadcast;

use super::{FromNode, OneToOne, Wired, one_to_one_expansion};

/// The operator: one threshold for every element.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Binarizer {
    threshold: f32,
}

impl std::hash::Hash for Binarizer {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.threshold.to_bits().hash(state);
    }
}

impl FromNode for Binarizer {
    /// The threshold defaults to 0, as in the ONNX-ML spec.
    fn from_node(node: &NodeProto) -> TractResult<Self> {
        let threshold = node.get_attr_opt("threshold")?.unwrap_or(0.0);
        Ok(Binarizer { threshold })
    }
}

impl OneToOne for Binarizer {
    fn wire_ops(&self, prefix: &str, model: &mut TypedModel, x: OutletId) -> Wired {
        let datum_type = model.outlet_fact(x)?.datum_type;
        let threshold = super::feature_const(
            &format!("{prefix}.threshold"),
            model,
            &[self.threshold],
            datum_type,
        )?;
        let above = wire_with_rank_broadcast(
            format!("{prefix}.gt"),
            model,
            TypedBinOp(Box::new(CompGT), None),
            &[x, threshold],
        )?;
        model.wire_node(format!("{prefix}.cast"), cast(datum_type), &above)
    }
}

one_to_one_expansion!(Binarizer, "Binarizer");
