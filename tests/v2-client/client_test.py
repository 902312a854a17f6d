"""Calls a running wasml host exactly as a Triton or KServe user would, with Triton's own
HTTP client (tritonclient[http]), and prints what it got as JSON for the Rust test that
started the host (host/tests/open_inference_client.rs) to hold against POST /predict.

Usage: client_test.py HOST:PORT ROWS_JSON
"""

import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

MODEL = "bank-marketing"


def tensors(metadata, rows):
    """One InferInput per model input, built from the model's metadata."""
    inputs = []
    for spec in metadata["inputs"]:
        values = [row[spec["name"]] for row in rows]
        dtype = {"BYTES": object, "INT64": np.int64, "FP64": np.float64}[spec["datatype"]]
        array = np.array(values, dtype=dtype)
        tensor = httpclient.InferInput(spec["name"], list(array.shape), spec["datatype"])
        tensor.set_data_from_numpy(array, binary_data=False)
        inputs.append(tensor)
    return inputs


def main():
    url, rows = sys.argv[1], json.loads(sys.argv[2])
    client = httpclient.InferenceServerClient(url=url)
    report = {
        "server_live": client.is_server_live(),
        "server_ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(MODEL),
        "unknown_model_ready": client.is_model_ready("no-such-model"),
        "server_name": client.get_server_metadata()["name"],
    }
    metadata = client.get_model_metadata(MODEL)
    report["versions"] = metadata["versions"]
    outputs = [
        httpclient.InferRequestedOutput(name, binary_data=False)
        for name in ("label", "probabilities")
    ]
    result = client.infer(MODEL, tensors(metadata, rows), outputs=outputs, request_id="7")
    response = result.get_response()
    report["id"] = response["id"]
    report["model_version"] = response["model_version"]
    report["labels"] = [str(label) for label in result.as_numpy("label").tolist()]
    report["probabilities"] = result.as_numpy("probabilities").tolist()

    # A bad row, as the client reports it.
    bad = [dict(rows[0], age=250)]
    try:
        client.infer(MODEL, tensors(metadata, bad))
        report["bad_row"] = "accepted"
    except InferenceServerException as error:
        report["bad_row"] = {"status": error.status(), "message": error.message()}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
