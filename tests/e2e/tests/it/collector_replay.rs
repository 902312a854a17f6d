//! The collector's file mode and `replay`: a collector without Elasticsearch writes daily
//! files and stops cleanly on SIGTERM; `wasml-collector replay` ships those files into
//! Elasticsearch, and a second replay indexes nothing twice; a replay takes the sink's
//! options too (here: into a data stream on Serverless).

use std::process::Command;

use serde_json::{Value, json};
use wasml_e2e::{ScratchDir, http, start_collector, start_es};
use wasml_es_test_server::Flavor;
use wasml_test_support::workspace_binary;

fn replay(
    files: &[std::path::PathBuf],
    es_url: &str,
    dead_letters: &std::path::Path,
    extra: &[&str],
) -> Value {
    let output = Command::new(workspace_binary("wasml-collector"))
        .arg("replay")
        .args(files)
        .args(["--elasticsearch-url", es_url, "--log-format", "json"])
        .args(extra)
        .arg("--dead-letter-dir")
        .arg(dead_letters)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn files_written_without_elasticsearch_are_replayed_into_it_once() {
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "replay");
    let mut collector = start_collector(&dir, None, &[]);
    let body: String = (0..300)
        .map(|i| {
            let day = 25 + i % 2;
            json!({"@timestamp": format!("2026-11-{day}T10:00:00.000Z"), "event_id": format!("r{i}"),
                   "level": "info", "prediction": i % 2, "confidence": 0.5})
            .to_string()
                + "\n"
        })
        .collect();
    let response = http::request(
        collector.address,
        "POST",
        "/v1/events",
        "application/x-ndjson",
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(response.status, 200, "{}", response.body);
    collector.terminate();
    let status = collector.wait();
    assert!(
        status.success(),
        "a clean stop on SIGTERM, not {status}: {:#?}",
        collector.log()
    );
    assert!(collector.logged("stopped"));

    let mut files: Vec<_> = std::fs::read_dir(dir.join("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ndjson"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "one file per day: {files:?}");
    // A damaged line and a document the mapping refuses, as a hand-edited file might hold.
    let extra = dir.join("extra.ndjson");
    std::fs::write(
        &extra,
        "not json\n{\"@timestamp\":\"2026-11-26T11:00:00Z\",\"event_id\":\"bad\",\"prediction\":\"yes\"}\n",
    )
    .unwrap();
    files.push(extra.clone());

    let (_runtime, es) = start_es();
    let report = replay(&files, &es.url(), &dir, &[]);
    assert_eq!(report["events"], 301);
    assert_eq!(report["indexed"], 300);
    assert_eq!(report["dead_lettered"], 1);
    assert_eq!(
        report["skipped_lines"],
        json!([format!("{}:1", extra.display())])
    );
    let mut indices: Vec<String> = es.store.lock().unwrap().indices.keys().cloned().collect();
    indices.sort();
    assert_eq!(
        indices,
        ["ml-pipeline-2026.11.25", "ml-pipeline-2026.11.26"]
    );
    let dead = std::fs::read_to_string(dir.join("dead-letter.ndjson")).unwrap();
    assert!(
        dead.contains("failed to parse field [prediction]"),
        "{dead}"
    );

    let again = replay(&files, &es.url(), &dir, &[]);
    assert_eq!(again["indexed"], 0, "nothing indexed twice");
    assert_eq!(again["already_indexed"], 300);
    assert_eq!(es.documents("ml-pipeline-*").len(), 300);
    assert_eq!(again["setup"]["state"], "complete");

    // The same files into a data stream on Serverless.
    let (_runtime, serverless) = start_es();
    serverless.set_flavor(Flavor::Serverless);
    let options = [
        "--elasticsearch-target",
        "data-stream",
        "--elasticsearch-namespace",
        "replay",
    ];
    let report = replay(&files, &serverless.url(), &dir, &options);
    assert_eq!(report["indexed"], 300, "{report}");
    assert_eq!(serverless.documents("logs-ml_pipeline-replay").len(), 300);
    let setup = &report["setup"];
    assert_eq!(setup["server"]["kind"], "serverless", "{setup}");
    assert_eq!(setup["state"], "complete", "{setup}");
    assert_eq!(setup["retention"], "30d (data stream lifecycle)", "{setup}");
}
