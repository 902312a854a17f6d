//! Faults on demand, queued through `POST /_fault` and consumed by the next requests.

use serde_json::Value;

/// One fault, applied to the next matching request(s).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer the next `_bulk` with this status (429, 503...) and an error body.
    Status(u16),
    /// Wait this many milliseconds before handling the next request.
    Delay(u64),
    /// Close the connection without an answer, before (`false`) or after (`true`) the
    /// bulk was applied.
    Drop {
        /// Whether the documents were indexed before the connection dropped.
        after_applying: bool,
    },
    /// In the next `_bulk`, fail every `every`-th item with `status`.
    FailItems {
        /// Which items fail: 1 = all, 2 = every second...
        every: usize,
        /// Their status (429, 500, 400...).
        status: u16,
    },
}

impl Fault {
    /// Parses `{"status": 429}`, `{"delay_ms": 500}`, `{"drop": "before"|"after"}` or
    /// `{"fail_items": {"every": 3, "status": 429}}`, with an optional `"times": n`.
    pub fn parse(spec: &Value) -> Result<(Fault, usize), String> {
        let times = spec.get("times").and_then(Value::as_u64).unwrap_or(1) as usize;
        let fault = if let Some(status) = spec.get("status").and_then(Value::as_u64) {
            Fault::Status(status as u16)
        } else if let Some(ms) = spec.get("delay_ms").and_then(Value::as_u64) {
            Fault::Delay(ms)
        } else if let Some(when) = spec.get("drop").and_then(Value::as_str) {
            Fault::Drop {
                after_applying: when == "after",
            }
        } else if let Some(items) = spec.get("fail_items") {
            Fault::FailItems {
                every: items
                    .get("every")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    .max(1) as usize,
                status: items.get("status").and_then(Value::as_u64).unwrap_or(429) as u16,
            }
        } else {
            return Err(format!("unknown fault {spec}"));
        };
        Ok((fault, times))
    }
}
