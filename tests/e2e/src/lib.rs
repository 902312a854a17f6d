//! End-to-end tests across processes (in `tests/`): the real `wasml-host` and
//! `wasml-collector` binaries, and the Elasticsearch-API test server in the test process.
//! This library starts them.

pub mod balancer;
pub mod load;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use wasml_es_test_server::EsTestServer;
use wasml_test_support::process::{Process, host_command};
use wasml_test_support::workspace_binary;

pub use wasml_test_support::{ScratchDir, http};

/// The test server on a runtime of its own (two threads), so it keeps answering while
/// the test blocks.
pub fn start_es() -> (tokio::runtime::Runtime, EsTestServer) {
    EsTestServer::start_in_background(2).expect("the test server starts")
}

/// `wasml-collector serve` with its data in `data_dir`, delivering to `es_url` (or to
/// files without one), on an ephemeral port unless `extra` has a `--listen`.
pub fn start_collector(data_dir: &Path, es_url: Option<&str>, extra: &[&str]) -> Process {
    let mut command = Command::new(workspace_binary("wasml-collector"));
    command.args(["serve", "--log-format", "json"]);
    if !extra.contains(&"--listen") {
        command.args(["--listen", "127.0.0.1:0"]);
    }
    command.arg("--data-dir").arg(data_dir).args(extra);
    if let Some(url) = es_url {
        command.args(["--elasticsearch-url", url]);
    }
    Process::start(command, Duration::from_secs(30))
}

/// `wasml-host` serving the bundled model, events under `dir`. The compiled-component
/// cache is shared by all e2e tests (its writes are atomic), so only the first compiles.
pub fn start_host(dir: &Path, extra: &[&str]) -> Process {
    let mut command = host_command(workspace_binary("wasml-host"));
    command
        .arg("--cache-dir")
        .arg(shared_cache_dir())
        .arg("--events")
        .arg(dir.join("events"))
        .args(extra);
    Process::start(command, Duration::from_secs(120))
}

/// `target/tmp/e2e-component-cache`, next to where cargo puts test scratch files.
fn shared_cache_dir() -> std::path::PathBuf {
    let test = std::env::current_exe().expect("the test's own path");
    // target/<profile>/deps/<test> → target/tmp
    let target = test.ancestors().nth(3).expect("a target directory");
    target.join("tmp").join("e2e-component-cache")
}

/// How many times each request ID's `/predict` event is indexed in `es`.
pub fn indexed_predictions(es: &EsTestServer) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for (_, doc) in es.documents("ml-pipeline-*") {
        if doc["endpoint"] == "/predict"
            && let Some(id) = doc["request_id"].as_str()
        {
            *counts.entry(id.to_owned()).or_default() += 1;
        }
    }
    counts
}

/// Polls `condition` every 20 ms for up to `timeout`; whether it came true.
pub fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
