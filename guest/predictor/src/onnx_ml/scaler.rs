//! `Scaler`: `Y = (X - offset) * scale` per feature, as f32 — what skl2onnx exports for
//! `StandardScaler` (offset = mean, scale = 1 / std), `RobustScaler` and `MaxAbsScaler`.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::math::{mul, sub};
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::logic::wire_with_rank_broadcast;

use super::{FromNode, OneToOne, Wired, one_to_one_expansion};

/// The operator: one offset and one scale per feature (or one for all).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Scaler {
    offset: Vec<f32>,
    scale: Vec<f32>,
}

// Hash over the bits: the attributes are plain numbers, NaN never among them.
impl std::hash::Hash for Scaler {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for value in self.offset.iter().chain(&self.scale) {
            value.to_bits().hash(state);
        }
    }
}

impl FromNode for Scaler {
    /// A missing `offset` is 0 and a missing `scale` 1, as in onnxruntime.
    fn from_node(node: &NodeProto) -> TractResult<Self> {
        let offset: Vec<f32> = node.get_attr_opt_vec("offset")?.unwrap_or_default();
        let scale: Vec<f32> = node.get_attr_opt_vec("scale")?.unwrap_or_default();
        Ok(Scaler {
            offset: if offset.is_empty() { vec![0.0] } else { offset },
            scale: if scale.is_empty() { vec![1.0] } else { scale },
        })
    }
}

impl OneToOne for Scaler {
    fn output_type(&self) -> Option<DatumType> {
        Some(DatumType::F32)
    }

    fn wire_ops(&self, prefix: &str, model: &mut TypedModel, x: OutletId) -> Wired {
        let x = super::to_f32(prefix, model, x)?;
        let f32_const = |model: &mut TypedModel, name: &str, values: &[f32]| {
            super::feature_const(&format!("{prefix}.{name}"), model, values, DatumType::F32)
        };
        let offset = f32_const(model, "offset", &self.offset)?;
        let scale = f32_const(model, "scale", &self.scale)?;
        let centred =
            wire_with_rank_broadcast(format!("{prefix}.sub"), model, sub(), &[x, offset])?;
        wire_with_rank_broadcast(format!("{prefix}.mul"), model, mul(), &[centred[0], scale])
    }
}

one_to_one_expansion!(Scaler, "Scaler");
