//! TLS for tests: certificates made by Debian's `openssl` CLI (installed by `.ci/run`) —
//! a private CA and the server or client certificates it signs, or a self-signed one, as
//! PEM files — and a one-request HTTPS client that reports the certificate it was shown.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// A certificate and its private key, as PEM files.
#[derive(Debug, Clone)]
pub struct CertPair {
    /// The certificate.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

impl CertPair {
    /// The certificate, DER-encoded.
    pub fn der(&self) -> CertificateDer<'static> {
        CertificateDer::from_pem_file(&self.cert).expect("a PEM certificate")
    }
}

/// What a certificate an [`Authority`] signs is for.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    /// A server at `127.0.0.1`.
    Server,
    /// A client (mutual TLS).
    Client,
}

/// A private CA in a directory; the certificates it signs go beside it.
#[derive(Debug)]
pub struct Authority {
    dir: PathBuf,
    /// The CA's own certificate and key.
    pub pair: CertPair,
}

impl Authority {
    /// A new CA named `name`, as `<name>.crt`/`<name>.key` in `dir`.
    pub fn new(dir: &Path, name: &str) -> Self {
        let pair = self_signed_with(
            dir,
            name,
            &[
                "basicConstraints=critical,CA:TRUE",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Self {
            dir: dir.to_owned(),
            pair,
        }
    }

    /// The CA's certificate file (what a peer is told to trust).
    pub fn cert(&self) -> &Path {
        &self.pair.cert
    }

    /// A certificate for `role`, named `name`, signed by this CA.
    pub fn issue(&self, name: &str, role: Role) -> CertPair {
        let pair = pair_in(&self.dir, name);
        let request = self.dir.join(format!("{name}.csr"));
        openssl(&self.dir, &new_key_args(&pair.key), |command| {
            command.arg("-subj").arg(format!("/CN={name}"));
            command.arg("-out").arg(&request);
        });
        let extensions = self.dir.join(format!("{name}.ext"));
        let usage = match role {
            Role::Server => "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
            Role::Client => "extendedKeyUsage=clientAuth\n",
        };
        std::fs::write(
            &extensions,
            format!("basicConstraints=critical,CA:FALSE\n{usage}"),
        )
        .expect("the extensions file");
        openssl(&self.dir, &["x509", "-req", "-days", "2"], |command| {
            command.arg("-in").arg(&request);
            command.arg("-CA").arg(&self.pair.cert);
            command.arg("-CAkey").arg(&self.pair.key);
            command
                .arg("-CAcreateserial")
                .arg("-extfile")
                .arg(&extensions);
            command.arg("-out").arg(&pair.cert);
        });
        pair
    }
}

/// A self-signed server certificate for `127.0.0.1` named `name`, in `dir`.
pub fn self_signed(dir: &Path, name: &str) -> CertPair {
    // A server certificate, not a CA (rustls refuses a CA as the end entity).
    let extensions = [
        "subjectAltName=IP:127.0.0.1",
        "basicConstraints=critical,CA:FALSE",
    ];
    self_signed_with(dir, name, &extensions)
}

/// A self-signed certificate named `name` in `dir`, with these X.509v3 `extensions`.
fn self_signed_with(dir: &Path, name: &str, extensions: &[&str]) -> CertPair {
    std::fs::create_dir_all(dir).expect("the certificates' directory");
    let pair = pair_in(dir, name);
    openssl(dir, &new_key_args(&pair.key), |command| {
        command.args(["-x509", "-days", "2", "-subj"]);
        command.arg(format!("/CN={name}"));
        for extension in extensions {
            command.args(["-addext", extension]);
        }
        command.arg("-out").arg(&pair.cert);
    });
    pair
}

fn pair_in(dir: &Path, name: &str) -> CertPair {
    CertPair {
        cert: dir.join(format!("{name}.crt")),
        key: dir.join(format!("{name}.key")),
    }
}

/// `openssl req` with a new P-256 key written to `key`, unencrypted.
fn new_key_args(key: &Path) -> Vec<&str> {
    let key = key.to_str().expect("a UTF-8 path");
    vec![
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        key,
    ]
}

fn openssl(dir: &Path, args: &[&str], more: impl FnOnce(&mut Command)) {
    let mut command = Command::new("openssl");
    command.args(args).current_dir(dir);
    more(&mut command);
    let output = command
        .output()
        .expect("the openssl CLI (Debian package openssl; .ci/run installs it)");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A client trusting `roots`, offering `alpn`, with every connection a full handshake (a
/// resumed session reports the certificate it was first opened with, hiding a reload).
pub fn client(roots: &[CertificateDer<'static>], alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut store = rustls::RootCertStore::empty();
    for root in roots {
        store.add(root.clone()).expect("a root certificate");
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_root_certificates(store)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// What an HTTPS server answered, and the certificate it showed.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body (all of it: the request asks the server to close).
    pub body: String,
    /// The server's certificate (leaf).
    pub certificate: CertificateDer<'static>,
}

/// `GET path` over TLS with `config`; an error if the handshake fails or no HTTP answer
/// comes (a refused client certificate shows as the latter under TLS 1.3: the server's
/// alert arrives after the client's side of the handshake is done).
pub fn https_get(
    address: SocketAddr,
    config: &Arc<rustls::ClientConfig>,
    path: &str,
) -> std::io::Result<Answer> {
    let name = ServerName::IpAddress(address.ip().into());
    let connection =
        rustls::ClientConnection::new(Arc::clone(config), name).map_err(std::io::Error::other)?;
    let socket = TcpStream::connect(address)?;
    socket.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut tls = rustls::StreamOwned::new(connection, socket);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    // A close without close_notify after the answer is fine here.
    let read = tls.read_to_string(&mut answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no HTTP answer: {answer:?} ({read:?})")))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map_or_else(String::new, |(_, body)| body.to_owned());
    let certificate = tls
        .conn
        .peer_certificates()
        .expect("the server's certificate")[0]
        .clone()
        .into_owned();
    Ok(Answer {
        status,
        body,
        certificate,
    })
}
