//! Reading an ONNX-ML tree ensemble node (`TreeEnsembleRegressor`'s `target_*` or
//! `TreeEnsembleClassifier`'s `class_*` leaves) into the tables of tract's tree evaluator
//! (patched, `vendor/`), which both operators run on.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::math::add;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::logic::wire_with_rank_broadcast;
use tract_onnx_opl::ml::tree::{Aggregate, Cmp, TreeEnsemble, TreeEnsembleData};
use tract_onnx_opl::ml::tree_ensemble_classifier::{TreeEnsembleClassifier, parse_aggregate};

/// The node's trees in the evaluator's tables (`TreeEnsembleData`): one row per tree node,
/// in tree order, node ids dense from 0 in each tree; a leaf's row points at its range of
/// `(target, weight)` rows.
///
/// `kind` names the leaf attributes: `target` (`target_treeids`, `target_nodeids`,
/// `target_ids`, `target_weights`) or `class` (`class_treeids`, … `class_weights`).
fn read_trees(
    node: &NodeProto,
    kind: &str,
    n_targets: usize,
    aggregate: Aggregate,
) -> TractResult<TreeEnsemble> {
    let ids = |name: &str| -> TractResult<Vec<usize>> { node.get_attr_vec(name) };
    let (tree_ids, node_ids) = (ids("nodes_treeids")?, ids("nodes_nodeids")?);
    let (features, true_ids, false_ids) = (
        ids("nodes_featureids")?,
        ids("nodes_truenodeids")?,
        ids("nodes_falsenodeids")?,
    );
    let values: Vec<f32> = node.get_attr_vec("nodes_values")?;
    let modes: Vec<&str> = node.get_attr_vec("nodes_modes")?;
    let missing_true: Vec<i64> = node
        .get_attr_opt_vec("nodes_missing_value_tracks_true")?
        .unwrap_or_default();
    let (leaf_trees, leaf_nodes, leaf_targets) = (
        ids(&format!("{kind}_treeids"))?,
        ids(&format!("{kind}_nodeids"))?,
        ids(&format!("{kind}_ids"))?,
    );
    let weights: Vec<f32> = node.get_attr_vec(&format!("{kind}_weights"))?;
    let n = tree_ids.len();
    ensure!(
        [
            node_ids.len(),
            features.len(),
            true_ids.len(),
            false_ids.len(),
            values.len(),
            modes.len()
        ]
        .iter()
        .all(|len| *len == n),
        "the nodes_* attributes differ in length"
    );
    ensure!(
        [leaf_nodes.len(), leaf_targets.len(), weights.len()]
            .iter()
            .all(|len| *len == leaf_trees.len()),
        "the {kind}_* attributes differ in length"
    );

    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (tree_ids[i], node_ids[i]));
    let mut leaves_order: Vec<usize> = (0..leaf_trees.len()).collect();
    leaves_order.sort_by_key(|&i| (leaf_trees[i], leaf_nodes[i]));
    let mut leaf_entries = leaves_order.into_iter().peekable();

    let (mut trees, mut rows, mut leaves) =
        (Vec::<u32>::new(), Vec::<u32>::new(), Vec::<u32>::new());
    let mut root = 0;
    for (row, &i) in order.iter().enumerate() {
        if trees.is_empty() || tree_ids[i] != tree_ids[order[row - 1]] {
            root = row;
            trees.push(row as u32);
        }
        ensure!(
            node_ids[i] == row - root,
            "the node ids of tree {} are not 0, 1, 2, …",
            tree_ids[i]
        );
        let comparator = match modes[i] {
            "LEAF" => None,
            "BRANCH_LEQ" => Some(Cmp::LessEqual),
            "BRANCH_LT" => Some(Cmp::Less),
            "BRANCH_GTE" => Some(Cmp::GreaterEqual),
            "BRANCH_GT" => Some(Cmp::Greater),
            "BRANCH_EQ" => Some(Cmp::Equal),
            "BRANCH_NEQ" => Some(Cmp::NotEqual),
            other => bail!("unknown node mode {other}"),
        };
        match comparator {
            Some(cmp) => {
                let nan_flag = if missing_true.get(i) == Some(&1) {
                    0x100
                } else {
                    0
                };
                rows.extend([
                    features[i] as u32,
                    (root + true_ids[i]) as u32,
                    (root + false_ids[i]) as u32,
                    values[i].to_bits(),
                    nan_flag | cmp as u32,
                ]);
            }
            None => {
                let start = leaves.len() as u32 / 2;
                while let Some(&l) = leaf_entries
                    .peek()
                    .filter(|&&l| (leaf_trees[l], leaf_nodes[l]) == (tree_ids[i], node_ids[i]))
                {
                    ensure!(
                        leaf_targets[l] < n_targets,
                        "{kind} id {} ≥ {n_targets}",
                        leaf_targets[l]
                    );
                    leaves.extend([leaf_targets[l] as u32, weights[l].to_bits()]);
                    leaf_entries.next();
                }
                rows.extend([start, leaves.len() as u32 / 2, 0, 0, 0]);
            }
        }
    }
    ensure!(
        leaf_entries.next().is_none(),
        "a {kind}_* entry names no leaf"
    );
    let data = TreeEnsembleData {
        trees: rctensor1(&trees),
        nodes: tensor1(&rows)
            .into_shape(&[rows.len() / 5, 5])?
            .into_arc_tensor(),
        leaves: tensor1(&leaves)
            .into_shape(&[leaves.len() / 2, 2])?
            .into_arc_tensor(),
    };
    let max_feature = features.iter().copied().max().unwrap_or(0);
    TreeEnsemble::build(data, max_feature, n_targets, aggregate)
}

/// A tree ensemble as both operators run it: the trees, and the base values added to
/// their aggregate.
#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub(super) struct Trees {
    ensemble: TreeEnsemble,
    /// The base values' bits (so the op is `Eq`): none, or one per column.
    base_values: Vec<u32>,
}

impl Trees {
    /// The node's trees (leaves named by `kind`, see [`read_trees`]) scoring `columns`
    /// columns, aggregated as its `aggregate_function` says, plus `base_values`.
    pub(super) fn from_node(
        node: &NodeProto,
        kind: &str,
        columns: usize,
        base_values: &[f32],
    ) -> TractResult<Self> {
        let aggregate = parse_aggregate(node.get_attr_opt("aggregate_function")?.unwrap_or("SUM"))?;
        Ok(Self {
            ensemble: read_trees(node, kind, columns, aggregate)?,
            base_values: base_values.iter().map(|v| v.to_bits()).collect(),
        })
    }

    /// The number of score columns.
    pub(super) fn columns(&self) -> usize {
        self.ensemble.n_classes()
    }

    /// Wires the scores on `x`, `[rows, columns]`, on tract's evaluator, base values added.
    pub(super) fn wire(
        &self,
        prefix: &str,
        model: &mut TypedModel,
        x: OutletId,
    ) -> TractResult<OutletId> {
        let ensemble = self.ensemble.clone();
        let trees = TreeEnsembleClassifier { ensemble };
        let scores = model.wire_node(format!("{prefix}.trees"), trees, &[x])?[0];
        if self.base_values.is_empty() {
            return Ok(scores);
        }
        let base: Vec<f32> = self
            .base_values
            .iter()
            .map(|b| f32::from_bits(*b))
            .collect();
        let base = model.add_const(format!("{prefix}.base"), tensor1(&base))?;
        Ok(
            wire_with_rank_broadcast(format!("{prefix}.add_base"), model, add(), &[scores, base])?
                [0],
        )
    }
}
