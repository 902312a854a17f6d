//! One WAL record on disk: `payload length: u32 | crc32: u32 | seq: u64 | payload`, all
//! little-endian; the checksum covers the sequence number and the payload, so a torn or
//! corrupted tail is recognised and cut off at recovery.

/// Bytes before the payload.
pub const HEADER_LEN: usize = 16;

/// Largest payload accepted (one event); anything bigger is refused at ingest.
pub const MAX_PAYLOAD: usize = 16 << 20;

/// Appends the record for `(seq, payload)` to `out`.
pub fn encode(seq: u64, payload: &[u8], out: &mut Vec<u8>) {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&seq.to_le_bytes());
    hasher.update(payload);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&hasher.finalize().to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

/// What the bytes at the start of a buffer hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A whole, intact record, `len` bytes long on disk.
    Record {
        /// Its sequence number.
        seq: u64,
        /// Its payload.
        payload: &'a [u8],
        /// Bytes it takes on disk, header included.
        len: usize,
    },
    /// The buffer ends inside a record (more may follow, or the tail was torn).
    Incomplete,
    /// A header or checksum that cannot be right: the log ends here.
    Corrupt,
}

/// Decodes the record at the start of `buf`.
pub fn decode(buf: &[u8]) -> Decoded<'_> {
    if buf.len() < HEADER_LEN {
        return Decoded::Incomplete;
    }
    let payload_len = u32::from_le_bytes(buf[0..4].try_into().unwrap()) as usize;
    if payload_len > MAX_PAYLOAD {
        return Decoded::Corrupt;
    }
    let crc = u32::from_le_bytes(buf[4..8].try_into().unwrap());
    let len = HEADER_LEN + payload_len;
    if buf.len() < len {
        return Decoded::Incomplete;
    }
    let seq_bytes = &buf[8..16];
    let payload = &buf[HEADER_LEN..len];
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(seq_bytes);
    hasher.update(payload);
    if hasher.finalize() != crc {
        return Decoded::Corrupt;
    }
    Decoded::Record {
        seq: u64::from_le_bytes(seq_bytes.try_into().unwrap()),
        payload,
        len,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_damage() {
        let mut buf = Vec::new();
        encode(7, b"{\"a\":1}", &mut buf);
        encode(8, b"", &mut buf);
        let Decoded::Record { seq, payload, len } = decode(&buf) else {
            panic!("a record")
        };
        assert_eq!((seq, payload, len), (7, &b"{\"a\":1}"[..], HEADER_LEN + 7));
        assert!(matches!(
            decode(&buf[len..]),
            Decoded::Record { seq: 8, .. }
        ));
        // Every cut inside the first record is incomplete, never a wrong record.
        for cut in 0..len {
            assert_eq!(decode(&buf[..cut]), Decoded::Incomplete, "cut at {cut}");
        }
        // A flipped bit anywhere is caught.
        for i in 4..len {
            let mut damaged = buf.clone();
            damaged[i] ^= 0x10;
            assert_eq!(decode(&damaged), Decoded::Corrupt, "bit flip at {i}");
        }
    }
}
