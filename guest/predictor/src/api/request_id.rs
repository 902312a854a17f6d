//! The request ID rule: a client's `X-Request-Id` is kept when it is safe in headers, log
//! lines and index fields; otherwise the server makes one up.

/// The header carrying the request ID, both ways.
pub const HEADER: &str = "x-request-id";

/// Longest client-supplied request ID accepted.
pub const MAX_LEN: usize = 128;

/// 1–[`MAX_LEN`] characters of `A-Z a-z 0-9 . _ : -`.
pub fn is_acceptable(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}
