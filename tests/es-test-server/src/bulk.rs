//! `_bulk`: NDJSON pairs of action and source, applied item by item, answered the way
//! Elasticsearch answers (per-item status and error, `errors: true` if any failed).

use serde::Serialize;
use serde_json::{Value, json};

use crate::faults::Fault;
use crate::store::{Store, mapping_violation};

/// One parsed item of a bulk body.
pub struct Item {
    op: String,
    index: String,
    id: Option<String>,
    source: Value,
}

/// Parses a bulk body into its items (no store needed, so it runs outside the store's
/// lock and concurrent bulks parse in parallel). `default_index` comes from
/// `/{index}/_bulk`. A malformed body is a 400 message.
pub fn parse(body: &str, default_index: Option<&str>) -> Result<Vec<Item>, String> {
    let mut lines = body.lines().filter(|l| !l.trim().is_empty()).enumerate();
    let mut items = Vec::new();
    while let Some((line_no, action_line)) = lines.next() {
        let action: Value = serde_json::from_str(action_line)
            .map_err(|e| format!("Malformed action/metadata line [{}]: {e}", line_no + 1))?;
        let Some((op, meta)) = action.as_object().and_then(|o| o.iter().next()) else {
            return Err(format!("Malformed action/metadata line [{}]", line_no + 1));
        };
        let op = op.clone();
        if !matches!(op.as_str(), "create" | "index") {
            return Err(format!(
                "the test server does not implement the [{op}] bulk action"
            ));
        }
        let index = meta["_index"]
            .as_str()
            .or(default_index)
            .ok_or("an action line has no _index")?
            .to_owned();
        let (_, source_line) = lines
            .next()
            .ok_or_else(|| format!("the [{op}] action on line {} has no source", line_no + 1))?;
        let source: Value = serde_json::from_str(source_line)
            .map_err(|e| format!("failed to parse the source of item {}: {e}", items.len()))?;
        items.push(Item {
            op,
            index,
            id: meta["_id"].as_str().map(str::to_owned),
            source,
        });
    }
    Ok(items)
}

/// One item of a bulk answer: `{"create": {...}}` or `{"index": {...}}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemAnswer {
    /// A `create` action's outcome.
    Create(ItemOutcome),
    /// An `index` action's outcome.
    Index(ItemOutcome),
}

impl ItemAnswer {
    fn outcome(&self) -> &ItemOutcome {
        match self {
            Self::Create(outcome) | Self::Index(outcome) => outcome,
        }
    }
}

/// What happened to one item, in Elasticsearch's field names.
#[derive(Debug, Serialize)]
pub struct ItemOutcome {
    _index: String,
    _id: String,
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    _version: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
}

/// A bulk answer: `errors` is true when any item failed.
#[derive(Debug, Serialize)]
pub struct BulkAnswer {
    took: u64,
    errors: bool,
    items: Vec<ItemAnswer>,
}

/// Applies parsed items to `store`; `fail_items` is a queued item fault. Returns the
/// answer the way Elasticsearch gives it (typed, so a large bulk answers cheaply).
pub fn apply(store: &mut Store, parsed: Vec<Item>, fail_items: Option<&Fault>) -> BulkAnswer {
    let mut items = Vec::with_capacity(parsed.len());
    for Item {
        op,
        index,
        id,
        source,
    } in parsed
    {
        let id = id.unwrap_or_else(|| {
            store.next_auto_id += 1;
            format!("auto-{}", store.next_auto_id)
        });
        let position = items.len() + 1;
        let injected = match fail_items {
            Some(Fault::FailItems { every, status }) if position % every == 0 => Some(*status),
            _ => None,
        };
        let (status, outcome) = match injected {
            Some(status) => (status, Err(injected_error(status))),
            None => store_item(store, &op, &index, &id, source),
        };
        let (result, error) = match outcome {
            Ok(result) => (Some(result), None),
            Err(error) => (None, Some(error)),
        };
        let outcome = ItemOutcome {
            _index: index,
            _id: id,
            status,
            result,
            _version: result.map(|_| 1),
            error,
        };
        items.push(if op == "create" {
            ItemAnswer::Create(outcome)
        } else {
            ItemAnswer::Index(outcome)
        });
    }
    let errors = items.iter().any(|i| i.outcome().status >= 300);
    BulkAnswer {
        took: 1,
        errors,
        items,
    }
}

fn store_item(
    store: &mut Store,
    op: &str,
    index: &str,
    id: &str,
    source: Value,
) -> (u16, Result<&'static str, Value>) {
    let target = store.index_or_create(index);
    if target.data_stream {
        if op != "create" {
            return (
                400,
                Err(json!({"type": "illegal_argument_exception",
                    "reason": format!("only write ops with an op_type of create are allowed in data streams (index [{index}])")})),
            );
        }
        if source.get("@timestamp").is_none() {
            return (
                400,
                Err(json!({"type": "document_parsing_exception",
                    "reason": "[1:1] failed to parse: data stream timestamp field [@timestamp] is missing"})),
            );
        }
    }
    if let Some(reason) = mapping_violation(target, id, &source) {
        return (
            400,
            Err(json!({"type": "document_parsing_exception", "reason": reason})),
        );
    }
    let exists = target.docs.contains_key(id);
    if op == "create" && exists {
        return (
            409,
            Err(json!({
                "type": "version_conflict_engine_exception",
                "reason": format!("[{id}]: version conflict, document already exists (current version [1])"),
                "index": index,
            })),
        );
    }
    target.docs.insert(id.to_owned(), source);
    if exists {
        (200, Ok("updated"))
    } else {
        (201, Ok("created"))
    }
}

fn injected_error(status: u16) -> Value {
    let kind = match status {
        429 => "es_rejected_execution_exception",
        400 => "illegal_argument_exception",
        503 => "unavailable_shards_exception",
        _ => "exception",
    };
    json!({"type": kind, "reason": format!("injected by the test server ({status})")})
}
