//! Index template and ILM policy, installed before the first bulk. Both are `PUT`s of the
//! files in `observability/elasticsearch/`, so repeating them is harmless and the
//! operator's copy and the collector's are the same file. Servers without ILM (OpenSearch,
//! Elastic Serverless) and least-privilege keys refuse them; by default that is logged
//! and recorded, and delivery goes on (`--elasticsearch-setup`).

use elasticsearch::Elasticsearch;
use elasticsearch::http::Method;
use elasticsearch::http::headers::HeaderMap;

use super::config::SetupMode;
use crate::metrics::CollectorMetrics;
use crate::sink::SinkError;

/// The index template for `ml-pipeline-*`: explicit mappings of every field the host emits.
pub const INDEX_TEMPLATE: &str =
    include_str!("../../../../observability/elasticsearch/index-template.json");

/// The retention policy the template names.
pub const ILM_POLICY: &str =
    include_str!("../../../../observability/elasticsearch/ilm-policy.json");

/// The name of both.
pub const SETUP_NAME: &str = "ml-pipeline";

/// Installs the ILM policy, then the index template that refers to it, as `mode` says.
/// A step the server cannot take (400/404/405: no such API, or a setting it does not know,
/// as on OpenSearch and Serverless) or the key may not (401/403) is, under
/// [`SetupMode::Auto`], logged once, recorded in `wasml_collector_setup_state` and passed:
/// delivery goes on without it. Anything else (no answer, 429, 5xx) is an error the
/// pipeline retries, in every mode: the server may be starting.
pub(super) async fn install(
    client: &Elasticsearch,
    mode: SetupMode,
    metrics: &CollectorMetrics,
) -> Result<(), SinkError> {
    let steps = [
        (
            "ilm_policy",
            format!("/_ilm/policy/{SETUP_NAME}"),
            ILM_POLICY,
        ),
        (
            "index_template",
            format!("/_index_template/{SETUP_NAME}"),
            INDEX_TEMPLATE,
        ),
    ];
    for (step, path, body) in steps {
        let state = match mode {
            SetupMode::Skip => "skipped",
            SetupMode::Auto | SetupMode::Require => match put(client, &path, body).await? {
                Ok(()) => "installed",
                Err(refusal) if mode == SetupMode::Require => {
                    return Err(SinkError::Unavailable(format!(
                        "--elasticsearch-setup require: {refusal}"
                    )));
                }
                Err(refusal) => {
                    tracing::warn!(step, %refusal, "Elasticsearch setup step not installed; delivering without it");
                    refusal.state()
                }
            },
        };
        for other in STATES {
            metrics
                .setup_state
                .with_label_values(&[step, other])
                .set(i64::from(other == state));
        }
    }
    tracing::info!(name = SETUP_NAME, ?mode, "Elasticsearch setup done");
    Ok(())
}

/// The `state` label values of `wasml_collector_setup_state`.
const STATES: [&str; 4] = ["installed", "unsupported", "forbidden", "skipped"];

/// A setup request the server answered but did not take.
struct Refusal {
    path: String,
    status: u16,
    reason: String,
}

impl Refusal {
    fn state(&self) -> &'static str {
        match self.status {
            401 | 403 => "forbidden",
            _ => "unsupported",
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PUT {} answered {}: {}",
            self.path, self.status, self.reason
        )
    }
}

/// `PUT path body`: `Ok(Ok(()))` when taken, `Ok(Err(_))` when the server answered that it
/// cannot or may not, `Err(_)` when it did not answer or answered an error worth retrying.
async fn put(
    client: &Elasticsearch,
    path: &str,
    body: &str,
) -> Result<Result<(), Refusal>, SinkError> {
    let response = client
        .send(
            Method::Put,
            path,
            HeaderMap::new(),
            None::<&()>,
            Some(body.as_bytes().to_vec()),
            None,
        )
        .await
        .map_err(|e| SinkError::Unavailable(format!("PUT {path}: {e}")))?;
    let status = response.status_code().as_u16();
    if status < 300 {
        return Ok(Ok(()));
    }
    let reason = response.text().await.unwrap_or_default();
    let refusal = Refusal {
        path: path.to_owned(),
        status,
        reason,
    };
    match status {
        400 | 401 | 403 | 404 | 405 => Ok(Err(refusal)),
        _ => Err(SinkError::Unavailable(refusal.to_string())),
    }
}
