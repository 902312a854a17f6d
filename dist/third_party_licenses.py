"""Prints the licences of every crate compiled into the distributed binaries: the normal
(not dev, not build) dependencies of wasml-host, wasml-collector and wasml, and of the
runner components they embed (wasml-guest in the host, wasml-spin in the CLI), each with
its declared licence and the licence and notice files its package ships. Reads `cargo
metadata` offline, for this host's platform and the runners' (wasm32-wasip2)."""

import json
import pathlib
import subprocess
import sys

ROOTS = ["wasml-host", "wasml-collector", "wasml-cli", "wasml-guest", "wasml-spin"]
LICENCE_FILES = ("LICENSE", "LICENCE", "COPYING", "NOTICE", "COPYRIGHT")


def host_triple() -> str:
    rustc = subprocess.run(["rustc", "-vV"], check=True, capture_output=True, text=True)
    return next(line.split()[1] for line in rustc.stdout.splitlines() if line.startswith("host:"))


def main() -> None:
    # The platforms the binaries and their runners are built for: what is compiled into
    # them (not Windows-only crates such as winapi, which no Linux build even downloads,
    # so reading them offline would fail).
    platforms = [host_triple(), "wasm32-wasip2"]
    filters = [arg for triple in platforms for arg in ("--filter-platform", triple)]
    metadata = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--locked", "--offline", *filters],
            check=True,
            capture_output=True,
        ).stdout
    )
    packages = {p["id"]: p for p in metadata["packages"]}
    nodes = {n["id"]: n for n in metadata["resolve"]["nodes"]}
    by_name = {p["name"]: p["id"] for p in metadata["packages"] if p["source"] is None}
    seen, todo = set(), [by_name[name] for name in ROOTS]
    while todo:
        package = todo.pop()
        if package in seen:
            continue
        seen.add(package)
        for dep in nodes[package]["deps"]:
            if any(kind["kind"] is None for kind in dep["dep_kinds"]):
                todo.append(dep["pkg"])
    out = sys.stdout
    out.write("Third-party software in the wasml binaries, with its licences.\n")
    for package in sorted((packages[i] for i in seen), key=lambda p: (p["name"], p["version"])):
        if package["source"] is None and package["name"].startswith("wasml"):
            continue
        out.write(f"\n{'=' * 78}\n{package['name']} {package['version']}: {package.get('license') or 'see below'}\n")
        directory = pathlib.Path(package["manifest_path"]).parent
        for path in sorted(directory.iterdir()):
            if path.is_file() and path.name.upper().startswith(LICENCE_FILES):
                out.write(f"\n--- {path.name}\n\n{path.read_text(errors='replace')}")


if __name__ == "__main__":
    main()
