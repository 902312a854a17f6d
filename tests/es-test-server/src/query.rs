//! The query subset the tests need: `match_all`, `term`, `range`, and `bool` with
//! `filter`/`must` lists of those.

use std::cmp::Ordering;

use serde_json::Value;

/// Whether `doc` matches `query` (`None` = match all). Unknown query types match nothing
/// and are reported as errors by [`check`].
pub fn matches(query: Option<&Value>, doc: &Value) -> bool {
    let Some(query) = query else {
        return true;
    };
    let Some((kind, body)) = query.as_object().and_then(|o| o.iter().next()) else {
        return true;
    };
    match kind.as_str() {
        "match_all" => true,
        "term" => body.as_object().is_some_and(|fields| {
            fields.iter().all(|(field, wanted)| {
                let wanted = wanted.get("value").unwrap_or(wanted);
                doc.get(field) == Some(wanted)
            })
        }),
        "range" => body.as_object().is_some_and(|fields| {
            fields.iter().all(|(field, bounds)| {
                let Some(value) = doc.get(field) else {
                    return false;
                };
                bounds.as_object().is_some_and(|bounds| {
                    bounds.iter().all(|(op, bound)| {
                        let order = compare(value, bound);
                        match op.as_str() {
                            "gte" => order.is_some_and(|o| o != Ordering::Less),
                            "gt" => order == Some(Ordering::Greater),
                            "lte" => order.is_some_and(|o| o != Ordering::Greater),
                            "lt" => order == Some(Ordering::Less),
                            _ => true,
                        }
                    })
                })
            })
        }),
        "bool" => ["filter", "must"]
            .iter()
            .all(|clause| match &body[*clause] {
                Value::Array(queries) => queries.iter().all(|q| matches(Some(q), doc)),
                Value::Object(_) => matches(Some(&body[*clause]), doc),
                _ => true,
            }),
        _ => false,
    }
}

/// An error message for query types this server does not implement.
pub fn check(query: Option<&Value>) -> Result<(), String> {
    let Some(query) = query.and_then(Value::as_object) else {
        return Ok(());
    };
    for (kind, body) in query {
        match kind.as_str() {
            "match_all" | "term" | "range" => {}
            "bool" => {
                for clause in ["filter", "must"] {
                    match &body[clause] {
                        Value::Array(queries) => queries.iter().try_for_each(|q| check(Some(q)))?,
                        other @ Value::Object(_) => check(Some(other))?,
                        _ => {}
                    }
                }
            }
            other => {
                return Err(format!(
                    "the test server does not implement [{other}] queries"
                ));
            }
        }
    }
    Ok(())
}

fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}
