//! The console's routes without a browser (the browser test is
//! `tests/e2e/tests/it/console.rs`): the page and its assets under a strict
//! Content-Security-Policy and within the weight budget, the snapshot counting what the
//! host served as `/metrics` does, the event tail returning events in order from a
//! sequence number, and the stream's first frame.

use crate::serving;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::Value;
use serving::{Options, SEED_ROW, TestHost};
use tower::ServiceExt as _;

#[tokio::test]
async fn the_page_and_its_assets_are_served_under_a_strict_policy_within_budget() {
    let host = TestHost::start(Options::default());
    let mut weight = 0;
    for (path, kind) in [
        ("/ui", "text/html"),
        ("/ui/app.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
    ] {
        let reply = host.get(path).await;
        assert_eq!(reply.status, 200, "{path}");
        let headers = &reply.headers;
        assert!(headers["content-type"].to_str().unwrap().starts_with(kind));
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.contains("default-src 'none'") && policy.contains("script-src 'self'"));
        assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"));
        assert_eq!(headers["x-content-type-options"], "nosniff");
        weight += reply.body.len();
    }
    // The budget: 300 KB for the whole page.
    assert!(weight <= 300 * 1024, "{weight} bytes");
    // No inline script: the policy would block it.
    let page = String::from_utf8(host.get("/ui").await.body.to_vec()).unwrap();
    assert!(!page.contains("<script>"), "an inline script in the page");
    let handler = page.split(" on").skip(1).find(|rest| {
        let name: String = rest.chars().take_while(char::is_ascii_lowercase).collect();
        !name.is_empty() && rest[name.len()..].starts_with('=')
    });
    assert!(handler.is_none(), "an inline event handler: on{handler:?}");
}

#[tokio::test]
async fn the_snapshot_counts_what_was_served_as_metrics_do() {
    let host = TestHost::start(Options::default());
    for _ in 0..3 {
        assert_eq!(host.post_json("/predict", SEED_ROW).await.status, 200);
    }
    assert_eq!(
        host.post_json("/predict", "{\"age\": \"x\"}").await.status,
        422
    );
    let snapshot = host.get("/ui/snapshot").await.json();
    assert_eq!(snapshot["requests"]["total"], 4, "{snapshot}");
    assert_eq!(snapshot["requests"]["client_errors"], 1);
    assert_eq!(snapshot["requests"]["server_errors"], 0);
    let latency = &snapshot["latency"];
    assert_eq!(
        latency["count"], 4,
        "every prediction request, answered or refused"
    );
    let buckets = latency["buckets"].as_array().unwrap();
    assert_eq!(buckets.last().unwrap()[1], 4, "cumulative");
    let classes = snapshot["classes"].as_array().unwrap();
    let rows: u64 = classes.iter().map(|c| c["count"].as_u64().unwrap()).sum();
    assert_eq!(rows, 3);
    assert!(
        classes
            .iter()
            .all(|c| ["no", "yes"].contains(&c["label"].as_str().unwrap()))
    );
    assert_eq!(snapshot["confidence"]["count"], 3);
    assert_eq!(snapshot["default_model"], "bank-marketing");
    let version = &snapshot["versions"][0];
    assert_eq!(version["state"], "active");
    assert!(version["instances"]["size"].as_u64().is_some(), "{version}");
    assert!(
        snapshot["rss_bytes"].as_u64().unwrap() > 1 << 20,
        "read from /proc"
    );
    let metric = host
        .metric(
            "ml_request_duration_seconds_count",
            &[("model", "bank-marketing"), ("version", "2.0.0")],
        )
        .await;
    assert_eq!(metric, Some(4.0), "the same figure as /metrics");
}

#[tokio::test]
async fn the_event_tail_reads_on_from_a_sequence_number() {
    let host = TestHost::start(Options::default());
    for _ in 0..2 {
        host.post_json("/predict", SEED_ROW).await;
    }
    // The writer thread fills the tail a few milliseconds after the answer.
    let mut first = Value::Null;
    for _ in 0..500 {
        first = host.get("/ui/events?after=0").await.json();
        if first["events"].as_array().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(first["events"].as_array().unwrap().len() >= 2, "{first}");
    let events = first["events"].as_array().unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    assert_eq!(events[0]["event"]["endpoint"], "/predict");
    let newest = first["newest"].as_u64().unwrap();
    let later = host.get(&format!("/ui/events?after={newest}")).await.json();
    assert_eq!(later["events"].as_array().unwrap().len(), 0, "nothing new");
}

#[tokio::test]
async fn the_stream_sends_a_frame_at_once() {
    let host = TestHost::start(Options::default());
    let response = host
        .router
        .clone()
        .oneshot(Request::get("/ui/stream").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("text/event-stream"), "{kind}");
    let mut body = response.into_body();
    let frame = body.frame().await.unwrap().unwrap().into_data().unwrap();
    let text = String::from_utf8(frame.to_vec()).unwrap();
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("a data line");
    assert!(text.starts_with("event: frame"), "{text}");
    let frame: Value = serde_json::from_str(data).unwrap();
    assert_eq!(frame["snapshot"]["default_model"], "bank-marketing");
}

/// WCAG relative luminance of `#rrggbb`.
fn luminance(hex: &str) -> f64 {
    let channel = |i: usize| {
        let c = f64::from(u8::from_str_radix(&hex[1 + 2 * i..3 + 2 * i], 16).unwrap()) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * channel(0) + 0.7152 * channel(1) + 0.0722 * channel(2)
}

/// The custom properties of each `:root { … }` block of the stylesheet (light, then dark).
fn palettes(css: &str) -> Vec<std::collections::HashMap<String, String>> {
    css.split(":root {")
        .skip(1)
        .map(|block| {
            block[..block.find('}').unwrap()]
                .split(';')
                .filter_map(|declaration| {
                    let (name, value) = declaration.split_once(':')?;
                    Some((name.trim().to_owned(), value.trim().to_owned()))
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn every_text_colour_has_wcag_aa_contrast_on_every_background_in_both_schemes() {
    let host = TestHost::start(Options::default());
    let css = String::from_utf8(host.get("/ui/app.css").await.body.to_vec()).unwrap();
    let palettes = palettes(&css);
    assert_eq!(palettes.len(), 2, "a light and a dark palette");
    for palette in &palettes {
        let colour = |name: &str| palette[name].as_str();
        let ratio = |a: &str, b: &str| {
            let (a, b) = (luminance(colour(a)), luminance(colour(b)));
            (a.max(b) + 0.05) / (a.min(b) + 0.05)
        };
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for text in ["--fg", "--muted", "--accent", "--error", "--warn", "--ok"] {
            for background in ["--bg", "--card", "--row-error"] {
                pairs.push((text, background));
            }
        }
        // The submit button: card-coloured text on the accent.
        pairs.push(("--card", "--accent"));
        for (text, background) in pairs {
            let contrast = ratio(text, background);
            assert!(
                contrast >= 4.5,
                "{text} on {background}: {contrast:.2} (WCAG AA needs 4.5)"
            );
        }
    }
}
