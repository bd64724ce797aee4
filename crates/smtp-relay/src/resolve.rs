//! From a destination to the hosts to try, in order: a gateway's host, or a
//! domain's MX hosts by preference (RFC 5321 §5.1), with the domain itself
//! as the implicit MX when it has none, and a null MX (RFC 7505) refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

use crate::config::ResolverChoice;
use crate::error::{Failure, RelayError};
use crate::route::Destination;

/// One server to try: the name its certificate must carry, and its
/// addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// The host name (certificate verification uses it).
    pub(crate) host: String,
    /// Its addresses with the port.
    pub(crate) addresses: Vec<SocketAddr>,
}

/// The DNS resolver, as configured.
#[derive(Clone)]
pub(crate) struct Resolver {
    inner: TokioResolver,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").finish_non_exhaustive()
    }
}

impl Resolver {
    /// Builds the resolver.
    ///
    /// # Errors
    ///
    /// [`RelayError::Resolver`] when the system configuration cannot be read.
    pub(crate) fn new(choice: &ResolverChoice) -> Result<Self, RelayError> {
        let inner = match choice {
            ResolverChoice::System => match TokioResolver::builder_tokio() {
                Ok(builder) => builder.build(),
                Err(e) => {
                    // Gateways named by IP address or `localhost` still work;
                    // MX lookups fail (temporarily) until DNS is configured.
                    tracing::warn!(error = %e, "no usable system DNS configuration; MX lookups will fail");
                    TokioResolver::builder_with_config(
                        ResolverConfig::from_name_servers(Vec::new()),
                        TokioRuntimeProvider::default(),
                    )
                    .build()
                }
            },
            ResolverChoice::NameServers(servers) => {
                let servers = servers
                    .iter()
                    .map(|s| {
                        let mut ns = NameServerConfig::udp_and_tcp(s.ip());
                        for c in &mut ns.connections {
                            c.port = s.port();
                        }
                        ns
                    })
                    .collect();
                let mut builder = TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(servers),
                    TokioRuntimeProvider::default(),
                );
                builder.options_mut().use_hosts_file = ResolveHosts::Never;
                builder.options_mut().cache_size = 0;
                builder.build()
            }
        }
        .map_err(|e| RelayError::Resolver(e.to_string()))?;
        Ok(Self { inner })
    }

    /// The hosts to try for a destination, best first.
    ///
    /// # Errors
    ///
    /// A [`Failure`]: temporary when DNS could not answer, permanent for a
    /// null MX or a domain without mail servers.
    pub(crate) async fn candidates(
        &self,
        destination: &Destination,
        mx_port: u16,
    ) -> Result<Vec<Candidate>, Failure> {
        match destination {
            Destination::Gateway { host, port } => {
                let addresses = self.addresses(host, *port).await?;
                Ok(vec![Candidate {
                    host: host.clone(),
                    addresses,
                }])
            }
            Destination::Domain(domain) => {
                let hosts = self.mx_hosts(domain).await?;
                let mut out = Vec::new();
                let mut last = None;
                for host in hosts {
                    match self.addresses(&host, mx_port).await {
                        Ok(addresses) => out.push(Candidate { host, addresses }),
                        Err(e) => last = Some(e),
                    }
                }
                match (out.is_empty(), last) {
                    (true, Some(Failure::NoMailServer { .. })) | (true, None) => {
                        Err(Failure::NoMailServer {
                            domain: domain.clone(),
                        })
                    }
                    (true, Some(e)) => Err(e),
                    (false, _) => Ok(out),
                }
            }
        }
    }

    /// MX hosts by preference; the domain itself when it has no MX.
    async fn mx_hosts(&self, domain: &str) -> Result<Vec<String>, Failure> {
        let fqdn = format!("{}.", domain.trim_end_matches('.'));
        match self.inner.mx_lookup(fqdn.as_str()).await {
            Ok(lookup) => {
                let mut mx: Vec<(u16, String)> = lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::MX(mx) => Some((
                            mx.preference,
                            mx.exchange.to_ascii().trim_end_matches('.').to_owned(),
                        )),
                        _ => None,
                    })
                    .collect();
                if mx.is_empty() {
                    return Ok(vec![domain.to_owned()]);
                }
                // RFC 7505: a single MX with an empty exchange ("."): no mail.
                if mx.iter().any(|(_, host)| host.is_empty()) {
                    return Err(Failure::NullMx {
                        domain: domain.to_owned(),
                    });
                }
                mx.sort();
                Ok(mx.into_iter().map(|(_, h)| h).collect())
            }
            Err(e) if e.is_nx_domain() => Err(Failure::NoMailServer {
                domain: domain.to_owned(),
            }),
            Err(e) if e.is_no_records_found() => Ok(vec![domain.to_owned()]),
            Err(e) => Err(Failure::DnsTemporary {
                domain: domain.to_owned(),
                reason: e.to_string(),
            }),
        }
    }

    /// A host's addresses with the port. `localhost` and IP literals are
    /// answered without DNS (RFC 6761 §6.3).
    async fn addresses(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Failure> {
        if host.eq_ignore_ascii_case("localhost") {
            return Ok(vec![
                SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
                SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
            ]);
        }
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        let fqdn = format!("{}.", host.trim_end_matches('.'));
        match self.inner.lookup_ip(fqdn.as_str()).await {
            Ok(ips) => {
                let out: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::new(ip, port)).collect();
                if out.is_empty() {
                    Err(Failure::NoMailServer {
                        domain: host.to_owned(),
                    })
                } else {
                    Ok(out)
                }
            }
            Err(e) if e.is_nx_domain() || e.is_no_records_found() => Err(Failure::NoMailServer {
                domain: host.to_owned(),
            }),
            Err(e) => Err(Failure::DnsTemporary {
                domain: host.to_owned(),
                reason: e.to_string(),
            }),
        }
    }
}
