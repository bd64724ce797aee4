//! The relay's options, each with its default and the reason for it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Which DNS servers resolve MX, A and AAAA records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolverChoice {
    /// The system's (`/etc/resolv.conf`, `/etc/hosts`).
    #[default]
    System,
    /// These servers only, over UDP then TCP, without `/etc/hosts` (tests
    /// point this at a DNS server on loopback).
    NameServers(Vec<SocketAddr>),
}

/// How the relay delivers and retries. Built by the daemon from `[relay]`
/// in `ward.toml`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelayConfig {
    /// The name sent in `EHLO` and shown as Reporting-MTA in DSNs. Default
    /// `localhost`; the daemon sets the server's host name.
    pub hostname: String,
    /// Delay before each retry: the n-th failure waits the n-th entry, and
    /// the last entry repeats. Default 2m, 5m, 15m, 30m, 1h, 2h (then every
    /// 2h): quick recovery from blips, little load during long outages.
    pub retry_schedule: Vec<Duration>,
    /// Age after which undelivered mail fails with a DSN. Default 5 days,
    /// the customary MTA limit (RFC 5321 §4.5.4.1 asks for at least 4–5).
    pub max_age: Duration,
    /// Age after which the sender gets one delay notice (when NOTIFY allows
    /// it). Default 4 hours.
    pub delay_notice_after: Duration,
    /// Connections open at once over all destinations. Default 50.
    pub max_connections: usize,
    /// Connections open at once to one destination. Default 5: enough to
    /// drain a backlog, few enough not to trip a gateway's own limits.
    pub max_connections_per_destination: usize,
    /// Time to establish TCP and to receive the greeting. Default 5 minutes
    /// (RFC 5321 §4.5.3.2.1).
    pub connect_timeout: Duration,
    /// Time allowed for each reply (and for the TLS handshake). Default 5
    /// minutes (RFC 5321 §4.5.3.2.2–7; the DATA termination reply may take
    /// up to 10 minutes, so it gets twice this).
    pub command_timeout: Duration,
    /// A PEM file of further CA certificates trusted for server certificates,
    /// besides the public roots (e.g. the community's own CA). Default none.
    pub extra_ca_file: Option<PathBuf>,
    /// A client certificate and key (PEM files) presented to peers that ask
    /// for one. Default none.
    pub client_certificate: Option<(PathBuf, PathBuf)>,
    /// How long an open connection waits for more mail to the same
    /// destination before it says QUIT. Default 1 s: under a steady stream
    /// of submissions one connection carries many messages, and a server
    /// (which waits 5 minutes, RFC 5321 §4.5.3.2.7) is not kept long.
    pub idle_linger: Duration,
    /// Gateway ports that speak TLS from the first byte (RFC 8314) instead
    /// of STARTTLS. Default `[465]`.
    pub implicit_tls_ports: Vec<u16>,
    /// DNS servers for MX and address lookups. Default the system's.
    pub resolver: ResolverChoice,
    /// The port of MX targets. Default 25; tests use another.
    pub mx_port: u16,
    /// How often the queue is scanned when nothing wakes the relay. Default
    /// 2 s (the store also wakes it when mail is queued).
    pub poll_interval: Duration,
    /// How many messages one connection carries before it is closed and
    /// another opened. Default 100: long enough to drain a backlog cheaply,
    /// short enough that a connection does not live for hours.
    pub max_messages_per_connection: usize,
}

impl Default for RelayConfig {
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(60 * m);
        Self {
            hostname: "localhost".to_owned(),
            retry_schedule: vec![
                minutes(2),
                minutes(5),
                minutes(15),
                minutes(30),
                minutes(60),
                minutes(120),
            ],
            max_age: Duration::from_secs(5 * 24 * 3600),
            delay_notice_after: Duration::from_secs(4 * 3600),
            max_connections: 50,
            max_connections_per_destination: 5,
            connect_timeout: minutes(5),
            command_timeout: minutes(5),
            extra_ca_file: None,
            client_certificate: None,
            idle_linger: Duration::from_secs(1),
            implicit_tls_ports: vec![465],
            resolver: ResolverChoice::System,
            mx_port: 25,
            poll_interval: Duration::from_secs(2),
            max_messages_per_connection: 100,
        }
    }
}
