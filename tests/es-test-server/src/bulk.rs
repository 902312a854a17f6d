//! `_bulk`: NDJSON pairs of action and source, applied item by item, answered the way
//! Elasticsearch answers (per-item status and error, `errors: true` if any failed).

use serde_json::{Value, json};

use crate::faults::Fault;
use crate::store::{Store, mapping_violation};

/// Applies a bulk body to `store`. `default_index` comes from `/{index}/_bulk`;
/// `fail_items` is a queued item fault. Returns the response body, or a 400 message.
pub fn apply(
    store: &mut Store,
    body: &str,
    default_index: Option<&str>,
    fail_items: Option<&Fault>,
) -> Result<Value, String> {
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
        let id = match meta["_id"].as_str() {
            Some(id) => id.to_owned(),
            None => {
                store.next_auto_id += 1;
                format!("auto-{}", store.next_auto_id)
            }
        };
        let position = items.len() + 1;
        let injected = match fail_items {
            Some(Fault::FailItems { every, status }) if position % every == 0 => Some(*status),
            _ => None,
        };
        let (status, outcome) = match injected {
            Some(status) => (status, Err(injected_error(status))),
            None => store_item(store, &op, &index, &id, source),
        };
        let mut item = json!({"_index": index, "_id": id, "status": status});
        match outcome {
            Ok(result) => {
                item["result"] = json!(result);
                item["_version"] = json!(1);
            }
            Err(error) => item["error"] = error,
        }
        items.push(json!({ op: item }));
    }
    let errors = items.iter().any(|i| {
        i.as_object()
            .and_then(|o| o.values().next())
            .is_some_and(|v| v["status"].as_u64().unwrap_or(0) >= 300)
    });
    Ok(json!({"took": 1, "errors": errors, "items": items}))
}

fn store_item(
    store: &mut Store,
    op: &str,
    index: &str,
    id: &str,
    source: Value,
) -> (u16, Result<&'static str, Value>) {
    let target = store.index_or_create(index);
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
