#!/usr/bin/env python3
"""Train the bank-marketing models and write everything the guest embeds.

    python guest/training/train.py ../shared/data/bank-marketing/bank-train.csv \
        --out guest/models/bank-marketing

For each version (v1: logistic regression, v2: gradient-boosted trees) it writes
`<out>/<version>/`:

- `model.onnx`        the model, built from standard ONNX ops plus ai.onnx.ml
                      TreeEnsembleClassifier, so that tract (inside the wasm guest) runs it;
- `card.json`         the model card: schema, feature encoding, labels, training data,
                      hyper-parameters, the ONNX file's sha256 and the evaluation figures
                      computed here on the held-out split (nothing is typed in by hand);
- `conformance.json`  inputs generated from the schema (not rows of the data set) with the
                      probabilities onnxruntime computes for them: the reference the Rust
                      predictor must reproduce.

The feature encoding lives in the card and is the contract with the Rust predictor: every
field in schema order, a number as itself, a category as a one-hot block in the order of its
allowed values.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import random
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pandas as pd
import sklearn
from onnx import TensorProto, helper, numpy_helper
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import train_test_split

SEED = 42
TEST_SIZE = 0.2
MODEL_NAME = "bank-marketing"
LABELS = ["no", "yes"]
TARGET = "y"

# Domain ranges a request must respect; wider than the training data on purpose (the card
# records the range actually seen in training too).
NUMERIC_RANGES = {
    "age": (18, 100, "Age of the client in years."),
    "duration": (0, 5000, "Duration of the last contact, in seconds."),
    "campaign": (1, 100, "Contacts performed during this campaign, including the last one."),
}
CATEGORY_DESCRIPTIONS = {
    "job": "Type of job.",
    "marital": "Marital status ('divorced' means divorced or widowed).",
    "education": "Education level.",
    "housing": "Has a housing loan?",
    "loan": "Has a personal loan?",
}
# The seed API's eight fields, in the order of the feature vector.
FIELDS = ["age", "job", "marital", "education", "housing", "loan", "duration", "campaign"]

CITATION = (
    "S. Moro, R. Laureano and P. Cortez. Using Data Mining for Bank Direct Marketing: "
    "An Application of the CRISP-DM Methodology. In Proceedings of the European Simulation "
    "and Modelling Conference - ESM'2011, pp. 117-121, Guimaraes, Portugal, October 2011."
)
DATA_SOURCE = "UCI Machine Learning Repository, 'Bank Marketing' (bank-full.csv), CC BY 4.0"


def build_schema(frame: pd.DataFrame) -> list[dict]:
    """The input schema: numbers with their domain range, categories with the values seen."""
    schema = []
    for name in FIELDS:
        if name in NUMERIC_RANGES:
            low, high, description = NUMERIC_RANGES[name]
            seen = frame[name]
            schema.append(
                {
                    "name": name,
                    "description": description,
                    "required": True,
                    "kind": {"number": {"min": low, "max": high, "integer": True}},
                    "training_range": [float(seen.min()), float(seen.max())],
                }
            )
        else:
            values = sorted(frame[name].unique().tolist())
            schema.append(
                {
                    "name": name,
                    "description": CATEGORY_DESCRIPTIONS[name],
                    "required": True,
                    "kind": {"category": {"values": values}},
                }
            )
    return schema


# Quantile bins per numeric input in the card's reference distribution (for drift).
DRIFT_BINS = 10


def reference_distribution(schema: list[dict], rows: pd.DataFrame) -> dict:
    """Each input's distribution over `rows`, which the host compares live traffic with
    (population stability index): a numeric input as quantile bin edges and the share of
    rows per bin (a value falls in the first bin whose edge is >= it), a categorical one as
    the share of each category."""
    inputs = {}
    for field in schema:
        column = rows[field["name"]]
        if "category" in field["kind"]:
            shares = column.value_counts(normalize=True)
            inputs[field["name"]] = {"categories": {
                value: round(float(shares.get(value, 0.0)), 6)
                for value in field["kind"]["category"]["values"]
            }}
        else:
            values = column.to_numpy(dtype=float)
            quantiles = np.quantile(values, np.linspace(0, 1, DRIFT_BINS + 1)[1:-1])
            edges = np.unique(quantiles)
            bins = np.searchsorted(edges, values, side="left")
            shares = np.bincount(bins, minlength=len(edges) + 1) / len(values)
            inputs[field["name"]] = {
                "edges": [float(edge) for edge in edges],
                "shares": [round(float(share), 6) for share in shares],
            }
    return {"rows": int(len(rows)), "source": "the training split", "inputs": inputs}


def feature_names(schema: list[dict]) -> list[str]:
    names = []
    for field in schema:
        kind = field["kind"]
        if "number" in kind:
            names.append(field["name"])
        else:
            names.extend(f"{field['name']}={v}" for v in kind["category"]["values"])
    return names


def encode(schema: list[dict], rows: pd.DataFrame) -> np.ndarray:
    """The card's encoding; the Rust predictor implements the same (see its features.rs)."""
    columns = []
    for field in schema:
        kind = field["kind"]
        values = rows[field["name"]]
        if "number" in kind:
            columns.append(values.to_numpy(dtype=np.float32)[:, None])
        else:
            allowed = kind["category"]["values"]
            columns.append(np.stack([(values == v).to_numpy() for v in allowed], axis=1))
    return np.concatenate(columns, axis=1).astype(np.float32)


class StandardisedLogistic:
    """Logistic regression on standardised features (the scaler is folded into the ONNX)."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0)
        self.scale[self.scale == 0] = 1.0
        self.model = LogisticRegression(C=1.0, max_iter=2000).fit(self._standardise(x), y)

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.scale

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(self._standardise(x))

    def onnx(self, n_features: int) -> onnx.ModelProto:
        return logistic_regression_onnx(self.model, self.mean, self.scale, n_features)


def fit_logistic(x: np.ndarray, y: np.ndarray) -> StandardisedLogistic:
    return StandardisedLogistic(x, y)


def repeated_splits(frame: pd.DataFrame, y: np.ndarray, refit, seeds=range(10)) -> dict:
    """Mean and spread over other stratified splits: how much one split's figures move."""
    scores = []
    for seed in seeds:
        train, test, y_train, y_test = train_test_split(
            frame, y, test_size=TEST_SIZE, stratify=y, random_state=seed
        )
        schema = build_schema(train)
        p_yes = refit(encode(schema, train), y_train)(encode(schema, test))[:, 1]
        scores.append((accuracy_score(y_test, p_yes >= 0.5), roc_auc_score(y_test, p_yes)))
    scores = np.array(scores)
    return {
        "seeds": f"{seeds.start}..{seeds.stop - 1}",
        "accuracy_mean": round(float(scores[:, 0].mean()), 6),
        "accuracy_std": round(float(scores[:, 0].std()), 6),
        "roc_auc_mean": round(float(scores[:, 1].mean()), 6),
        "roc_auc_std": round(float(scores[:, 1].std()), 6),
    }


def logistic_regression_onnx(model: LogisticRegression, mean, scale, n_features: int):
    """Standardisation folded into the weights: p = sigmoid(x @ w + b), output [1 - p, p]."""
    weights = (model.coef_[0] / scale).astype(np.float32).reshape(n_features, 1)
    bias = np.array([model.intercept_[0] - float(np.sum(model.coef_[0] * mean / scale))], np.float32)
    nodes = [
        helper.make_node("MatMul", ["features", "weights"], ["logit_no_bias"]),
        helper.make_node("Add", ["logit_no_bias", "bias"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["p_yes"]),
        helper.make_node("Sub", ["one", "p_yes"], ["p_no"]),
        helper.make_node("Concat", ["p_no", "p_yes"], ["probabilities"], axis=1),
    ]
    initializers = [
        numpy_helper.from_array(weights, "weights"),
        numpy_helper.from_array(bias, "bias"),
        numpy_helper.from_array(np.array([[1.0]], np.float32), "one"),
    ]
    return make_model("logistic regression", nodes, initializers, n_features)


def gradient_boosting_onnx(model: HistGradientBoostingClassifier, n_features: int):
    """sklearn's fitted trees as one ai.onnx.ml TreeEnsembleClassifier.

    This is the binary layout onnxruntime and tract both read the same way: one vote per
    leaf (the log-odds, learning rate already applied) under class id 0, LOGISTIC post
    transform, probabilities [1 - sigmoid(s), sigmoid(s)]. sklearn's baseline is folded
    into the leaves of the first tree instead of `base_values`, whose length the two
    runtimes disagree on for this layout.
    """
    baseline = float(np.ravel(model._baseline_prediction)[0])
    attrs = {k: [] for k in (
        "nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
        "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
        "class_treeids", "class_nodeids", "class_ids", "class_weights",
    )}
    for tree_id, (predictor,) in enumerate(model._predictors):
        for node_id, node in enumerate(predictor.nodes):
            attrs["nodes_treeids"].append(tree_id)
            attrs["nodes_nodeids"].append(node_id)
            if node["is_leaf"]:
                attrs["nodes_featureids"].append(0)
                attrs["nodes_values"].append(0.0)
                attrs["nodes_modes"].append("LEAF")
                attrs["nodes_truenodeids"].append(0)
                attrs["nodes_falsenodeids"].append(0)
                attrs["nodes_missing_value_tracks_true"].append(0)
                attrs["class_treeids"].append(tree_id)
                attrs["class_nodeids"].append(node_id)
                attrs["class_ids"].append(0)
                attrs["class_weights"].append(float(node["value"]) + (baseline if tree_id == 0 else 0.0))
            else:
                assert not node["is_categorical"], "categories are one-hot encoded"
                attrs["nodes_featureids"].append(int(node["feature_idx"]))
                attrs["nodes_values"].append(float(node["num_threshold"]))
                attrs["nodes_modes"].append("BRANCH_LEQ")
                attrs["nodes_truenodeids"].append(int(node["left"]))
                attrs["nodes_falsenodeids"].append(int(node["right"]))
                attrs["nodes_missing_value_tracks_true"].append(int(node["missing_go_to_left"]))
    # onnxruntime reads all-positive votes as probabilities, not log-odds.
    assert min(attrs["class_weights"]) < 0, "log-odds votes expected"
    nodes = [
        helper.make_node(
            "TreeEnsembleClassifier",
            ["features"],
            ["label", "probabilities"],
            domain="ai.onnx.ml",
            classlabels_int64s=[0, 1],
            post_transform="LOGISTIC",
            **attrs,
        )
    ]
    return make_model("gradient-boosted trees", nodes, [], n_features)


def make_model(doc: str, nodes, initializers, n_features: int) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        f"{MODEL_NAME} ({doc})",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n_features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2])],
        initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 3)],
        producer_name="wasml guest/training/train.py",
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def onnx_probabilities(model_bytes: bytes, features: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
    return session.run(["probabilities"], {"features": features})[0]


def evaluate(y_true: np.ndarray, p_yes: np.ndarray) -> dict:
    predicted = (p_yes >= 0.5).astype(int)
    tn, fp, fn, tp = confusion_matrix(y_true, predicted).ravel()
    return {
        "accuracy": accuracy_score(y_true, predicted),
        "precision": precision_score(y_true, predicted, zero_division=0),
        "recall": recall_score(y_true, predicted),
        "f1_score": f1_score(y_true, predicted),
        "roc_auc": roc_auc_score(y_true, p_yes),
        "log_loss": log_loss(y_true, p_yes),
        "majority_class_accuracy": float(max(np.mean(y_true), 1 - np.mean(y_true))),
        "decision_threshold": 0.5,
        "confusion_matrix": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
        "test_rows": int(len(y_true)),
    }


def conformance_inputs(schema: list[dict], count: int, seed: int) -> list[dict]:
    """Inputs drawn from the schema alone: every edge value and category, then random rows."""
    rng = random.Random(seed)
    rows = []

    def random_row() -> dict:
        row = {}
        for field in schema:
            kind = field["kind"]
            if "number" in kind:
                low, high = kind["number"]["min"], kind["number"]["max"]
                # Half uniform over the range, half log-uniform to cover the dense low end.
                if rng.random() < 0.5:
                    row[field["name"]] = rng.randint(low, high)
                else:
                    row[field["name"]] = min(high, max(low, round(low + (high - low + 1) ** rng.random() - 1)))
            else:
                row[field["name"]] = rng.choice(kind["category"]["values"])
        return row

    for field in schema:
        kind = field["kind"]
        edges = (
            [kind["number"]["min"], kind["number"]["max"]]
            if "number" in kind
            else kind["category"]["values"]
        )
        for value in edges:
            row = random_row()
            row[field["name"]] = value
            rows.append(row)
    while len(rows) < count:
        rows.append(random_row())
    return rows


FIGURES_START = "<!-- model-figures:start (written by guest/training/train.py) -->"
FIGURES_END = "<!-- model-figures:end -->"


def figures_table(cards: list[dict]) -> str:
    """The README's figures table; `guest/predictor/tests/readme_figures.rs` checks it."""
    lines = [
        "| version | model | accuracy | precision | recall | F1 | ROC AUC | log loss "
        "| accuracy, 10 splits | ROC AUC, 10 splits |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for card in cards:
        e, r = card["evaluation"], card["evaluation"]["repeated_splits"]
        lines.append(
            f"| {card['version']} | {card['model_type']} | {e['accuracy']:.4f} | {e['precision']:.4f} "
            f"| {e['recall']:.4f} | {e['f1_score']:.4f} | {e['roc_auc']:.4f} | {e['log_loss']:.4f} "
            f"| {r['accuracy_mean']:.4f} ± {r['accuracy_std']:.4f} "
            f"| {r['roc_auc_mean']:.4f} ± {r['roc_auc_std']:.4f} |"
        )
    majority = cards[0]["evaluation"]["majority_class_accuracy"]
    rows = cards[0]["evaluation"]["test_rows"]
    lines.append("")
    lines.append(
        f"Held-out split: {rows} rows (stratified 20 %, seed {SEED}); always answering \"no\" "
        f"scores accuracy {majority:.4f} there. \"10 splits\": mean ± std over stratified splits "
        "with seeds 0..9."
    )
    return "\n".join(lines)


def update_readme(readme: Path, cards: list[dict]) -> None:
    text = readme.read_text()
    start, end = text.index(FIGURES_START), text.index(FIGURES_END)
    readme.write_text(text[: start + len(FIGURES_START)] + "\n" + figures_table(cards) + "\n" + text[end:])


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", type=Path, help="bank-full style CSV (semicolon separated)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "models" / MODEL_NAME)
    parser.add_argument("--conformance-rows", type=int, default=300)
    parser.add_argument("--readme", default=str(Path(__file__).resolve().parents[2] / "README.md"),
                        help="README whose model-figures block is rewritten ('' to skip)")
    args = parser.parse_args()

    frame = pd.read_csv(args.csv, sep=";")
    data_sha = sha256(args.csv.read_bytes())
    y = (frame[TARGET] == "yes").astype(int).to_numpy()
    train, test, y_train, y_test = train_test_split(
        frame, y, test_size=TEST_SIZE, stratify=y, random_state=SEED
    )
    schema = build_schema(train)
    names = feature_names(schema)
    x_train, x_test = encode(schema, train), encode(schema, test)

    logistic = fit_logistic(x_train, y_train)
    # Chosen on a validation split carved out of the training rows, never on the test rows.
    trees_params = dict(
        max_iter=300, learning_rate=0.05, max_depth=3, early_stopping=False, random_state=SEED,
    )
    trees = HistGradientBoostingClassifier(**trees_params).fit(x_train, y_train)

    versions = [
        ("v1", "1.0.0", "logistic-regression", logistic.onnx(len(names)),
         {"C": 1.0, "standardisation": "folded into the weights"}, logistic.predict_proba,
         lambda x, y: fit_logistic(x, y).predict_proba),
        ("v2", "2.0.0", "gradient-boosted-trees", gradient_boosting_onnx(trees, len(names)),
         {**trees_params, "trees": len(trees._predictors)}, trees.predict_proba,
         lambda x, y: HistGradientBoostingClassifier(**trees_params).fit(x, y).predict_proba),
    ]
    drift_reference = reference_distribution(schema, train)
    conformance = conformance_inputs(schema, args.conformance_rows, SEED)
    conformance_x = encode(schema, pd.DataFrame(conformance))

    cards = []
    for directory, version, model_type, model, params, sklearn_proba, refit in versions:
        model_bytes = model.SerializeToString()
        probabilities = onnx_probabilities(model_bytes, x_test)
        # The ONNX graph must be the fitted model, not an approximation of it.
        drift = float(np.max(np.abs(probabilities - sklearn_proba(x_test))))
        assert drift < 1e-4, f"{directory}: ONNX differs from sklearn by {drift}"
        figures = evaluate(y_test, probabilities[:, 1])

        out = args.out / directory
        out.mkdir(parents=True, exist_ok=True)
        (out / "model.onnx").write_bytes(model_bytes)
        card = {
            "name": MODEL_NAME,
            "version": version,
            "model_type": model_type,
            "description": "Predicts whether a client subscribes a term deposit after a "
                           "direct-marketing phone call.",
            "labels": LABELS,
            "inputs": schema,
            "encoding": {"input": "features", "output": "probabilities", "features": names},
            "evaluation": {
                **{k: (round(v, 6) if isinstance(v, float) else v) for k, v in figures.items()},
                "repeated_splits": repeated_splits(frame, y, refit),
            },
            "training": {
                "data": DATA_SOURCE,
                "citation": CITATION,
                "data_sha256": data_sha,
                "rows": int(len(frame)),
                "split": f"stratified {int((1 - TEST_SIZE) * 100)}/{int(TEST_SIZE * 100)}, seed {SEED}",
                "train_rows": int(len(train)),
                "positive_rate": round(float(y.mean()), 6),
                "parameters": params,
                "onnx_vs_sklearn_max_abs_diff": drift,
                "library": f"scikit-learn {sklearn.__version__}, onnx {onnx.__version__}, "
                           f"onnxruntime {ort.__version__}, python {platform.python_version()}",
            },
            "onnx": {"file": "model.onnx", "sha256": sha256(model_bytes), "bytes": len(model_bytes)},
            "monitoring": {"reference": drift_reference},
        }
        (out / "card.json").write_text(json.dumps(card, indent=2) + "\n")
        cards.append(card)
        reference = onnx_probabilities(model_bytes, conformance_x)
        cases = [
            {"input": row, "probabilities": [float(p) for p in probs]}
            for row, probs in zip(conformance, reference)
        ]
        (out / "conformance.json").write_text(json.dumps({
            "model": MODEL_NAME, "version": version, "onnx_sha256": card["onnx"]["sha256"],
            "reference": f"onnxruntime {ort.__version__}", "tolerance": 1e-5, "cases": cases,
        }, indent=1) + "\n")
        print(f"{directory} {model_type}: " + ", ".join(
            f"{k}={figures[k]:.4f}" for k in ("accuracy", "precision", "recall", "f1_score", "roc_auc")
        ) + f"; over 10 splits: {card['evaluation']['repeated_splits']}")

    if args.readme:
        update_readme(Path(args.readme), cards)


if __name__ == "__main__":
    main()
