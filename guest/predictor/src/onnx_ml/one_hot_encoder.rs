//! `OneHotEncoder`: each category (string or integer) becomes a row of `0`s with a `1` at
//! its index in `cats_*`; the output has the input's shape plus one axis of the categories,
//! as skl2onnx exports `OneHotEncoder` in a `ColumnTransformer`. An unknown category is all
//! zeros: the predictor checks categories against the card before the graph sees them, so
//! the only value the graph gets outside the list is an absent optional field's.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::binary::TypedBinOp;
use tract_onnx::tract_core::ops::cast::cast;
use tract_onnx::tract_core::ops::change_axes::AxisOp;
use tract_onnx::tract_core::ops::logic::CompEq;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::logic::wire_with_rank_broadcast;
use tract_onnx_opl::ml::ReverseLookup;

use super::{FromNode, OneToOne, OutputShape, Wired, one_to_one_expansion};

/// The operator: the categories, in output order.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub(super) struct OneHotEncoder {
    categories: Arc<Tensor>,
}

impl FromNode for OneHotEncoder {
    /// Reads `cats_strings` or `cats_int64s`.
    fn from_node(node: &NodeProto) -> TractResult<Self> {
        let strings: Option<Vec<String>> = node.get_attr_opt_vec("cats_strings")?;
        let ints: Option<Vec<i64>> = node.get_attr_opt_vec("cats_int64s")?;
        let categories = match (strings, ints) {
            (Some(strings), _) if !strings.is_empty() => rctensor1(&strings),
            (_, Some(ints)) if !ints.is_empty() => rctensor1(&ints),
            _ => bail!("OneHotEncoder without cats_strings or cats_int64s"),
        };
        Ok(Self { categories })
    }
}

impl OneToOne for OneHotEncoder {
    fn output_type(&self) -> Option<DatumType> {
        Some(DatumType::F32)
    }

    fn output_shape(&self) -> OutputShape {
        OutputShape::InputAndAxis(self.categories.len())
    }

    fn wire_ops(&self, prefix: &str, model: &mut TypedModel, x: OutletId) -> Wired {
        let rank = model.outlet_fact(x)?.rank();
        let index = model.wire_node(
            format!("{prefix}.index"),
            ReverseLookup::new(self.categories.clone(), -1)?,
            &[x],
        )?;
        let index = model.wire_node(format!("{prefix}.axis"), AxisOp::Add(rank), &index)?;
        let positions: Vec<i32> = (0..self.categories.len() as i32).collect();
        let positions = model.add_const(format!("{prefix}.positions"), tensor1(&positions))?;
        let hot = wire_with_rank_broadcast(
            format!("{prefix}.eq"),
            model,
            TypedBinOp(Box::new(CompEq), None),
            &[index[0], positions],
        )?;
        model.wire_node(format!("{prefix}.cast"), cast(f32::datum_type()), &hot)
    }
}

one_to_one_expansion!(OneHotEncoder, "OneHotEncoder");
