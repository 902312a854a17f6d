//! Every PromQL expression the operator gets — each Grafana panel's and template
//! variable's, each recording rule's, each Grafana-managed alert's — evaluated by a real
//! Prometheus scraping the release host and a collector process under traffic, and each
//! must return data: a typo'd metric or label returns nothing and fails here. Every metric
//! an alert rule names must exist as a series too.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use regex::Regex;
use serde_json::{Value, json};
use wasml_e2e::{eventually, start_collector, start_host};
use wasml_observability_tests::grafana::{self, substitute};
use wasml_observability_tests::prometheus::Prometheus;
use wasml_observability_tests::prometheus_rules;
use wasml_test_support::http::admin_ok;
use wasml_test_support::http::json as post;
use wasml_test_support::{ScratchDir, bundled_component};

const ROW: &str = r#"{"age": 30, "job": "admin.", "marital": "single", "education": "secondary",
    "housing": "yes", "loan": "no", "duration": 200, "campaign": 2}"#;
const TOKEN: &str = "prometheus-queries-token";
const INVALID_ROW: &str = r#"{"age": "thirty", "job": "admin."}"#;

#[test]
fn every_dashboard_rule_and_alert_query_returns_data_from_a_real_prometheus() {
    let dir = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "prometheus-queries");
    // The collector delivers to Elasticsearch (the test server), so its sink's series
    // (setup included) exist.
    let (_es_runtime, es) = wasml_e2e::start_es();
    let collector = start_collector(&dir.join("collector"), Some(&es.url()), &[]);
    let collector_url = format!("http://{}", collector.address);
    let host = start_host(
        &dir,
        &["--collector-url", &collector_url, "--admin-token", TOKEN],
    );
    let prometheus = Prometheus::start(&dir, host.address, collector.address);
    // Prometheus applies its targets a few seconds after start: traffic before its first
    // scrape would only ever be seen as a flat counter.
    assert!(
        eventually(Duration::from_secs(60), || {
            let targets = prometheus.targets();
            targets.iter().filter(|(_, health)| health == "up").count() >= 2
        }),
        "targets {:?}",
        prometheus.targets()
    );

    candidates_on_trial(host.address);
    let regressor_row = regressor_served(host.address);

    // A batch large enough for input drift to be computed (it needs 200 rows).
    let rows: Vec<Value> = (0..250)
        .map(|_| serde_json::from_str(ROW).unwrap())
        .collect();
    let batch = json!({ "instances": rows }).to_string();
    let (status, body) = post(host.address, "POST", "/predict", &batch).unwrap();
    assert_eq!(status, 200, "{body}");
    // Traffic: predictions, a refused row, ground truth for some predictions.
    for i in 0..40 {
        let (status, body) = post(host.address, "POST", "/predict", ROW).unwrap();
        assert_eq!(status, 200, "{body}");
        if i % 2 == 0 {
            let feedback = json!({"request_id": body["request_id"], "actual": "no"});
            let (status, body) =
                post(host.address, "POST", "/feedback", &feedback.to_string()).unwrap();
            assert_eq!(status, 200, "{body}");
        }
        let (status, _) = post(host.address, "POST", "/predict", INVALID_ROW).unwrap();
        assert_eq!(status, 422);
        // The regressor's true values: its live error panel and alert have data.
        let (status, body) = post(
            host.address,
            "POST",
            "/models/diabetes/predict",
            &regressor_row,
        )
        .unwrap();
        assert_eq!(status, 200, "{body}");
        let actual = body["value"].as_f64().unwrap() + 100.0;
        let feedback = json!({"request_id": body["request_id"], "actual": actual});
        let (status, body) =
            post(host.address, "POST", "/feedback", &feedback.to_string()).unwrap();
        assert_eq!(status, 200, "{body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The recording rules evaluated over scrapes that saw the traffic.
    assert!(
        eventually(Duration::from_secs(60), || {
            !prometheus
                .query("model_version:ml_predictions:rate5m > 0")
                .is_empty()
        }),
        "predictions {:?}",
        prometheus.query("ml_predictions_total"),
    );

    let dashboard = grafana::dashboard();
    let mut queries: Vec<(String, String)> = grafana::panel_queries(&dashboard);
    queries.extend(
        grafana::variable_queries(&dashboard)
            .into_iter()
            .map(|(name, q)| (format!("variable {name}"), series_of(&q))),
    );
    queries.extend(prometheus_rules("recording.yml"));
    queries.extend(grafana::alert_queries());
    let mut empty = Vec::new();
    for (source, expr) in &queries {
        let result = prometheus.query(&substitute(expr));
        if result.is_empty() {
            empty.push(format!("{source}: {expr}"));
        }
    }
    assert!(
        empty.is_empty(),
        "queries without data:\n{}",
        empty.join("\n")
    );
    // Annotations may be empty (no swap happened), but Prometheus must accept them.
    for annotation in dashboard["annotations"]["list"].as_array().unwrap() {
        prometheus.query(&substitute(annotation["expr"].as_str().unwrap()));
    }

    // Alert expressions hold thresholds, so they may rightly be empty: check instead that
    // every metric they name has series.
    let mut missing = Vec::new();
    for (alert, expr) in prometheus_rules("alerts.yml") {
        for metric in metric_names(&expr) {
            let series = prometheus.query(&format!("count({{__name__={metric:?}}})"));
            if series.is_empty() {
                missing.push(format!("{alert}: {metric}"));
            }
        }
    }
    assert!(missing.is_empty(), "metrics without series: {missing:?}");

    // The live accuracy the panel shows is what the feedback said: 20 reports, all "no".
    let accuracy = prometheus.query("ml_model_live_accuracy");
    let value = &accuracy[0]["value"][1];
    let expected = value_of(&prometheus.query(
        r#"sum(ml_feedback_total{outcome="correct"}) / sum(ml_feedback_total{outcome=~"correct|wrong"})"#,
    ));
    let shown: f64 = value.as_str().unwrap().parse().unwrap();
    assert!((shown - expected).abs() < 1e-9, "{shown} vs {expected}");
}

/// Version 1 in the shadow of the active version 2 (as 1.0.0, its component) and on trial
/// as a canary whose analysis keeps collecting (as 1.0.1, its ONNX file and card), so the
/// shadow and canary panels have data.
fn candidates_on_trial(host: std::net::SocketAddr) {
    let admin = |method: &str, path: &str, body: &[u8]| admin(host, method, path, body);
    let base = "/admin/models/bank-marketing";
    let v1 = std::fs::read(bundled_component("bank-marketing", "v1")).unwrap();
    admin("PUT", &format!("{base}/versions/1.0.0"), &v1);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../guest/models/bank-marketing/v1");
    let card = std::fs::read(dir.join("card.json")).unwrap();
    admin("PUT", &format!("{base}/versions/1.0.1/card"), &card);
    let onnx = std::fs::read(dir.join("model.onnx")).unwrap();
    admin("PUT", &format!("{base}/versions/1.0.1"), &onnx);
    for version in ["1.0.0", "1.0.1"] {
        let path = format!("{base}/versions/{version}");
        assert!(
            eventually(Duration::from_secs(120), || {
                admin("GET", &path, b"").json()["state"] == "ready"
            }),
            "{}",
            admin("GET", &path, b"").body
        );
    }
    admin(
        "PUT",
        &format!("{base}/shadow"),
        br#"{"version": "1.0.0", "percent": 100}"#,
    );
    let canary =
        json!({"version": "1.0.1", "percent": 10, "analysis": {"min_requests": 1_000_000}});
    admin(
        "PUT",
        &format!("{base}/canary"),
        canary.to_string().as_bytes(),
    );
}

/// The diabetes regressor (a test fixture with its card's held-out error) served as its
/// model's active version; returns a row for it.
fn regressor_served(host: std::net::SocketAddr) -> String {
    use wasml_test_support::fixtures::diabetes;
    let admin = |method: &str, path: &str, body: &[u8]| admin(host, method, path, body);
    let base = "/admin/models/diabetes/versions/1.0.0";
    admin("PUT", &format!("{base}/card"), diabetes::CARD.as_bytes());
    admin("PUT", base, diabetes::ONNX);
    assert!(
        eventually(Duration::from_secs(120), || {
            admin("GET", base, b"").json()["state"] == "ready"
        }),
        "{}",
        admin("GET", base, b"").body
    );
    admin("POST", &format!("{base}/activate"), b"");
    diabetes::row(0.01).to_string()
}

/// An admin API call that must succeed.
fn admin(
    host: std::net::SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> wasml_test_support::http::Response {
    admin_ok(host, TOKEN, method, path, body)
}

/// A Grafana `label_values(selector, label)` query as the series selector Prometheus runs.
fn series_of(query: &str) -> String {
    let inner = query
        .strip_prefix("label_values(")
        .and_then(|q| q.strip_suffix(')'))
        .expect("label_values(…)");
    let (selector, _label) = inner.rsplit_once(',').expect("selector, label");
    selector.trim().to_owned()
}

fn value_of(result: &[Value]) -> f64 {
    result[0]["value"][1].as_str().unwrap().parse().unwrap()
}

/// The metric names an expression reads: identifiers that are not functions, keywords,
/// label names or parts of durations and strings.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let stripped = [
        r#""[^"]*""#,                                                     // strings
        r"\{[^}]*\}",                                                     // label matchers
        r"\[[^\]]*\]",                                                    // ranges
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", // label lists
        r"\boffset\s+\w+",
    ]
    .iter()
    .fold(expr.to_owned(), |text, pattern| {
        Regex::new(pattern)
            .unwrap()
            .replace_all(&text, " ")
            .into_owned()
    });
    let identifier = Regex::new(r"(^|[^\w:.])([a-zA-Z_:][\w:]*)(\s*\()?").unwrap();
    identifier
        .captures_iter(&stripped)
        .filter(|c| c.get(3).is_none())
        .map(|c| c[2].to_owned())
        .filter(|name| !matches!(name.as_str(), "and" | "or" | "unless" | "bool"))
        .collect()
}

#[test]
fn metric_names_are_found_in_expressions() {
    let names = metric_names(
        r#"wasml_collector_wal_bytes > 256 * 1024 and delta(wasml_collector_wal_bytes[15m]) > 0 or sum by (job, reason) (increase(x_total{a="b c"}[5m] offset 1m)) > 1e6"#,
    );
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["wasml_collector_wal_bytes", "x_total"]
    );
}
