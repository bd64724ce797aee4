//! How an organisation's gateway proves itself: the client certificates
//! Ward's CA issued (which organisation each belongs to, by SHA-256
//! fingerprint, and whether it was revoked), and the source networks an
//! organisation may be recognised by instead (with TLS still required).

use serde::{Deserialize, Serialize};

use crate::{Error, OrgId, Store, codec, keys};

/// A client certificate issued to an organisation's gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayCertificate {
    /// The organisation it proves.
    pub organisation: OrgId,
    /// SHA-256 of the DER certificate, lower-case hex.
    pub fingerprint: String,
    /// Serial number, hex.
    pub serial: String,
    /// When it was issued (seconds since the Unix epoch).
    pub issued_at: i64,
    /// When it expires.
    pub not_after: i64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<i64>,
}

fn key(fingerprint: &str) -> Vec<u8> {
    keys::text(keys::GATEWAY_CERT, &fingerprint.to_ascii_lowercase())
}

impl Store {
    /// Records an issued certificate, durably.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchOrganisation`], [`Error::Io`].
    pub fn record_gateway_certificate(
        &self,
        certificate: &GatewayCertificate,
    ) -> Result<(), Error> {
        self.write(|txn| {
            if !txn.contains(&keys::id(keys::ORG, certificate.organisation.0))? {
                return Err(Error::NoSuchOrganisation(certificate.organisation.0));
            }
            txn.put_as(key(&certificate.fingerprint), certificate);
            Ok(())
        })
    }

    /// The certificate with this fingerprint, revoked or not.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn gateway_certificate(
        &self,
        fingerprint: &str,
    ) -> Result<Option<GatewayCertificate>, Error> {
        self.read_as(&key(fingerprint), "gateway certificate")
    }

    /// Every certificate issued (to one organisation), oldest first.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn gateway_certificates(
        &self,
        organisation: Option<OrgId>,
    ) -> Result<Vec<GatewayCertificate>, Error> {
        let mut out = Vec::new();
        for item in self.tree().scan_prefix([keys::GATEWAY_CERT]) {
            let (_, v) = item?;
            let c: GatewayCertificate = codec::decode(&v, "gateway certificate")?;
            if organisation.is_none_or(|o| o == c.organisation) {
                out.push(c);
            }
        }
        out.sort_by_key(|c| c.issued_at);
        Ok(out)
    }

    /// Revokes every unrevoked certificate of an organisation at `now`;
    /// returns how many.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn revoke_gateway_certificates(
        &self,
        organisation: OrgId,
        now: i64,
    ) -> Result<usize, Error> {
        self.write(|txn| {
            let mut revoked = 0;
            for (k, v) in txn.scan_prefix(&[keys::GATEWAY_CERT])? {
                let mut c: GatewayCertificate = codec::decode(&v, "gateway certificate")?;
                if c.organisation == organisation && c.revoked_at.is_none() {
                    c.revoked_at = Some(now);
                    txn.put_as(k.to_vec(), &c);
                    revoked += 1;
                }
            }
            Ok(revoked)
        })
    }

    /// Sets the networks (CIDR text, checked by the caller) from which an
    /// organisation's gateway is recognised without a certificate; an empty
    /// list clears them.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchOrganisation`], [`Error::Io`].
    pub fn set_gateway_networks(
        &self,
        organisation: OrgId,
        networks: &[String],
    ) -> Result<(), Error> {
        self.write(|txn| {
            if !txn.contains(&keys::id(keys::ORG, organisation.0))? {
                return Err(Error::NoSuchOrganisation(organisation.0));
            }
            let key = keys::id(keys::GATEWAY_NETWORKS, organisation.0);
            if networks.is_empty() {
                txn.remove(key);
            } else {
                txn.put_as(key, &networks.to_vec());
            }
            Ok(())
        })
    }

    /// The networks an organisation's gateway is recognised by (empty when
    /// none are set).
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn gateway_networks(&self, organisation: OrgId) -> Result<Vec<String>, Error> {
        Ok(self
            .read_as(
                &keys::id(keys::GATEWAY_NETWORKS, organisation.0),
                "gateway networks",
            )?
            .unwrap_or_default())
    }
}
