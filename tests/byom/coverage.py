"""The ONNX coverage matrix (tests/e2e/tests/it/onnx_coverage.rs): for each estimator and
pipeline users commonly export, trains it on a data set that ships with scikit-learn,
exports it as its exporter would (skl2onnx, or onnxmltools for LightGBM and XGBoost; a
classifier with probabilities both with its ZipMap and without), and computes
onnxruntime's outputs on at least 200 rows as the reference.

    python coverage.py OUT_DIR [CASE ...]

writes OUT_DIR/<case>.onnx and OUT_DIR/<case>.conformance.json as models.py does, and
OUT_DIR/coverage.json: per case its estimator, exporter, the ops in its graph, how to
package it, and, for a case wasml is known not to run, the reason (`gap`). Given case
names, only those (the per-row bench, runtime/benches/exports.rs, takes a few).
"""

import hashlib
import json
import sys
import warnings
from pathlib import Path

import lightgbm
import numpy as np
import onnxmltools
import onnxruntime as ort
import skl2onnx
import xgboost
from onnxmltools.convert.common.data_types import FloatTensorType as ToolsFloatTensorType
from skl2onnx.common.data_types import FloatTensorType
from sklearn.base import is_classifier
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC
from sklearn.tree import DecisionTreeClassifier

from models import SEED, describe, final_step, fit_tensor, inputs, leave_out, mixed_model, names, reference

ROWS = 240

# Cases wasml is known not to run, and why: the test reports them as gaps, and fails on any
# other case that does not run (or on a listed one that does).
GAPS = {
    "linear_svc": "LinearSVC has no probabilities: its LinearClassifier scores decision margins, "
    "and wasml answers with a probability per label, so `wasml package` refuses it "
    "(calibrated_linear_svc, below, is the way to serve it)",
}
OPSETS = {"": 15, "ai.onnx.ml": 3}


def exported(estimator, columns, zipmap):
    """The fitted estimator as its exporter writes it, and that exporter's name."""
    final = final_step(estimator)
    if isinstance(final, lightgbm.LGBMModel):
        types = [("X", ToolsFloatTensorType([None, columns]))]
        options = {"zipmap": zipmap} if hasattr(final, "predict_proba") else {}
        onnx = onnxmltools.convert_lightgbm(estimator, initial_types=types, target_opset=15, **options)
        return onnx, f"onnxmltools {onnxmltools.__version__}"
    if isinstance(final, xgboost.XGBModel):
        types = [("X", ToolsFloatTensorType([None, columns]))]
        onnx = onnxmltools.convert_xgboost(estimator, initial_types=types, target_opset=15)
        return onnx, f"onnxmltools {onnxmltools.__version__}"
    if hasattr(final, "predict_proba"):
        options = {id(final): {"zipmap": zipmap}}
    else:
        # Without options skl2onnx 1.20 asks a pipeline's LinearSVC for a zipmap option
        # it does not have.
        options = {id(final): {"raw_scores": False}} if is_classifier(final) else None
    onnx = skl2onnx.to_onnx(
        estimator,
        initial_types=[("X", FloatTensorType([None, columns]))],
        options=options,
        target_opset=OPSETS,
    )
    return onnx, f"skl2onnx {skl2onnx.__version__}"


def tensor_case(estimator, data, zipmap, missing):
    """The estimator on one [N, k] float tensor (models.fit_tensor), and ROWS rows to
    compare on: the held-out ones, then random ones (with `missing` of the values left out)."""
    x_train, x_test = fit_tensor(estimator, data, missing)
    onnx, exporter = exported(estimator, x_train.shape[1], zipmap)
    rng = np.random.default_rng(SEED)
    rows = leave_out(inputs(x_train, x_test, rng, ROWS - len(x_test)), missing, rng)
    return onnx, exporter, rows, names(data.feature_names), "tensor"


def column_case(estimator, data, zipmap, missing):
    """A string column one-hot encoded next to scaled numbers (models.mixed_model), and
    ROWS rows to compare on."""
    onnx, x_train, x_test, columns, layout = mixed_model(estimator, data, "mixed", missing, zipmap=zipmap)
    rows = inputs(x_train, x_test, np.random.default_rng(SEED), ROWS - len(x_test))
    return onnx, f"skl2onnx {skl2onnx.__version__}", rows, columns, layout


def logistic():
    return LogisticRegression(max_iter=5000)


def classifiers():
    """(name, estimator, data set) for each classifier of the matrix."""
    wine, cancer = load_wine(), load_breast_cancer()
    scaled = lambda model: make_pipeline(StandardScaler(), model)  # noqa: E731
    return [
        ("logistic_binary", scaled(logistic()), cancer),
        ("logistic_multinomial", logistic(), wine),
        ("linear_svc", scaled(LinearSVC(random_state=SEED)), wine),
        ("calibrated_linear_svc", scaled(CalibratedClassifierCV(LinearSVC(random_state=SEED))), wine),
        ("svc_rbf", scaled(SVC(probability=True, random_state=SEED)), wine),
        ("svc_rbf_binary", scaled(SVC(probability=True, random_state=SEED)), cancer),
        ("svc_linear", scaled(SVC(kernel="linear", probability=True, random_state=SEED)), wine),
        ("decision_tree", DecisionTreeClassifier(max_depth=6, random_state=SEED), wine),
        ("random_forest", RandomForestClassifier(n_estimators=30, random_state=SEED), wine),
        ("extra_trees", ExtraTreesClassifier(n_estimators=30, random_state=SEED), wine),
        ("gradient_boosting", GradientBoostingClassifier(n_estimators=30, random_state=SEED), wine),
        ("gradient_boosting_binary", GradientBoostingClassifier(n_estimators=30, random_state=SEED), cancer),
        ("hist_gradient_boosting", HistGradientBoostingClassifier(max_iter=30, random_state=SEED), wine),
        ("hist_gradient_boosting_binary", HistGradientBoostingClassifier(max_iter=30, random_state=SEED), cancer),
        ("k_neighbors", scaled(KNeighborsClassifier()), wine),
        ("mlp", scaled(MLPClassifier(max_iter=2000, random_state=SEED)), wine),
        ("gaussian_nb", GaussianNB(), wine),
        ("lightgbm", lightgbm.LGBMClassifier(n_estimators=30, verbose=-1, random_state=SEED), wine),
        ("lightgbm_binary", lightgbm.LGBMClassifier(n_estimators=30, verbose=-1, random_state=SEED), cancer),
        # 100 rounds of 3 classes: the 300 trees of the bundled model's size.
        ("lightgbm_300_trees", lightgbm.LGBMClassifier(n_estimators=100, verbose=-1, random_state=SEED), wine),
        ("xgboost", xgboost.XGBClassifier(n_estimators=30, random_state=SEED), wine),
        ("xgboost_binary", xgboost.XGBClassifier(n_estimators=30, random_state=SEED), cancer),
    ]


def regressors():
    """(name, estimator, data set) for each regressor of the matrix."""
    diabetes = load_diabetes()
    return [
        ("linear_regression", LinearRegression(), diabetes),
        ("ridge", Ridge(), diabetes),
        ("random_forest_regressor", RandomForestRegressor(n_estimators=30, max_depth=8, random_state=SEED), diabetes),
        ("gradient_boosting_regressor", GradientBoostingRegressor(n_estimators=30, random_state=SEED), diabetes),
        ("hist_gradient_boosting_regressor", HistGradientBoostingRegressor(max_iter=30, random_state=SEED), diabetes),
        ("svr", make_pipeline(StandardScaler(), SVR()), diabetes),
        ("k_neighbors_regressor", make_pipeline(StandardScaler(), KNeighborsRegressor()), diabetes),
        ("mlp_regressor", make_pipeline(StandardScaler(), MLPRegressor(max_iter=2000, random_state=SEED)), diabetes),
        ("lightgbm_regressor", lightgbm.LGBMRegressor(n_estimators=30, verbose=-1, random_state=SEED), diabetes),
        ("xgboost_regressor", xgboost.XGBRegressor(n_estimators=30, random_state=SEED), diabetes),
        ("xgboost_regressor_300_trees", xgboost.XGBRegressor(n_estimators=300, random_state=SEED), diabetes),
    ]


def pipelines():
    """(name, estimator, data set, build, share of values left out) for the pipelines."""
    wine, diabetes, iris = load_wine(), load_diabetes(), load_iris()
    return [
        ("standard_scaler_logistic", make_pipeline(StandardScaler(), logistic()), wine, tensor_case, 0.0),
        ("min_max_scaler_ridge", make_pipeline(MinMaxScaler(), Ridge()), diabetes, tensor_case, 0.0),
        ("robust_scaler_logistic", make_pipeline(RobustScaler(), logistic()), wine, tensor_case, 0.0),
        ("simple_imputer_logistic", make_pipeline(SimpleImputer(), StandardScaler(), logistic()), wine, tensor_case, 0.15),
        ("column_transformer_logistic", logistic(), iris, column_case, 0.0),
    ]


def cases():
    """Every case: (name, estimator, data, build, missing, zipmap)."""
    for name, estimator, data in classifiers():
        yield name, estimator, data, tensor_case, 0.0, False
        if hasattr(final_step(estimator), "predict_proba") and not isinstance(
            final_step(estimator), xgboost.XGBModel
        ):
            yield f"{name}_zipmap", estimator, data, tensor_case, 0.0, True
    for name, estimator, data in regressors():
        yield name, estimator, data, tensor_case, 0.0, False
    for name, estimator, data, build, missing in pipelines():
        yield name, estimator, data, build, missing, False


def main(out, only):
    out.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore")  # convergence and skl2onnx's deprecation notes
    described = []
    for name, estimator, data, build, missing, zipmap in cases():
        if only and name not in only:
            continue
        task = "classification" if is_classifier(final_step(estimator)) else "regression"
        onnx, exporter, rows, columns, layout = build(estimator, data, zipmap, missing)
        path = out / f"{name}.onnx"
        path.write_bytes(onnx.SerializeToString())
        conformance = {
            "model": name,
            "version": "1.0.0",
            "onnx_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "reference": f"onnxruntime {ort.__version__}",
            "tolerance": 1e-5 if task == "classification" else 1e-4,
            "cases": reference(path, rows, columns, layout, task),
        }
        (out / f"{name}.conformance.json").write_text(json.dumps(conformance))
        described.append({
            "name": name,
            "task": task,
            "estimator": describe(estimator) + (" (ZipMap)" if zipmap else ""),
            "exporter": exporter,
            "ops": sorted({node.op_type for node in onnx.graph.node}),
            "layout": layout,
            "feature_names": columns if layout == "tensor" else None,
            "rows": len(rows),
            "gap": GAPS.get(name),
        })
    (out / "coverage.json").write_text(json.dumps(described, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]), set(sys.argv[2:]))
