//! Turning a batch read from the WAL into bulk requests: split by the count and byte
//! limits, each document preceded by its `create` action naming the daily index and the
//! event's stable `_id`.

use serde_json::json;

use crate::sink::{Entry, daily_name};

/// Splits `batch` into chunks of at most `max_events` events and about `max_bytes` bytes
/// (a single larger document still gets a chunk of its own).
pub(super) fn chunks(batch: &[Entry], max_events: usize, max_bytes: usize) -> Vec<Vec<&Entry>> {
    let mut chunks = Vec::new();
    let mut current: Vec<&Entry> = Vec::new();
    let mut bytes = 0;
    for entry in batch {
        if !current.is_empty() && (current.len() >= max_events || bytes + entry.1.len() > max_bytes)
        {
            chunks.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += entry.1.len();
        current.push(entry);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// The NDJSON lines of a bulk request creating `items`.
pub(super) fn bulk_body(items: &[&Entry]) -> Vec<Vec<u8>> {
    let mut body = Vec::with_capacity(items.len() * 2);
    for (seq, document) in items {
        let action =
            json!({"create": {"_index": daily_name(document), "_id": document_id(*seq, document)}});
        body.push(action.to_string().into_bytes());
        body.push(document.clone());
    }
    body
}

/// The event's `event_id` if it has one (the host always sets it), else one derived from
/// its WAL sequence number, stable across redeliveries.
pub(super) fn document_id(seq: u64, document: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Id<'a> {
        #[serde(borrow)]
        event_id: Option<&'a str>,
    }
    serde_json::from_slice::<Id>(document)
        .ok()
        .and_then(|d| d.event_id.filter(|id| !id.is_empty()).map(String::from))
        .unwrap_or_else(|| format!("wal-{seq}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_respect_both_limits_and_keep_order() {
        let batch: Vec<Entry> = (1..=7).map(|i| (i, vec![b'x'; 10])).collect();
        let seqs = |chunks: Vec<Vec<&Entry>>| -> Vec<Vec<u64>> {
            chunks
                .into_iter()
                .map(|c| c.iter().map(|e| e.0).collect())
                .collect()
        };
        assert_eq!(
            seqs(chunks(&batch, 3, 1_000)),
            [vec![1, 2, 3], vec![4, 5, 6], vec![7]]
        );
        assert_eq!(
            seqs(chunks(&batch, 100, 25)),
            [vec![1, 2], vec![3, 4], vec![5, 6], vec![7]]
        );
        assert_eq!(
            seqs(chunks(&batch, 100, 5)).len(),
            7,
            "oversized documents go alone"
        );
    }

    #[test]
    fn ids_are_event_ids_or_stable_fallbacks() {
        assert_eq!(document_id(7, br#"{"event_id":"abc"}"#), "abc");
        assert_eq!(document_id(7, br#"{"event_id":""}"#), "wal-7");
        assert_eq!(document_id(7, b"{}"), "wal-7");
    }
}
