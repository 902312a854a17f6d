//! The Grafana provisioning as Grafana would read it: data sources, the dashboard
//! provider pointing where compose mounts the dashboards, the "ML Pipeline Production"
//! dashboard with the seed's six panels and more, and the seed's two alerts.

use std::collections::BTreeSet;

use wasml_observability_tests::grafana::{alert_queries, dashboard, panels, variable_queries};
use wasml_observability_tests::{read, yaml};

#[test]
fn the_dashboard_has_the_seed_panels_and_model_version_variables() {
    let dashboard = dashboard();
    assert_eq!(dashboard["title"], "ML Pipeline Production");
    assert_eq!(dashboard["uid"], "ml-pipeline-production");
    let panels = panels(&dashboard);
    let by_title = |title: &str| {
        *panels
            .iter()
            .find(|p| p["title"] == title)
            .unwrap_or_else(|| panic!("no panel {title:?}"))
    };
    // The seed's six, with their kinds.
    for (title, kind) in [
        ("Model accuracy (card, held-out data)", "stat"),
        ("Predictions per minute", "timeseries"),
        ("Error rate", "stat"),
        ("p95 latency", "timeseries"),
        ("Prediction distribution", "piechart"),
        ("Memory", "timeseries"),
    ] {
        assert_eq!(by_title(title)["type"], kind, "{title}");
    }
    // The seed's accuracy thresholds: red below 0.8, yellow below 0.9, green above.
    let steps = &by_title("Model accuracy (card, held-out data)")["fieldConfig"]["defaults"]["thresholds"]
        ["steps"];
    assert_eq!(
        steps,
        &serde_json::json!([
            {"color": "red", "value": null},
            {"color": "yellow", "value": 0.8},
            {"color": "green", "value": 0.9}
        ])
    );
    // The pie names the classes as the seed did.
    let pie = by_title("Prediction distribution");
    let names: Vec<&str> = pie["fieldConfig"]["overrides"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["properties"][0]["value"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["No Subscribe", "Subscribe"]);
    // Per model version latency and the collector's health are there too.
    by_title("Latency per model version (p95, p99)");
    by_title("Write-ahead log backlog");
    by_title("Elasticsearch reachable");

    let variables: Vec<String> = variable_queries(&dashboard)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(variables, ["model", "version"]);
    // Panels about models follow the variables.
    for title in ["Predictions per minute", "Error rate", "p95 latency"] {
        let expr = by_title(title)["targets"][0]["expr"].as_str().unwrap();
        assert!(
            expr.contains(r#"model=~"$model",version=~"$version""#),
            "{title}: {expr}"
        );
    }
    // Unique panel IDs and no overlapping grid cells.
    let ids: BTreeSet<u64> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids.len(), dashboard["panels"].as_array().unwrap().len());
}

#[test]
fn every_panel_uses_a_provisioned_data_source() {
    let sources = yaml("grafana/provisioning/datasources/datasources.yml");
    let uids: BTreeSet<&str> = sources["datasources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["uid"].as_str().unwrap())
        .collect();
    assert_eq!(
        uids,
        BTreeSet::from(["wasml-prometheus", "wasml-elasticsearch"])
    );
    let dashboard = dashboard();
    for panel in panels(&dashboard) {
        let uid = panel["datasource"]["uid"].as_str().unwrap();
        assert!(uids.contains(uid), "{}: {uid}", panel["title"]);
    }
    // The Elasticsearch source reads the collector's indices on their time field.
    let elasticsearch = &sources["datasources"][1];
    assert_eq!(
        elasticsearch["jsonData"]["index"],
        "ml-pipeline-*,logs-ml_pipeline-*"
    );
    assert_eq!(elasticsearch["jsonData"]["timeField"], "@timestamp");
    // The provider loads the directory compose mounts the dashboards into.
    let providers = yaml("grafana/provisioning/dashboards/dashboards.yml");
    let path = providers["providers"][0]["options"]["path"]
        .as_str()
        .unwrap();
    assert!(
        read("docker-compose.yml").contains(&format!("./grafana/dashboards:{path}:ro")),
        "{path}"
    );
}

#[test]
fn grafana_alerting_has_the_seed_alerts_routed_to_alertmanager() {
    let alerts = yaml("grafana/provisioning/alerting/alerts.yml");
    let rules = alerts["groups"][0]["rules"].as_array().unwrap();
    // Each rule: its title, what its condition computes, how long it must hold.
    let summary: Vec<(String, String, String)> = rules
        .iter()
        .map(|r| {
            let condition = r["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| d["refId"] == r["condition"])
                .map(|d| &d["model"])
                .expect("the condition is one of the rule's steps");
            let computes = match condition["type"].as_str().unwrap() {
                "threshold" => {
                    let evaluator = &condition["conditions"][0]["evaluator"];
                    format!("{} {}", evaluator["type"], evaluator["params"][0])
                }
                _ => condition["expression"].as_str().unwrap().to_owned(),
            };
            (
                r["title"].as_str().unwrap().to_owned(),
                computes.replace('"', ""),
                r["for"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "Live accuracy below the card's".into(),
                "$C > 0 && $D >= 50".into(),
                "10m".into()
            ),
            (
                "A regressor's live error above the card's".into(),
                "$C > 0 && $D >= 50".into(),
                "10m".into()
            ),
            (
                "Prediction error rate above 10 %".into(),
                "gt 0.1".into(),
                "2m".into()
            ),
        ]
    );
    let queries: Vec<String> = alert_queries().into_iter().map(|(_, q)| q).collect();
    assert_eq!(
        queries,
        [
            "ml_model_live_accuracy_drop - ml_model_accuracy_drop_margin",
            "ml_model_live_outcomes",
            "ml_model_live_error_rise - ml_model_error_rise_margin",
            "ml_model_live_outcomes",
            "ml_prediction_error_rate"
        ]
    );
    for rule in rules {
        assert_eq!(rule["data"][0]["datasourceUid"], "wasml-prometheus");
    }
    let receiver = &alerts["contactPoints"][0]["receivers"][0];
    assert_eq!(receiver["type"], "prometheus-alertmanager");
    assert_eq!(receiver["settings"]["url"], "http://alertmanager:9093");
}
