//! One bulk request and its answer: the status (and error) of every item, in order. A
//! request that fails as a whole (no connection, a 429 or 5xx for the request, an answer
//! that does not match what was sent) is an error, so the caller retries it all.

use std::time::Instant;

use elasticsearch::Elasticsearch;
use elasticsearch::http::Method;
use elasticsearch::http::headers::{CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::Value;

use super::request_builder::bulk_body;
use super::target::Target;
use crate::metrics::CollectorMetrics;
use crate::sink::{Entry, SinkError};

/// Sends `items` as one bulk `create` request into `target`; returns each item's status and error.
pub(super) async fn send(
    client: &Elasticsearch,
    metrics: &CollectorMetrics,
    target: &Target,
    items: &[&Entry],
) -> Result<Vec<(u16, Value)>, SinkError> {
    let body = bulk_body(items, target)
        .map_err(|e| SinkError::Unavailable(format!("compressing a bulk body: {e}")))?;
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    let started = Instant::now();
    // The bulk API through the client's transport, with a body gzip'd here (level 1; the
    // transport's own compression is level 6 and cost most of the collector's CPU).
    let response = client
        .send(
            Method::Post,
            "/_bulk",
            headers,
            None::<&()>,
            Some(body),
            None,
        )
        .await;
    let response = match response {
        Ok(response) => response,
        Err(e) => {
            metrics.set_sink_up(false);
            return Err(SinkError::Unavailable(format!("bulk request failed: {e}")));
        }
    };
    let status = response.status_code().as_u16();
    let reply: Result<Value, _> = response.json().await;
    metrics
        .bulk_seconds
        .observe(started.elapsed().as_secs_f64());
    let reply =
        reply.map_err(|e| SinkError::Unavailable(format!("reading the bulk answer: {e}")))?;
    metrics.set_sink_up(true);
    if status >= 300 {
        return Err(SinkError::Unavailable(format!(
            "bulk request answered {status}: {}",
            reply["error"]["reason"].as_str().unwrap_or("no reason")
        )));
    }
    let answers: Vec<(u16, Value)> = reply["items"]
        .as_array()
        .map(|items| items.iter().map(item_answer).collect())
        .unwrap_or_default();
    if answers.len() != items.len() {
        return Err(SinkError::Unavailable(format!(
            "the bulk answer has {} items for {} sent",
            answers.len(),
            items.len()
        )));
    }
    Ok(answers)
}

/// `{"create": {"status": 201, ...}}` → `(201, error or null)`.
fn item_answer(item: &Value) -> (u16, Value) {
    let result = item
        .as_object()
        .and_then(|o| o.values().next())
        .cloned()
        .unwrap_or_default();
    (
        result["status"].as_u64().unwrap_or(0) as u16,
        result["error"].clone(),
    )
}
