//! `ssl:HOST:PORT` remotes, as OVS's SSL stream: mutual TLS with a
//! private key, a certificate and a CA certificate (`--private-key`,
//! `--certificate`, `--ca-cert`), the files `ovs-pki` makes.
//!
//! OVS checks that the peer's certificate chains to the CA and does not
//! check names (switches and controllers are known by their CA, and
//! `ovs-pki` certificates name an id, not a host). The verifier here does
//! the same: full chain and validity checks by `rustls`/`webpki`, with
//! only the name mismatch forgiven.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};

/// Why an SSL identity or connection could not be used. Its text is the
/// one [`crate::ClientError`] gives the same failure.
#[derive(Debug, thiserror::Error)]
pub enum SslError {
    /// Files that cannot be used, or a TLS setting refused.
    #[error("SSL: {0}")]
    Config(String),
    /// An address (`HOST:PORT`) whose host TLS cannot name.
    #[error("\"ssl:{0}\" is not an OVSDB remote (unix:PATH, tcp:HOST:PORT or ssl:HOST:PORT)")]
    Name(String),
    /// Connecting or the TLS handshake failed.
    #[error("cannot connect to ssl:{addr}: {source}")]
    Connect {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A TLS connection to a server.
pub type TlsStream = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// The files of an SSL identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SslConfig {
    /// PEM private key.
    pub private_key: PathBuf,
    /// PEM certificate for that key.
    pub certificate: PathBuf,
    /// PEM certificate of the CA the peer's certificate must chain to.
    pub ca_cert: PathBuf,
}

fn bad(path: &Path, what: &str) -> SslError {
    SslError::Config(format!("{}: {what}", path.display()))
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, SslError> {
    let pem = std::fs::read(path).map_err(|e| bad(path, &e.to_string()))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut pem.as_slice()).collect::<Result<_, _>>().map_err(|e| bad(path, &e.to_string()))?;
    if certs.is_empty() {
        return Err(bad(path, "no certificate in the file"));
    }
    Ok(certs)
}

fn key(path: &Path) -> Result<PrivateKeyDer<'static>, SslError> {
    let pem = std::fs::read(path).map_err(|e| bad(path, &e.to_string()))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| bad(path, &e.to_string()))?
        .ok_or_else(|| bad(path, "no private key in the file"))
}

/// Chain and validity checks, names not compared (see the module docs).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(Error::InvalidCertificate(CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. })) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

fn roots(ssl: &SslConfig) -> Result<Arc<rustls::RootCertStore>, SslError> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in certs(&ssl.ca_cert)? {
        roots.add(ca).map_err(|e| bad(&ssl.ca_cert, &e.to_string()))?;
    }
    Ok(Arc::new(roots))
}

/// The TLS client side of `ssl`'s identity: our certificate, and the
/// peer's checked against the CA (names not compared).
pub fn client_config(ssl: &SslConfig) -> Result<Arc<rustls::ClientConfig>, SslError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let webpki = WebPkiServerVerifier::builder_with_provider(roots(ssl)?, Arc::clone(&provider))
        .build()
        .map_err(|e| SslError::Config(e.to_string()))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SslError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
        .with_client_auth_cert(certs(&ssl.certificate)?, key(&ssl.private_key)?)
        .map_err(|e| SslError::Config(format!("{}: {e}", ssl.certificate.display())))?;
    Ok(Arc::new(config))
}

/// The TLS server side of `ssl`'s identity: our certificate, and a client
/// certificate required and checked against the CA, as OVS's `pssl:`.
pub fn server_config(ssl: &SslConfig) -> Result<Arc<rustls::ServerConfig>, SslError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(roots(ssl)?, Arc::clone(&provider))
        .build()
        .map_err(|e| SslError::Config(e.to_string()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SslError::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs(&ssl.certificate)?, key(&ssl.private_key)?)
        .map_err(|e| SslError::Config(format!("{}: {e}", ssl.certificate.display())))?;
    Ok(Arc::new(config))
}

/// The server name TLS wants for `addr` (`HOST:PORT`); only its form
/// matters, names are not compared.
pub fn server_name(addr: &str) -> Result<ServerName<'static>, SslError> {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h).trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|_| SslError::Name(addr.to_owned()))
}

/// Connects to `addr` (`HOST:PORT`) over TLS with `ssl`'s identity.
pub async fn connect(addr: &str, ssl: &SslConfig) -> Result<TlsStream, SslError> {
    let config = client_config(ssl)?;
    let name = server_name(addr)?;
    let failed = |source| SslError::Connect { addr: addr.to_owned(), source };
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(failed)?;
    tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.map_err(failed)
}
