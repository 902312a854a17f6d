//! Turning a batch read from the WAL into bulk requests: split by the count and byte
//! limits, each document preceded by its `create` action naming its index (daily) or data
//! stream, and the event's stable `_id`.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::target::Target;
use crate::sink::{DocumentMeta, Entry};

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

/// Gzip level of bulk bodies: 1, as Filebeat uses: most of the size gain of higher
/// levels on JSON at a fraction of the CPU.
const GZIP_LEVEL: u32 = 1;

/// The gzip'd NDJSON body of a bulk request creating `items` in `target`.
pub(super) fn bulk_body(items: &[&Entry], target: &Target) -> std::io::Result<Vec<u8>> {
    #[derive(serde::Serialize)]
    struct Action<'a> {
        create: Target<'a>,
    }
    #[derive(serde::Serialize)]
    struct Target<'a> {
        _index: &'a str,
        _id: &'a str,
    }
    let size = items.iter().map(|(_, d)| d.len() + 100).sum();
    let mut plain = Vec::with_capacity(size);
    for (seq, document) in items {
        let meta = DocumentMeta::read(document);
        let id = document_id(*seq, &meta);
        let action = Action {
            create: Target {
                _index: &target.name_for(&meta),
                _id: &id,
            },
        };
        serde_json::to_writer(&mut plain, &action)?;
        plain.push(b'\n');
        plain.extend_from_slice(document);
        plain.push(b'\n');
    }
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(plain.len() / 4),
        Compression::new(GZIP_LEVEL),
    );
    encoder.write_all(&plain)?;
    encoder.finish()
}

/// The event's `event_id` if it has one, else one derived from its WAL sequence number,
/// stable across redeliveries.
pub(super) fn document_id(seq: u64, meta: &DocumentMeta<'_>) -> String {
    meta.event_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .map_or_else(|| format!("wal-{seq}"), str::to_owned)
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
        let id = |doc: &[u8]| document_id(7, &DocumentMeta::read(doc));
        assert_eq!(id(br#"{"event_id":"abc"}"#), "abc");
        assert_eq!(id(br#"{"event_id":"a\"b"}"#), "a\"b", "escapes are read");
        assert_eq!(id(br#"{"event_id":""}"#), "wal-7");
        assert_eq!(id(b"{}"), "wal-7");
        assert_eq!(id(b"not json"), "wal-7");
    }
}
