//! How an SMTP-connected organisation's gateway proves who it is: a client
//! certificate from Ward's CA, which it presents (revoking stops every
//! certificate of the organisation being accepted), or, where the operator
//! so configures it, the source networks it connects from over TLS.

use store::{ConnectionKind, GatewayCertificate};

use crate::api::{CertificateView, Response};
use crate::clock::format_utc;
use crate::error::AdminError;
use crate::service::{Caller, Service};

fn operator(caller: &Caller) -> Result<(), AdminError> {
    if caller.actor.is_operator() {
        Ok(())
    } else {
        Err(AdminError::Forbidden(
            "only the operator manages gateway certificates".to_owned(),
        ))
    }
}

pub(crate) fn issue(
    service: &Service,
    caller: &Caller,
    key: &str,
    days: u32,
) -> Result<Response, AdminError> {
    operator(caller)?;
    if !(1..=3650).contains(&days) {
        return Err(AdminError::invalid(
            "days",
            "a certificate lasts 1 to 3650 days",
        ));
    }
    let (id, org) = service.find_org(key)?;
    if org.connection == ConnectionKind::Mailbox {
        return Err(AdminError::Conflict(format!(
            "{} has hosted mailboxes and no mail server of its own, so it needs no gateway certificate",
            org.name
        )));
    }
    let ca = service.ca.as_ref().ok_or_else(|| {
        AdminError::Conflict("this Ward has no organisation certificate authority".to_owned())
    })?;
    let domain = org.domains.first().cloned().unwrap_or_default();
    let issued = ca
        .issue(&domain, &org.name, days)
        .map_err(|e| AdminError::invalid("certificate", e.to_string()))?;
    let ca_pem = std::fs::read_to_string(ca.certificate_path()).map_err(|e| {
        AdminError::invalid(
            "certificate",
            format!("cannot read the CA certificate: {e}"),
        )
    })?;
    service
        .store
        .record_gateway_certificate(&GatewayCertificate {
            organisation: id,
            fingerprint: issued.fingerprint.clone(),
            serial: issued.serial.clone(),
            issued_at: service.now(),
            not_after: issued.not_after,
            revoked_at: None,
        })?;
    service.audit(
        caller,
        "org.cert.issue",
        &format!(
            "org={} fingerprint={} serial={}",
            org.name, issued.fingerprint, issued.serial
        ),
    )?;
    Ok(Response::Certificate {
        organisation: org.name,
        domain,
        certificate_pem: issued.certificate_pem,
        key_pem: issued.key_pem,
        ca_pem,
        fingerprint: issued.fingerprint,
        not_after: format_utc(issued.not_after),
    })
}

pub(crate) fn revoke(
    service: &Service,
    caller: &Caller,
    key: &str,
) -> Result<Response, AdminError> {
    operator(caller)?;
    let (id, org) = service.find_org(key)?;
    let n = service
        .store
        .revoke_gateway_certificates(id, service.now())?;
    if n == 0 {
        return Err(AdminError::Conflict(format!(
            "{} has no certificate to revoke",
            org.name
        )));
    }
    service.audit(
        caller,
        "org.cert.revoke",
        &format!("org={} count={n}", org.name),
    )?;
    Ok(Response::Done {
        message: format!(
            "{n} gateway certificate(s) of {} revoked; its gateway can no longer send as {}",
            org.name, org.name
        ),
    })
}

pub(crate) fn list(
    service: &Service,
    caller: &Caller,
    key: Option<&str>,
) -> Result<Response, AdminError> {
    operator(caller)?;
    let only = match key {
        Some(k) => Some(service.find_org(k)?.0),
        None => None,
    };
    let mut certificates = Vec::new();
    for c in service.store.gateway_certificates(only)? {
        let organisation = service
            .store
            .organisation(c.organisation)?
            .map(|o| o.name)
            .unwrap_or_default();
        certificates.push(CertificateView {
            organisation,
            fingerprint: c.fingerprint,
            serial: c.serial,
            issued_at: format_utc(c.issued_at),
            not_after: format_utc(c.not_after),
            revoked_at: c.revoked_at.map(format_utc),
        });
    }
    Ok(Response::Certificates { certificates })
}

pub(crate) fn networks(
    service: &Service,
    caller: &Caller,
    key: &str,
    networks: Option<Vec<String>>,
) -> Result<Response, AdminError> {
    operator(caller)?;
    let (id, org) = service.find_org(key)?;
    let Some(networks) = networks else {
        let current = service.store.gateway_networks(id)?;
        return Ok(Response::Done {
            message: if current.is_empty() {
                format!(
                    "{} has no gateway networks; its gateway proves itself with a certificate",
                    org.name
                )
            } else {
                format!("{} gateway networks: {}", org.name, current.join(", "))
            },
        });
    };
    if org.connection == ConnectionKind::Mailbox && !networks.is_empty() {
        return Err(AdminError::Conflict(format!(
            "{} has hosted mailboxes and no mail server of its own, so it has no gateway networks",
            org.name
        )));
    }
    let mut checked = Vec::new();
    for text in &networks {
        let net = policy::IpNetwork::parse(text.trim())
            .map_err(|e| AdminError::invalid("networks", e.to_string()))?;
        checked.push(net.to_string());
    }
    checked.sort();
    checked.dedup();
    service.store.set_gateway_networks(id, &checked)?;
    service.audit(
        caller,
        "org.networks.set",
        &format!("org={} networks={}", org.name, checked.join(",")),
    )?;
    Ok(Response::Done {
        message: if checked.is_empty() {
            format!("{} gateway networks cleared", org.name)
        } else {
            format!(
                "{} gateway recognised over TLS from: {}",
                org.name,
                checked.join(", ")
            )
        },
    })
}
