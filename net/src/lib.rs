//! The transport under wasml's listeners (the host's REST, admin and gRPC ports, the
//! collector's ingest) and its clients (the host's link to a collector):
//!
//! - [`connections`]: the accept loop — at most so many connections, headers within a
//!   timeout, an optional TLS handshake first, a graceful stop (HTTP/2 in `http2`, on
//!   the `h2` crate directly);
//! - [`tls`]: TLS with rustls — the server side (`--tls-cert`/`--tls-key`, reloaded when
//!   the files change, and `--tls-client-ca` for mutual TLS) and client configurations that
//!   trust a given CA and may present a certificate.

pub mod connections;
mod http2;
pub mod tls;
