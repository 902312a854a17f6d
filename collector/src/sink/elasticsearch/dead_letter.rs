//! The dead-letter file: documents Elasticsearch rejected for good (a mapping error, a
//! 400), one JSON line each with the status, the reason and the document, fsync'd before
//! the batch counts as delivered so a rejected event is never silently gone.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use serde_json::{Value, json};

use crate::sink::{Entry, SinkError};

/// A document rejected for good, with Elasticsearch's answer.
pub(super) struct Rejection<'a> {
    pub entry: &'a Entry,
    pub status: u16,
    pub error: Value,
}

/// Appends `rejections` to `<dir>/dead-letter.ndjson` and syncs it.
pub(super) fn write(dir: &std::path::Path, rejections: &[Rejection<'_>]) -> Result<(), SinkError> {
    if rejections.is_empty() {
        return Ok(());
    }
    let path: PathBuf = dir.join("dead-letter.ndjson");
    let mut text = Vec::new();
    for rejection in rejections {
        let line = json!({
            "status": rejection.status,
            "reason": rejection.error["reason"].as_str().unwrap_or("rejected"),
            "type": rejection.error["type"],
            "seq": rejection.entry.0,
            "document": String::from_utf8_lossy(&rejection.entry.1),
        });
        text.extend_from_slice(line.to_string().as_bytes());
        text.push(b'\n');
        tracing::warn!(
            seq = rejection.entry.0,
            status = rejection.status,
            reason = rejection.error["reason"].as_str().unwrap_or("rejected"),
            "document rejected for good; dead-lettered"
        );
    }
    let written = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file: File| {
            file.write_all(&text)?;
            file.sync_data()
        });
    written.map_err(|e| SinkError::Unavailable(format!("writing {}: {e}", path.display())))
}
