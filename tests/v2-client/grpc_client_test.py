"""Calls a running wasml host over gRPC exactly as a Triton or KServe user would, with Triton's
own gRPC client (tritonclient[grpc]), and prints what it got as JSON for the Rust test that
started the host (host/tests/it/open_inference_grpc.rs) to hold against POST /predict and the
model's conformance set.

Inference goes both ways a client can send tensors: `raw_input_contents` (what
`InferenceServerClient.infer` sends) and typed `contents` (built with the client's own
protobuf messages and stub). Then every kind of bad request, with the status code it got.

Usage: grpc_client_test.py HOST:PORT ROWS_JSON
"""

import json
import sys

import grpc
import numpy as np
import tritonclient.grpc as grpcclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

MODEL = "bank-marketing"
DTYPES = {"BYTES": object, "INT64": np.int64, "FP64": np.float64}


def raw_inputs(metadata, rows):
    """One InferInput per model input (the client sends them as raw contents)."""
    inputs = []
    for spec in metadata.inputs:
        array = np.array([row[spec.name] for row in rows], dtype=DTYPES[spec.datatype])
        tensor = grpcclient.InferInput(spec.name, list(array.shape), spec.datatype)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    return inputs


def typed_request(metadata, rows, model=MODEL):
    """The same tensors in typed contents, as a ModelInferRequest message."""
    request = service_pb2.ModelInferRequest(model_name=model, id="typed")
    for spec in metadata.inputs:
        tensor = request.inputs.add(name=spec.name, datatype=spec.datatype, shape=[len(rows)])
        values = [row[spec.name] for row in rows]
        if spec.datatype == "BYTES":
            tensor.contents.bytes_contents.extend(v.encode() for v in values)
        elif spec.datatype == "INT64":
            tensor.contents.int64_contents.extend(values)
        else:
            tensor.contents.fp64_contents.extend(values)
    return request


def typed_outputs(response):
    """Labels and probabilities from a response with typed contents."""
    outputs = {o.name: o for o in response.outputs}
    labels = [b.decode() for b in outputs["label"].contents.bytes_contents]
    width = outputs["probabilities"].shape[1]
    flat = list(outputs["probabilities"].contents.fp64_contents)
    probabilities = [flat[i : i + width] for i in range(0, len(flat), width)]
    return labels, probabilities


def refusal(stub, request):
    """The status code and message a bad request gets."""
    try:
        stub.ModelInfer(request)
        return "accepted"
    except grpc.RpcError as error:
        return {"code": error.code().name, "message": error.details()}


def main():
    url, rows = sys.argv[1], json.loads(sys.argv[2])
    client = grpcclient.InferenceServerClient(url=url)
    report = {
        "server_live": client.is_server_live(),
        "server_ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(MODEL),
        "unknown_model_ready": client.is_model_ready("no-such-model"),
        "server_name": client.get_server_metadata().name,
    }
    metadata = client.get_model_metadata(MODEL)
    report["versions"] = list(metadata.versions)
    report["platform"] = metadata.platform

    outputs = [grpcclient.InferRequestedOutput(name) for name in ("label", "probabilities")]
    result = client.infer(MODEL, raw_inputs(metadata, rows), outputs=outputs, request_id="7")
    response = result.get_response()
    report["raw"] = {
        "id": response.id,
        "model_version": response.model_version,
        "request_id": response.parameters["request_id"].string_param,
        "labels": [label.decode() for label in result.as_numpy("label").tolist()],
        "probabilities": result.as_numpy("probabilities").tolist(),
    }

    channel = grpc.insecure_channel(url)
    stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
    typed = stub.ModelInfer(typed_request(metadata, rows))
    labels, probabilities = typed_outputs(typed)
    report["typed"] = {"id": typed.id, "labels": labels, "probabilities": probabilities}

    # Every kind of bad request.
    bad = {}
    try:
        client.infer(MODEL, raw_inputs(metadata, [dict(rows[0], age=250)]))
        bad["field_value"] = "accepted"
    except InferenceServerException as error:
        bad["field_value"] = {"code": error.status(), "message": error.message()}
    short = typed_request(metadata, rows[:1])
    short.inputs[0].shape[:] = [2]
    bad["shape"] = refusal(stub, short)
    wrong_type = typed_request(metadata, rows[:1])
    wrong_type.inputs[0].datatype = "COMPLEX64"
    bad["datatype"] = refusal(stub, wrong_type)
    bad["unknown_model"] = refusal(stub, typed_request(metadata, rows[:1], model="no-such-model"))
    unknown_version = typed_request(metadata, rows[:1])
    unknown_version.model_version = "9.9.9"
    bad["unknown_version"] = refusal(stub, unknown_version)
    missing = typed_request(metadata, rows[:1])
    del missing.inputs[-1]
    bad["missing_input"] = refusal(stub, missing)
    too_many = typed_request(metadata, rows[:1] * 2000)
    bad["batch_too_large"] = refusal(stub, too_many)
    huge = typed_request(metadata, rows[:1])
    huge.id = "x" * (2 * 1024 * 1024)
    bad["message_too_large"] = refusal(stub, huge)
    report["bad"] = bad
    print(json.dumps(report))


if __name__ == "__main__":
    main()
