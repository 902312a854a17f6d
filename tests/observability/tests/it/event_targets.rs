//! The Kibana data view, the Kibana rule and the Grafana source read events wherever the
//! collector writes them: daily indices (`--elasticsearch-target index`) and the data
//! stream (`data-stream`). Events go through the real sink into the Elasticsearch-API
//! test server, and each pattern is queried as Kibana and Grafana query it.

use serde_json::json;
use wasml_collector::CollectorMetrics;
use wasml_collector::sink::Sink;
use wasml_collector::sink::elasticsearch::{
    ElasticsearchConfig, ElasticsearchSink, Namespace, Target, TargetKind,
};
use wasml_e2e::{ScratchDir, http};
use wasml_es_test_server::EsTestServer;
use wasml_observability_tests::kibana::{error_rate_rule, saved_objects};
use wasml_observability_tests::yaml;

/// Delivers `n` events into `target` on `server`, with IDs starting at `first`.
fn deliver(server: &EsTestServer, dir: &ScratchDir, target: TargetKind, first: usize, n: usize) {
    let config = ElasticsearchConfig {
        target: Target::new(target, &Namespace::default()),
        ..ElasticsearchConfig::new(server.url(), dir.join(format!("{target:?}")))
    };
    let mut sink = ElasticsearchSink::new(config, CollectorMetrics::new()).unwrap();
    let events: Vec<(u64, Vec<u8>)> = (first..first + n)
        .map(|i| {
            let doc = json!({"@timestamp": "2026-11-30T10:00:00.000Z", "event_id": format!("e{i}"),
                "level": "error", "message": "m"});
            (i as u64 + 1, serde_json::to_vec(&doc).unwrap())
        })
        .collect();
    sink.deliver(&events).unwrap();
}

fn count(server: &EsTestServer, pattern: &str) -> u64 {
    let (status, answer) =
        http::json(server.address, "GET", &format!("/{pattern}/_count"), "").unwrap();
    assert_eq!(status, 200, "{pattern}: {answer}");
    answer["count"].as_u64().unwrap()
}

#[test]
fn the_data_view_rule_and_grafana_source_match_daily_indices_and_the_data_stream() {
    let (_runtime, server) = EsTestServer::start_in_background(1).unwrap();
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "event-targets");
    deliver(&server, &dir, TargetKind::Index, 0, 3);
    deliver(&server, &dir, TargetKind::DataStream, 3, 2);
    assert_eq!(count(&server, "ml-pipeline-*"), 3);
    assert_eq!(count(&server, "logs-ml_pipeline-default"), 2);

    let view = saved_objects()
        .into_iter()
        .find(|o| o["type"] == "index-pattern")
        .unwrap();
    let view_pattern = view["attributes"]["title"].as_str().unwrap().to_owned();
    let rule_indices = error_rate_rule()["params"]["index"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join(",");
    let sources = yaml("grafana/provisioning/datasources/datasources.yml");
    let grafana_index = sources["datasources"][1]["jsonData"]["index"]
        .as_str()
        .unwrap()
        .to_owned();
    for (user, pattern) in [
        ("Kibana data view", view_pattern),
        ("Kibana rule", rule_indices),
        ("Grafana source", grafana_index),
    ] {
        assert_eq!(count(&server, &pattern), 5, "{user}: {pattern}");
    }
}
