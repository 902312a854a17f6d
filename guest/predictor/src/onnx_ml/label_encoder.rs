//! `LabelEncoder`: each key (string or integer) becomes its value (string or integer),
//! anything else the default — what skl2onnx exports for `OrdinalEncoder` (category → its
//! index). Float values are refused by name: tract's lookup keeps only hashable types.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_hir::internal::*;
use tract_onnx_opl::ml::{DirectLookup, ReverseLookup};

use super::{FromNode, OneToOne, Wired, one_to_one_expansion};

/// The operator: keys, their values in the same order, and the value of an unknown key.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub(super) struct LabelEncoder {
    keys: Arc<Tensor>,
    values: Arc<Tensor>,
    default: Arc<Tensor>,
}

impl FromNode for LabelEncoder {
    /// Reads `keys_strings` or `keys_int64s`, and `values_strings` or `values_int64s` with
    /// their `default_*` (the ONNX-ML defaults: `"_Unused"`, -1).
    fn from_node(node: &NodeProto) -> TractResult<Self> {
        let keys = if let Some(keys) = node.get_attr_opt_vec::<String>("keys_strings")? {
            rctensor1(&keys)
        } else if let Some(keys) = node.get_attr_opt_vec::<i64>("keys_int64s")? {
            rctensor1(&keys)
        } else {
            bail!("Unimplemented(LabelEncoder) without keys_strings or keys_int64s");
        };
        let (values, default) = if let Some(values) =
            node.get_attr_opt_vec::<String>("values_strings")?
        {
            let default: String = node
                .get_attr_opt("default_string")?
                .unwrap_or_else(|| "_Unused".into());
            (rctensor1(&values), rctensor0(default))
        } else if let Some(values) = node.get_attr_opt_vec::<i64>("values_int64s")? {
            (
                rctensor1(&values),
                rctensor0(node.get_attr_opt("default_int64")?.unwrap_or(-1i64)),
            )
        } else {
            bail!(
                "Unimplemented(LabelEncoder) without values_strings or values_int64s (float values do not run)"
            );
        };
        ensure!(
            keys.len() == values.len(),
            "LabelEncoder has {} keys and {} values",
            keys.len(),
            values.len()
        );
        Ok(Self {
            keys,
            values,
            default,
        })
    }
}

impl OneToOne for LabelEncoder {
    fn output_type(&self) -> Option<DatumType> {
        Some(self.values.datum_type())
    }

    fn wire_ops(&self, prefix: &str, model: &mut TypedModel, x: OutletId) -> Wired {
        let index = model.wire_node(
            format!("{prefix}.index"),
            ReverseLookup::new(self.keys.clone(), -1)?,
            &[x],
        )?;
        model.wire_node(
            format!("{prefix}.value"),
            DirectLookup::new(self.values.clone(), self.default.clone())?,
            &index,
        )
    }
}

one_to_one_expansion!(LabelEncoder, "LabelEncoder");
