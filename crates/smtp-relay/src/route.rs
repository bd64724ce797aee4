//! Where a queued recipient goes now: the community is consulted again at
//! every attempt, since organisations change gateway, are suspended or leave
//! while mail waits.

use std::fmt;

use policy::{Address, Community, Rewriter, Route, SenderOrigin};

/// A place the relay opens connections to. Recipients with the same
/// destination share transactions and connections, and a destination that
/// keeps failing is backed off as a whole.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Destination {
    /// An SMTP-connected organisation's gateway.
    Gateway {
        /// Its host name (the certificate must name it).
        host: String,
        /// Its port.
        port: u16,
    },
    /// A domain whose MX records (or A/AAAA) name its servers.
    Domain(String),
}

impl Destination {
    /// Whether an operator's `flush` argument names this destination: the
    /// domain, the gateway host, or `host:port`.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Destination::Gateway { host, port } => {
                host.eq_ignore_ascii_case(name) || format!("{host}:{port}") == name
            }
            Destination::Domain(domain) => domain.eq_ignore_ascii_case(name),
        }
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Gateway { host, port } => write!(f, "{host}:{port}"),
            Destination::Domain(domain) => write!(f, "{domain}"),
        }
    }
}

/// What to do with one queued recipient now.
#[derive(Debug, Clone)]
pub enum Routed {
    /// Deliver over SMTP.
    Remote {
        /// Where.
        destination: Destination,
        /// The organisation (gateways), so that different organisations'
        /// rewriting never shares a transaction.
        organisation: Option<String>,
        /// The recipient as the destination expects it (suffix stripped
        /// for strip-suffix organisations).
        recipient: String,
        /// Header rewriting for strip-suffix organisations.
        rewriter: Option<Rewriter>,
    },
    /// The recipient has become a hosted mailbox: deliver into it.
    Local {
        /// The mailbox address (community form).
        mailbox: String,
    },
    /// The recipient's organisation is suspended or its delivery held: wait,
    /// do not try, and do not count the wait against the recipient.
    Held,
    /// The community no longer accepts mail for it: fail now.
    Refused(String),
}

/// Routes a queued recipient (community form) with the current community.
pub fn route(community: &Community, recipient: &str) -> Routed {
    let address = match Address::try_from(recipient) {
        Ok(a) => a,
        Err(e) => return Routed::Refused(format!("{recipient}: {e}")),
    };
    // The sender was judged when the mail was accepted; only the
    // recipient's side is re-evaluated here.
    let origin = SenderOrigin::User {
        sender: None,
        organisation: String::new(),
    };
    match community.route_recipient(&origin, &address) {
        Ok(Route::Local { mailbox, .. }) => Routed::Local {
            mailbox: mailbox.to_string(),
        },
        Ok(Route::OrganisationGateway {
            organisation,
            gateway,
            recipient,
        }) => {
            let rewriter = community
                .organisation_named(&organisation)
                .and_then(|org| community.rewriter_for(org));
            Routed::Remote {
                destination: Destination::Gateway {
                    host: gateway.host.to_string(),
                    port: gateway.port,
                },
                organisation: Some(organisation),
                recipient: recipient.to_string(),
                rewriter,
            }
        }
        Ok(Route::Held { .. }) => Routed::Held,
        Ok(Route::ExternalSecure { recipient, .. }) => Routed::Remote {
            destination: Destination::Domain(recipient.domain().to_string()),
            organisation: None,
            recipient: recipient.to_string(),
            rewriter: None,
        },
        Err(e) => Routed::Refused(policy::Reply::from(&e).text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::{Domain, Gateway, Organisation, SuffixRewrite};

    fn community() -> Community {
        let mut c = Community::default();
        c.organisations.push(Organisation::smtp(
            "Kent Probation",
            Domain::parse("kentprobation.org.uk").unwrap(),
            Gateway {
                host: Domain::parse("mail.kentprobation.org.uk").unwrap(),
                port: 25,
                rewrite: SuffixRewrite::StripSuffix,
            },
        ));
        c.organisations.push(Organisation::mailbox(
            "Greenstone",
            Domain::parse("greenstone.co.uk").unwrap(),
        ));
        let mut suspended = Organisation::smtp(
            "Sleepy",
            Domain::parse("sleepy.org.uk").unwrap(),
            Gateway {
                host: Domain::parse("mx.sleepy.org.uk").unwrap(),
                port: 25,
                rewrite: SuffixRewrite::KeepSuffix,
            },
        );
        suspended.suspended = true;
        c.organisations.push(suspended);
        c
    }

    #[test]
    fn recipients_route_by_the_current_community() {
        let c = community();
        match route(&c, "ann@kentprobation.org.uk.cjsm.net") {
            Routed::Remote {
                destination,
                recipient,
                rewriter,
                ..
            } => {
                assert_eq!(destination.to_string(), "mail.kentprobation.org.uk:25");
                assert!(destination.matches("mail.kentprobation.org.uk"));
                assert_eq!(recipient, "ann@kentprobation.org.uk");
                assert!(rewriter.is_some());
            }
            other => panic!("{other:?}"),
        }
        match route(&c, "pc.smith@kent.pnn.police.uk") {
            Routed::Remote {
                destination,
                recipient,
                ..
            } => {
                assert_eq!(
                    destination,
                    Destination::Domain("kent.pnn.police.uk".into())
                );
                assert_eq!(recipient, "pc.smith@kent.pnn.police.uk");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            route(&c, "eric@greenstone.co.uk.cjsm.net"),
            Routed::Local { .. }
        ));
        assert!(matches!(
            route(&c, "x@sleepy.org.uk.cjsm.net"),
            Routed::Held
        ));
        assert!(matches!(route(&c, "x@gmail.com"), Routed::Refused(_)));
        assert!(matches!(route(&c, "not an address"), Routed::Refused(_)));
    }
}
