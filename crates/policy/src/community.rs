//! The community as plain data: the suffix, the connected organisations (their
//! domains, abbreviation, how they connect, whether suspended) and the external
//! secure government domains with what proves a server speaks for each. The
//! caller builds a [`Community`] from its configuration and store; routing
//! ([`crate::route`]) and rewriting ([`crate::rewrite`]) read it.

use std::net::IpAddr;

use crate::address::{Address, Domain};
use crate::error::AddressError;

/// The secure government domains of seed 001 step 7. Each also covers its
/// subdomains (`*.pnn.police.uk`).
pub const DEFAULT_EXTERNAL_SECURE_DOMAINS: [&str; 12] = [
    "gsi.gov.uk",
    "pnn.police.uk",
    "justice.gov.uk",
    "cps.gov.uk",
    "hmpps.gov.uk",
    "hmcts.gov.uk",
    "yjb.gov.uk",
    "gcsx.gov.uk",
    "gcx.gov.uk",
    "governmentlegal.gov.uk",
    "nhs.net",
    "hscni.net",
];

/// The default community suffix.
pub const DEFAULT_SUFFIX: &str = "cjsm.net";

/// How an organisation's mail reaches its users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// Ward hosts the mailboxes; users read over IMAP and send by submission.
    Mailbox,
    /// The organisation runs its own mail server; Ward relays to it.
    Smtp(Gateway),
}

/// Where and how Ward delivers to an SMTP-connected organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// The gateway's host name; Ward verifies its certificate against it.
    pub host: Domain,
    /// The SMTP port, normally 25.
    pub port: u16,
    /// Which form of address the organisation uses internally.
    pub rewrite: SuffixRewrite,
}

/// Whether the suffix is rewritten at an SMTP organisation's boundary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SuffixRewrite {
    /// The organisation uses suffixed addresses itself: nothing is rewritten.
    #[default]
    KeepSuffix,
    /// The organisation uses its unsuffixed addresses internally: Ward adds
    /// the suffix to its domains on the way in and strips it on the way out.
    StripSuffix,
}

/// A connected organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    /// Its name, unique in the community; used in replies and routes.
    pub name: String,
    /// Its own domains without the suffix (`greenstonechambers.co.uk`); each
    /// is reachable as `<domain>.<suffix>`.
    pub domains: Vec<Domain>,
    /// Its abbreviation (`safeguarder`), reachable as `<abbreviation>.<suffix>`;
    /// never stripped at the boundary, as it exists only under the suffix.
    pub abbreviation: Option<Domain>,
    /// How its mail is delivered.
    pub connection: Connection,
    /// Suspended by the operator: its users and gateway may not send, and
    /// mail for it is accepted and waits in the queue.
    pub suspended: bool,
    /// Delivery held (its mail server is down): mail for it is accepted and
    /// waits in the queue; its users and gateway still send.
    pub delivery_held: bool,
    /// Source networks from which a TLS connection is recognised as this
    /// organisation's gateway without a client certificate (an SMTP
    /// organisation so configured by the operator).
    pub gateway_networks: Vec<IpNetwork>,
}

impl Organisation {
    /// A mailbox-connected, active organisation with one domain.
    pub fn mailbox(name: impl Into<String>, domain: Domain) -> Self {
        Self {
            name: name.into(),
            domains: vec![domain],
            abbreviation: None,
            connection: Connection::Mailbox,
            suspended: false,
            delivery_held: false,
            gateway_networks: Vec::new(),
        }
    }

    /// An SMTP-connected, active organisation with one domain.
    pub fn smtp(name: impl Into<String>, domain: Domain, gateway: Gateway) -> Self {
        Self {
            connection: Connection::Smtp(gateway),
            ..Self::mailbox(name, domain)
        }
    }

    /// True when `base` (a domain with the suffix removed) is one of its
    /// domains or its abbreviation.
    pub fn owns(&self, base: &Domain) -> bool {
        self.domains.contains(base) || self.abbreviation.as_ref() == Some(base)
    }

    /// True when mail for it waits in the queue rather than being delivered:
    /// suspended, or its delivery held.
    pub fn holds_delivery(&self) -> bool {
        self.suspended || self.delivery_held
    }

    /// True when `ip` is in this organisation's configured gateway networks.
    pub fn gateway_network_contains(&self, ip: IpAddr) -> bool {
        self.gateway_networks.iter().any(|n| n.contains(ip))
    }
}

/// An IP network in CIDR form (`192.0.2.0/24`, `2001:db8::/32`), or a single
/// address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    /// Parses `address` or `address/prefix`.
    ///
    /// # Errors
    ///
    /// [`InvalidNetwork`] when the address or prefix does not parse or the
    /// prefix is too long for the address family.
    pub fn parse(text: &str) -> Result<Self, InvalidNetwork> {
        let bad = || InvalidNetwork(text.to_owned());
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().map_err(|_| bad())?)),
            None => (text, None),
        };
        let address: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(Self { address, prefix })
    }

    /// True when `ip` lies in this network (IPv4-mapped IPv6 addresses count
    /// as their IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for IpNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// A string that is not an IP network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or CIDR network")]
pub struct InvalidNetwork(pub String);

/// An external secure government domain, and what proves a sending server
/// speaks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalDomain {
    /// The domain; its subdomains are covered too.
    pub domain: Domain,
    /// Host names whose verified TLS client certificate proves the server.
    /// When empty, a verified certificate naming any host within
    /// [`Self::domain`] proves it (a public CA has checked control of it).
    pub certificate_names: Vec<Domain>,
    /// Source networks whose connections prove the server.
    pub source_networks: Vec<IpNetwork>,
}

impl ExternalDomain {
    /// A domain proven only by a verified certificate within it.
    pub fn new(domain: Domain) -> Self {
        Self {
            domain,
            certificate_names: Vec::new(),
            source_networks: Vec::new(),
        }
    }

    /// True when `domain` is this domain or one of its subdomains.
    pub fn covers(&self, domain: &Domain) -> bool {
        domain.is_within(&self.domain)
    }

    /// True when a session with these verified certificate names and this
    /// source address proves it speaks for the domain.
    pub fn is_proven_by(&self, certificate_names: &[Domain], source_ip: Option<IpAddr>) -> bool {
        let by_certificate = certificate_names.iter().any(|name| {
            if self.certificate_names.is_empty() {
                name.is_within(&self.domain)
            } else {
                self.certificate_names.contains(name)
            }
        });
        let by_source =
            source_ip.is_some_and(|ip| self.source_networks.iter().any(|net| net.contains(ip)));
        by_certificate || by_source
    }
}

/// The whole community the rules are evaluated against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Community {
    /// The suffix every community address ends in (default `cjsm.net`).
    pub suffix: Domain,
    /// The connected organisations.
    pub organisations: Vec<Organisation>,
    /// The external secure government domains (default: seed 001's list).
    pub external_secure_domains: Vec<ExternalDomain>,
}

impl Default for Community {
    /// Suffix `cjsm.net`, no organisations, seed 001's secure domains.
    fn default() -> Self {
        Self::new(Domain::parse(DEFAULT_SUFFIX).expect("valid default suffix"))
    }
}

impl Community {
    /// A community with this suffix, no organisations and the default
    /// external secure domains.
    pub fn new(suffix: Domain) -> Self {
        Self {
            suffix,
            organisations: Vec::new(),
            external_secure_domains: DEFAULT_EXTERNAL_SECURE_DOMAINS
                .iter()
                .map(|d| ExternalDomain::new(Domain::parse(d).expect("valid default domain")))
                .collect(),
        }
    }

    /// The organisation an address or domain under the suffix belongs to
    /// (`org.example.cjsm.net`, `safeguarder.cjsm.net`).
    pub fn organisation_for(&self, suffixed: &Domain) -> Option<&Organisation> {
        let base = suffixed.strip_suffix(&self.suffix)?;
        self.organisations.iter().find(|org| org.owns(&base))
    }

    /// The SMTP-connected organisation whose gateway networks contain `ip`,
    /// if exactly one does (overlapping networks prove nothing).
    pub fn gateway_organisation_at(&self, ip: IpAddr) -> Option<&Organisation> {
        let mut found = self.organisations.iter().filter(|o| {
            matches!(o.connection, Connection::Smtp(_)) && o.gateway_network_contains(ip)
        });
        let first = found.next()?;
        found.next().is_none().then_some(first)
    }

    /// The organisation with this name.
    pub fn organisation_named(&self, name: &str) -> Option<&Organisation> {
        self.organisations.iter().find(|org| org.name == name)
    }

    /// The configured external secure domain covering `domain`, if any (the
    /// most specific one when several nest).
    pub fn external_domain_for(&self, domain: &Domain) -> Option<&ExternalDomain> {
        self.external_secure_domains
            .iter()
            .filter(|ext| ext.covers(domain))
            .max_by_key(|ext| ext.domain.as_str().len())
    }

    /// True when `domain` is under the community suffix.
    pub fn is_community_domain(&self, domain: &Domain) -> bool {
        domain.strip_suffix(&self.suffix).is_some()
    }

    /// `user@org.example` → `user@org.example.cjsm.net`.
    ///
    /// # Errors
    ///
    /// [`AddressError`] when the result is too long.
    pub fn add_suffix(&self, address: &Address) -> Result<Address, AddressError> {
        address.with_domain(address.domain().with_suffix(&self.suffix)?)
    }

    /// `user@org.example.cjsm.net` → `user@org.example`; `None` when the
    /// address is not under the suffix.
    pub fn strip_suffix(&self, address: &Address) -> Option<Address> {
        let base = address.domain().strip_suffix(&self.suffix)?;
        // Removing octets cannot break a length limit.
        address.with_domain(base).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Domain {
        Domain::parse(s).unwrap()
    }

    #[test]
    fn networks_contain_their_addresses() {
        let cases = [
            ("192.0.2.0/24", "192.0.2.77", true),
            ("192.0.2.0/24", "192.0.3.1", false),
            ("192.0.2.9", "192.0.2.9", true),
            ("192.0.2.9", "192.0.2.10", false),
            ("0.0.0.0/0", "203.0.113.5", true),
            ("2001:db8::/32", "2001:db8:1::1", true),
            ("2001:db8::/32", "2001:db9::1", false),
            ("192.0.2.0/24", "::ffff:192.0.2.1", true),
            ("192.0.2.0/24", "2001:db8::1", false),
        ];
        for (net, ip, expected) in cases {
            let net = IpNetwork::parse(net).unwrap();
            assert_eq!(net.contains(ip.parse().unwrap()), expected, "{net:?} {ip}");
        }
        for bad in ["192.0.2.0/33", "nonsense", "::/129", "1.2.3.4/x"] {
            assert!(IpNetwork::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn suffix_round_trips() {
        let community = Community::default();
        let plain = Address::try_from("eric.brown@greenstonechambers.co.uk").unwrap();
        let suffixed = community.add_suffix(&plain).unwrap();
        assert_eq!(
            suffixed.to_string(),
            "eric.brown@greenstonechambers.co.uk.cjsm.net"
        );
        assert_eq!(community.strip_suffix(&suffixed), Some(plain.clone()));
        assert_eq!(community.strip_suffix(&plain), None);
    }

    #[test]
    fn external_domains_match_subdomains_and_most_specific() {
        let mut community = Community::default();
        community
            .external_secure_domains
            .push(ExternalDomain::new(d("met.pnn.police.uk")));
        let found = |s: &str| {
            community
                .external_domain_for(&d(s))
                .map(|e| e.domain.as_str().to_owned())
        };
        assert_eq!(found("pnn.police.uk").as_deref(), Some("pnn.police.uk"));
        assert_eq!(
            found("kent.pnn.police.uk").as_deref(),
            Some("pnn.police.uk")
        );
        assert_eq!(
            found("x.met.pnn.police.uk").as_deref(),
            Some("met.pnn.police.uk")
        );
        assert_eq!(found("nhs.net").as_deref(), Some("nhs.net"));
        assert_eq!(found("gmail.com"), None);
        assert_eq!(found("fakenhs.net"), None);
    }
}
