//! TLS on the host's listeners (REST, admin, gRPC), with rustls: `--tls-cert` and
//! `--tls-key` are PEM files, re-read when either changes (checked every second), so a
//! renewed certificate takes effect without a restart or a failed request — a connection
//! keeps the certificate it was opened with, new ones get the new one. A file that does not
//! parse is logged and the current certificate kept.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use thiserror::Error;
use tokio_rustls::TlsAcceptor;

/// How often the files are checked for a change.
const RELOAD_CHECK: Duration = Duration::from_secs(1);

/// Why the certificate or key could not be used.
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
}

/// The certificate and key files.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// The certificate handed to each new connection, swapped when the files change.
#[derive(Debug)]
pub struct ReloadingCert {
    files: TlsFiles,
    current: RwLock<(Arc<CertifiedKey>, Stamp)>,
}

/// When the two files last changed, as far as the filesystem says.
type Stamp = (Option<SystemTime>, Option<SystemTime>);

impl ReloadingCert {
    /// Loads `files` (an error if they are not a certificate and its key).
    pub fn load(files: TlsFiles) -> Result<Arc<Self>, TlsError> {
        let stamp = stamp(&files);
        let key = certified_key(&files)?;
        Ok(Arc::new(Self {
            files,
            current: RwLock::new((key, stamp)),
        }))
    }

    /// Re-reads the files if they changed since the last load; `Ok(true)` if the
    /// certificate was replaced.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = stamp(&self.files);
        if self.current.read().expect("certificate lock").1 == now {
            return Ok(false);
        }
        let loaded = certified_key(&self.files);
        let mut current = self.current.write().expect("certificate lock");
        // Checked once per change, even if that change is not usable.
        current.1 = now;
        current.0 = loaded?;
        Ok(true)
    }

    /// Checks the files every second until the task is dropped.
    pub async fn watch(self: Arc<Self>) {
        loop {
            tokio::time::sleep(RELOAD_CHECK).await;
            match self.reload_if_changed() {
                Ok(true) => {
                    tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded")
                }
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(%error, "TLS certificate not reloaded; the current one stays")
                }
            }
        }
    }

    /// A TLS acceptor serving this certificate, offering `alpn` (e.g. `h2`).
    pub fn acceptor(self: &Arc<Self>, alpn: &[&[u8]]) -> TlsAcceptor {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_no_client_auth()
        .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsAcceptor::from(Arc::new(config))
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().expect("certificate lock").0,
        ))
    }
}

fn stamp(files: &TlsFiles) -> Stamp {
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    (modified(&files.cert), modified(&files.key))
}

fn certified_key(files: &TlsFiles) -> Result<Arc<CertifiedKey>, TlsError> {
    let certificate_error = |reason: String| TlsError::Certificate {
        path: files.cert.clone(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .map_err(|e| certificate_error(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| certificate_error(e.to_string()))?;
    if chain.is_empty() {
        return Err(certificate_error("the file holds none".into()));
    }
    let key_error = |reason: String| TlsError::Key {
        path: files.key.clone(),
        reason,
    };
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| key_error(e.to_string()))?;
    let signing = any_supported_type(&key).map_err(|e| key_error(e.to_string()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| key_error(format!("it does not match the certificate: {e}")))?;
    Ok(Arc::new(certified))
}
