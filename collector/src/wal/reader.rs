//! Streams records from the log's files in order, for the sink: the log, not memory, holds
//! what is waiting, so a long outage costs disk, not RAM.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

use super::record::{Decoded, decode};
use super::segment;

/// Bytes read from a segment at a time.
const CHUNK: usize = 1 << 20;

/// One event read back: its sequence number and payload.
pub type Entry = (u64, Vec<u8>);

/// A cursor over the log, after a given sequence number.
pub struct WalReader {
    dir: PathBuf,
    /// The segment being read and its first seq.
    file: Option<(u64, File)>,
    buffer: Vec<u8>,
    at: usize,
    /// The last sequence number handed out (or skipped as already delivered).
    last: u64,
}

impl WalReader {
    /// A reader of the records in `dir` after `after`.
    pub fn new(dir: impl Into<PathBuf>, after: u64) -> Self {
        Self {
            dir: dir.into(),
            file: None,
            buffer: Vec::new(),
            at: 0,
            last: after,
        }
    }

    /// The last sequence number read.
    pub fn position(&self) -> u64 {
        self.last
    }

    /// Up to `max_events` records (and about `max_bytes` of payload), none past
    /// `through` (the last durable sequence number). Empty when there is nothing yet.
    pub fn next_batch(
        &mut self,
        through: u64,
        max_events: usize,
        max_bytes: usize,
    ) -> io::Result<Vec<Entry>> {
        let mut batch = Vec::new();
        let mut bytes = 0;
        while self.last < through && batch.len() < max_events && bytes < max_bytes {
            match decode(&self.buffer[self.at..]) {
                Decoded::Record { seq, payload, len } => {
                    self.at += len;
                    if seq <= self.last {
                        continue; // delivered before a restart
                    }
                    bytes += payload.len();
                    batch.push((seq, payload.to_vec()));
                    self.last = seq;
                }
                Decoded::Incomplete => {
                    if !self.fill()? {
                        break;
                    }
                }
                Decoded::Corrupt => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("corrupt WAL record after seq {}", self.last),
                    ));
                }
            }
        }
        Ok(batch)
    }

    /// Reads more bytes: from the current segment, or else the segment holding the next
    /// record. False when nothing more is on disk yet.
    fn fill(&mut self) -> io::Result<bool> {
        if self.file.is_none() && !self.open_next()? {
            return Ok(false);
        }
        self.buffer.drain(..self.at);
        self.at = 0;
        let start = self.buffer.len();
        self.buffer.resize(start + CHUNK, 0);
        let (_, file) = self.file.as_mut().expect("opened above");
        let n = file.read(&mut self.buffer[start..])?;
        self.buffer.truncate(start + n);
        if n > 0 {
            return Ok(true);
        }
        // End of this segment: move on if the writer has started the next one.
        let next = self.last + 1;
        if self.buffer.is_empty() && segment::path(&self.dir, next).exists() {
            self.file = None;
            return self.open_next();
        }
        Ok(false)
    }

    /// Opens the segment that holds `last + 1`.
    fn open_next(&mut self) -> io::Result<bool> {
        let wanted = self.last + 1;
        let holder = segment::list(&self.dir)?
            .into_iter()
            .rev()
            .find(|(first, _)| *first <= wanted);
        match holder {
            Some((first, path)) => {
                self.file = Some((first, File::open(path)?));
                self.buffer.clear();
                self.at = 0;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
