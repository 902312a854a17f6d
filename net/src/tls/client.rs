//! Client configurations for a wasml process calling another over TLS (the host sending
//! its events to a collector): trust a given CA (a private one, as a fleet usually has) or
//! the public roots, and present a certificate when the server asks (mutual TLS).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::sign::SingleCertAndKey;

use super::{TlsError, pem, provider};

/// A certificate and key a client presents to a server that verifies clients.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// A client configuration trusting the CAs in `ca` (the public web roots without one) and
/// presenting `identity` if given. Offers HTTP/1.1.
pub fn client_config(
    ca: Option<&Path>,
    identity: Option<&ClientIdentity>,
) -> Result<ClientConfig, TlsError> {
    let roots = match ca {
        Some(path) => pem::roots(path)?,
        None => rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
    };
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some(identity) => {
            // Read once, and checked to be a key the certificate's.
            let key = pem::certified_key(&identity.cert, &identity.key)?;
            builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(key)))
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
