//! Loading and checking PEM certificates, and making the self-signed one.
//!
//! The checks here are the ones `ward check-config` reports: the files exist
//! and are readable, they hold a certificate chain and a private key, and the
//! key belongs to the first certificate.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertificateError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The file that was asked for.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The file holds no PEM `CERTIFICATE` block.
    #[error("{path} holds no PEM certificate")]
    NoCertificate {
        /// The certificate file.
        path: PathBuf,
    },
    /// The file holds no PEM private key, or one that cannot be decoded.
    #[error("{path} holds no usable PEM private key")]
    NoPrivateKey {
        /// The key file.
        path: PathBuf,
    },
    /// The key's algorithm is not one rustls can sign with.
    #[error("{path}: unsupported private key type ({reason})")]
    UnsupportedKey {
        /// The key file.
        path: PathBuf,
        /// What rustls said.
        reason: String,
    },
    /// The private key does not belong to the first certificate.
    #[error("the private key in {key} does not match the certificate in {certificate}")]
    KeyMismatch {
        /// The certificate file.
        certificate: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The client-certificate policy could not be built.
    #[error("{path}: {reason}")]
    Unusable {
        /// The server certificate it was being set up with.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A self-signed certificate could not be generated or written.
    #[error("cannot create a self-signed certificate in {dir}: {reason}")]
    Generate {
        /// The folder it was to be written to.
        dir: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// Reads a certificate chain and its private key, and checks they match.
///
/// # Errors
///
/// Any [`CertificateError`] but `Generate`.
pub fn load(certificate: &Path, key: &Path) -> Result<Arc<CertifiedKey>, CertificateError> {
    let chain = read_chain(certificate)?;
    let key_der = read_key(key)?;
    let signing_key = super::provider()
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| CertificateError::UnsupportedKey {
            path: key.to_owned(),
            reason: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing_key);
    certified
        .keys_match()
        .map_err(|_| CertificateError::KeyMismatch {
            certificate: certificate.to_owned(),
            key: key.to_owned(),
        })?;
    Ok(Arc::new(certified))
}

/// Reads every `CERTIFICATE` block of a PEM file, leaf first.
///
/// # Errors
///
/// `Unreadable` or `NoCertificate`.
pub fn read_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, CertificateError> {
    let pem = read(path)?;
    let chain: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(CertificateError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, CertificateError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| CertificateError::NoPrivateKey {
        path: path.to_owned(),
    })
}

fn read(path: &Path) -> Result<Vec<u8>, CertificateError> {
    fs::read(path).map_err(|source| CertificateError::Unreadable {
        path: path.to_owned(),
        source,
    })
}

/// The file names of the self-signed certificate inside its folder.
pub const SELF_SIGNED_CERT: &str = "cert.pem";
/// The file name of the self-signed certificate's private key.
pub const SELF_SIGNED_KEY: &str = "key.pem";

/// Returns the self-signed certificate and key in `dir`, creating them for
/// `hostname` the first time. The key file is written with mode 0600.
///
/// An existing pair is reused as it is, so clients that pinned or trusted it
/// keep working across restarts.
///
/// # Errors
///
/// `Generate` when the folder or files cannot be written.
pub fn ensure_self_signed(
    dir: &Path,
    hostname: &str,
) -> Result<(PathBuf, PathBuf), CertificateError> {
    let cert_path = dir.join(SELF_SIGNED_CERT);
    let key_path = dir.join(SELF_SIGNED_KEY);
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    let fail = |reason: String| CertificateError::Generate {
        dir: dir.to_owned(),
        reason,
    };
    let mut params = rcgen::CertificateParams::new(vec![hostname.to_owned()])
        .map_err(|e| fail(e.to_string()))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, hostname);
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, "Ward self-signed");
    let signing_key = rcgen::KeyPair::generate().map_err(|e| fail(e.to_string()))?;
    let cert = params
        .self_signed(&signing_key)
        .map_err(|e| fail(e.to_string()))?;
    create_private_dir(dir).map_err(|e| fail(e.to_string()))?;
    write_private(&key_path, signing_key.serialize_pem().as_bytes())
        .map_err(|e| fail(e.to_string()))?;
    // The certificate goes last: its presence marks a complete pair.
    write_private(&cert_path, cert.pem().as_bytes()).map_err(|e| fail(e.to_string()))?;
    Ok((cert_path, key_path))
}

/// Creates a folder (and its parents) that only its owner may enter.
pub(crate) fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Writes a file atomically (temporary file, fsync, rename) with mode 0600,
/// whatever the umask: everything in the data folder is the owner's alone.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    io::Write::write_all(&mut file, bytes)?;
    file.sync_all()?;
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_is_made_once_and_loads() {
        let dir = tempfile::tempdir().unwrap();
        let (c1, k1) = ensure_self_signed(dir.path(), "localhost").unwrap();
        let first = fs::read(&c1).unwrap();
        let (c2, _) = ensure_self_signed(dir.path(), "localhost").unwrap();
        assert_eq!(first, fs::read(&c2).unwrap());
        load(&c1, &k1).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&k1).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn mismatched_key_is_reported() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let (cert, _) = ensure_self_signed(a.path(), "localhost").unwrap();
        let (_, key) = ensure_self_signed(b.path(), "localhost").unwrap();
        assert!(matches!(
            load(&cert, &key),
            Err(CertificateError::KeyMismatch { .. })
        ));
    }

    #[test]
    fn swapped_files_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = ensure_self_signed(dir.path(), "localhost").unwrap();
        assert!(matches!(
            load(&key, &cert),
            Err(CertificateError::NoCertificate { .. })
        ));
        let missing = dir.path().join("nope.pem");
        assert!(matches!(
            load(&missing, &key),
            Err(CertificateError::Unreadable { .. })
        ));
    }
}
