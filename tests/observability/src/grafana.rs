//! The Grafana dashboard and alert provisioning, read as data: every PromQL expression they
//! use, with Grafana's variables replaced so Prometheus can run it.

use serde_json::Value;

/// The "ML Pipeline Production" dashboard.
pub fn dashboard() -> Value {
    crate::json("grafana/dashboards/ml-pipeline-production.json")
}

/// Panels that are not rows.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .filter(|p| p["type"] != "row")
        .collect()
}

/// `(panel title, expression)` for every query of every panel.
pub fn panel_queries(dashboard: &Value) -> Vec<(String, String)> {
    panels(dashboard)
        .into_iter()
        .flat_map(|panel| {
            let title = panel["title"].as_str().unwrap_or("?").to_owned();
            panel["targets"]
                .as_array()
                .expect("targets")
                .iter()
                .map(move |t| {
                    let expr = t["expr"].as_str().expect("a PromQL expr").to_owned();
                    (title.clone(), expr)
                })
        })
        .collect()
}

/// `(variable, query)` for every query variable.
pub fn variable_queries(dashboard: &Value) -> Vec<(String, String)> {
    dashboard["templating"]["list"]
        .as_array()
        .expect("templating")
        .iter()
        .map(|v| {
            let query = v["query"]["query"].as_str().expect("a variable query");
            (v["name"].as_str().unwrap().to_owned(), query.to_owned())
        })
        .collect()
}

/// `(alert title, expression)` of every Grafana-managed alert's Prometheus query.
pub fn alert_queries() -> Vec<(String, String)> {
    let alerts = crate::yaml("grafana/provisioning/alerting/alerts.yml");
    alerts["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("rules").iter())
        .flat_map(|rule| {
            let title = rule["title"].as_str().unwrap().to_owned();
            rule["data"]
                .as_array()
                .expect("data")
                .iter()
                .filter_map(|d| d["model"]["expr"].as_str())
                .map(move |expr| (title.clone(), expr.to_owned()))
        })
        .collect()
}

/// `expr` with Grafana's variables replaced as a dashboard showing everything would:
/// `$model`/`$version` match all, `$__rate_interval` and `$__range` are one minute.
pub fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$__range", "1m")
        .replace("$model", ".*")
        .replace("$version", ".*")
}
