//! Segment files: `<first seq, 20 digits>.wal` in the WAL directory, appended in order.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::record::{Decoded, decode};

/// Suffix of segment files.
pub const EXTENSION: &str = "wal";

/// The path of the segment whose first record is `first_seq`.
pub fn path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}.{EXTENSION}"))
}

/// The segments in `dir`, by first sequence number.
pub fn list(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let first = path
            .extension()
            .filter(|e| *e == EXTENSION)
            .and_then(|_| path.file_stem()?.to_str()?.parse::<u64>().ok());
        if let Some(first) = first {
            segments.push((first, path));
        }
    }
    segments.sort();
    Ok(segments)
}

/// What a scan of one segment found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Records intact.
    pub records: u64,
    /// The last intact record's sequence number.
    pub last_seq: Option<u64>,
    /// Bytes up to the end of the last intact record.
    pub valid_len: u64,
    /// Bytes in the file.
    pub file_len: u64,
}

/// Reads a whole segment and finds where its intact records end.
pub fn scan(path: &Path) -> io::Result<Scan> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let mut scan = Scan {
        file_len: bytes.len() as u64,
        ..Scan::default()
    };
    let mut at = 0;
    while let Decoded::Record { seq, len, .. } = decode(&bytes[at..]) {
        at += len;
        scan.records += 1;
        scan.last_seq = Some(seq);
    }
    scan.valid_len = at as u64;
    Ok(scan)
}
