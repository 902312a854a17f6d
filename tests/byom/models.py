"""Trains the "bring your own model" test models and writes, per model, what a user has:
an ONNX file exported by skl2onnx, plus the reference a test compares the served model
with: generated inputs and onnxruntime's outputs for them, as a conformance set.

Nothing here is hand-tuned: the data sets ship with scikit-learn (no download), the
estimators keep their defaults where they converge, and the inputs are held-out rows and
random rows spread over each feature's training range.

    python models.py OUT_DIR

writes OUT_DIR/<model>.onnx, OUT_DIR/<model>.conformance.json and OUT_DIR/models.json
(what each model is and how to package it). A model meant to be refused (an operator mode
wasml cannot run) has no conformance set. For `wine`, also its training rows as a CSV
(what `wasml package --reference-data` reads) and their distribution as numpy computes
it (OUT_DIR/wine.train.csv, OUT_DIR/wine.reference.json), for drift.

Besides plain estimators, pipelines whose preprocessing skl2onnx exports as ONNX-ML
operators tract 0.23.9 does not load and wasml adds (guest/predictor/src/onnx_ml):
scalers (`Scaler`), `Binarizer`, `SimpleImputer` (`Imputer`), whose inputs leave values
out: absent fields are NaN for onnxruntime, and absent optional fields for wasml; tree
regressors (`TreeEnsembleRegressor`); a classifier exported with its `ZipMap`; and a
string column one-hot (`OneHotEncoder`) or ordinal (`LabelEncoder`) encoded in the
graph next to scaled numbers.
"""

import hashlib
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import skl2onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris, load_wine
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Binarizer, MinMaxScaler, OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.svm import SVC

SEED = 7
VERSION = "1.0.0"
RANDOM_ROWS = 100


def names(columns):
    """Feature names as request fields: letters, digits and underscores."""
    return ["".join(c if c.isalnum() else "_" for c in name) for name in columns]


def final_step(estimator):
    """The estimator itself, or a pipeline's last step."""
    return estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator


def describe(estimator):
    """`LogisticRegression`, or a pipeline's steps: `StandardScaler + LogisticRegression`."""
    steps = [s for _, s in estimator.steps] if hasattr(estimator, "steps") else [estimator]
    return " + ".join(type(s).__name__ for s in steps)


def tensor_model(estimator, data, name, missing=0.0, zipmap=False):
    """An estimator on one [N, k] float tensor `X`; the card needs --feature-names. With
    `missing`, that share of the training values is left out (NaN) first; with `zipmap`,
    a classifier keeps skl2onnx's default ZipMap (probabilities as one map per row)."""
    x_train, x_test = fit_tensor(estimator, data, missing)
    final = final_step(estimator)
    onnx = skl2onnx.to_onnx(
        estimator,
        initial_types=[("X", FloatTensorType([None, x_train.shape[1]]))],
        options={id(final): {"zipmap": zipmap}} if hasattr(final, "predict_proba") else None,
        target_opset={"": 15, "ai.onnx.ml": 3},
    )
    return onnx, x_train, x_test, names(data.feature_names), "tensor"


def fit_tensor(estimator, data, missing=0.0):
    """Trains `estimator` on 75 % of `data` as one float tensor (with `missing` of its
    values left out); the training and held-out rows."""
    x_train, x_test, y_train, _ = train_test_split(
        data.data.astype(np.float32), data.target, test_size=0.25, random_state=SEED
    )
    estimator.fit(leave_out(x_train, missing, np.random.default_rng(SEED)), y_train)
    return x_train, x_test


def leave_out(rows, share, rng):
    """`rows` with `share` of the values replaced by NaN."""
    if share == 0.0:
        return rows
    rows = rows.copy()
    rows[rng.random(rows.shape) < share] = np.nan
    return rows


def zipmap_model(estimator, data, name, missing=0.0):
    """`tensor_model` as skl2onnx exports a classifier by default, ZipMap included."""
    return tensor_model(estimator, data, name, missing, zipmap=True)


def column_model(estimator, data, name, missing=0.0):
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


def mixed_model(estimator, data, name, missing=0.0, encoder=OneHotEncoder, zipmap=False):
    """A string column and numbers behind a ColumnTransformer (`encoder` on the string,
    StandardScaler on the numbers), one [N, 1] input per column as skl2onnx exports it: iris
    with its petal length as a size category."""
    x = data.data.astype(np.float32)
    size = np.where(x[:, 2] < 2.5, "small", np.where(x[:, 2] < 5.0, "medium", "large"))
    rows = np.empty((len(x), 3), dtype=object)
    rows[:, 0], rows[:, 1], rows[:, 2] = size, x[:, 0], x[:, 1]
    x_train, x_test, y_train, _ = train_test_split(rows, data.target, test_size=0.25, random_state=SEED)
    pipeline = make_pipeline(
        ColumnTransformer([("size", encoder(), [0]), ("numbers", StandardScaler(), [1, 2])]),
        estimator,
    )
    pipeline.fit(x_train, y_train)
    columns = ["petal_size", "sepal_length", "sepal_width"]
    onnx = skl2onnx.to_onnx(
        pipeline,
        initial_types=[(columns[0], StringTensorType([None, 1]))]
        + [(c, FloatTensorType([None, 1])) for c in columns[1:]],
        options={id(estimator): {"zipmap": zipmap}},
        target_opset={"": 15, "ai.onnx.ml": 3},
    )
    return onnx, x_train, x_test, columns, "columns"


def ordinal_model(estimator, data, name, missing=0.0):
    """`mixed_model` with an OrdinalEncoder, which skl2onnx exports as a LabelEncoder."""
    return mixed_model(estimator, data, name, missing, encoder=OrdinalEncoder)


def inputs(x_train, x_test, rng, random_rows=RANDOM_ROWS):
    """Held-out rows, then `random_rows` random ones: numbers within each feature's
    training range, categories among the training ones."""
    if x_train.dtype != object:
        low, high = x_train.min(axis=0), x_train.max(axis=0)
        random = rng.uniform(low, high, size=(random_rows, x_train.shape[1])).astype(np.float32)
        return np.vstack([x_test, random]).astype(np.float32)
    random = np.empty((random_rows, x_train.shape[1]), dtype=object)
    for j in range(x_train.shape[1]):
        column = x_train[:, j]
        if isinstance(column[0], str):
            random[:, j] = rng.choice(sorted(set(column)), size=random_rows)
        else:
            random[:, j] = rng.uniform(column.min(), column.max(), size=random_rows).astype(np.float32)
    return np.vstack([x_test, random])


def column_feed(column):
    """One [N, 1] column for onnxruntime: strings as they are, numbers as float32."""
    return column if isinstance(column[0, 0], str) else column.astype(np.float32)


def field(value):
    """A value as a request field: a category's string, or a number."""
    return value if isinstance(value, str) else float(value)


def missing_value(value):
    return not isinstance(value, str) and np.isnan(value)


def training_distribution(x_train, columns, bins=10):
    """Each column's decile edges (numpy's default linear interpolation, repeated edges
    merged) and share of rows per bin (a value falls in the first bin whose edge is >= it),
    as guest/training/train.py records a card's reference distribution."""
    inputs = {}
    for i, column in enumerate(columns):
        values = x_train[:, i]
        edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
        counts = np.bincount(np.searchsorted(edges, values, side="left"), minlength=len(edges) + 1)
        inputs[column] = {"edges": [float(e) for e in edges], "shares": [float(c) / len(values) for c in counts]}
    return {"rows": int(len(x_train)), "inputs": inputs}


def write_training_rows(out, name, x_train, columns):
    """`name`.train.csv (the rows, as float64 text) and `name`.reference.json."""
    x_train = x_train.astype(np.float64)
    lines = [",".join(columns)] + [",".join(repr(float(v)) for v in row) for row in x_train]
    (out / f"{name}.train.csv").write_text("\n".join(lines) + "\n")
    (out / f"{name}.reference.json").write_text(json.dumps(training_distribution(x_train, columns)))


def reference(path, rows, columns, layout, task):
    """onnxruntime's outputs for `rows`, as the conformance set's cases."""
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    if layout == "tensor":
        feeds = {"X": rows}
    else:
        feeds = {c: column_feed(rows[:, [i]]) for i, c in enumerate(columns)}
    outputs = {o.name: v for o, v in zip(session.get_outputs(), session.run(None, feeds))}
    cases = []
    for i, row in enumerate(rows):
        # A NaN is a value left out: an absent field.
        case = {"input": {c: field(v) for c, v in zip(columns, row) if not missing_value(v)}}
        if task == "classification":
            row = outputs.get("probabilities", outputs.get("output_probability"))[i]
            # With a ZipMap: one {label: probability} per row, in the classifier's label order.
            row = row.values() if isinstance(row, dict) else row
            case["probabilities"] = [float(p) for p in row]
        else:
            # A regressor's one output: skl2onnx names it `variable` (`variable1` behind a
            # scaler that took the name).
            case["value"] = float(np.ravel(next(iter(outputs.values())))[i])
        cases.append(case)
    return cases


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    logistic = lambda: LogisticRegression(max_iter=10000)  # noqa: E731
    # (name, task, layout, estimator, data, share of values left out)
    specs = [
        ("wine", "classification", tensor_model, logistic(), load_wine(), 0.0),
        ("iris", "classification", column_model, RandomForestClassifier(n_estimators=50, random_state=SEED), load_iris(), 0.0),
        ("diabetes", "regression", tensor_model, LinearRegression(), load_diabetes(), 0.0),
        ("wine_scaled", "classification", tensor_model, make_pipeline(StandardScaler(), logistic()), load_wine(), 0.0),
        ("diabetes_minmax", "regression", tensor_model, make_pipeline(MinMaxScaler(), Ridge()), load_diabetes(), 0.0),
        ("iris_binarized", "classification", tensor_model, make_pipeline(Binarizer(threshold=1.5), logistic()), load_iris(), 0.0),
        ("iris_mixed", "classification", mixed_model, logistic(), load_iris(), 0.0),
        ("iris_ordinal", "classification", ordinal_model, logistic(), load_iris(), 0.0),
        ("diabetes_forest", "regression", tensor_model, RandomForestRegressor(n_estimators=30, max_depth=8, random_state=SEED), load_diabetes(), 0.0),
        ("diabetes_boosted", "regression", tensor_model, GradientBoostingRegressor(n_estimators=50, random_state=SEED), load_diabetes(), 0.0),
        ("wine_zipmap", "classification", zipmap_model, logistic(), load_wine(), 0.0),
        ("wine_imputed", "classification", tensor_model, make_pipeline(SimpleImputer(), StandardScaler(), logistic()), load_wine(), 0.15),
    ]
    described = []
    for name, task, build, estimator, data, missing in specs:
        onnx, x_train, x_test, columns, layout = build(estimator, data, name, missing)
        path = out / f"{name}.onnx"
        path.write_bytes(onnx.SerializeToString())
        rows = leave_out(inputs(x_train, x_test, rng), missing, rng)
        conformance = {
            "model": name,
            "version": VERSION,
            "onnx_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "reference": f"onnxruntime {ort.__version__}",
            "tolerance": 1e-5,
            "cases": reference(path, rows, columns, layout, task),
        }
        (out / f"{name}.conformance.json").write_text(json.dumps(conformance))
        if name == "wine":
            write_training_rows(out, name, x_train, columns)
        described.append({
            "name": name,
            "task": task,
            "estimator": describe(estimator),
            "ops": sorted({node.op_type for node in onnx.graph.node}),
            "optional": missing > 0.0,
            "layout": layout,
            "feature_names": columns if layout == "tensor" else None,
            "labels": [str(c) for c in getattr(estimator, "classes_", [])],
        })

    # Refused: an SVC without probability=True on three classes exports as an SVMClassifier
    # that scores pairs of classes rather than classes, which the runner cannot serve.
    data = load_wine()
    warnings.filterwarnings("ignore", category=FutureWarning)  # skl2onnx reads SVC's probA_
    svm = SVC(kernel="linear").fit(data.data.astype(np.float32), data.target)
    onnx = skl2onnx.to_onnx(
        svm,
        initial_types=[("X", FloatTensorType([None, data.data.shape[1]]))],
        options={id(svm): {"zipmap": False}},
        target_opset={"": 15, "ai.onnx.ml": 3},
    )
    (out / "svm.onnx").write_bytes(onnx.SerializeToString())
    (out / "models.json").write_text(json.dumps(described, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
