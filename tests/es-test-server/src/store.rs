//! What the test server holds: indices and data streams of documents, index templates
//! (whose mappings are enforced on matching indices, and which make data streams), ILM
//! and ISM policies, queued faults and request counters.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde_json::Value;

use crate::faults::Fault;
pub use crate::flavor::Flavor;

/// One index or data stream: documents by `_id`, and the mapped field types it was
/// created with.
#[derive(Debug, Default, Clone)]
pub struct Index {
    /// Documents by `_id`.
    pub docs: HashMap<String, Value>,
    /// Field name → mapped type (`integer`, `float`, `date`, `keyword`...), from the
    /// matching index template when the index was created.
    pub mappings: BTreeMap<String, String>,
    /// A data stream (its template has `data_stream`): `create` only, `@timestamp`
    /// required.
    pub data_stream: bool,
}

/// The server's state.
#[derive(Debug, Default)]
pub struct Store {
    /// Indices by name.
    pub indices: BTreeMap<String, Index>,
    /// Index templates by name, as sent.
    pub templates: BTreeMap<String, Value>,
    /// ILM policies by name, as sent.
    pub policies: BTreeMap<String, Value>,
    /// OpenSearch ISM policies by name, as sent.
    pub ism_policies: BTreeMap<String, Value>,
    /// Faults waiting for the next requests.
    pub faults: VecDeque<Fault>,
    /// `_bulk` requests received, and how many of them were gzip-compressed.
    pub bulk_requests: u64,
    /// `_bulk` requests with `Content-Encoding: gzip`.
    pub gzip_bulk_requests: u64,
    /// Generated `_id`s so far.
    pub next_auto_id: u64,
    /// `_bulk` requests being handled now, and the most there ever were at once.
    pub bulk_in_flight: u64,
    /// The most `_bulk` requests handled at the same time.
    pub max_bulk_in_flight: u64,
    /// When set, every request must carry exactly this `Authorization` header (else 401).
    pub required_authorization: Option<String>,
    /// The `Authorization` header of the last request, if it had one.
    pub last_authorization: Option<String>,
    /// Which server it answers as.
    pub flavor: Flavor,
    /// A writer's key: `GET /`, index templates and policies answer 403, documents may
    /// be created.
    pub writer_key_only: bool,
}

impl Store {
    /// The index `name`, created with the mappings of the matching template of highest
    /// priority; a data stream if that template says so (or, with no template of ours,
    /// if Elastic's built-in `logs` template covers the name).
    pub fn index_or_create(&mut self, name: &str) -> &mut Index {
        if !self.indices.contains_key(name) {
            let template = self
                .templates
                .values()
                .filter(|t| patterns_of(t).iter().any(|p| glob(p, name)))
                .max_by_key(|t| t["priority"].as_i64().unwrap_or(0));
            let index = match template {
                Some(template) => Index {
                    docs: HashMap::new(),
                    mappings: mapped_types(template),
                    data_stream: template.get("data_stream").is_some(),
                },
                None => Index {
                    data_stream: self.flavor.builtin_logs_data_streams() && glob("logs-*-*", name),
                    ..Index::default()
                },
            };
            self.indices.insert(name.to_owned(), index);
        }
        self.indices.get_mut(name).expect("inserted above")
    }

    /// Indices matching a comma-separated list of names or `*` patterns.
    pub fn matching(&self, target: &str) -> Vec<(&String, &Index)> {
        let patterns: Vec<&str> = target.split(',').collect();
        self.indices
            .iter()
            .filter(|(name, _)| patterns.iter().any(|p| *p == "_all" || glob(p, name)))
            .collect()
    }
}

fn patterns_of(template: &Value) -> Vec<String> {
    match &template["index_patterns"] {
        Value::String(p) => vec![p.clone()],
        Value::Array(ps) => ps
            .iter()
            .filter_map(|p| p.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    }
}

fn mapped_types(template: &Value) -> BTreeMap<String, String> {
    let mut types = Vec::new();
    crate::flavor::field_types("", &template["template"]["mappings"], &mut types);
    types.into_iter().collect()
}

/// The value at `field` (`a.b.c`): a key of that name, as dotted keys in a document are,
/// or the path through objects.
fn value_at<'a>(doc: &'a Value, field: &str) -> Option<&'a Value> {
    if let Some(value) = doc.get(field) {
        return Some(value);
    }
    let (head, rest) = field.split_once('.')?;
    value_at(doc.get(head)?, rest)
}

/// `*` matches any run of characters.
pub fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, rest)) => {
            let Some(tail) = name.strip_prefix(prefix) else {
                return false;
            };
            (0..=tail.len()).any(|i| tail.is_char_boundary(i) && glob(rest, &tail[i..]))
        }
    }
}

/// Why a document does not fit an index's mappings, as Elasticsearch words it.
pub fn mapping_violation(index: &Index, id: &str, doc: &Value) -> Option<String> {
    for (field, kind) in &index.mappings {
        let Some(value) = value_at(doc, field) else {
            continue;
        };
        if kind == "alias" {
            return Some(format!(
                "failed to parse: Cannot write to a field alias [{field}]."
            ));
        }
        if value.is_null() || fits(kind, value) {
            continue;
        }
        return Some(format!(
            "[1:1] failed to parse field [{field}] of type [{kind}] in document with id '{id}'. Preview of field's value: '{}'",
            value
                .as_str()
                .map_or_else(|| value.to_string(), String::from)
        ));
    }
    None
}

fn fits(kind: &str, value: &Value) -> bool {
    let numeric_text = |v: &Value| v.as_str().is_some_and(|s| s.trim().parse::<f64>().is_ok());
    match kind {
        "integer" | "long" | "short" | "byte" => {
            value.as_i64().is_some()
                || value.as_f64().is_some_and(|f| f.fract() == 0.0)
                || value
                    .as_str()
                    .is_some_and(|s| s.trim().parse::<i64>().is_ok())
        }
        "float" | "double" | "half_float" | "scaled_float" => {
            value.is_number() || numeric_text(value)
        }
        "boolean" => value.is_boolean() || matches!(value.as_str(), Some("true" | "false")),
        "date" => {
            value.is_i64()
                || value.as_str().is_some_and(|s| {
                    let b = s.as_bytes();
                    b.len() >= 10
                        && b[..4].iter().all(u8::is_ascii_digit)
                        && b[4] == b'-'
                        && b[7] == b'-'
                })
        }
        "keyword" | "text" | "wildcard" => !value.is_object(),
        "object" | "flattened" | "flat_object" => value.is_object(),
        _ => true,
    }
}
