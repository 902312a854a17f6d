//! Index template and ILM policy, installed before the first bulk. Both are `PUT`s of the
//! files in `observability/elasticsearch/`, so repeating them is harmless and the
//! operator's copy and the collector's are the same file.

use elasticsearch::Elasticsearch;
use elasticsearch::http::Method;
use elasticsearch::http::headers::HeaderMap;

use crate::sink::SinkError;

/// The index template for `ml-pipeline-*`: explicit mappings of every field the host emits.
pub const INDEX_TEMPLATE: &str =
    include_str!("../../../../observability/elasticsearch/index-template.json");

/// The retention policy the template names.
pub const ILM_POLICY: &str =
    include_str!("../../../../observability/elasticsearch/ilm-policy.json");

/// The name of both.
pub const SETUP_NAME: &str = "ml-pipeline";

/// Installs the ILM policy, then the index template that refers to it.
pub(super) async fn install(client: &Elasticsearch) -> Result<(), SinkError> {
    for (path, body) in [
        (format!("/_ilm/policy/{SETUP_NAME}"), ILM_POLICY),
        (format!("/_index_template/{SETUP_NAME}"), INDEX_TEMPLATE),
    ] {
        let response = client
            .send(
                Method::Put,
                &path,
                HeaderMap::new(),
                None::<&()>,
                Some(body.as_bytes().to_vec()),
                None,
            )
            .await
            .map_err(|e| SinkError::Unavailable(format!("PUT {path}: {e}")))?;
        let status = response.status_code().as_u16();
        if status >= 300 {
            let reason = response.text().await.unwrap_or_default();
            return Err(SinkError::Unavailable(format!(
                "PUT {path} answered {status}: {reason}"
            )));
        }
    }
    tracing::info!(name = SETUP_NAME, "index template and ILM policy installed");
    Ok(())
}
