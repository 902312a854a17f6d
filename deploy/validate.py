"""Validates every manifest deploy/ renders, offline.

Renders each kustomization with `kubectl kustomize`, then checks every object against its
schema: Kubernetes' built-in kinds with kubernetes-validate (schemas bundled, strict: an
unknown field fails), custom resources (KServe, Prometheus Operator) with the
openAPIV3Schema of their CRDs in deploy/schemas/ (made strict the same way).
Prints one line per object; exits 1 if any fails.

    python deploy/validate.py [kustomization dir ...]
"""

import copy
import gzip
import json
import pathlib
import subprocess
import sys

import jsonschema
import kubernetes_validate
import yaml

DEPLOY = pathlib.Path(__file__).resolve().parent
KUSTOMIZATIONS = ["base", "overlays/fleet", "kserve"]
KUBERNETES_VERSION = "1.33.0"


def strict(schema):
    """The schema with unknown properties refused where the CRD lists the known ones."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def custom_schemas():
    """(apiVersion, kind) -> schema, from deploy/schemas/<group>_<version>_<kind>.json.gz."""
    schemas = {}
    for path in sorted((DEPLOY / "schemas").glob("*.json.gz")):
        group, version, kind = path.name[: -len(".json.gz")].split("_")
        with gzip.open(path) as file:
            schemas[(f"{group}/{version}", kind)] = strict(json.load(file))
    return schemas


def render(directory):
    out = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY / directory)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def check(doc, schemas):
    """None if `doc` is valid, else why not."""
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in schemas:
        errors = sorted(
            jsonschema.Draft7Validator(schemas[key]).iter_errors(doc),
            key=lambda e: list(e.path),
        )
        return "; ".join(
            f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors
        ) or None
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return f"{'.'.join(map(str, error.path))}: {error.message}"
    except kubernetes_validate.utils.SchemaNotFoundError:
        return f"no schema for {key[0]} {key[1]}"
    return None


def main(directories):
    schemas = custom_schemas()
    failed = 0
    for directory in directories:
        for doc in render(directory):
            name = f"{directory}: {doc['kind']}/{doc['metadata']['name']}"
            problem = check(doc, schemas)
            if problem:
                failed += 1
                print(f"INVALID {name}: {problem}")
            else:
                print(f"valid {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or KUSTOMIZATIONS))
