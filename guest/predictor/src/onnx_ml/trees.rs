//! Reading an ONNX-ML tree ensemble node (`TreeEnsembleRegressor`'s `target_*` or
//! `TreeEnsembleClassifier`'s `class_*` leaves) into the tables of tract's tree evaluator
//! (patched, `vendor/`), which both operators run on.

use tract_onnx::pb::NodeProto;
use tract_onnx::tract_core::ops::math::add;
use tract_onnx::tract_hir::internal::*;
use tract_onnx::tract_hir::ops::logic::wire_with_rank_broadcast;
use tract_onnx_opl::ml::tree::{Aggregate, Cmp, TreeEnsemble, TreeEnsembleData};
use tract_onnx_opl::ml::tree_ensemble_classifier::TreeEnsembleClassifier;

/// The node's trees in the evaluator's tables (`TreeEnsembleData`): one row per tree node,
/// in tree order, node ids dense from 0 in each tree; a leaf's row points at its range of
/// `(target, weight)` rows.
///
/// `kind` names the leaf attributes: `target` (`target_treeids`, `target_nodeids`,
/// `target_ids`, `target_weights`) or `class` (`class_treeids`, … `class_weights`).
pub(super) fn read_trees(
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

/// Wires the trees' scores on `x` (`[rows, columns]`, on tract's evaluator) plus the base
/// values (their bits; none, or one per column).
pub(super) fn wire_trees(
    prefix: &str,
    model: &mut TypedModel,
    x: OutletId,
    ensemble: &TreeEnsemble,
    base_values: &[u32],
) -> TractResult<OutletId> {
    let ensemble = ensemble.clone();
    let trees = TreeEnsembleClassifier { ensemble };
    let scores = model.wire_node(format!("{prefix}.trees"), trees, &[x])?[0];
    if base_values.is_empty() {
        return Ok(scores);
    }
    let base: Vec<f32> = base_values.iter().map(|b| f32::from_bits(*b)).collect();
    let base = model.add_const(format!("{prefix}.base"), tensor1(&base))?;
    Ok(wire_with_rank_broadcast(format!("{prefix}.add_base"), model, add(), &[scores, base])?[0])
}
