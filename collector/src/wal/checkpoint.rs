//! The checkpoint: the highest sequence number the sink delivered, in `delivered`, written
//! to a temporary file, fsync'd and renamed over the old one, so it is never half-written.

use std::fs;
use std::io::{self, Write};
use std::path::Path;

const FILE: &str = "delivered";
const PARTIAL: &str = "delivered.partial";

/// The checkpoint in `dir` (0 when there is none yet).
pub fn read(dir: &Path) -> io::Result<u64> {
    match fs::read_to_string(dir.join(FILE)) {
        Ok(text) => text.trim().parse().map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("checkpoint {}: {e}", dir.join(FILE).display()),
            )
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

/// Replaces the checkpoint in `dir` with `seq`, durably.
pub fn write(dir: &Path, seq: u64) -> io::Result<()> {
    let partial = dir.join(PARTIAL);
    let mut file = fs::File::create(&partial)?;
    writeln!(file, "{seq}")?;
    file.sync_all()?;
    fs::rename(&partial, dir.join(FILE))?;
    super::sync_dir(dir)
}
