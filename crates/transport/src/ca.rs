//! Ward's own certificate authority for organisation gateways: it issues
//! the TLS client certificates an SMTP-connected organisation's mail server
//! presents, and the server asks for them (optionally) on every handshake.
//!
//! The CA's key and certificate live in `<data>/ca/` (key mode 0600). Which
//! organisation a certificate belongs to, and whether it was revoked, is not
//! read from the certificate but looked up by its SHA-256 fingerprint in
//! the store, so revocation takes effect at once without CRL files.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sha2::{Digest, Sha256};

use crate::certificate::{create_private_dir, write_private};

const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca.key";
const CA_NAME: &str = "Ward organisation gateway CA";

/// Why the CA could not be made, loaded or used.
#[derive(Debug, thiserror::Error)]
#[error("organisation certificate authority in {dir}: {reason}")]
pub struct CaError {
    /// The CA folder.
    pub dir: PathBuf,
    /// What went wrong.
    pub reason: String,
}

/// A client certificate just issued; the key is shown once and not kept.
#[derive(Debug, Clone)]
pub struct IssuedCertificate {
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// Its private key, PEM.
    pub key_pem: String,
    /// SHA-256 of the certificate's DER, lower-case hex.
    pub fingerprint: String,
    /// The serial number, hex.
    pub serial: String,
    /// Expiry, seconds since the Unix epoch.
    pub not_after: i64,
}

/// The gateway certificate authority.
pub struct CertificateAuthority {
    dir: PathBuf,
    key: KeyPair,
    certificate: CertificateDer<'static>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The CA's own parameters. They are rebuilt identically on every load, so
/// certificates it signs name it exactly as its certificate does.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "Ward");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

impl CertificateAuthority {
    /// Loads the CA from `dir`, creating it on first use.
    ///
    /// # Errors
    ///
    /// [`CaError`] when the files cannot be written or read.
    pub fn ensure(dir: &Path) -> Result<Self, CaError> {
        let fail = |reason: String| CaError {
            dir: dir.to_owned(),
            reason,
        };
        let (cert_path, key_path) = (dir.join(CA_CERT), dir.join(CA_KEY));
        if !(cert_path.exists() && key_path.exists()) {
            let key = KeyPair::generate().map_err(|e| fail(e.to_string()))?;
            let cert = ca_params()
                .self_signed(&key)
                .map_err(|e| fail(e.to_string()))?;
            create_private_dir(dir).map_err(|e| fail(e.to_string()))?;
            write_private(&key_path, key.serialize_pem().as_bytes())
                .map_err(|e| fail(e.to_string()))?;
            write_private(&cert_path, cert.pem().as_bytes()).map_err(|e| fail(e.to_string()))?;
        }
        let key_pem = fs::read_to_string(&key_path).map_err(|e| fail(e.to_string()))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| fail(e.to_string()))?;
        let certificate =
            CertificateDer::from_pem_file(&cert_path).map_err(|e| fail(e.to_string()))?;
        Ok(Self {
            dir: dir.to_owned(),
            key,
            certificate,
        })
    }

    /// The CA certificate (the trust anchor for client certificates).
    pub fn certificate(&self) -> &CertificateDer<'static> {
        &self.certificate
    }

    /// Where the CA certificate file is.
    pub fn certificate_path(&self) -> PathBuf {
        self.dir.join(CA_CERT)
    }

    /// Issues a client certificate for an organisation's gateway, naming
    /// its domain, valid for `days`.
    ///
    /// # Errors
    ///
    /// [`CaError`] when the domain is not a valid DNS name or signing fails.
    pub fn issue(
        &self,
        domain: &str,
        organisation: &str,
        days: u32,
    ) -> Result<IssuedCertificate, CaError> {
        let fail = |reason: String| CaError {
            dir: self.dir.clone(),
            reason,
        };
        let mut params =
            CertificateParams::new(vec![domain.to_owned()]).map_err(|e| fail(e.to_string()))?;
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, domain);
        params
            .distinguished_name
            .push(DnType::OrganizationName, organisation);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let serial: [u8; 16] = rand_bytes();
        // A positive serial: clear the top bit.
        let mut serial = serial;
        serial[0] &= 0x7f;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let not_after = now + i64::from(days) * 86_400;
        params.not_before = rcgen_date(now - 3600);
        params.not_after = rcgen_date(not_after);
        let key = KeyPair::generate().map_err(|e| fail(e.to_string()))?;
        let issuer = Issuer::new(ca_params(), &self.key);
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|e| fail(e.to_string()))?;
        Ok(IssuedCertificate {
            certificate_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            fingerprint: fingerprint(cert.der()),
            serial: hex(&serial),
            not_after,
        })
    }
}

/// The SHA-256 fingerprint of a DER certificate, lower-case hex.
pub fn fingerprint(der: &[u8]) -> String {
    hex(&Sha256::digest(der))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn rand_bytes() -> [u8; 16] {
    let mut out = [0u8; 16];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut out)
        .expect("the system random source works");
    out
}

/// A UTC timestamp as the date type rcgen takes.
fn rcgen_date(seconds: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}
