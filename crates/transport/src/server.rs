//! The server side of TLS: one policy, one reloadable certificate.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, ServerConnection};
use rustls_pki_types::CertificateDer;
use tokio_rustls::TlsAcceptor;

use crate::certificate::{self, CertificateError};

/// The crypto provider every Ward TLS endpoint uses: rustls' `ring` provider
/// restricted to forward-secret AEAD cipher suites (which is all rustls
/// offers), and to TLS 1.2 and 1.3 by the config builders below.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The server's TLS configuration, shared by every listener.
///
/// Cloning is cheap; every clone sees a certificate reload.
#[derive(Clone)]
pub struct ServerTls {
    acceptor: TlsAcceptor,
    resolver: Arc<Reloadable>,
    files: Arc<(PathBuf, PathBuf)>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("certificate", &self.files.0)
            .field("key", &self.files.1)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Loads the certificate chain and key and builds the server policy.
    ///
    /// # Errors
    ///
    /// Any [`CertificateError`] from [`certificate::load`].
    pub fn from_files(certificate: &Path, key: &Path) -> Result<Self, CertificateError> {
        Self::with_client_roots(certificate, key, &[], false)
    }

    /// As [`ServerTls::from_files`], and also asks every client for a
    /// certificate issued by `client_ca` (Ward's organisation CA). A client
    /// may present none; one that presents a certificate the CA did not
    /// issue fails the handshake. The session then learns who the client
    /// is from [`TlsSummary::client_certificate`].
    ///
    /// # Errors
    ///
    /// Any [`CertificateError`] from [`certificate::load`]; `Unusable`
    /// when the CA certificate cannot serve as a trust anchor.
    pub fn with_client_ca(
        certificate: &Path,
        key: &Path,
        client_ca: Option<&CertificateDer<'static>>,
    ) -> Result<Self, CertificateError> {
        let anchors: Vec<CertificateDer<'static>> = client_ca.into_iter().cloned().collect();
        Self::with_client_roots(certificate, key, &anchors, false)
    }

    /// As [`ServerTls::with_client_ca`] with several trust anchors for client
    /// certificates (Ward's organisation CA, and the CAs that vouch for
    /// external secure domains' servers), plus, when `public_roots` is set,
    /// the Mozilla root programme's CAs (`webpki-roots`). With public roots
    /// the server sends no list of acceptable CA names (it would be several
    /// kilobytes in every handshake); clients present their certificate
    /// regardless.
    ///
    /// # Errors
    ///
    /// As [`ServerTls::with_client_ca`].
    pub fn with_client_roots(
        certificate: &Path,
        key: &Path,
        anchors: &[CertificateDer<'static>],
        public_roots: bool,
    ) -> Result<Self, CertificateError> {
        let certified = certificate::load(certificate, key)?;
        let resolver = Arc::new(Reloadable(RwLock::new(certified)));
        let builder = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .expect("the ring provider supports TLS 1.2 and 1.3");
        let builder = if anchors.is_empty() && !public_roots {
            builder.with_no_client_auth()
        } else {
            let mut roots = RootCertStore::empty();
            for anchor in anchors {
                roots
                    .add(anchor.clone())
                    .map_err(|e| CertificateError::Unusable {
                        path: certificate.to_owned(),
                        reason: format!("a client CA is not a usable trust anchor: {e}"),
                    })?;
            }
            if public_roots {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            let mut verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                    .allow_unauthenticated();
            if public_roots {
                verifier = verifier.clear_root_hint_subjects();
            }
            let verifier = verifier.build().map_err(|e| CertificateError::Unusable {
                path: certificate.to_owned(),
                reason: format!("cannot verify client certificates: {e}"),
            })?;
            builder.with_client_cert_verifier(verifier)
        };
        let mut config = builder.with_cert_resolver(resolver.clone());
        // The server's suite order (strongest first), not the client's.
        config.ignore_client_order = true;
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            resolver,
            files: Arc::new((certificate.to_owned(), key.to_owned())),
        })
    }

    /// The acceptor for new handshakes.
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// Reads the certificate files again and, if they are valid, serves them
    /// to every handshake from now on. Open connections are not touched.
    ///
    /// # Errors
    ///
    /// The files' problem; the old certificate then stays in use.
    pub fn reload(&self) -> Result<(), CertificateError> {
        let certified = certificate::load(&self.files.0, &self.files.1)?;
        *self.resolver.0.write().unwrap_or_else(|p| p.into_inner()) = certified;
        Ok(())
    }
}

/// A certificate resolver whose certificate can be replaced at run time.
#[derive(Debug)]
struct Reloadable(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Reloadable {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

/// What was negotiated on a TLS connection, for logs and `Received:` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSummary {
    /// For example `TLSv1.3`.
    pub version: String,
    /// For example `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// The client's certificate, verified against the client trust
    /// anchors, if the client presented one.
    pub client_certificate: Option<CertificateDer<'static>>,
    /// The DNS names (subject alternative names) of that certificate; a
    /// wildcard `*.example.org` is given as written.
    pub client_certificate_names: Vec<String>,
}

impl TlsSummary {
    pub(crate) fn of(conn: &ServerConnection) -> Option<Self> {
        let version = conn.protocol_version()?;
        let cipher = conn.negotiated_cipher_suite()?;
        let client_certificate = conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .map(|c| c.clone().into_owned());
        let client_certificate_names = client_certificate
            .as_ref()
            .and_then(|der| webpki::EndEntityCert::try_from(der).ok())
            .map(|cert| cert.valid_dns_names().map(str::to_owned).collect())
            .unwrap_or_default();
        Some(Self {
            version: version
                .as_str()
                .unwrap_or("TLS")
                .replace("TLSv1_", "TLSv1."),
            cipher: cipher.suite().as_str().unwrap_or("unknown").to_owned(),
            client_certificate,
            client_certificate_names,
        })
    }
}

impl fmt::Display for TlsSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.version, self.cipher)
    }
}
