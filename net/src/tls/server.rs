//! TLS on a listener, with rustls: `--tls-cert` and `--tls-key` are PEM files, re-read
//! when either changes (checked every second), so a renewed certificate takes effect
//! without a restart or a failed request — a connection keeps the certificate it was
//! opened with, new ones get the new one. A file that does not parse is logged and the
//! current certificate kept. With `--tls-client-ca`, a client must present a certificate
//! that CA signed, or its handshake fails (mutual TLS).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

use super::{TlsError, pem, provider};

/// How often the files are checked for a change.
const RELOAD_CHECK: Duration = Duration::from_secs(1);

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
        let key = pem::certified_key(&files.cert, &files.key)?;
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
        let loaded = pem::certified_key(&self.files.cert, &self.files.key);
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

/// A listener's TLS: the reloading certificate, and the CAs its clients' certificates must
/// chain to when it verifies clients.
#[derive(Debug, Clone)]
pub struct ServerTls {
    certificate: Arc<ReloadingCert>,
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
}

impl ServerTls {
    /// Loads the certificate and key, and the client CAs if `client_ca` is given.
    pub fn load(files: TlsFiles, client_ca: Option<&Path>) -> Result<Self, TlsError> {
        let certificate = ReloadingCert::load(files)?;
        let client_verifier = client_ca
            .map(|path| {
                let roots = Arc::new(pem::roots(path)?);
                WebPkiClientVerifier::builder_with_provider(roots, provider())
                    .build()
                    .map_err(|e| TlsError::Ca {
                        path: path.to_owned(),
                        reason: e.to_string(),
                    })
            })
            .transpose()?;
        Ok(Self {
            certificate,
            client_verifier,
        })
    }

    /// Whether clients must present a certificate (mutual TLS).
    pub fn verifies_clients(&self) -> bool {
        self.client_verifier.is_some()
    }

    /// Starts re-reading the certificate and key when they change (a task on the current
    /// runtime), until the returned guard is dropped.
    pub fn watch_files(&self) -> Watching {
        Watching(tokio::spawn(Arc::clone(&self.certificate).watch()))
    }

    /// A TLS acceptor offering `alpn` (e.g. `h2`).
    pub fn acceptor(&self, alpn: &[&[u8]]) -> TlsAcceptor {
        let builder = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions");
        let builder = match &self.client_verifier {
            Some(verifier) => builder.with_client_cert_verifier(Arc::clone(verifier)),
            None => builder.with_no_client_auth(),
        };
        let resolver = Arc::clone(&self.certificate) as Arc<dyn ResolvesServerCert>;
        let mut config = builder.with_cert_resolver(resolver);
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        TlsAcceptor::from(Arc::new(config))
    }
}

/// The certificate watcher started by [`ServerTls::watch_files`]; dropping it stops it.
#[derive(Debug)]
pub struct Watching(tokio::task::JoinHandle<()>);

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.abort();
    }
}
