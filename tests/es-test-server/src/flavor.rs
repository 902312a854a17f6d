//! The servers people run behind the same API, and where they differ for a log shipper:
//! what `GET /` says, which lifecycle API exists (ILM, ISM or neither), which index
//! settings and field types an index template may use, whether `logs-*-*` names are data
//! streams out of the box, and the `X-Elastic-Product` header.

use serde_json::{Value, json};

/// Which server the test server answers as.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Elasticsearch 8, self-managed or Elastic Cloud: ILM and index templates.
    #[default]
    Elasticsearch,
    /// OpenSearch 2: `version.distribution: opensearch`, ISM (`_plugins/_ism`) instead of
    /// ILM, `flat_object` instead of `flattened`, no `X-Elastic-Product`.
    OpenSearch,
    /// Elastic Cloud Serverless: `version.build_flavor: serverless`, no ILM (the data
    /// stream lifecycle instead) and almost no index settings.
    Serverless,
}

/// The index settings Serverless lets a template set (a subset of its documented list).
const SERVERLESS_SETTINGS: [&str; 5] = [
    "index.refresh_interval",
    "index.default_pipeline",
    "index.final_pipeline",
    "index.hidden",
    "index.codec",
];

/// A refusal in Elasticsearch's terms: status, error type, reason.
pub type Refusal = (u16, &'static str, String);

impl Flavor {
    /// Parses `elasticsearch`, `opensearch` or `serverless`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "elasticsearch" => Some(Self::Elasticsearch),
            "opensearch" => Some(Self::OpenSearch),
            "serverless" => Some(Self::Serverless),
            _ => None,
        }
    }

    /// The answer to `GET /`.
    pub fn info(self) -> Value {
        let (version, tagline) = match self {
            Self::Elasticsearch => (
                json!({"number": "8.15.0", "build_flavor": "default"}),
                "You Know, for Search",
            ),
            Self::OpenSearch => (
                json!({"distribution": "opensearch", "number": "2.17.0"}),
                "The OpenSearch Project: https://opensearch.org/",
            ),
            Self::Serverless => (
                json!({"number": "8.11.0", "build_flavor": "serverless"}),
                "You Know, for Search",
            ),
        };
        json!({
            "name": "wasml-es-test-server",
            "cluster_name": "test",
            "version": version,
            "tagline": tagline
        })
    }

    /// Elastic's servers mark every answer but 401/403 with `X-Elastic-Product:
    /// Elasticsearch` (the official clients refuse a server without it); OpenSearch never.
    pub fn marks_product(self) -> bool {
        self != Self::OpenSearch
    }

    /// Has `_ilm`.
    pub fn has_ilm(self) -> bool {
        self == Self::Elasticsearch
    }

    /// Has `_plugins/_ism`.
    pub fn has_ism(self) -> bool {
        self == Self::OpenSearch
    }

    /// Elastic's built-in `logs` template (priority 100) makes `logs-*-*` data streams.
    pub fn builtin_logs_data_streams(self) -> bool {
        self != Self::OpenSearch
    }

    /// Why an index template cannot be taken here, if it cannot: a setting the server
    /// does not know or allow, or a field type it does not have.
    pub fn refuses_template(self, template: &Value) -> Option<Refusal> {
        let mut settings = Vec::new();
        flatten("", &template["template"]["settings"], &mut settings);
        for setting in settings {
            let setting = if setting.starts_with("index.") {
                setting
            } else {
                format!("index.{setting}")
            };
            let refused = match self {
                Self::Elasticsearch => None,
                Self::OpenSearch => setting.starts_with("index.lifecycle.").then(|| {
                    format!("unknown setting [{setting}] please check that any required plugins are installed, or check the breaking changes documentation for removed settings")
                }),
                Self::Serverless => (!SERVERLESS_SETTINGS.contains(&setting.as_str())).then(|| {
                    format!("Settings [{setting}] are not available when running in serverless mode")
                }),
            };
            if let Some(reason) = refused {
                return Some((400, "illegal_argument_exception", reason));
            }
        }
        let foreign_type = if self == Self::OpenSearch {
            "flattened"
        } else {
            "flat_object"
        };
        let mut types = Vec::new();
        field_types("", &template["template"]["mappings"], &mut types);
        types
            .into_iter()
            .find(|(_, kind)| kind == foreign_type)
            .map(|(field, kind)| {
                (
                    400,
                    "mapper_parsing_exception",
                    format!("No handler for type [{kind}] declared on field [{field}]"),
                )
            })
    }
}

/// `{"index": {"lifecycle": {"name": x}}, "number_of_shards": 1}` → the dotted names.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<String>) {
    match value.as_object() {
        Some(object) => {
            for (key, value) in object {
                flatten(&join(prefix, key), value, out);
            }
        }
        None if !prefix.is_empty() => out.push(prefix.to_owned()),
        None => {}
    }
}

/// Every mapped field with its `type`, nested properties included.
/// Every mapped field under `mappings` with its type, objects' fields as `object.field`.
pub(crate) fn field_types(prefix: &str, mappings: &Value, out: &mut Vec<(String, String)>) {
    let Some(properties) = mappings["properties"].as_object() else {
        return;
    };
    for (name, spec) in properties {
        let field = join(prefix, name);
        if let Some(kind) = spec["type"].as_str() {
            out.push((field.clone(), kind.to_owned()));
        }
        field_types(&field, spec, out);
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}
