//! The write-ahead log: every event the collector acknowledges is first appended here and
//! fsync'd, and stays until the sink has delivered it.
//!
//! - Records ([`record`]) carry a sequence number and a checksum; segments ([`segment`])
//!   are files named by their first sequence number, rotated at a size limit.
//! - [`Wal::append`] writes a whole group of events and fsyncs once (group commit): the
//!   caller acknowledges all of them after it returns.
//! - A [`WalReader`] ([`reader`]) streams records from disk to the sink, so the log itself
//!   is the buffer and memory stays bounded however long the sink is away.
//! - [`Wal::delivered_through`] records, in a checkpoint file written atomically, the
//!   highest sequence number the sink delivered, and deletes segments wholly below it.
//! - [`Wal::open`] recovers: it cuts a torn tail (an append that never got its fsync, so
//!   was never acknowledged) and resumes numbering after the last intact record.

pub mod checkpoint;
pub mod reader;
pub mod record;
pub mod segment;

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub use reader::WalReader;

/// Default size at which the active segment is closed and a new one started.
pub const SEGMENT_BYTES: u64 = 64 << 20;

/// Sizes of what the log holds and has not delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalStats {
    /// Events appended and not yet delivered.
    pub pending_events: u64,
    /// Bytes of all segment files on disk.
    pub bytes: u64,
}

/// The log, opened for appending. One writer per directory.
pub struct Wal {
    dir: PathBuf,
    active: File,
    active_first: u64,
    active_bytes: u64,
    /// Closed segments: first seq, last seq, bytes.
    closed: Vec<(u64, u64, u64)>,
    next_seq: u64,
    delivered: u64,
    segment_bytes: u64,
    buffer: Vec<u8>,
}

impl Wal {
    /// Opens (or creates) the log in `dir`, recovering what a crash left.
    pub fn open(dir: impl Into<PathBuf>, segment_bytes: u64) -> io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        let delivered = checkpoint::read(&dir)?;
        let mut closed = Vec::new();
        let mut next_seq = delivered + 1;
        let segments = segment::list(&dir)?;
        let mut last: Option<(u64, PathBuf, u64)> = None;
        for (i, (first, path)) in segments.iter().enumerate() {
            let scan = segment::scan(path)?;
            if scan.valid_len < scan.file_len {
                // A torn tail: only the newest segment can have one; records after it,
                // in this segment or later ones, were never acknowledged.
                tracing::warn!(
                    segment = %path.display(),
                    cut_bytes = scan.file_len - scan.valid_len,
                    "cutting a torn WAL tail"
                );
                OpenOptions::new()
                    .write(true)
                    .open(path)?
                    .set_len(scan.valid_len)?;
                for (_, later) in &segments[i + 1..] {
                    std::fs::remove_file(later)?;
                }
            }
            if let Some(last_seq) = scan.last_seq {
                next_seq = next_seq.max(last_seq + 1);
            }
            if let Some((prev_first, _, prev_bytes)) = last.take() {
                closed.push((prev_first, first - 1, prev_bytes));
            }
            last = Some((*first, path.clone(), scan.valid_len));
            if scan.valid_len < scan.file_len {
                break;
            }
        }
        let (active_first, active_bytes) = match last {
            Some((first, _, bytes)) => (first, bytes),
            None => (next_seq, 0),
        };
        let active = open_append(&segment::path(&dir, active_first))?;
        sync_dir(&dir)?;
        let mut wal = Self {
            dir,
            active,
            active_first,
            active_bytes,
            closed,
            next_seq,
            delivered,
            segment_bytes,
            buffer: Vec::new(),
        };
        wal.remove_delivered_segments()?;
        Ok(wal)
    }

    /// Appends `payloads` as consecutive records and fsyncs; returns the first and last
    /// sequence numbers given. Once this returns, the events survive a crash.
    pub fn append<P: AsRef<[u8]>>(&mut self, payloads: &[P]) -> io::Result<(u64, u64)> {
        let first = self.next_seq;
        if payloads.is_empty() {
            return Ok((first, first - 1));
        }
        if self.active_bytes >= self.segment_bytes {
            self.rotate()?;
        }
        self.buffer.clear();
        for payload in payloads {
            record::encode(self.next_seq, payload.as_ref(), &mut self.buffer);
            self.next_seq += 1;
        }
        let result = self
            .active
            .write_all(&self.buffer)
            .and_then(|()| self.active.sync_data());
        if let Err(error) = result {
            // Nothing of this group is acknowledged; cut whatever reached the file so
            // the next group follows the last good record.
            self.next_seq = first;
            let _ = self.active.set_len(self.active_bytes);
            return Err(error);
        }
        self.active_bytes += self.buffer.len() as u64;
        Ok((first, self.next_seq - 1))
    }

    /// The sink delivered every event up to `seq`: remember it durably and drop the
    /// segments it covers.
    pub fn delivered_through(&mut self, seq: u64) -> io::Result<()> {
        if seq <= self.delivered {
            return Ok(());
        }
        checkpoint::write(&self.dir, seq)?;
        self.delivered = seq;
        self.remove_delivered_segments()
    }

    /// The highest sequence number delivered.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// The highest sequence number appended (0 if none ever).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Pending events and bytes on disk.
    pub fn stats(&self) -> WalStats {
        WalStats {
            pending_events: self.last_seq().saturating_sub(self.delivered),
            bytes: self.active_bytes + self.closed.iter().map(|c| c.2).sum::<u64>(),
        }
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.closed
            .push((self.active_first, self.next_seq - 1, self.active_bytes));
        self.active_first = self.next_seq;
        self.active_bytes = 0;
        self.active = open_append(&segment::path(&self.dir, self.active_first))?;
        sync_dir(&self.dir)
    }

    fn remove_delivered_segments(&mut self) -> io::Result<()> {
        let delivered = self.delivered;
        let (gone, kept): (Vec<_>, Vec<_>) = self
            .closed
            .iter()
            .partition(|(_, last, _)| *last <= delivered);
        for (first, _, _) in &gone {
            match std::fs::remove_file(segment::path(&self.dir, *first)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        self.closed = kept;
        Ok(())
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Makes a file creation, rename or removal in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
