//! The client side of TLS: TLS 1.2 or 1.3 only, the server certificate
//! verified for the destination's host name against the public roots plus
//! an optional extra CA file, and an optional client certificate. There is
//! deliberately no way to skip verification.

use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::RelayConfig;
use crate::error::RelayError;

fn cert_error(path: &Path, reason: impl ToString) -> RelayError {
    RelayError::Certificate {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, RelayError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| cert_error(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_error(path, e))?;
    if certs.is_empty() {
        return Err(cert_error(path, "no PEM certificate in the file"));
    }
    Ok(certs)
}

/// The client configuration, rebuilt from the files on
/// [`crate::RelayHandle::reload_tls`] (SIGHUP): the extra CA file and the
/// client certificate may change while the relay runs.
#[derive(Debug)]
pub(crate) struct ClientTls {
    current: RwLock<Arc<ClientConfig>>,
    source: RelayConfig,
}

impl ClientTls {
    /// Builds it from the relay's options.
    ///
    /// # Errors
    ///
    /// As [`client_config`].
    pub(crate) fn new(config: &RelayConfig) -> Result<Self, RelayError> {
        Ok(Self {
            current: RwLock::new(client_config(config)?),
            source: config.clone(),
        })
    }

    /// The configuration for a new connection.
    pub(crate) fn current(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Reads the files again; on any problem the old configuration stays.
    ///
    /// # Errors
    ///
    /// As [`client_config`].
    pub(crate) fn reload(&self) -> Result<(), RelayError> {
        let fresh = client_config(&self.source)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }
}

/// Builds the TLS client configuration from the relay's options.
///
/// # Errors
///
/// [`RelayError::Certificate`] when a file cannot be read or used,
/// [`RelayError::Tls`] when rustls refuses the configuration.
pub(crate) fn client_config(config: &RelayConfig) -> Result<Arc<ClientConfig>, RelayError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &config.extra_ca_file {
        for cert in load_certs(path)? {
            roots.add(cert).map_err(|e| cert_error(path, e))?;
        }
    }
    let builder = ClientConfig::builder_with_provider(transport::provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| RelayError::Tls(e.to_string()))?
        .with_root_certificates(roots);
    let tls = match &config.client_certificate {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = load_certs(cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| cert_error(key, e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| cert_error(cert, e))?
        }
    };
    Ok(Arc::new(tls))
}
