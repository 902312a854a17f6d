//! How the Elasticsearch sink is configured: flags shared by the collector binary and the
//! host (which embeds the same sink), and the transport built from them (URL, API key or
//! basic credentials, a CA certificate for TLS, gzip, timeout).

use std::path::PathBuf;
use std::time::Duration;

use elasticsearch::Elasticsearch;
use elasticsearch::auth::Credentials;
use elasticsearch::cert::{Certificate, CertificateValidation};
use elasticsearch::http::transport::{SingleNodeConnectionPool, TransportBuilder};
use thiserror::Error;

use super::target::{Namespace, Target, TargetKind};
use crate::secret::Secret;

/// The `--elasticsearch-*` and `--bulk-*` flags.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Elasticsearch")]
pub struct ElasticsearchArgs {
    /// Elasticsearch base URL, e.g. `https://es.example:9200`. Without it, events go to
    /// daily NDJSON files instead.
    #[arg(
        long = "elasticsearch-url",
        env = "WASML_ELASTICSEARCH_URL",
        value_name = "URL"
    )]
    pub url: Option<String>,
    /// API key, as Elasticsearch returns it encoded (`base64(id:key)`); sent as
    /// `Authorization: ApiKey ...`.
    #[arg(
        long = "elasticsearch-api-key",
        env = "WASML_ELASTICSEARCH_API_KEY",
        hide_env_values = true,
        value_name = "KEY",
        value_parser = Secret::parse,
        conflicts_with = "username"
    )]
    pub api_key: Option<Secret>,
    /// A file holding the API key (a Docker or Kubernetes secret), instead of
    /// `--elasticsearch-api-key`.
    #[arg(
        long = "elasticsearch-api-key-file",
        env = "WASML_ELASTICSEARCH_API_KEY_FILE",
        value_name = "FILE",
        value_parser = Secret::read_file,
        conflicts_with_all = ["api_key", "username"]
    )]
    pub api_key_file: Option<Secret>,
    /// User for basic authentication (with `--elasticsearch-password`).
    #[arg(
        long = "elasticsearch-username",
        env = "WASML_ELASTICSEARCH_USERNAME",
        value_name = "USER",
        requires = "password"
    )]
    pub username: Option<String>,
    /// Password for basic authentication.
    #[arg(
        long = "elasticsearch-password",
        env = "WASML_ELASTICSEARCH_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD",
        value_parser = Secret::parse
    )]
    pub password: Option<Secret>,
    /// PEM file of the CA that signed the cluster's certificate (for a private CA, such
    /// as the one Elasticsearch generates at first start).
    #[arg(
        long = "elasticsearch-ca-cert",
        env = "WASML_ELASTICSEARCH_CA_CERT",
        value_name = "PEM"
    )]
    pub ca_cert: Option<PathBuf>,
    /// Most events in one bulk request.
    #[arg(
        long,
        env = "WASML_BULK_MAX_EVENTS",
        default_value_t = 2_000,
        value_name = "N"
    )]
    pub bulk_max_events: usize,
    /// About the most bytes (before gzip) in one bulk request.
    #[arg(long, env = "WASML_BULK_MAX_BYTES", default_value_t = 4 << 20, value_name = "BYTES")]
    pub bulk_max_bytes: usize,
    /// Most bulk requests in flight at once.
    #[arg(
        long,
        env = "WASML_BULK_MAX_IN_FLIGHT",
        default_value_t = 4,
        value_name = "N"
    )]
    pub bulk_max_in_flight: usize,
    /// What to install before the first bulk: `auto` asks the server what it is (`GET /`)
    /// and installs what it supports (Elasticsearch: ILM policy and index template;
    /// OpenSearch: ISM policy and template; Serverless: template, with a data stream
    /// lifecycle for a data stream); a step the server lacks or the key may not take is
    /// logged once, shown in `wasml_collector_setup_state` and `/health`, and passed.
    /// `require` ships nothing until every step is installed; `skip` installs nothing.
    #[arg(
        long = "elasticsearch-setup",
        env = "WASML_ELASTICSEARCH_SETUP",
        value_enum,
        default_value_t = SetupMode::Auto,
        value_name = "MODE"
    )]
    pub setup: SetupMode,
    /// Where documents go: daily indices `ml-pipeline-YYYY.MM.DD`, or the data stream
    /// `logs-ml_pipeline-<namespace>` (as Elastic Agent and Filebeat 8 write).
    #[arg(
        long = "elasticsearch-target",
        env = "WASML_ELASTICSEARCH_TARGET",
        value_enum,
        default_value_t = TargetKind::Index,
        value_name = "TARGET"
    )]
    pub target: TargetKind,
    /// The namespace of the data stream (`--elasticsearch-target data-stream`), e.g. an
    /// environment: `logs-ml_pipeline-prod`.
    #[arg(
        long = "elasticsearch-namespace",
        env = "WASML_ELASTICSEARCH_NAMESPACE",
        default_value = "default",
        value_parser = Namespace::parse,
        value_name = "NAMESPACE"
    )]
    pub namespace: Namespace,
    /// Seconds before a request to Elasticsearch is abandoned (and retried).
    #[arg(
        long = "elasticsearch-timeout-secs",
        env = "WASML_ELASTICSEARCH_TIMEOUT_SECS",
        default_value_t = 30,
        value_name = "SECS"
    )]
    pub timeout_secs: u64,
}

impl ElasticsearchArgs {
    /// The sink's configuration, or `None` when no URL was given.
    pub fn config(&self, dead_letter_dir: PathBuf) -> Option<ElasticsearchConfig> {
        let url = self.url.clone()?;
        let api_key = self.api_key.as_ref().or(self.api_key_file.as_ref());
        let credentials = match (api_key, &self.username, &self.password) {
            (Some(key), _, _) => Some(Credentials::EncodedApiKey(key.expose().to_owned())),
            (None, Some(user), Some(password)) => Some(Credentials::Basic(
                user.clone(),
                password.expose().to_owned(),
            )),
            _ => None,
        };
        Some(ElasticsearchConfig {
            url,
            credentials,
            ca_cert: self.ca_cert.clone(),
            dead_letter_dir,
            bulk_max_events: self.bulk_max_events.max(1),
            bulk_max_bytes: self.bulk_max_bytes.max(1),
            bulk_max_in_flight: self.bulk_max_in_flight.max(1),
            timeout: Duration::from_secs(self.timeout_secs.max(1)),
            max_backoff: Duration::from_secs(30),
            setup: self.setup,
            target: Target::new(self.target, &self.namespace),
        })
    }
}

/// Everything the sink needs to reach Elasticsearch.
#[derive(Clone)]
pub struct ElasticsearchConfig {
    /// Base URL, e.g. `http://127.0.0.1:9200`.
    pub url: String,
    /// API key or basic credentials, if the cluster wants them.
    pub credentials: Option<Credentials>,
    /// A CA certificate (PEM) to trust for TLS.
    pub ca_cert: Option<PathBuf>,
    /// Where rejected documents go (`dead-letter.ndjson` in it).
    pub dead_letter_dir: PathBuf,
    /// Most events in one bulk request.
    pub bulk_max_events: usize,
    /// About the most bytes in one bulk request.
    pub bulk_max_bytes: usize,
    /// Most bulk requests in flight at once.
    pub bulk_max_in_flight: usize,
    /// Request timeout.
    pub timeout: Duration,
    /// Longest wait before retrying failed items.
    pub max_backoff: Duration,
    /// What to install before the first bulk.
    pub setup: SetupMode,
    /// Daily indices or a data stream.
    pub target: Target,
}

/// What the sink installs before its first bulk (`--elasticsearch-setup`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SetupMode {
    /// Install what the server takes; ship anyway when it has no such API or the key may
    /// not.
    Auto,
    /// Ship nothing until every step the server supports is installed.
    Require,
    /// Install nothing (the operator manages templates and retention).
    Skip,
}

/// By hand, so that the credentials show as their kind only: the configuration is
/// printed in error messages (e.g. "opening the event sink ...").
impl std::fmt::Debug for ElasticsearchConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let credentials = self.credentials.as_ref().map(|c| match c {
            Credentials::Basic(..) => "basic (redacted)",
            Credentials::EncodedApiKey(..) | Credentials::ApiKey(..) => "API key (redacted)",
            _ => "redacted",
        });
        f.debug_struct("ElasticsearchConfig")
            .field("url", &self.url)
            .field("credentials", &credentials)
            .field("ca_cert", &self.ca_cert)
            .field("dead_letter_dir", &self.dead_letter_dir)
            .field("bulk_max_events", &self.bulk_max_events)
            .field("bulk_max_bytes", &self.bulk_max_bytes)
            .field("bulk_max_in_flight", &self.bulk_max_in_flight)
            .field("timeout", &self.timeout)
            .field("max_backoff", &self.max_backoff)
            .field("setup", &self.setup)
            .field("target", &self.target)
            .finish()
    }
}

impl ElasticsearchConfig {
    /// A configuration for `url` with the defaults of the flags and no credentials.
    pub fn new(url: impl Into<String>, dead_letter_dir: impl Into<PathBuf>) -> Self {
        Self {
            url: url.into(),
            credentials: None,
            ca_cert: None,
            dead_letter_dir: dead_letter_dir.into(),
            bulk_max_events: 2_000,
            bulk_max_bytes: 4 << 20,
            bulk_max_in_flight: 4,
            timeout: Duration::from_secs(30),
            max_backoff: Duration::from_secs(30),
            setup: SetupMode::Auto,
            target: Target::DailyIndices,
        }
    }

    /// Pipeline options whose shipper batch fills every bulk request allowed in flight,
    /// so the sink can send them at once.
    pub fn pipeline_options(&self) -> crate::PipelineOptions {
        crate::PipelineOptions {
            batch_events: self.bulk_max_events * self.bulk_max_in_flight,
            batch_bytes: self.bulk_max_bytes * self.bulk_max_in_flight,
            ..crate::PipelineOptions::default()
        }
    }

    /// The client for this configuration.
    pub(super) fn client(&self) -> Result<Elasticsearch, ConfigError> {
        let url = elasticsearch::http::Url::parse(&self.url).map_err(|e| ConfigError::Url {
            url: self.url.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConfigError::Url {
                url: self.url.clone(),
                reason: "the scheme must be http or https".into(),
            });
        }
        let mut transport = TransportBuilder::new(SingleNodeConnectionPool::new(url))
            // Bulk bodies are gzip'd by the sink itself (see `service`).
            .request_body_compression(false)
            .timeout(self.timeout)
            .disable_proxy();
        if let Some(credentials) = &self.credentials {
            transport = transport.auth(credentials.clone());
        }
        if let Some(path) = &self.ca_cert {
            let pem = std::fs::read(path).map_err(|e| ConfigError::CaCert {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let certificate = Certificate::from_pem(&pem).map_err(|e| ConfigError::CaCert {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            transport = transport.cert_validation(CertificateValidation::Full(certificate));
        }
        let transport = transport
            .build()
            .map_err(|e| ConfigError::Transport(e.to_string()))?;
        Ok(Elasticsearch::new(transport))
    }
}

/// A configuration that cannot work; reported at start-up, before any event is taken.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// The URL does not parse or is not HTTP(S).
    #[error("bad Elasticsearch URL {url:?}: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// The CA certificate cannot be read or is not PEM.
    #[error("cannot use the CA certificate {}: {reason}", path.display())]
    CaCert {
        /// The file given.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the Elasticsearch client: {0}")]
    Transport(String),
    /// The dead-letter directory cannot be created.
    #[error("cannot create the dead-letter directory {}: {reason}", path.display())]
    DeadLetterDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}
