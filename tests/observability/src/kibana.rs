//! The Kibana saved objects and rule, read as data: which fields of the index each one
//! uses and how, so a test can hold them against the index template's mappings.

use serde_json::Value;

/// How a saved object uses a field, which decides the mapping types it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldUse {
    /// Bucketed by date.
    Date,
    /// Bucketed by exact value (terms): keyword or numeric.
    Terms,
    /// Averaged, ranged, percentiles: numeric.
    Numeric,
    /// Shown or searched (a column, a query): any mapped type.
    Any,
}

impl FieldUse {
    /// Whether a field mapped as `mapping_type` serves this use.
    pub fn accepts(self, mapping_type: &str) -> bool {
        let numeric = matches!(
            mapping_type,
            "long" | "integer" | "short" | "byte" | "double" | "float" | "half_float"
        );
        match self {
            Self::Date => matches!(mapping_type, "date" | "date_nanos"),
            Self::Terms => numeric || matches!(mapping_type, "keyword" | "boolean" | "ip"),
            Self::Numeric => numeric,
            Self::Any => true,
        }
    }
}

/// The saved objects, one per NDJSON line.
pub fn saved_objects() -> Vec<Value> {
    crate::read("kibana/saved-objects.ndjson")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1))
        })
        .collect()
}

/// The error-rate rule created through Kibana's alerting API.
pub fn error_rate_rule() -> Value {
    crate::json("kibana/error-rate-rule.json")
}

/// A string attribute that holds JSON (`visState`, `searchSourceJSON`), parsed.
pub fn embedded_json(value: &Value) -> Value {
    serde_json::from_str(value.as_str().expect("a JSON string")).expect("valid embedded JSON")
}

/// `(field, use)` for every field a saved object references.
pub fn field_uses(object: &Value) -> Vec<(String, FieldUse)> {
    let attributes = &object["attributes"];
    let mut uses = Vec::new();
    if let Some(time) = attributes["timeFieldName"].as_str() {
        uses.push((time.to_owned(), FieldUse::Date));
    }
    if let Some(vis_state) = attributes.get("visState") {
        for agg in embedded_json(vis_state)["aggs"].as_array().expect("aggs") {
            let Some(field) = agg["params"]["field"].as_str() else {
                continue;
            };
            let field_use = match agg["type"].as_str().unwrap() {
                "date_histogram" => FieldUse::Date,
                "terms" => FieldUse::Terms,
                _ => FieldUse::Numeric,
            };
            uses.push((field.to_owned(), field_use));
        }
    }
    for column in attributes["columns"].as_array().into_iter().flatten() {
        uses.push((column.as_str().unwrap().to_owned(), FieldUse::Any));
    }
    for sort in attributes["sort"].as_array().into_iter().flatten() {
        uses.push((sort[0].as_str().unwrap().to_owned(), FieldUse::Date));
    }
    if let Some(source) = attributes["kibanaSavedObjectMeta"].get("searchSourceJSON") {
        let query = embedded_json(source)["query"]["query"].clone();
        uses.extend(
            kuery_fields(query.as_str().unwrap_or_default())
                .into_iter()
                .map(|f| (f, FieldUse::Any)),
        );
    }
    uses
}

/// The fields a KQL query names (`level:error and status:*` → level, status).
pub fn kuery_fields(query: &str) -> Vec<String> {
    query
        .split_whitespace()
        .filter_map(|term| term.split_once(':').map(|(field, _)| field))
        .map(|field| field.trim_start_matches(['(', '!']).to_owned())
        .filter(|field| !field.is_empty())
        .collect()
}
