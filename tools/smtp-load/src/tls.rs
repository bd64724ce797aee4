//! The client TLS configuration: either a certificate the benchmark trusts
//! (`--ca-file`, e.g. Ward's self-signed `data/tls/cert.pem`), or, behind a
//! name that says so, no certificate check at all (`--insecure`).
//!
//! The second exists only because a benchmark talks to throwaway servers
//! on loopback whose self-signed certificates it may not be able to read.
//! It must never be used to send real mail.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::TlsConnector;

/// Which server certificates the client accepts.
pub(crate) enum Trust<'a> {
    /// Certificates that chain to one of these PEM certificates and name
    /// the server.
    CaFile(&'a Path),
    /// Any certificate at all. Benchmark-only: see
    /// [`AcceptAnyCertificate`].
    DangerousAcceptAny,
}

/// Builds the connector every session shares (ring provider, TLS 1.2 and
/// 1.3, no client certificate).
///
/// # Errors
///
/// The CA file cannot be read or holds no usable certificate.
pub(crate) fn connector(trust: Trust<'_>) -> anyhow::Result<TlsConnector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("the ring provider supports no protocol version")?;
    let config = match trust {
        Trust::CaFile(path) => {
            let mut roots = RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path)
                .with_context(|| format!("cannot read {}", path.display()))?
            {
                let cert = cert.with_context(|| format!("bad PEM in {}", path.display()))?;
                roots
                    .add(cert)
                    .with_context(|| format!("unusable certificate in {}", path.display()))?;
            }
            anyhow::ensure!(!roots.is_empty(), "no certificate in {}", path.display());
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::DangerousAcceptAny => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate {
                algorithms: provider.signature_verification_algorithms,
            }))
            .with_no_client_auth(),
    };
    Ok(TlsConnector::from(Arc::new(config)))
}

/// BENCHMARK-ONLY certificate verifier: accepts every server certificate,
/// whoever issued it and whatever name it carries, so that the load tool
/// can talk to a server with a self-signed certificate on loopback.
///
/// The handshake signatures are still checked (the server must hold the
/// key of the certificate it sent), but nothing ties that key to an
/// identity, so anyone on the path could impersonate the server. Never use
/// it outside a benchmark.
#[derive(Debug)]
struct AcceptAnyCertificate {
    /// The provider's signature algorithms, used for the handshake
    /// signatures that are still verified.
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
