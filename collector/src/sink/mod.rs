//! Where delivered events end up. A sink takes a batch read from the WAL and returns only
//! once the batch is durable on its side; the pipeline then moves the WAL's checkpoint
//! past it. A sink must make redelivery of a batch harmless (after a crash between its
//! write and the checkpoint), so delivery is exactly-once as far as the sink can tell.

pub mod elasticsearch;
pub mod file;

use thiserror::Error;

pub use crate::wal::reader::Entry;

/// Why a batch was not delivered; the pipeline retries it with backoff.
#[derive(Debug, Error)]
pub enum SinkError {
    /// The sink could not be reached or written (disk full, connection refused...).
    #[error("sink unavailable: {0}")]
    Unavailable(String),
}

/// A destination for batches of events (one JSON document per entry).
pub trait Sink: Send {
    /// Delivers `batch` durably, or fails without a partial effect that a retry would
    /// duplicate.
    fn deliver(&mut self, batch: &[Entry]) -> Result<(), SinkError>;
}

/// What the sinks read from a document: its `@timestamp` (for the daily name) and its
/// `event_id` (for a stable `_id`), in one pass over it.
#[derive(Debug, Default, serde::Deserialize)]
pub struct DocumentMeta<'a> {
    #[serde(rename = "@timestamp", borrow, default)]
    timestamp: Option<std::borrow::Cow<'a, str>>,
    /// The event's ID, if it has one (the host always sets it).
    #[serde(borrow, default)]
    pub event_id: Option<std::borrow::Cow<'a, str>>,
}

impl<'a> DocumentMeta<'a> {
    /// Reads `document`; a document that is not a JSON object has neither field.
    pub fn read(document: &'a [u8]) -> Self {
        serde_json::from_slice(document).unwrap_or_default()
    }

    /// The daily index (or file) name: `ml-pipeline-YYYY.MM.DD` from `@timestamp`, or
    /// `ml-pipeline-undated` without a readable one.
    pub fn daily_name(&self) -> String {
        let day = self
            .timestamp
            .as_deref()
            .filter(|t| t.len() >= 10 && t.as_bytes()[4] == b'-' && t.as_bytes()[7] == b'-')
            .map(|t| t[..10].replace('-', "."));
        format!("ml-pipeline-{}", day.as_deref().unwrap_or("undated"))
    }
}

/// The daily index (or file) name of a document, from its `@timestamp`:
/// `ml-pipeline-YYYY.MM.DD`; documents without a readable one go to `ml-pipeline-undated`.
pub fn daily_name(document: &[u8]) -> String {
    DocumentMeta::read(document).daily_name()
}

#[cfg(test)]
mod tests {
    use super::daily_name;

    #[test]
    fn daily_names_come_from_the_timestamp() {
        assert_eq!(
            daily_name(br#"{"@timestamp":"2026-11-26T08:23:17.492Z","level":"info"}"#),
            "ml-pipeline-2026.11.26"
        );
        assert_eq!(daily_name(br#"{"level":"info"}"#), "ml-pipeline-undated");
        assert_eq!(daily_name(b"not json"), "ml-pipeline-undated");
        assert_eq!(
            daily_name(br#"{"@timestamp":"yesterday"}"#),
            "ml-pipeline-undated"
        );
    }
}
