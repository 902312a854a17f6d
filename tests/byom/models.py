"""Trains the "bring your own model" test models and writes, per model, what a user has:
an ONNX file exported by skl2onnx, plus the reference a test compares the served model
with: generated inputs and onnxruntime's outputs for them, as a conformance set.

Nothing here is hand-tuned: the data sets ship with scikit-learn (no download), the
estimators keep their defaults where they converge, and the inputs are held-out rows and
random rows spread over each feature's training range.

    python models.py OUT_DIR

writes OUT_DIR/<model>.onnx, OUT_DIR/<model>.conformance.json and OUT_DIR/models.json
(what each model is and how to package it). A model meant to be refused (an operator
tract lacks) has no conformance set.
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import skl2onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

SEED = 7
VERSION = "1.0.0"
RANDOM_ROWS = 100


def names(columns):
    """Feature names as request fields: letters, digits and underscores."""
    return ["".join(c if c.isalnum() else "_" for c in name) for name in columns]


def tensor_model(estimator, data, name):
    """An estimator on one [N, k] float tensor `X`; the card needs --feature-names."""
    x_train, x_test, y_train, _ = train_test_split(
        data.data.astype(np.float32), data.target, test_size=0.25, random_state=SEED
    )
    estimator.fit(x_train, y_train)
    onnx = skl2onnx.to_onnx(
        estimator,
        initial_types=[("X", FloatTensorType([None, x_train.shape[1]]))],
        options={id(estimator): {"zipmap": False}} if hasattr(estimator, "predict_proba") else None,
        target_opset={"": 15, "ai.onnx.ml": 3},
    )
    return onnx, x_train, x_test, names(data.feature_names), "tensor"


def column_model(estimator, data, name):
    """An estimator behind a ColumnTransformer with one [N, 1] float input per column, as
    skl2onnx exports a data frame: the card is inferred with no help."""
    columns = names(data.feature_names)
    x_train, x_test, y_train, _ = train_test_split(
        data.data.astype(np.float32), data.target, test_size=0.25, random_state=SEED
    )
    pipeline = make_pipeline(
        ColumnTransformer([("numbers", "passthrough", list(range(len(columns))))]), estimator
    )
    pipeline.fit(x_train, y_train)
    onnx = skl2onnx.to_onnx(
        pipeline,
        initial_types=[(c, FloatTensorType([None, 1])) for c in columns],
        options={id(estimator): {"zipmap": False}},
        target_opset={"": 15, "ai.onnx.ml": 3},
    )
    return onnx, x_train, x_test, columns, "columns"


def inputs(x_train, x_test, rng):
    """Held-out rows, then random rows within each feature's training range."""
    low, high = x_train.min(axis=0), x_train.max(axis=0)
    random = rng.uniform(low, high, size=(RANDOM_ROWS, x_train.shape[1])).astype(np.float32)
    return np.vstack([x_test, random]).astype(np.float32)


def reference(path, rows, columns, layout, task):
    """onnxruntime's outputs for `rows`, as the conformance set's cases."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    if layout == "tensor":
        feeds = {"X": rows}
    else:
        feeds = {c: rows[:, [i]] for i, c in enumerate(columns)}
    outputs = {o.name: v for o, v in zip(session.get_outputs(), session.run(None, feeds))}
    cases = []
    for i, row in enumerate(rows):
        case = {"input": {c: float(v) for c, v in zip(columns, row)}}
        if task == "classification":
            case["probabilities"] = [float(p) for p in outputs["probabilities"][i]]
        else:
            case["value"] = float(np.ravel(outputs["variable"])[i])
        cases.append(case)
    return cases


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    specs = [
        ("wine", "classification", tensor_model, LogisticRegression(max_iter=10000), load_wine()),
        ("iris", "classification", column_model, RandomForestClassifier(n_estimators=50, random_state=SEED), load_iris()),
        ("diabetes", "regression", tensor_model, LinearRegression(), load_diabetes()),
    ]
    described = []
    for name, task, build, estimator, data in specs:
        onnx, x_train, x_test, columns, layout = build(estimator, data, name)
        path = out / f"{name}.onnx"
        path.write_bytes(onnx.SerializeToString())
        rows = inputs(x_train, x_test, rng)
        conformance = {
            "model": name,
            "version": VERSION,
            "onnx_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "reference": f"onnxruntime {ort.__version__}",
            "tolerance": 1e-5,
            "cases": reference(path, rows, columns, layout, task),
        }
        (out / f"{name}.conformance.json").write_text(json.dumps(conformance))
        described.append({
            "name": name,
            "task": task,
            "estimator": type(estimator).__name__,
            "layout": layout,
            "feature_names": columns if layout == "tensor" else None,
            "labels": [str(c) for c in getattr(estimator, "classes_", [])],
        })

    # Refused: StandardScaler exports as ai.onnx.ml Scaler, which tract 0.23.9 lacks.
    scaled = make_pipeline(StandardScaler(), LogisticRegression(max_iter=10000))
    data = load_wine()
    scaled.fit(data.data.astype(np.float32), data.target)
    onnx = skl2onnx.to_onnx(
        scaled,
        initial_types=[("X", FloatTensorType([None, data.data.shape[1]]))],
        options={id(scaled.steps[-1][1]): {"zipmap": False}},
        target_opset={"": 15, "ai.onnx.ml": 3},
    )
    (out / "scaled.onnx").write_bytes(onnx.SerializeToString())
    (out / "models.json").write_text(json.dumps(described, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
