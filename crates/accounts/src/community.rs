//! The routing snapshot `policy` decides with, built from the store's
//! organisations and the configured secure domains.

use policy::{Community, Connection, Domain, ExternalDomain, Gateway, SuffixRewrite};
use store::{ConnectionKind, OrgState};

use crate::service::Service;

impl Service {
    /// The community as it stands: every organisation not closed (a
    /// suspended one is kept, marked, so its mail is deferred rather than
    /// refused) and the external secure domains. Organisations whose stored
    /// domains no longer parse are skipped with a warning.
    pub fn community(&self) -> Community {
        let settings = self.settings();
        let suffix = Domain::parse(&settings.suffix).unwrap_or_else(|_| {
            Domain::parse(policy::DEFAULT_SUFFIX).expect("the default suffix is valid")
        });
        let mut community = Community::new(suffix.clone());
        community.external_secure_domains = settings
            .secure_domains
            .iter()
            .filter_map(|d| Domain::parse(d).ok())
            .map(ExternalDomain::new)
            .collect();
        let organisations = match self.store.organisations() {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(error = %e, "cannot read organisations; routing knows none");
                return community;
            }
        };
        for (id, org) in organisations {
            if org.state == OrgState::Closed {
                continue;
            }
            match convert(&org, &suffix) {
                Some(mut o) => {
                    o.gateway_networks = self
                        .store
                        .gateway_networks(id)
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|n| policy::IpNetwork::parse(n).ok())
                        .collect();
                    community.organisations.push(o);
                }
                None => {
                    tracing::warn!(org = %org.name, "organisation skipped: a stored domain is not valid")
                }
            }
        }
        community
    }
}

fn convert(org: &store::Organisation, suffix: &Domain) -> Option<policy::Organisation> {
    let abbreviation = match &org.abbreviation {
        Some(a) => Some(Domain::parse(a).ok()?),
        None => None,
    };
    let mut domains = Vec::new();
    for d in &org.domains {
        let base = Domain::parse(d).ok()?.strip_suffix(suffix)?;
        if Some(&base) != abbreviation.as_ref() {
            domains.push(base);
        }
    }
    // Only applications should hold an undecided connection; an
    // organisation recorded with one has its users' mailboxes here and its
    // mail held in the queue until the operator chooses.
    let undecided = org.connection == ConnectionKind::Undecided;
    let connection = match &org.connection {
        ConnectionKind::Mailbox | ConnectionKind::Undecided => Connection::Mailbox,
        ConnectionKind::Smtp {
            gateway,
            port,
            strip_suffix,
        } => Connection::Smtp(Gateway {
            host: Domain::parse(gateway).ok()?,
            port: *port,
            rewrite: if *strip_suffix {
                SuffixRewrite::StripSuffix
            } else {
                SuffixRewrite::KeepSuffix
            },
        }),
    };
    Some(policy::Organisation {
        name: org.name.clone(),
        domains,
        abbreviation,
        connection,
        suspended: org.state != OrgState::Active,
        delivery_held: org.delivery_held || undecided,
        gateway_networks: Vec::new(),
    })
}
