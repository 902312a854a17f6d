//! Reading the PEM files TLS takes: a certificate chain, a private key, a set of CAs.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use super::TlsError;

/// The certificate chain (leaf first) in `path`.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let error = |reason: String| TlsError::Certificate {
        path: path.to_owned(),
        reason,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| error(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| error(e.to_string()))?;
    if chain.is_empty() {
        return Err(error("the file holds none".into()));
    }
    Ok(chain)
}

/// The private key in `path` (PKCS#8, PKCS#1 or SEC1).
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Key {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}

/// The chain in `cert` with the key in `key`, checked to belong together.
pub fn certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let chain = certificates(cert)?;
    let key_error = |reason: String| TlsError::Key {
        path: key.to_owned(),
        reason,
    };
    let signing = any_supported_type(&private_key(key)?).map_err(|e| key_error(e.to_string()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| key_error(format!("it does not match the certificate: {e}")))?;
    Ok(Arc::new(certified))
}

/// Every CA certificate in `path`, as roots to trust.
pub fn roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let error = |reason: String| TlsError::Ca {
        path: path.to_owned(),
        reason,
    };
    let mut store = RootCertStore::empty();
    for certificate in certificates(path).map_err(|e| error(e.to_string()))? {
        store.add(certificate).map_err(|e| error(e.to_string()))?;
    }
    Ok(store)
}
