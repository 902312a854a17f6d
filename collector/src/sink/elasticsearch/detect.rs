//! Which server answers behind the Elasticsearch API, from `GET /`: Elasticsearch (ILM),
//! OpenSearch (`version.distribution: opensearch`; ISM instead of ILM) or Elastic Cloud
//! Serverless (`version.build_flavor: serverless`; the data stream lifecycle instead of
//! ILM). A key that may not call `GET /` (a writer-only key), or a proxy that does not
//! pass it on, leaves only the `X-Elastic-Product` header to go by; setup then tries
//! Elasticsearch's steps, whose refusals are handled like any other.

use elasticsearch::Elasticsearch;
use elasticsearch::http::Method;
use elasticsearch::http::headers::HeaderMap;
use serde::Serialize;
use serde_json::Value;

use crate::sink::SinkError;

/// The kinds of server the collector sets up differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerKind {
    /// Elasticsearch 8/9, self-managed or Elastic Cloud.
    Elasticsearch,
    /// OpenSearch (self-managed or AWS).
    OpenSearch,
    /// Elastic Cloud Serverless.
    Serverless,
    /// `GET /` was refused (or not answered as Elasticsearch does) and nothing said which:
    /// set up as Elasticsearch.
    Unknown,
}

/// What `GET /` said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Server {
    /// The kind.
    pub kind: ServerKind,
    /// `version.number`, when `GET /` was answered.
    pub version: Option<String>,
}

/// Asks the server what it is. A refusal (401/403, or any other 4xx but 429) is not an
/// error: the key may write without being allowed to ask, and a proxy may not pass `/`
/// on. No answer, 429 or 5xx is, and the caller retries.
pub(super) async fn detect(client: &Elasticsearch) -> Result<Server, SinkError> {
    let response = client
        .send(
            Method::Get,
            "/",
            HeaderMap::new(),
            None::<&()>,
            None::<Vec<u8>>,
            None,
        )
        .await
        .map_err(|e| SinkError::Unavailable(format!("GET /: {e}")))?;
    let status = response.status_code().as_u16();
    let product = response
        .headers()
        .get("x-elastic-product")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    match status {
        // A page that is not Elasticsearch's JSON (a proxy's) says nothing either.
        200..=299 => Ok(match response.json::<Value>().await {
            Ok(info) if info["version"].is_object() => from_info(&info),
            _ => Server {
                kind: ServerKind::Unknown,
                version: None,
            },
        }),
        400..=499 if status != 429 => Ok(Server {
            kind: match product.as_deref() {
                Some("Elasticsearch") => ServerKind::Elasticsearch,
                _ => ServerKind::Unknown,
            },
            version: None,
        }),
        _ => Err(SinkError::Unavailable(format!("GET / answered {status}"))),
    }
}

/// The server an answer to `GET /` describes.
fn from_info(info: &Value) -> Server {
    let version = &info["version"];
    let kind = if version["distribution"] == "opensearch" {
        ServerKind::OpenSearch
    } else if version["build_flavor"] == "serverless" {
        ServerKind::Serverless
    } else {
        ServerKind::Elasticsearch
    };
    Server {
        kind,
        version: version["number"].as_str().map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_version_block_tells_the_servers_apart() {
        let kind = |version: Value| from_info(&json!({ "version": version })).kind;
        assert_eq!(
            kind(json!({"number": "8.15.0", "build_flavor": "default"})),
            ServerKind::Elasticsearch
        );
        assert_eq!(
            kind(json!({"number": "2.17.0", "distribution": "opensearch"})),
            ServerKind::OpenSearch
        );
        assert_eq!(
            kind(json!({"number": "8.11.0", "build_flavor": "serverless"})),
            ServerKind::Serverless
        );
        assert_eq!(kind(json!({"number": "7.17.0"})), ServerKind::Elasticsearch);
        assert_eq!(
            from_info(&json!({"version": {"number": "9.1.0"}})).version,
            Some("9.1.0".into())
        );
    }
}
