//! The `[relay]` and `[imap]` sections: how queued mail is relayed, and
//! the IMAP listeners' limits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use toml::Table;

use super::Problem;
use super::reader::Section;

/// The outbound relay (`[relay]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelaySettings {
    /// Waits between attempts; the last repeats until the maximum age.
    pub retry_schedule: Vec<Duration>,
    /// Queued mail older than this is returned to its sender as failed.
    pub max_age: Duration,
    /// Senders are told of a delay once mail has waited this long.
    pub delay_notice_after: Duration,
    /// Outbound connections overall.
    pub max_connections: usize,
    /// Outbound connections to one destination.
    pub max_connections_per_destination: usize,
    /// Time to connect and get the greeting.
    pub connect_timeout: Duration,
    /// Time for each reply (RFC 5321 §4.5.3.2 minimums are longer for DATA;
    /// this is the base).
    pub command_timeout: Duration,
    /// DNS servers for MX lookups; empty means the system's resolver.
    pub dns_servers: Vec<SocketAddr>,
    /// The port of MX hosts (25; other values are for tests).
    pub mx_port: u16,
    /// A client certificate and key to present to gateways, if any.
    pub client_certificate: Option<(PathBuf, PathBuf)>,
}

/// The IMAP listeners (`[imap]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapSettings {
    /// Largest literal (APPEND message) accepted, in octets.
    pub max_literal: u64,
    /// An idle (or IDLE) session is logged out after this long.
    pub idle_timeout: Duration,
    /// A command begun must have arrived within this long.
    pub command_timeout: Duration,
}

/// `[relay]` as written.
#[derive(Debug, Default, Clone)]
#[allow(missing_docs)]
pub struct RawRelay {
    pub retry_schedule: Option<Vec<String>>,
    pub max_age: Option<String>,
    pub delay_notice_after: Option<String>,
    pub max_connections: Option<i64>,
    pub max_connections_per_destination: Option<i64>,
    pub connect_timeout_seconds: Option<i64>,
    pub command_timeout_seconds: Option<i64>,
    pub dns_servers: Option<Vec<String>>,
    pub mx_port: Option<i64>,
    pub client_certificate: Option<String>,
    pub client_private_key: Option<String>,
}

/// `[imap]` as written.
#[derive(Debug, Default, Clone)]
#[allow(missing_docs)]
pub struct RawImap {
    pub max_literal_mib: Option<i64>,
    pub idle_timeout_minutes: Option<i64>,
    pub command_timeout_seconds: Option<i64>,
}

impl RawRelay {
    pub(super) fn read(root: &Table, p: &mut Vec<Problem>) -> Self {
        let mut s = Section::of(root, "relay", p);
        let raw = Self {
            retry_schedule: s.strings("retry_schedule", p),
            max_age: s.string("max_age", p),
            delay_notice_after: s.string("delay_notice_after", p),
            max_connections: s.integer("max_connections", p),
            max_connections_per_destination: s.integer("max_connections_per_destination", p),
            connect_timeout_seconds: s.integer("connect_timeout_seconds", p),
            command_timeout_seconds: s.integer("command_timeout_seconds", p),
            dns_servers: s.strings("dns_servers", p),
            mx_port: s.integer("mx_port", p),
            client_certificate: s.string("client_certificate", p),
            client_private_key: s.string("client_private_key", p),
        };
        s.finish(p);
        raw
    }

    pub(super) fn validate(
        self,
        resolve: &dyn Fn(&str) -> PathBuf,
        p: &mut Vec<Problem>,
    ) -> Option<RelaySettings> {
        let before = p.len();
        let mut retry_schedule = Vec::new();
        match &self.retry_schedule {
            None => {
                retry_schedule = ["2m", "5m", "15m", "30m", "1h", "2h"]
                    .iter()
                    .filter_map(|t| parse_duration(t).ok())
                    .collect();
            }
            Some(list) if list.is_empty() => {
                p.push(Problem::new(
                    "relay.retry_schedule",
                    "must name at least one wait, such as \"5m\"",
                ));
            }
            Some(list) => {
                for (i, text) in list.iter().enumerate() {
                    match parse_duration(text) {
                        Ok(d) if d >= Duration::from_secs(1) => retry_schedule.push(d),
                        Ok(_) => p.push(Problem::new(
                            format!("relay.retry_schedule[{i}]"),
                            "must be at least 1s",
                        )),
                        Err(why) => p.push(Problem::new(format!("relay.retry_schedule[{i}]"), why)),
                    }
                }
            }
        }
        let duration = |p: &mut Vec<Problem>, key: &str, value: &Option<String>, default: &str| {
            match parse_duration(value.as_deref().unwrap_or(default)) {
                Ok(d) if d >= Duration::from_secs(1) => Some(d),
                Ok(_) => {
                    p.push(Problem::new(key, "must be at least 1s"));
                    None
                }
                Err(why) => {
                    p.push(Problem::new(key, why));
                    None
                }
            }
        };
        let max_age = duration(p, "relay.max_age", &self.max_age, "5d");
        let delay_notice_after = duration(
            p,
            "relay.delay_notice_after",
            &self.delay_notice_after,
            "4h",
        );
        let max_connections = super::raw::bounded(
            p,
            "relay.max_connections",
            self.max_connections,
            50,
            1,
            10_000,
            "connections",
        );
        let per_destination = super::raw::bounded(
            p,
            "relay.max_connections_per_destination",
            self.max_connections_per_destination,
            5,
            1,
            1_000,
            "connections",
        );
        let connect = super::raw::bounded(
            p,
            "relay.connect_timeout_seconds",
            self.connect_timeout_seconds,
            30,
            1,
            600,
            "seconds",
        );
        let command = super::raw::bounded(
            p,
            "relay.command_timeout_seconds",
            self.command_timeout_seconds,
            300,
            1,
            3600,
            "seconds",
        );
        let mx_port =
            super::raw::bounded(p, "relay.mx_port", self.mx_port, 25, 1, 65_535, "(a port)");
        let mut dns_servers = Vec::new();
        for (i, text) in self.dns_servers.iter().flatten().enumerate() {
            let parsed = text.parse::<SocketAddr>().or_else(|_| {
                text.parse::<std::net::IpAddr>()
                    .map(|ip| SocketAddr::new(ip, 53))
            });
            match parsed {
                Ok(addr) => dns_servers.push(addr),
                Err(_) => p.push(Problem::new(
                    format!("relay.dns_servers[{i}]"),
                    format!("{text:?} is not an IP address, or address:port"),
                )),
            }
        }
        let client_certificate = match (&self.client_certificate, &self.client_private_key) {
            (None, None) => None,
            (Some(c), Some(k)) => {
                let (c, k) = (resolve(c), resolve(k));
                match transport::certificate::load(&c, &k) {
                    Ok(_) => Some((c, k)),
                    Err(e) => {
                        p.push(Problem::new("relay.client_certificate", e.to_string()));
                        None
                    }
                }
            }
            (Some(_), None) => {
                p.push(Problem::new(
                    "relay.client_private_key",
                    "is missing: a certificate needs its private key",
                ));
                None
            }
            (None, Some(_)) => {
                p.push(Problem::new(
                    "relay.client_certificate",
                    "is missing: a private key needs its certificate",
                ));
                None
            }
        };
        if p.len() > before {
            return None;
        }
        Some(RelaySettings {
            retry_schedule,
            max_age: max_age?,
            delay_notice_after: delay_notice_after?,
            max_connections: max_connections? as usize,
            max_connections_per_destination: per_destination? as usize,
            connect_timeout: Duration::from_secs(connect?),
            command_timeout: Duration::from_secs(command?),
            dns_servers,
            mx_port: mx_port? as u16,
            client_certificate,
        })
    }
}

impl RawImap {
    pub(super) fn read(root: &Table, p: &mut Vec<Problem>) -> Self {
        let mut s = Section::of(root, "imap", p);
        let raw = Self {
            max_literal_mib: s.integer("max_literal_mib", p),
            idle_timeout_minutes: s.integer("idle_timeout_minutes", p),
            command_timeout_seconds: s.integer("command_timeout_seconds", p),
        };
        s.finish(p);
        raw
    }

    pub(super) fn validate(self, p: &mut Vec<Problem>) -> Option<ImapSettings> {
        let literal = super::raw::bounded(
            p,
            "imap.max_literal_mib",
            self.max_literal_mib,
            64,
            1,
            1024,
            "MiB",
        );
        // RFC 9051 §5.4: the autologout timer is at least 30 minutes.
        let idle = super::raw::bounded(
            p,
            "imap.idle_timeout_minutes",
            self.idle_timeout_minutes,
            30,
            30,
            1440,
            "minutes",
        );
        let command = super::raw::bounded(
            p,
            "imap.command_timeout_seconds",
            self.command_timeout_seconds,
            300,
            1,
            3600,
            "seconds",
        );
        Some(ImapSettings {
            max_literal: literal? * 1024 * 1024,
            idle_timeout: Duration::from_secs(idle? * 60),
            command_timeout: Duration::from_secs(command?),
        })
    }
}

/// Parses `90s`, `15m`, `2h` or `5d`.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("{text:?} is not a duration such as \"90s\", \"15m\", \"2h\" or \"5d\"");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(seconds)
        .filter(|s| *s <= 365 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?} is longer than a year"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration(" 5d "), Ok(Duration::from_secs(432_000)));
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("5w").is_err());
        assert!(parse_duration("400d").is_err());
    }
}
