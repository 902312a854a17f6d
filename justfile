# Everyday recipes. `just --list` shows them; each is a plain command you can also type.

# Python used to create the training virtualenv.
python := "python3"

# The whole test suite (the README's test command).
test:
    cargo test --release

# fmt + clippy, as they must stay clean.
lint:
    cargo fmt --all -- --check
    cargo clippy --release --workspace --all-targets -- -D warnings

# Serve the bundled model on 0.0.0.0:5000 (the README's run command).
run:
    cargo run --release -p wasml-host

# Load generator against the release host: /predict and the trivial route at c64 and c1, goodput at c1…c2000, open loop at 1,000 req/s, and the seed's Flask architecture as a peer (its venv made here).
bench:
    test -x .venv-bench-peer/bin/python || {{python}} -m venv .venv-bench-peer
    .venv-bench-peer/bin/pip install --quiet --disable-pip-version-check -r host/benches/flask_peer/requirements.txt
    cargo bench -p wasml-host --bench load

# Hot swap: upload → active (cold and warm cache) and /predict latency during swaps.
bench-swap:
    cargo bench -p wasml-host --bench swap

# Fuzz every decoder of untrusted bytes for `seconds` each (cargo-fuzz + libFuzzer on nightly), then minimise each corpus; new inputs in fuzz/corpus/ are replayed by `cargo test`.
fuzz seconds="60":
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
    for target in predict_body v2_infer collector_ingest component_upload; do \
        cargo +nightly fuzz run --release "$target" -- -max_total_time={{seconds}} -max_len=65536 -rss_limit_mb=4096 -timeout=10 || exit 1; \
        cargo +nightly fuzz cmin --release "$target"; \
    done

# Soak: 10 minutes at half the measured capacity, host → collector process; success rate, p99 and RSS per minute, dropped events (SOAK_SECONDS, SOAK_RATE override).
soak:
    cargo build --release -p wasml-collector
    cargo bench -p wasml-host --bench soak

# Criterion micro-benches: predict native vs. in wasm, instantiation.
bench-micro:
    cargo bench -p wasml-runtime --bench predict

# Criterion: per-row predict of exported models (coverage cases), native vs. in wasm.
bench-exports:
    cargo bench -p wasml-runtime --bench exports

# 1, 10 and 50 packaged models in one host: start-up, RSS, first request after idle.
bench-models:
    cargo bench -p wasml-host --bench models

# A collector process: HTTP ingest on 127.0.0.1:5080, delivering to $WASML_ELASTICSEARCH_URL (or to daily files).
collector:
    cargo run --release -p wasml-collector -- serve

# The Elasticsearch-API test server on 127.0.0.1:9200, to try the collector without an
# Elasticsearch (e.g. `just es-test-server --flavor opensearch`, or `--writer-key`).
es-test-server *ARGS:
    cargo run --release -p wasml-es-test-server -- 127.0.0.1:9200 {{ARGS}}

# Collector throughput: ingest → fsync'd WAL → bulk into the test server; events/s and peak RSS.
bench-collector:
    cargo bench -p wasml-collector --bench throughput

# The whole monitoring stack in docker: host, collector, Prometheus, Alertmanager, Grafana, Elasticsearch, Kibana (copy observability/.env.example to observability/.env first).
up:
    docker compose -f observability/docker-compose.yml --env-file observability/.env up -d --build

# Stop the monitoring stack (its named volumes stay; `docker compose ... down -v` drops them).
down:
    docker compose -f observability/docker-compose.yml --env-file observability/.env down

# Load Kibana's saved objects and the error-rate rule into $KIBANA_URL (compose's kibana-init does it too).
kibana-import:
    set -a && . observability/.env && set +a && sh observability/kibana/import.sh

# The observability checks alone: promtool/amtool, alert unit tests, dashboards and Kibana objects, queries against a real Prometheus.
check-observability:
    cargo test --release -p wasml-observability-tests

# Build the wasm components only: the runner, the HTTP runner, and the hostile test
# components (in target/wasm-guests/wasm32-wasip2/release/).
guests:
    cargo build --release -p wasml-guest-artifacts -p wasml-http-artifacts -p wasml-test-artifacts

# The `wasml` CLI (package, inspect, deploy), runner inside: target/release/wasml.
cli:
    cargo build --release -p wasml-cli

# The bundled model as a Spin app on 127.0.0.1:3000 (packaged by spin.toml's build command): `spin up` when Spin is installed, else the host's own wasi:http mode.
spin:
    if command -v spin >/dev/null; then spin build -f guest/spin/spin.toml && spin up -f guest/spin/spin.toml --listen 127.0.0.1:3000; \
    else cargo run --release --locked -p wasml-cli -- package guest/models/bank-marketing/v2/model.onnx --card guest/models/bank-marketing/v2/card.json --world http -o target/spin/bank-marketing.wasm \
      && cargo run --release -p wasml-host -- --wasi-http target/spin/bank-marketing.wasm --listen 127.0.0.1:3000; fi

# Retrain both model versions from the bank-marketing CSV and rewrite guest/models/ and the README's figures.
train csv="../shared/data/bank-marketing/bank-train.csv": venv
    .venv/bin/python guest/training/train.py {{csv}} --out guest/models/bank-marketing

# Regenerate the tract tree-ensemble fixture (vendor/README.md).
tract-fixtures: venv
    .venv/bin/python guest/training/tract_fixtures.py

# Triton's Python HTTP client, for the Open Inference Protocol client test (.ci/run does this too).
v2-client:
    test -x .venv-v2-client/bin/python || {{python}} -m venv .venv-v2-client
    .venv-v2-client/bin/pip install --quiet -r tests/v2-client/requirements.txt

# The pinned training environment.
venv:
    test -x .venv/bin/python || {{python}} -m venv .venv
    .venv/bin/pip install --quiet -r guest/training/requirements.txt

# scikit-learn, skl2onnx and onnxruntime for the own-model tests into .venv-byom (.ci/run does this too).
byom-venv:
    test -x .venv-byom/bin/python || {{python}} -m venv .venv-byom
    .venv-byom/bin/pip install --quiet -r tests/byom/requirements.txt

# The dependency policy (deny.toml): licences, bans, sources, for the workspace and fuzz/.
deny:
    command -v cargo-deny >/dev/null || cargo install cargo-deny --version 0.20.2 --locked
    cargo deny check licenses bans sources
    cargo deny --manifest-path fuzz/Cargo.toml check licenses bans sources

# RustSec advisories as well (fetches the advisory database from GitHub).
deny-advisories: deny
    cargo deny check advisories
    cargo deny --manifest-path fuzz/Cargo.toml check advisories

# Refreshes deny/advisory-db/ (the snapshot the test suite checks offline) from a clone
# of https://github.com/rustsec/advisory-db.
advisories-snapshot clone:
    deny/snapshot-advisories.sh {{clone}}

# A release archive of the three binaries with licences and example configuration, and
# its SHA256SUMS, in target/dist/ (dist/README.md).
dist:
    dist/dist.sh

# CycloneDX SBOMs of the host and the collector into target/sbom/ (cargo-cyclonedx writes
# one beside every crate's manifest; the others are removed).
sbom:
    command -v cargo-cyclonedx >/dev/null || cargo install cargo-cyclonedx --version 0.5.9 --locked
    cargo cyclonedx --format json --spec-version 1.5
    mkdir -p target/sbom
    mv host/wasml-host.cdx.json collector/wasml-collector.cdx.json target/sbom/
    find . -name '*.cdx.json' -not -path './target/*' -delete

# The offline Kubernetes validator (deploy/validate.py) into .venv-deploy (.ci/run does this too; kubectl from Debian renders).
deploy-venv:
    test -x .venv-deploy/bin/python || {{python}} -m venv .venv-deploy
    .venv-deploy/bin/pip install --quiet -r deploy/requirements.txt

# Render and validate every manifest of deploy/ offline.
deploy-validate: deploy-venv
    .venv-deploy/bin/python deploy/validate.py

# Schemathesis from PyPI into .venv-schemathesis (.ci/run does this too).
schemathesis-venv:
    test -x .venv-schemathesis/bin/python || {{python}} -m venv .venv-schemathesis
    .venv-schemathesis/bin/pip install --quiet -r tests/schemathesis/requirements.txt

# A longer schemathesis run than the test suite's, with a fresh seed, against a release host on 127.0.0.1:5098.
schemathesis examples="1000": schemathesis-venv
    cargo build --release -p wasml-host
    "${CARGO_TARGET_DIR:-target}/release/wasml-host" --listen 127.0.0.1:5098 --grpc-listen off --events target/tmp/schemathesis-events & host=$!; \
    trap 'kill $host' EXIT; until curl -sf 127.0.0.1:5098/health >/dev/null; do sleep 0.5; done; \
    cd tests/schemathesis && ../../.venv-schemathesis/bin/schemathesis run --max-examples {{examples}} --workers 1 http://127.0.0.1:5098/openapi.json
