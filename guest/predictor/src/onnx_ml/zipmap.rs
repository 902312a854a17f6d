//! `ZipMap`: skl2onnx's default last step of a classifier, turning the `[N, classes]`
//! probabilities into one `{label: probability}` map per row. tract has no maps and the
//! runner reads the probabilities as a tensor anyway (with the labels from the card), so
//! `ZipMap` loads as the identity: its output is the probabilities tensor it was given.
//! Exporting with `zipmap=False` or not gives the same answers.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::identity::Identity;
use tract_onnx::tract_hir::internal::*;

use super::{FromNode, OneToOne, Wired, one_to_one_expansion};

/// The operator: the identity on the probabilities.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct ZipMap;

impl FromNode for ZipMap {
    /// Its labels are the classifier's, which the card carries.
    fn from_node(_node: &NodeProto) -> TractResult<Self> {
        Ok(ZipMap)
    }
}

impl OneToOne for ZipMap {
    fn wire_ops(&self, prefix: &str, model: &mut TypedModel, x: OutletId) -> Wired {
        model.wire_node(prefix, Identity, &[x])
    }
}

one_to_one_expansion!(ZipMap, "ZipMap");
