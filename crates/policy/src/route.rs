//! The allow-list as decisions. [`Community::check_sender`] decides whether a
//! session may send as the reverse-path it gave, from what the session proved
//! ([`SessionCredentials`]); [`Community::route_recipient`] then decides, for
//! each recipient, where the mail goes ([`Route`]) or why it may not.
//!
//! Both take addresses in their community form: mail from an organisation's
//! gateway is rewritten inbound ([`crate::rewrite`]) before it is judged.
//!
//! | sender claims | believed when |
//! |---|---|
//! | a hosted mailbox's address | the session authenticated as that user (or one granted it) |
//! | an SMTP organisation's address | the peer presented that organisation's gateway certificate |
//! | an external secure domain | a verified client certificate or a configured source network proves it |
//! | anything else | never: `SenderNotConnected` |

use std::net::IpAddr;

use crate::address::{Address, Domain};
use crate::community::{Community, Connection, Gateway, Organisation};
use crate::error::PolicyError;

/// What the sending session proved about itself. The transport layer fills
/// it in after TLS and AUTH; policy only reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionCredentials {
    /// The user the session authenticated as (SMTP AUTH), if any.
    pub authenticated: Option<AuthenticatedUser>,
    /// The organisation whose Ward-issued gateway client certificate the peer
    /// presented and Ward verified, if any.
    pub gateway_organisation: Option<String>,
    /// DNS names in the peer's verified TLS client certificate (not its
    /// gateway certificate); empty when it presented none.
    pub client_certificate_names: Vec<Domain>,
    /// The peer's IP address.
    pub source_ip: Option<IpAddr>,
}

/// A signed-in user and the addresses they may send as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    /// The user's own community address.
    pub address: Address,
    /// Further addresses granted to them (e.g. a shared team mailbox).
    pub may_send_as: Vec<Address>,
}

impl AuthenticatedUser {
    /// A user who may send only as themselves.
    pub fn new(address: Address) -> Self {
        Self {
            address,
            may_send_as: Vec::new(),
        }
    }
}

/// Who the reverse-path was believed to be, for routing decisions that
/// depend on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderOrigin {
    /// An authenticated user of a hosted (or SMTP) organisation.
    User {
        /// The reverse-path (the user's own or a granted address; `None` for
        /// an empty reverse-path).
        sender: Option<Address>,
        /// The user's organisation.
        organisation: String,
    },
    /// An SMTP-connected organisation's gateway.
    OrganisationGateway {
        /// The organisation.
        organisation: String,
    },
    /// A proven server of an external secure domain.
    ExternalSecure {
        /// The configured domain it proved.
        domain: Domain,
    },
}

/// Where mail for one recipient goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Into a mailbox Ward hosts. The caller checks the mailbox exists and
    /// otherwise refuses with [`PolicyError::NoSuchMailbox`].
    Local {
        /// The mailbox (community form).
        mailbox: Address,
        /// Its organisation.
        organisation: String,
    },
    /// To an SMTP-connected organisation's gateway, over verified TLS.
    OrganisationGateway {
        /// The organisation.
        organisation: String,
        /// Its gateway.
        gateway: Gateway,
        /// The recipient as the gateway expects it (suffix stripped when the
        /// organisation is configured so; headers: [`Rewriter`](crate::Rewriter)).
        recipient: Address,
    },
    /// To an organisation that is suspended or whose delivery is held: the
    /// message is accepted and waits in the queue, held, until the
    /// organisation resumes; neither the wait nor the retry schedule counts
    /// against it.
    Held {
        /// The organisation.
        organisation: String,
        /// The recipient (community form).
        recipient: Address,
        /// The organisation's mailboxes are hosted here: the caller checks
        /// the mailbox exists, as for [`Route::Local`].
        hosted: bool,
    },
    /// To an external secure domain's own servers (MX), over verified TLS.
    ExternalSecure {
        /// The configured domain that covers the recipient.
        domain: Domain,
        /// The recipient.
        recipient: Address,
    },
}

impl Community {
    /// Decides whether this session may use `sender` as its reverse-path
    /// (`None` is the empty reverse-path `<>` of delivery reports).
    ///
    /// # Errors
    ///
    /// - [`PolicyError::SenderNotPermitted`]: signed in, but not as `sender`;
    /// - [`PolicyError::SenderNotConnected`]: `sender` is outside the community;
    /// - [`PolicyError::SenderSpoofed`]: `sender` claims a community or
    ///   external secure domain the session has not proved;
    /// - [`PolicyError::UnknownCommunityDomain`]: no organisation uses the domain;
    /// - [`PolicyError::OrganisationSuspended`]: the sending organisation is
    ///   suspended (4xx: its mail waits);
    /// - [`PolicyError::UnprovenBounce`]: `<>` from an unproven server.
    pub fn check_sender(
        &self,
        sender: Option<&Address>,
        session: &SessionCredentials,
    ) -> Result<SenderOrigin, PolicyError> {
        if let Some(user) = &session.authenticated {
            return self.check_user_sender(sender, user);
        }
        if let Some(name) = &session.gateway_organisation {
            return self.check_gateway_sender(sender, name);
        }
        let Some(sender) = sender else {
            return self
                .external_secure_domains
                .iter()
                .find(|ext| ext.is_proven_by(&session.client_certificate_names, session.source_ip))
                .map(|ext| SenderOrigin::ExternalSecure {
                    domain: ext.domain.clone(),
                })
                .ok_or(PolicyError::UnprovenBounce);
        };
        if self.is_community_domain(sender.domain()) {
            return Err(PolicyError::SenderSpoofed {
                sender: sender.clone(),
                domain: sender.domain().to_string(),
            });
        }
        match self.external_domain_for(sender.domain()) {
            Some(ext) if ext.is_proven_by(&session.client_certificate_names, session.source_ip) => {
                Ok(SenderOrigin::ExternalSecure {
                    domain: ext.domain.clone(),
                })
            }
            Some(ext) => Err(PolicyError::SenderSpoofed {
                sender: sender.clone(),
                domain: ext.domain.to_string(),
            }),
            None => Err(PolicyError::SenderNotConnected {
                sender: sender.clone(),
            }),
        }
    }

    /// Decides whether a message header may name `address` as its author
    /// (`From:`) or sender (`Sender:`), for a sender already accepted by
    /// [`Self::check_sender`]: the same proof as the envelope's. A gateway
    /// may name only its own organisation's addresses (suffixed, or
    /// unsuffixed as strip-suffix organisations write them); an external
    /// secure domain's server only its own domain's. Signed-in users are
    /// held to their own addresses by the submission check, which knows
    /// the user's grants.
    ///
    /// # Errors
    ///
    /// [`PolicyError::HeaderSenderSpoofed`].
    pub fn check_header_sender(
        &self,
        origin: &SenderOrigin,
        field: &'static str,
        address: &Address,
    ) -> Result<(), PolicyError> {
        let (permitted, who) = match origin {
            SenderOrigin::User { .. } => return Ok(()),
            SenderOrigin::OrganisationGateway { organisation } => (
                self.organisation_named(organisation).is_some_and(|org| {
                    self.organisation_for(address.domain())
                        .is_some_and(|o| o.name == org.name)
                        || org.domains.contains(address.domain())
                }),
                format!("the mail server of {organisation}"),
            ),
            SenderOrigin::ExternalSecure { domain } => (
                address.domain().is_within(domain),
                format!("a mail server of {domain}"),
            ),
        };
        if permitted {
            Ok(())
        } else {
            Err(PolicyError::HeaderSenderSpoofed {
                field,
                address: address.clone(),
                origin: who,
            })
        }
    }

    fn check_user_sender(
        &self,
        sender: Option<&Address>,
        user: &AuthenticatedUser,
    ) -> Result<SenderOrigin, PolicyError> {
        let Some(sender) = sender else {
            return Err(PolicyError::NullSenderNotPermitted {
                user: user.address.clone(),
            });
        };
        let permitted = sender.same_mailbox(&user.address)
            || user.may_send_as.iter().any(|a| sender.same_mailbox(a));
        if !permitted {
            return Err(PolicyError::SenderNotPermitted {
                user: user.address.clone(),
                sender: sender.clone(),
            });
        }
        let organisation = self.sending_organisation(&user.address)?;
        Ok(SenderOrigin::User {
            sender: Some(sender.clone()),
            organisation: organisation.name.clone(),
        })
    }

    fn check_gateway_sender(
        &self,
        sender: Option<&Address>,
        gateway_of: &str,
    ) -> Result<SenderOrigin, PolicyError> {
        let Some(sender) = sender else {
            let org = self
                .organisation_named(gateway_of)
                .ok_or(PolicyError::UnprovenBounce)?;
            return active(org).map(|org| SenderOrigin::OrganisationGateway {
                organisation: org.name.clone(),
            });
        };
        let org = self.sending_organisation(sender)?;
        if org.name != gateway_of || !matches!(org.connection, Connection::Smtp(_)) {
            return Err(PolicyError::SenderSpoofed {
                sender: sender.clone(),
                domain: sender.domain().to_string(),
            });
        }
        Ok(SenderOrigin::OrganisationGateway {
            organisation: org.name.clone(),
        })
    }

    /// The active organisation a sender address belongs to.
    fn sending_organisation(&self, sender: &Address) -> Result<&Organisation, PolicyError> {
        if !self.is_community_domain(sender.domain()) {
            return Err(PolicyError::SenderNotConnected {
                sender: sender.clone(),
            });
        }
        let org = self.organisation_for(sender.domain()).ok_or_else(|| {
            PolicyError::UnknownCommunityDomain {
                recipient: sender.clone(),
            }
        })?;
        active(org)
    }

    /// Decides where mail for `recipient` goes, for a sender already
    /// accepted by [`Self::check_sender`].
    ///
    /// # Errors
    ///
    /// - [`PolicyError::NotOnAllowList`]: outside the community (with a
    ///   suggestion when the domain is an organisation's, unsuffixed);
    /// - [`PolicyError::UnknownCommunityDomain`]: under the suffix, but no
    ///   organisation uses it;
    /// - [`PolicyError::RelayDenied`]: an external server (not signed in, not
    ///   a gateway) asked to relay to another external domain.
    pub fn route_recipient(
        &self,
        origin: &SenderOrigin,
        recipient: &Address,
    ) -> Result<Route, PolicyError> {
        if self.is_community_domain(recipient.domain()) {
            let org = self.organisation_for(recipient.domain()).ok_or_else(|| {
                PolicyError::UnknownCommunityDomain {
                    recipient: recipient.clone(),
                }
            })?;
            if org.holds_delivery() {
                return Ok(Route::Held {
                    organisation: org.name.clone(),
                    recipient: recipient.clone(),
                    hosted: org.connection == Connection::Mailbox,
                });
            }
            return Ok(match &org.connection {
                Connection::Mailbox => Route::Local {
                    mailbox: recipient.clone(),
                    organisation: org.name.clone(),
                },
                Connection::Smtp(gateway) => Route::OrganisationGateway {
                    organisation: org.name.clone(),
                    gateway: gateway.clone(),
                    recipient: self
                        .rewriter_for(org)
                        .map_or_else(|| recipient.clone(), |r| r.outbound_address(recipient)),
                },
            });
        }
        if let Some(ext) = self.external_domain_for(recipient.domain()) {
            if matches!(origin, SenderOrigin::ExternalSecure { .. }) {
                return Err(PolicyError::RelayDenied {
                    recipient: recipient.clone(),
                });
            }
            return Ok(Route::ExternalSecure {
                domain: ext.domain.clone(),
                recipient: recipient.clone(),
            });
        }
        let suggestion = self
            .organisations
            .iter()
            .any(|org| org.domains.contains(recipient.domain()))
            .then(|| self.add_suffix(recipient).ok())
            .flatten();
        Err(PolicyError::NotOnAllowList {
            recipient: recipient.clone(),
            suggestion,
        })
    }
}

fn active(org: &Organisation) -> Result<&Organisation, PolicyError> {
    if org.suspended {
        Err(PolicyError::OrganisationSuspended {
            organisation: org.name.clone(),
        })
    } else {
        Ok(org)
    }
}
