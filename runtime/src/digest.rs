//! A component's bytes together with their sha256, hashed once.
//!
//! The digest names the `.cwasm` cache entry and identifies the version in `/status` and
//! `ml_model_info`. Hashing 18 MB takes ~15 ms, so an upload is hashed chunk by chunk
//! while it arrives ([`DigestingBuffer`]) instead of afterwards, and never twice.

use sha2::{Digest, Sha256};

/// A component's bytes and their sha256.
#[derive(Debug, Clone)]
pub struct DigestedWasm {
    bytes: Vec<u8>,
    sha256: String,
}

impl DigestedWasm {
    /// Hashes `bytes` now.
    pub fn new(bytes: Vec<u8>) -> Self {
        let sha256 = sha256_hex(&bytes);
        Self { bytes, sha256 }
    }

    /// The component's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Their sha256, lowercase hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

/// Collects a component chunk by chunk, hashing each chunk as it comes.
pub struct DigestingBuffer {
    bytes: Vec<u8>,
    hasher: Sha256,
}

impl DigestingBuffer {
    /// An empty buffer with room for `capacity` bytes (the declared length, if any).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(capacity),
            hasher: Sha256::new(),
        }
    }

    /// Appends and hashes `chunk`.
    pub fn push(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.bytes.extend_from_slice(chunk);
    }

    /// Bytes collected so far.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing was collected.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes and their digest.
    pub fn finish(self) -> DigestedWasm {
        DigestedWasm {
            sha256: hex(&self.hasher.finalize()),
            bytes: self.bytes,
        }
    }
}

/// sha256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
