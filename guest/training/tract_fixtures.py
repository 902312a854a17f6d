#!/usr/bin/env python3
"""Writes the fixture that tests our tract patch (vendor/README.md) against onnxruntime.

    python guest/training/tract_fixtures.py

`guest/predictor/tests/fixtures/tree_modes.onnx` is a three-class TreeEnsembleClassifier
whose trees use every branch mode ONNX defines (tract 0.23.9 took BRANCH_GTE nodes for
leaves) and whose leaves sit at different offsets (the leaf lookup was O(total leaves)).
`tree_modes.json` holds inputs on and around every threshold with onnxruntime's scores.
"""

import itertools
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

OUT = Path(__file__).resolve().parent.parent / "predictor" / "tests" / "fixtures"
MODES = ["BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ"]


def main() -> None:
    attrs = {k: [] for k in (
        "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
        "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
        "class_treeids", "class_nodeids", "class_ids", "class_weights",
    )}
    # One tree per mode: node 0 tests feature (tree % 2) against 1.0 and leads to leaves 1
    # (true) and 2 (false), which vote for different classes with tree-specific weights.
    for tree, mode in enumerate(MODES):
        rows = [(0, tree % 2, 1.0, mode, 1, 2), (1, 0, 0.0, "LEAF", 0, 0), (2, 0, 0.0, "LEAF", 0, 0)]
        for node, feature, value, node_mode, true_id, false_id in rows:
            attrs["nodes_treeids"].append(tree)
            attrs["nodes_nodeids"].append(node)
            attrs["nodes_featureids"].append(feature)
            attrs["nodes_values"].append(value)
            attrs["nodes_modes"].append(node_mode)
            attrs["nodes_truenodeids"].append(true_id)
            attrs["nodes_falsenodeids"].append(false_id)
            attrs["nodes_missing_value_tracks_true"].append(0)
        for node, class_id in ((1, tree % 3), (2, (tree + 1) % 3)):
            attrs["class_treeids"].append(tree)
            attrs["class_nodeids"].append(node)
            attrs["class_ids"].append(class_id)
            attrs["class_weights"].append(float(10 ** tree) * (1 if node == 1 else -1))
    node = helper.make_node(
        "TreeEnsembleClassifier", ["features"], ["label", "scores"], domain="ai.onnx.ml",
        classlabels_int64s=[0, 1, 2], post_transform="NONE", **attrs,
    )
    graph = helper.make_graph(
        [node], "tree modes",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["N", 3])],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 3)]
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    model_bytes = model.SerializeToString()

    inputs = np.array(list(itertools.product([0.0, 0.5, 1.0, 1.5, 2.0], repeat=2)), np.float32)
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    scores = session.run(["scores"], {"features": inputs})[0]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "tree_modes.onnx").write_bytes(model_bytes)
    (OUT / "tree_modes.json").write_text(json.dumps({
        "reference": f"onnxruntime {ort.__version__}",
        "inputs": inputs.tolist(),
        "scores": scores.tolist(),
    }, indent=1) + "\n")


if __name__ == "__main__":
    main()
