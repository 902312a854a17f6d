//! The file sink: daily NDJSON files (`ml-pipeline-YYYY.MM.DD.ndjson`) holding exactly
//! the documents that would be indexed. The embedded default when no Elasticsearch is
//! configured; `collector replay` ships such files later.
//!
//! Exactly once across crashes: before appending a batch the sink writes an *intent*
//! (the batch's last sequence number and each file's length before it). If the collector
//! dies after appending but before the WAL checkpoint moved, [`FileSink::open`] cuts the
//! files back to those lengths, and the redelivered batch is appended once.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Entry, Sink, SinkError, daily_name};

const INTENT: &str = ".intent.json";

/// What the sink was about to do: the batch's last seq, and each file's length before it.
#[derive(Debug, Serialize, Deserialize)]
struct Intent {
    last: u64,
    files: BTreeMap<String, u64>,
}

/// Daily NDJSON files in a directory.
pub struct FileSink {
    dir: PathBuf,
}

impl FileSink {
    /// Opens the sink in `dir`; `delivered` is the WAL's checkpoint, so a batch written
    /// past it (and so about to be redelivered) is undone first.
    pub fn open(dir: impl Into<PathBuf>, delivered: u64) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        let intent_path = dir.join(INTENT);
        if let Ok(text) = fs::read(&intent_path) {
            let intent: Intent = serde_json::from_slice(&text)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if intent.last > delivered {
                undo(&dir, &intent);
            }
        }
        Ok(Self { dir })
    }

    fn write_batch(&mut self, batch: &[Entry]) -> io::Result<()> {
        let Some((last, _)) = batch.last() else {
            return Ok(());
        };
        let mut lines: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (_, document) in batch {
            let out = lines
                .entry(format!("{}.ndjson", daily_name(document)))
                .or_default();
            out.extend_from_slice(document);
            out.push(b'\n');
        }
        let files_before = lines
            .keys()
            .map(|name| Ok((name.clone(), file_len(&self.dir.join(name))?)))
            .collect::<io::Result<BTreeMap<_, _>>>()?;
        let intent = Intent {
            last: *last,
            files: files_before,
        };
        write_durably(
            &self.dir,
            INTENT,
            &serde_json::to_vec(&intent).map_err(io::Error::other)?,
        )?;
        let appended = lines.into_iter().try_for_each(|(name, bytes)| {
            let mut file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(name))?;
            file.write_all(&bytes)?;
            file.sync_data()
        });
        if let Err(error) = appended.and_then(|()| crate::wal::sync_dir(&self.dir)) {
            // Leave no half batch behind for the retry to duplicate.
            undo(&self.dir, &intent);
            return Err(error);
        }
        Ok(())
    }
}

impl Sink for FileSink {
    fn deliver(&mut self, batch: &[Entry]) -> Result<(), SinkError> {
        self.write_batch(batch)
            .map_err(|e| SinkError::Unavailable(format!("writing to {}: {e}", self.dir.display())))
    }
}

/// Cuts each file of `intent` back to its length before the batch.
fn undo(dir: &Path, intent: &Intent) {
    for (name, len) in &intent.files {
        let path = dir.join(name);
        let cut = OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|file| file.set_len(*len).and_then(|()| file.sync_all()));
        match cut {
            Ok(()) => tracing::warn!(file = %path.display(), len, "undid an unacknowledged batch"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(error) => tracing::error!(file = %path.display(), %error, "could not undo a batch"),
        }
    }
}

fn file_len(path: &Path) -> io::Result<u64> {
    match fs::metadata(path) {
        Ok(meta) => Ok(meta.len()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

/// Writes `name` in `dir` via a temporary file and a rename, fsync'd.
fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let partial = dir.join(format!("{name}.partial"));
    let mut file = File::create(&partial)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    fs::rename(&partial, dir.join(name))?;
    crate::wal::sync_dir(dir)
}
