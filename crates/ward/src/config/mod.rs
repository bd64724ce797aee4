//! Ward's configuration, loaded in two stages.
//!
//! [`RawConfig`] is the TOML file exactly as written, every key optional; it
//! is read by [`reader`], which records each unknown key or mistyped value as a
//! [`Problem`] and carries on. [`Config::from_raw`] then fills in defaults and
//! checks what only makes sense as a whole (files exist, the certificate
//! matches its key, ports are in range, no address is bound twice), again
//! collecting every problem. Runtime code only ever sees a valid [`Config`].
//!
//! With no file, Ward runs on the embedded default (`config/embedded.toml` in
//! the repository, compiled in), which goes through the same two stages.

mod audit;
mod connections;
mod delivery;
mod raw;
mod reader;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use audit::{AuditSettings, RawAudit};
pub use delivery::{ImapSettings, RawImap, RawRelay, RelaySettings};
pub use raw::RawConfig;

/// The embedded default configuration, used when `ward serve` has no `--config`.
pub const EMBEDDED: &str = include_str!("../../../../config/embedded.toml");

/// One thing wrong with a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: a dotted key path such as `listen.smtp[1]`, or `(file)`.
    pub key: String,
    /// What is wrong, as a sentence for a person.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Every problem found in a configuration, in file order.
#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) in {}", problems.len(), source_name)]
pub struct ConfigErrors {
    /// Which file (or `embedded default`).
    pub source_name: String,
    /// The problems, never empty.
    pub problems: Vec<Problem>,
}

/// The kinds of listener Ward serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerKind {
    /// SMTP for gateways and MX (port 25), STARTTLS required before `MAIL`.
    Smtp,
    /// Message submission with STARTTLS (port 587).
    Submission,
    /// Message submission over implicit TLS (port 465).
    Submissions,
    /// IMAP with STARTTLS (port 143).
    Imap,
    /// IMAP over implicit TLS (port 993).
    Imaps,
}

impl ListenerKind {
    /// All kinds, in the order of the `[listen]` section.
    pub const ALL: [ListenerKind; 5] = [
        ListenerKind::Smtp,
        ListenerKind::Submission,
        ListenerKind::Submissions,
        ListenerKind::Imap,
        ListenerKind::Imaps,
    ];

    /// The key in the `[listen]` section.
    pub fn key(self) -> &'static str {
        match self {
            ListenerKind::Smtp => "smtp",
            ListenerKind::Submission => "submission",
            ListenerKind::Submissions => "submissions",
            ListenerKind::Imap => "imap",
            ListenerKind::Imaps => "imaps",
        }
    }

    /// Whether TLS starts with the connection rather than after `STARTTLS`.
    pub fn implicit_tls(self) -> bool {
        matches!(self, ListenerKind::Submissions | ListenerKind::Imaps)
    }

    /// A short human description.
    pub fn describe(self) -> &'static str {
        match self {
            ListenerKind::Smtp => "SMTP for gateways (STARTTLS)",
            ListenerKind::Submission => "submission (STARTTLS)",
            ListenerKind::Submissions => "submission (implicit TLS)",
            ListenerKind::Imap => "IMAP (STARTTLS)",
            ListenerKind::Imaps => "IMAP (implicit TLS)",
        }
    }
}

/// Where the server certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// PEM files named in `[tls]`, checked at load time.
    Files {
        /// The certificate chain, leaf first.
        certificate: PathBuf,
        /// The private key of the leaf.
        private_key: PathBuf,
    },
    /// A self-signed certificate for the host name, made on first start in
    /// `<data_dir>/tls/`. Fit for trying Ward out, not for production.
    SelfSigned,
}

/// The SMTP listeners' limits and RFC 5321 §4.5.3.2 timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// Largest message accepted, in octets (SIZE and during DATA).
    pub max_message_size: u64,
    /// Most recipients in one transaction.
    pub max_recipients: usize,
    /// Wait for the next command.
    pub command_timeout: Duration,
    /// Wait for more message content.
    pub data_timeout: Duration,
    /// Bad commands tolerated before the connection is closed.
    pub max_bad_commands: usize,
    /// The hosted mailbox that receives mail for `postmaster`, if any.
    pub postmaster: Option<policy::Address>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// A validated configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The name Ward gives itself in greetings and certificates.
    pub hostname: String,
    /// Where the store, the certificate and the admin token live.
    pub data_dir: PathBuf,
    /// The community suffix domain, `cjsm.net` by default.
    pub suffix: String,
    /// The account rules and community facts (`[accounts]`, and
    /// `[community]`'s secure domains and terms version).
    pub accounts: accounts::Settings,
    /// The SMTP listeners' limits and timeouts (`[smtp]`).
    pub smtp: SmtpSettings,
    /// The outbound relay (`[relay]`).
    pub relay: RelaySettings,
    /// The IMAP listeners' limits (`[imap]`).
    pub imap: ImapSettings,
    /// The audit log's checkpoints and retention (`[audit]`).
    pub audit: AuditSettings,
    /// The server certificate.
    pub tls: TlsSource,
    /// CA certificates trusted besides the public roots, for the servers
    /// Ward relays to and for external secure domains' servers that present
    /// client certificates (`[tls] extra_ca_file`).
    pub extra_ca_file: Option<PathBuf>,
    /// Every address to listen on, with its kind.
    pub listeners: Vec<(ListenerKind, SocketAddr)>,
    /// The admin API's Unix socket.
    pub admin_socket: PathBuf,
    /// How long open sessions get to finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// Cap on simultaneous client connections over all listeners.
    pub max_connections: usize,
    /// Cap on simultaneous client connections from one IP address.
    pub max_connections_per_ip: usize,
    /// Cap on simultaneous client connections from one network: the /24
    /// of an IPv4 address, the /64 of an IPv6 one.
    pub max_connections_per_network: usize,
    /// How long a new connection has to complete TLS and sign in.
    pub deadlines: crate::connections::Deadlines,
    /// Bytes of message data (SMTP `DATA`/`BDAT`, IMAP literals) all
    /// connections together may hold in memory (`[server]
    /// in_flight_memory_mib`); beyond it they wait, then get a temporary
    /// refusal.
    pub in_flight_memory: u64,
    /// Log line format.
    pub log_format: LogFormat,
    /// `RUST_LOG`-style filter, e.g. `info` or `ward=debug,info`.
    pub log_level: String,
}

impl Config {
    /// Reads and validates a TOML file. Relative paths inside it are taken
    /// relative to the file's folder; `data_dir`, when given, overrides
    /// `server.data_dir` (the `--data` flag).
    ///
    /// # Errors
    ///
    /// Every problem found, with its key path.
    pub fn load(path: &Path, data_dir: Option<&Path>) -> Result<Self, ConfigErrors> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
            source_name: name.clone(),
            problems: vec![Problem::new("(file)", format!("cannot read the file: {e}"))],
        })?;
        let base = path.parent().map(Path::to_owned).unwrap_or_default();
        Self::parse(&text, &name, &base, data_dir)
    }

    /// The embedded default, with its data folder (default `./ward-data`).
    ///
    /// # Errors
    ///
    /// Only if the data folder override is unusable.
    pub fn embedded(data_dir: Option<&Path>) -> Result<Self, ConfigErrors> {
        let cwd = std::env::current_dir().unwrap_or_default();
        Self::parse(EMBEDDED, "embedded default", &cwd, data_dir)
    }

    /// Parses TOML text; `base` resolves relative paths; `data_dir`, when
    /// given, overrides `server.data_dir` (the `--data` flag).
    ///
    /// # Errors
    ///
    /// Every problem found, with its key path.
    pub fn parse(
        text: &str,
        source_name: &str,
        base: &Path,
        data_dir: Option<&Path>,
    ) -> Result<Self, ConfigErrors> {
        let fail = |problems| ConfigErrors {
            source_name: source_name.to_owned(),
            problems,
        };
        let (mut raw, mut problems) = RawConfig::from_toml(text).map_err(fail)?;
        if let Some(dir) = data_dir {
            raw.server.data_dir = Some(dir.display().to_string());
        }
        match Config::from_raw(raw, base) {
            Ok(config) if problems.is_empty() => Ok(config),
            Ok(_) => Err(fail(problems)),
            Err(mut more) => {
                problems.append(&mut more);
                Err(fail(problems))
            }
        }
    }

    /// Checks the raw values and fills in defaults.
    ///
    /// # Errors
    ///
    /// Every problem found.
    pub fn from_raw(raw: RawConfig, base: &Path) -> Result<Self, Vec<Problem>> {
        raw::validate(raw, base)
    }
}
