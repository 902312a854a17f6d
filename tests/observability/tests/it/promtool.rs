//! The Prometheus and Alertmanager config as the real tools see it: `promtool check
//! config`, `promtool check rules`, `promtool test rules` (every alert shown firing and
//! silent), `amtool check-config`. Also: every alert carries a severity, a summary, a
//! description and a runbook line, and every alert rule has a unit test.

use std::collections::BTreeSet;

use wasml_observability_tests::{prometheus_rules, read, run_tool, yaml};

#[test]
fn promtool_accepts_the_config_and_the_rules() {
    let out = run_tool(
        "promtool",
        &["check", "config", "prometheus/prometheus.yml"],
    );
    assert!(out.contains("SUCCESS: 2 rule files found"), "{out}");
    let out = run_tool(
        "promtool",
        &[
            "check",
            "rules",
            "prometheus/rules/recording.yml",
            "prometheus/rules/alerts.yml",
            "prometheus/rules/optional/absolute-accuracy.yml",
        ],
    );
    assert_eq!(out.matches("SUCCESS").count(), 3, "{out}");
}

#[test]
fn every_alert_rule_passes_its_unit_tests() {
    let out = run_tool(
        "promtool",
        &["test", "rules", "prometheus/tests/alerts.test.yml"],
    );
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn every_alert_is_unit_tested_and_says_what_to_do() {
    let tests = yaml("prometheus/tests/alerts.test.yml");
    let tested: BTreeSet<&str> = tests["tests"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().into_iter().flatten())
        .filter_map(|t| t["alertname"].as_str())
        .collect();
    let rules = yaml("prometheus/rules/alerts.yml");
    let alerts: Vec<&serde_json::Value> = rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
        .collect();
    assert_eq!(alerts.len(), prometheus_rules("alerts.yml").len());
    for alert in alerts {
        let name = alert["alert"].as_str().unwrap();
        assert!(tested.contains(name), "{name} has no promtool test");
        let severity = alert["labels"]["severity"].as_str();
        assert!(
            matches!(severity, Some("critical" | "warning")),
            "{name}: severity {severity:?}"
        );
        for annotation in ["summary", "description", "runbook"] {
            let text = alert["annotations"][annotation]
                .as_str()
                .unwrap_or_default();
            assert!(!text.trim().is_empty(), "{name} has no {annotation}");
        }
    }
    // The issues' lists, by name (ModelAccuracyLow, the seed's fixed threshold, is in
    // rules/optional/ and tested there too).
    for name in [
        "ModelAccuracyLow",
        "ModelAccuracyBelowCard",
        "FeatureDriftHigh",
        "PredictionErrorRateHigh",
        "PredictionLatencyHigh",
        "HostDown",
        "CollectorDown",
        "HostMemorySpike",
        "LogPipelineFallingBehind",
        "LogPipelineBacklogGrowing",
        "EventsDeadLettered",
    ] {
        assert!(tested.contains(name), "{name} is missing");
    }
}

#[test]
fn amtool_accepts_the_alertmanager_config() {
    let out = run_tool("amtool", &["check-config", "alertmanager/alertmanager.yml"]);
    assert!(out.contains("SUCCESS"), "{out}");
    // Critical alerts page; everything else goes to the team.
    let config = yaml("alertmanager/alertmanager.yml");
    assert_eq!(config["route"]["receiver"], "team-channel");
    assert_eq!(
        config["route"]["routes"][0]["matchers"][0],
        "severity=\"critical\""
    );
    assert!(read("alertmanager/alertmanager.yml").contains("oncall-pager"));
}
