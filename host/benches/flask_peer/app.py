"""The seed's architecture, serving the same model as wasml's bundled v2: the load bench's peer.

gunicorn (2 sync workers) + Flask + onnxruntime + prometheus_client, as the seed ran it:
the JSON row is validated against the model card, one-hot encoded in the card's feature
order, run through onnxruntime, counted in Prometheus metrics and answered as JSON.

    WASML_CARD=guest/models/bank-marketing/v2/card.json \
        gunicorn -w 2 -b 127.0.0.1:5097 --chdir host/benches/flask_peer app:app
"""

import json
import os
import time
import uuid

import numpy as np
import onnxruntime as ort
from flask import Flask, jsonify, request
from prometheus_client import Counter, Histogram, generate_latest

CARD_PATH = os.environ["WASML_CARD"]
with open(CARD_PATH) as f:
    CARD = json.load(f)
SESSION = ort.InferenceSession(
    os.path.join(os.path.dirname(CARD_PATH), CARD["onnx"]["file"]),
    providers=["CPUExecutionProvider"],
)
FEATURES = CARD["encoding"]["features"]
INPUTS = {field["name"]: field for field in CARD["inputs"]}
LABELS = CARD["labels"]

REQUESTS = Counter("http_requests_total", "Requests", ["status"])
LATENCY = Histogram("http_request_duration_seconds", "Latency")
PREDICTIONS = Counter("ml_predictions_total", "Predictions", ["label"])

app = Flask(__name__)


def encode(row):
    """The card's encoding: numbers as they are, categories one-hot; errors name the field."""
    errors = []
    for name, field in INPUTS.items():
        value = row.get(name)
        if value is None:
            errors.append(f"{name}: missing")
        elif "number" in field["kind"]:
            spec = field["kind"]["number"]
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                errors.append(f"{name}: not a number")
            elif not spec["min"] <= value <= spec["max"]:
                errors.append(f"{name}: out of range")
        elif value not in field["kind"]["category"]["values"]:
            errors.append(f"{name}: unknown category")
    if errors:
        return None, errors
    vector = np.zeros((1, len(FEATURES)), dtype=np.float32)
    for i, feature in enumerate(FEATURES):
        name, _, category = feature.partition("=")
        if category:
            vector[0, i] = 1.0 if row[name] == category else 0.0
        else:
            vector[0, i] = float(row[name])
    return vector, []


@app.post("/predict")
def predict():
    started = time.perf_counter()
    row = request.get_json(silent=True)
    if not isinstance(row, dict):
        REQUESTS.labels("400").inc()
        return jsonify(error="malformed JSON"), 400
    vector, errors = encode(row)
    if errors:
        REQUESTS.labels("422").inc()
        return jsonify(error="invalid input", fields=errors), 422
    (probabilities,) = SESSION.run(None, {CARD["encoding"]["input"]: vector})
    best = int(np.argmax(probabilities[0]))
    PREDICTIONS.labels(LABELS[best]).inc()
    REQUESTS.labels("200").inc()
    LATENCY.observe(time.perf_counter() - started)
    return jsonify(
        prediction=LABELS[best],
        probability=float(probabilities[0][best]),
        model={"name": CARD["name"], "version": CARD["version"]},
        request_id=uuid.uuid4().hex,
    )


@app.get("/metrics")
def metrics():
    return generate_latest(), 200, {"Content-Type": "text/plain; version=0.0.4"}
