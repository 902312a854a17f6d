//! TLS with rustls (ring): [`server`] for the listeners, [`client`] for the host's link to
//! a collector, [`pem`] for reading the files both take, [`TlsArgs`] for the flags every
//! listening binary shares.

pub mod client;
pub mod pem;
pub mod server;

use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use thiserror::Error;

pub use client::{ClientIdentity, client_config};
pub use server::{ReloadingCert, ServerTls, TlsFiles};
pub use tokio_rustls::TlsAcceptor;

/// Why a certificate, key or CA file could not be used.
#[derive(Debug, Error)]
pub enum TlsError {
    /// The certificate file holds no usable certificate.
    #[error("{path}: no PEM certificate ({reason})")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The key file holds no usable private key.
    #[error("{path}: no usable PEM private key ({reason})")]
    Key {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The CA file holds no certificate that can be trusted.
    #[error("{path}: no usable PEM CA certificate ({reason})")]
    Ca {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
}

/// The TLS flags of a listening binary (the host's listeners, the collector's ingest).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TlsArgs {
    /// Serve HTTPS (and gRPC over TLS) with this PEM certificate chain, re-read when it
    /// changes; needs `--tls-key`. Without it the listeners speak plain HTTP.
    #[arg(
        long,
        env = "WASML_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of `--tls-cert`.
    #[arg(
        long,
        env = "WASML_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// Mutual TLS: accept only clients presenting a certificate signed by a CA in this PEM
    /// file (the handshake fails for any other). Needs `--tls-cert`.
    #[arg(
        long,
        env = "WASML_TLS_CLIENT_CA",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_client_ca: Option<PathBuf>,
}

/// The cryptography every configuration here uses: ring, the provider the HTTP clients in
/// the tree already use.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsArgs {
    /// The server's TLS, if `--tls-cert` is given: an error if a file cannot be used.
    pub fn load(&self) -> Result<Option<ServerTls>, TlsError> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let files = TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        };
        ServerTls::load(files, self.tls_client_ca.as_deref()).map(Some)
    }
}
