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
/// Cloning is cheap; every clone sees a reload (of the certificate, and of
/// the client trust anchors read from a file).
#[derive(Clone)]
pub struct ServerTls {
    acceptor: Arc<RwLock<TlsAcceptor>>,
    resolver: Arc<Reloadable>,
    files: Arc<(PathBuf, PathBuf)>,
    clients: Option<Arc<ClientRoots>>,
}

/// Who may present a client certificate: fixed anchors (Ward's CA), the
/// anchors of a PEM file read again at each reload, and optionally the
/// public roots.
#[derive(Debug)]
struct ClientRoots {
    anchors: Vec<CertificateDer<'static>>,
    file: Option<PathBuf>,
    public_roots: bool,
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
        let certified = certificate::load(certificate, key)?;
        let resolver = Arc::new(Reloadable(RwLock::new(certified)));
        let config = server_config(certificate, &resolver, None)?;
        Ok(Self {
            acceptor: Arc::new(RwLock::new(config)),
            resolver,
            files: Arc::new((certificate.to_owned(), key.to_owned())),
            clients: None,
        })
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
        Self::with_client_roots(certificate, key, &anchors, None, false)
    }

    /// As [`ServerTls::with_client_ca`] with several trust anchors for client
    /// certificates: `anchors` (Ward's organisation CA), those in
    /// `anchor_file` (the CAs that vouch for external secure domains'
    /// servers, `[tls] extra_ca_file`, read again by [`ServerTls::reload`]),
    /// and, when `public_roots` is set, the Mozilla root programme's CAs
    /// (`webpki-roots`). With public roots the server sends no list of
    /// acceptable CA names (it would be several kilobytes in every
    /// handshake); clients present their certificate regardless.
    ///
    /// # Errors
    ///
    /// As [`ServerTls::with_client_ca`], and the anchor file's problem.
    pub fn with_client_roots(
        certificate: &Path,
        key: &Path,
        anchors: &[CertificateDer<'static>],
        anchor_file: Option<&Path>,
        public_roots: bool,
    ) -> Result<Self, CertificateError> {
        let certified = certificate::load(certificate, key)?;
        let resolver = Arc::new(Reloadable(RwLock::new(certified)));
        let clients = (!anchors.is_empty() || anchor_file.is_some() || public_roots).then(|| {
            Arc::new(ClientRoots {
                anchors: anchors.to_vec(),
                file: anchor_file.map(Path::to_owned),
                public_roots,
            })
        });
        let config = server_config(certificate, &resolver, clients.as_deref())?;
        Ok(Self {
            acceptor: Arc::new(RwLock::new(config)),
            resolver,
            files: Arc::new((certificate.to_owned(), key.to_owned())),
            clients,
        })
    }

    /// The acceptor for new handshakes.
    pub fn acceptor(&self) -> TlsAcceptor {
        self.acceptor
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reads the certificate files (and the client anchor file) again and,
    /// if they are valid, serves them to every handshake from now on. Open
    /// connections are not touched. The certificate and the anchors are
    /// independent: a renewed certificate is served even when the anchor
    /// file is broken (then the old anchors stay), so a bad CA file cannot
    /// leave one listener on an expiring certificate.
    ///
    /// # Errors
    ///
    /// The first file's problem (naming the file); what could not be read
    /// stays as it was.
    pub fn reload(&self) -> Result<(), CertificateError> {
        let certified = certificate::load(&self.files.0, &self.files.1)?;
        *self.resolver.0.write().unwrap_or_else(|p| p.into_inner()) = certified;
        if let Some(clients) = self.clients.as_deref()
            && clients.file.is_some()
        {
            let fresh = server_config(&self.files.0, &self.resolver, Some(clients))?;
            *self.acceptor.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        }
        Ok(())
    }
}

/// The one server policy: TLS 1.2 and 1.3, the server's suite order, the
/// reloadable certificate, and client certificates verified against
/// `clients` when given (optional for the client).
fn server_config(
    certificate: &Path,
    resolver: &Arc<Reloadable>,
    clients: Option<&ClientRoots>,
) -> Result<TlsAcceptor, CertificateError> {
    let unusable = |reason: String| CertificateError::Unusable {
        path: certificate.to_owned(),
        reason,
    };
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .expect("the ring provider supports TLS 1.2 and 1.3");
    let builder = match clients {
        None => builder.with_no_client_auth(),
        Some(clients) => {
            // Each anchor with the file it came from, for the error.
            let mut anchors: Vec<(CertificateDer<'static>, &Path)> = clients
                .anchors
                .iter()
                .map(|a| (a.clone(), certificate))
                .collect();
            if let Some(file) = &clients.file {
                let chain = certificate::read_chain(file)?;
                anchors.extend(chain.into_iter().map(|a| (a, file.as_path())));
            }
            let mut roots = RootCertStore::empty();
            for (anchor, source) in anchors {
                roots.add(anchor).map_err(|e| CertificateError::Unusable {
                    path: source.to_owned(),
                    reason: format!("a client CA is not a usable trust anchor: {e}"),
                })?;
            }
            if clients.public_roots {
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            }
            let mut verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                    .allow_unauthenticated();
            if clients.public_roots {
                verifier = verifier.clear_root_hint_subjects();
            }
            let verifier = verifier
                .build()
                .map_err(|e| unusable(format!("cannot verify client certificates: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(resolver.clone());
    // The server's suite order (strongest first), not the client's.
    config.ignore_client_order = true;
    Ok(TlsAcceptor::from(Arc::new(config)))
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
