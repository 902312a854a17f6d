#!/usr/bin/env bash
# Builds the release archive wasml-<version>-<target>.tar.gz — wasml-host (the bundled
# model inside), wasml-collector and wasml, stripped; LICENSE; THIRD-PARTY-LICENSES.txt
# (every crate compiled into them, with its licence files); README.md; an example
# environment file for each server — and SHA256SUMS beside it, in <out-dir> (default
# target/dist).
#
#   dist/dist.sh [out-dir]        (or `just dist`)
#
# WASML_DIST_BIN_DIR: take the binaries from there instead of building them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$root/target/dist}" && cd "${1:-$root/target/dist}" && pwd)
cd "$root"
bins=${WASML_DIST_BIN_DIR:-}
if [ -z "$bins" ]; then
    cargo build --release --locked -p wasml-host -p wasml-collector -p wasml-cli
    bins=${CARGO_TARGET_DIR:-$root/target}/release
fi
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
triple=$(rustc -vV | sed -n 's/^host: //p')
name=wasml-$version-$triple
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
for binary in wasml-host wasml-collector wasml; do
    strip -o "$stage/$name/$binary" "$bins/$binary"
done
cp LICENSE "$stage/$name/LICENSE"
python3 "$root/dist/third_party_licenses.py" > "$stage/$name/THIRD-PARTY-LICENSES.txt"
cp README.md "$stage/$name/README.md"
cp dist/wasml-host.env.example dist/wasml-collector.env.example "$stage/$name/"
tar -C "$stage" --owner=0 --group=0 --sort=name -czf "$out/$name.tar.gz" "$name"
(cd "$out" && sha256sum "$name.tar.gz" > SHA256SUMS)
echo "$out/$name.tar.gz"
