//! What can go wrong: [`RelayError`] when the relay is set up, and
//! [`Failure`] for one delivery attempt, which says whether the mail waits
//! (temporary) or bounces (permanent) and what the DSN reports.

use std::path::PathBuf;

use crate::proto::{ProtoError, Reply};

/// The relay cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// A CA, certificate or key file cannot be read or used.
    #[error("{path}: {reason}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS client configuration cannot be built.
    #[error("TLS client configuration: {0}")]
    Tls(String),
    /// The DNS resolver cannot be configured.
    #[error("DNS resolver: {0}")]
    Resolver(String),
    /// The configuration is unusable (e.g. an empty retry schedule).
    #[error("relay configuration: {0}")]
    Config(String),
}

/// Why one delivery attempt did not succeed, for one destination or one
/// recipient.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Failure {
    /// DNS could not be consulted (timeout, SERVFAIL): retry.
    #[error("DNS lookup for {domain} failed: {reason}")]
    DnsTemporary {
        /// The name looked up.
        domain: String,
        /// The resolver's error.
        reason: String,
    },
    /// The domain does not exist or has no address: fail.
    #[error("{domain} has no mail server (no MX, A or AAAA record)")]
    NoMailServer {
        /// The domain.
        domain: String,
    },
    /// The domain publishes a null MX (RFC 7505): it accepts no mail.
    #[error("{domain} accepts no mail (null MX, RFC 7505)")]
    NullMx {
        /// The domain.
        domain: String,
    },
    /// TCP connection failed or timed out.
    #[error("cannot connect to {host}: {reason}")]
    Connect {
        /// The host (and address) tried.
        host: String,
        /// Why.
        reason: String,
    },
    /// The peer does not offer STARTTLS: Ward never sends in clear.
    #[error("{host} does not offer STARTTLS; mail is never sent in clear")]
    NoStartTls {
        /// The peer.
        host: String,
    },
    /// The TLS handshake failed (including certificate verification).
    #[error("TLS with {host} failed: {reason}")]
    Tls {
        /// The peer.
        host: String,
        /// The handshake's error (e.g. an unknown issuer, a name mismatch).
        reason: String,
    },
    /// The peer answered with a reply that ends the attempt.
    #[error("{host} replied: {reply}")]
    Rejected {
        /// The peer.
        host: String,
        /// Its reply.
        reply: Reply,
    },
    /// The peer broke the protocol or the connection dropped.
    #[error("connection to {host} failed: {reason}")]
    Protocol {
        /// The peer.
        host: String,
        /// What happened.
        reason: String,
    },
    /// The peer cannot take what the message needs (SMTPUTF8, REQUIRETLS,
    /// its size).
    #[error("{host} cannot accept this message: {reason}")]
    Unsupported {
        /// The peer.
        host: String,
        /// What is missing.
        reason: String,
        /// The RFC 3463 status to report.
        status: &'static str,
    },
    /// The community no longer routes this recipient (e.g. its organisation
    /// left, or its domain was removed from the allow-list).
    #[error("{0}")]
    NotRoutable(String),
    /// The mail was not delivered within the maximum queue time.
    #[error("not delivered within {max_age} (maximum queue time); last error: {last_error}")]
    Expired {
        /// The maximum age, in words.
        max_age: String,
        /// The last attempt's error.
        last_error: String,
    },
    /// The message could not be read from the store: retry.
    #[error("the queued message cannot be read: {0}")]
    Store(String),
    /// The relay is shutting down; nothing was decided.
    #[error("the relay is shutting down")]
    Shutdown,
}

impl Failure {
    /// Whether the mail bounces (true) or waits for a retry (false).
    pub fn is_permanent(&self) -> bool {
        match self {
            Failure::NoMailServer { .. }
            | Failure::NullMx { .. }
            | Failure::Unsupported { .. }
            | Failure::Expired { .. }
            | Failure::NotRoutable(_) => true,
            Failure::Rejected { reply, .. } => reply.is_permanent(),
            Failure::DnsTemporary { .. }
            | Failure::Connect { .. }
            | Failure::NoStartTls { .. }
            | Failure::Tls { .. }
            | Failure::Protocol { .. }
            | Failure::Store(_)
            | Failure::Shutdown => false,
        }
    }

    /// Whether this failure is about the destination as a whole (it counts
    /// towards its back-off) rather than one message or recipient.
    pub fn is_destination_wide(&self) -> bool {
        matches!(
            self,
            Failure::DnsTemporary { .. }
                | Failure::Connect { .. }
                | Failure::NoStartTls { .. }
                | Failure::Tls { .. }
        )
    }

    /// The RFC 3463 status for a DSN's `Status:` field.
    pub fn status(&self) -> String {
        match self {
            Failure::DnsTemporary { .. } => "4.4.3".into(),
            Failure::NoMailServer { .. } => "5.1.2".into(),
            Failure::NullMx { .. } => "5.1.10".into(),
            Failure::Connect { .. } => "4.4.1".into(),
            Failure::NoStartTls { .. } | Failure::Tls { .. } => "4.7.5".into(),
            Failure::Rejected { reply, .. } => reply.status(),
            Failure::Protocol { .. } => "4.4.2".into(),
            Failure::Unsupported { status, .. } => (*status).into(),
            Failure::NotRoutable(_) => "5.7.1".into(),
            Failure::Expired { .. } => "5.4.7".into(),
            Failure::Store(_) | Failure::Shutdown => "4.3.0".into(),
        }
    }

    /// The DSN `Diagnostic-Code:` value, when the peer said something.
    pub fn diagnostic(&self) -> Option<String> {
        match self {
            Failure::Rejected { reply, .. } => Some(format!("smtp; {reply}")),
            _ => None,
        }
    }

    /// The remote MTA, when one was involved.
    pub fn remote_host(&self) -> Option<&str> {
        match self {
            Failure::Connect { host, .. }
            | Failure::NoStartTls { host }
            | Failure::Tls { host, .. }
            | Failure::Rejected { host, .. }
            | Failure::Protocol { host, .. }
            | Failure::Unsupported { host, .. } => Some(host),
            _ => None,
        }
    }

    /// Of two failures for different addresses or hosts of one destination,
    /// the one that says more: a server that answered and refused TLS tells
    /// the sender more than another address that refused the connection.
    /// Among equals, the first (the preferred server's) wins.
    pub(crate) fn more_telling(self, later: Failure) -> Failure {
        let got_further = |f: &Failure| !matches!(f, Failure::Connect { .. });
        if got_further(&later) && !got_further(&self) {
            later
        } else {
            self
        }
    }

    /// A protocol error from the reply parser.
    pub(crate) fn protocol(host: &str, e: &ProtoError) -> Self {
        Failure::Protocol {
            host: host.to_owned(),
            reason: e.to_string(),
        }
    }
}
