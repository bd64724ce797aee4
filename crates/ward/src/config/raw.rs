//! The configuration as written, and its validation into [`Config`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::audit::RawAudit;
use super::delivery::{RawImap, RawRelay};
use super::reader::{Section, unknown_sections};
use super::{Config, ListenerKind, LogFormat, Problem, SmtpSettings, TlsSource};

/// The configuration file exactly as written: every key optional, nothing
/// checked beyond its TOML type. See `config/ward.toml` for each key.
#[derive(Debug, Default, Clone)]
#[allow(missing_docs)]
pub struct RawConfig {
    pub hostname: Option<String>,
    pub server: RawServer,
    pub suffix: Option<String>,
    pub secure_domains: Option<Vec<String>>,
    pub public_mail_providers: Option<Vec<String>>,
    pub terms_version: Option<String>,
    pub accounts: RawAccounts,
    pub smtp: RawSmtp,
    pub relay: RawRelay,
    pub imap: RawImap,
    pub audit: RawAudit,
    pub tls_certificate: Option<String>,
    pub tls_private_key: Option<String>,
    pub tls_extra_ca_file: Option<String>,
    pub listen: Vec<(ListenerKind, Option<Vec<String>>)>,
    pub admin_socket: Option<String>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
}

/// The `[server]` section as written.
#[derive(Debug, Default, Clone)]
#[allow(missing_docs)]
pub struct RawServer {
    pub data_dir: Option<String>,
    pub shutdown_grace_seconds: Option<i64>,
    pub max_connections: Option<i64>,
    pub max_connections_per_ip: Option<i64>,
    pub max_connections_per_network: Option<i64>,
    pub tls_deadline_seconds: Option<i64>,
    pub login_deadline_seconds: Option<i64>,
    pub busy_tls_deadline_seconds: Option<i64>,
    pub busy_login_deadline_seconds: Option<i64>,
    pub in_flight_memory_mib: Option<i64>,
}

/// The `[accounts]` section as written.
#[derive(Debug, Default, Clone)]
#[allow(missing_docs)]
pub struct RawAccounts {
    pub password_max_age_days: Option<i64>,
    pub inactivity_lock_days: Option<i64>,
    pub max_failed_logins: Option<i64>,
    pub failed_login_lock_minutes: Option<i64>,
    pub deleted_retention_days: Option<i64>,
    pub password_history: Option<i64>,
}

/// The `[smtp]` section as written.
#[derive(Debug, Default, Clone)]
#[allow(missing_docs)]
pub struct RawSmtp {
    pub max_message_size_mib: Option<i64>,
    pub max_recipients: Option<i64>,
    pub command_timeout_seconds: Option<i64>,
    pub data_timeout_seconds: Option<i64>,
    pub max_bad_commands: Option<i64>,
    pub postmaster: Option<String>,
}

const SECTIONS: [&str; 11] = [
    "server",
    "community",
    "accounts",
    "smtp",
    "relay",
    "imap",
    "tls",
    "listen",
    "admin",
    "log",
    "audit",
];

impl RawConfig {
    /// Reads TOML text. A syntax error stops reading (`Err`); otherwise the
    /// raw values come back with every unknown key and wrong type found.
    ///
    /// # Errors
    ///
    /// The syntax error, located by line and column.
    pub fn from_toml(text: &str) -> Result<(Self, Vec<Problem>), Vec<Problem>> {
        let root: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let at = e
                .span()
                .map(|s| {
                    let line = text[..s.start].matches('\n').count() + 1;
                    format!("line {line}")
                })
                .unwrap_or_else(|| "(file)".to_owned());
            vec![Problem::new(at, format!("not valid TOML: {}", e.message()))]
        })?;
        let p = &mut Vec::new();
        unknown_sections(&root, &SECTIONS, p);

        let mut server = Section::of(&root, "server", p);
        let raw_server = RawServer {
            data_dir: server.string("data_dir", p),
            shutdown_grace_seconds: server.integer("shutdown_grace_seconds", p),
            max_connections: server.integer("max_connections", p),
            max_connections_per_ip: server.integer("max_connections_per_ip", p),
            max_connections_per_network: server.integer("max_connections_per_network", p),
            tls_deadline_seconds: server.integer("tls_deadline_seconds", p),
            login_deadline_seconds: server.integer("login_deadline_seconds", p),
            busy_tls_deadline_seconds: server.integer("busy_tls_deadline_seconds", p),
            busy_login_deadline_seconds: server.integer("busy_login_deadline_seconds", p),
            in_flight_memory_mib: server.integer("in_flight_memory_mib", p),
        };
        let hostname = server.string("hostname", p);
        server.finish(p);

        let mut community = Section::of(&root, "community", p);
        let suffix = community.string("suffix", p);
        let secure_domains = community.strings("secure_domains", p);
        let public_mail_providers = community.strings("public_mail_providers", p);
        let terms_version = community.string("terms_version", p);
        community.finish(p);

        let mut acc = Section::of(&root, "accounts", p);
        let accounts = RawAccounts {
            password_max_age_days: acc.integer("password_max_age_days", p),
            inactivity_lock_days: acc.integer("inactivity_lock_days", p),
            max_failed_logins: acc.integer("max_failed_logins", p),
            failed_login_lock_minutes: acc.integer("failed_login_lock_minutes", p),
            deleted_retention_days: acc.integer("deleted_retention_days", p),
            password_history: acc.integer("password_history", p),
        };
        acc.finish(p);

        let mut smtp_section = Section::of(&root, "smtp", p);
        let smtp = RawSmtp {
            max_message_size_mib: smtp_section.integer("max_message_size_mib", p),
            max_recipients: smtp_section.integer("max_recipients", p),
            command_timeout_seconds: smtp_section.integer("command_timeout_seconds", p),
            data_timeout_seconds: smtp_section.integer("data_timeout_seconds", p),
            max_bad_commands: smtp_section.integer("max_bad_commands", p),
            postmaster: smtp_section.string("postmaster", p),
        };
        smtp_section.finish(p);
        let relay = RawRelay::read(&root, p);
        let imap = RawImap::read(&root, p);
        let audit = RawAudit::read(&root, p);

        let mut tls = Section::of(&root, "tls", p);
        let tls_certificate = tls.string("certificate", p);
        let tls_private_key = tls.string("private_key", p);
        let tls_extra_ca_file = tls.string("extra_ca_file", p);
        tls.finish(p);

        let mut listen = Section::of(&root, "listen", p);
        let listen_values = ListenerKind::ALL
            .iter()
            .map(|&kind| (kind, listen.strings(kind.key(), p)))
            .collect();
        listen.finish(p);

        let mut admin = Section::of(&root, "admin", p);
        let admin_socket = admin.string("socket", p);
        admin.finish(p);

        let mut log = Section::of(&root, "log", p);
        let log_format = log.string("format", p);
        let log_level = log.string("level", p);
        log.finish(p);

        let raw = RawConfig {
            hostname,
            server: raw_server,
            suffix,
            secure_domains,
            public_mail_providers,
            terms_version,
            accounts,
            smtp,
            relay,
            imap,
            audit,
            tls_certificate,
            tls_private_key,
            tls_extra_ca_file,
            listen: listen_values,
            admin_socket,
            log_format,
            log_level,
        };
        Ok((raw, std::mem::take(p)))
    }
}

/// Longest path a Unix socket address can hold (`sun_path`, less the NUL).
const MAX_SOCKET_PATH: usize = 107;

pub(super) fn validate(raw: RawConfig, base: &Path) -> Result<Config, Vec<Problem>> {
    let mut p = Vec::new();
    let resolve = |s: &str| -> PathBuf {
        let path = Path::new(s);
        if path.is_absolute() {
            path.to_owned()
        } else {
            base.join(path)
        }
    };

    let hostname = raw
        .hostname
        .unwrap_or_else(|| "localhost".to_owned())
        .to_ascii_lowercase();
    if let Err(why) = check_domain(&hostname) {
        p.push(Problem::new(
            "server.hostname",
            format!("{hostname:?} is not a valid host name: {why}"),
        ));
    }
    let suffix = raw
        .suffix
        .unwrap_or_else(|| "cjsm.net".to_owned())
        .to_ascii_lowercase();
    if let Err(why) = check_domain(&suffix) {
        p.push(Problem::new(
            "community.suffix",
            format!("{suffix:?} is not a valid domain: {why}"),
        ));
    } else if !suffix.contains('.') {
        p.push(Problem::new(
            "community.suffix",
            format!("{suffix:?} must be a domain with at least two labels, such as cjsm.net"),
        ));
    }

    let mut secure_domains = Vec::new();
    match raw.secure_domains {
        None => secure_domains = accounts::Settings::default().secure_domains,
        Some(list) => {
            for (i, d) in list.iter().enumerate() {
                let d = d.trim().to_ascii_lowercase();
                match check_domain(&d) {
                    Ok(()) => secure_domains.push(d),
                    Err(why) => p.push(Problem::new(
                        format!("community.secure_domains[{i}]"),
                        format!("{d:?} is not a valid domain: {why}"),
                    )),
                }
            }
        }
    }
    let mut public_mail_providers = Vec::new();
    match raw.public_mail_providers {
        None => public_mail_providers = accounts::Settings::default().public_mail_providers,
        Some(list) => {
            for (i, entry) in list.iter().enumerate() {
                let entry = entry.trim().to_ascii_lowercase();
                // `name.*` stands for name followed by any domain ending.
                let checked = match entry.strip_suffix(".*") {
                    Some(label) if label.contains('.') => {
                        Err("a wildcard entry is one word then .*, as in \"hotmail.*\"")
                    }
                    Some(label) => check_domain(label),
                    None => check_domain(&entry),
                };
                match checked {
                    Ok(()) => public_mail_providers.push(entry),
                    Err(why) => p.push(Problem::new(
                        format!("community.public_mail_providers[{i}]"),
                        format!(
                            "{entry:?} is not a domain or a word followed by .* (such as \"gmail.com\" or \"hotmail.*\"): {why}"
                        ),
                    )),
                }
            }
        }
    }
    let terms_version = raw.terms_version.unwrap_or_else(|| "1.0".to_owned());
    if terms_version.trim().is_empty() {
        p.push(Problem::new("community.terms_version", "must not be empty"));
    }
    let days = |p: &mut Vec<Problem>, key: &str, v, default, max| {
        bounded(p, key, v, default, 1, max, "days").map(|d| Duration::from_secs(d * 86_400))
    };
    let a = &raw.accounts;
    let password_max_age = days(
        &mut p,
        "accounts.password_max_age_days",
        a.password_max_age_days,
        90,
        3650,
    );
    let inactivity_lock = days(
        &mut p,
        "accounts.inactivity_lock_days",
        a.inactivity_lock_days,
        30,
        3650,
    );
    let deleted_retention = days(
        &mut p,
        "accounts.deleted_retention_days",
        a.deleted_retention_days,
        90,
        3650,
    );
    let max_failed_logins = bounded(
        &mut p,
        "accounts.max_failed_logins",
        a.max_failed_logins,
        5,
        1,
        100,
        "attempts",
    );
    let failed_login_lock = bounded(
        &mut p,
        "accounts.failed_login_lock_minutes",
        a.failed_login_lock_minutes,
        30,
        1,
        525_600,
        "minutes",
    )
    .map(|m| Duration::from_secs(m * 60));
    let password_history = bounded(
        &mut p,
        "accounts.password_history",
        a.password_history,
        5,
        0,
        24,
        "passwords",
    );

    let r = &raw.smtp;
    let postmaster = r.postmaster.as_deref().and_then(|text| {
        match policy::Address::parse(text.trim().as_bytes(), policy::ParseOptions::smtputf8()) {
            Ok(address)
                if policy::Domain::parse(&suffix)
                    .is_ok_and(|s| address.domain().is_within(&s) && *address.domain() != s) =>
            {
                Some(address)
            }
            Ok(_) => {
                p.push(Problem::new(
                    "smtp.postmaster",
                    format!("{text:?} must be a hosted mailbox, ending in .{suffix}"),
                ));
                None
            }
            Err(why) => {
                p.push(Problem::new(
                    "smtp.postmaster",
                    format!("{text:?} is not a valid address: {why}"),
                ));
                None
            }
        }
    });
    let smtp = match (
        bounded(
            &mut p,
            "smtp.max_message_size_mib",
            r.max_message_size_mib,
            25,
            1,
            1024,
            "MiB",
        ),
        bounded(
            &mut p,
            "smtp.max_recipients",
            r.max_recipients,
            100,
            1,
            10_000,
            "recipients",
        ),
        bounded(
            &mut p,
            "smtp.command_timeout_seconds",
            r.command_timeout_seconds,
            300,
            1,
            3600,
            "seconds",
        ),
        bounded(
            &mut p,
            "smtp.data_timeout_seconds",
            r.data_timeout_seconds,
            180,
            1,
            3600,
            "seconds",
        ),
        bounded(
            &mut p,
            "smtp.max_bad_commands",
            r.max_bad_commands,
            10,
            1,
            1000,
            "commands",
        ),
    ) {
        (Some(size), Some(rcpt), Some(command), Some(data), Some(bad)) => Some(SmtpSettings {
            max_message_size: size * 1024 * 1024,
            max_recipients: rcpt as usize,
            command_timeout: Duration::from_secs(command),
            data_timeout: Duration::from_secs(data),
            max_bad_commands: bad as usize,
            postmaster,
        }),
        _ => None,
    };

    let data_dir = resolve(raw.server.data_dir.as_deref().unwrap_or("ward-data"));
    if data_dir.exists() && !data_dir.is_dir() {
        p.push(Problem::new(
            "server.data_dir",
            format!("{} exists and is not a folder", data_dir.display()),
        ));
    }

    let shutdown_grace = bounded(
        &mut p,
        "server.shutdown_grace_seconds",
        raw.server.shutdown_grace_seconds,
        30,
        0,
        3600,
        "seconds",
    )
    .map(Duration::from_secs);
    let max_connections = bounded(
        &mut p,
        "server.max_connections",
        raw.server.max_connections,
        4096,
        1,
        1_000_000,
        "connections",
    );
    let max_connections_per_ip = bounded(
        &mut p,
        "server.max_connections_per_ip",
        raw.server.max_connections_per_ip,
        100,
        1,
        1_000_000,
        "connections",
    );
    let admission = super::connections::validate(&raw.server, max_connections_per_ip, &mut p);
    let in_flight_memory = bounded(
        &mut p,
        "server.in_flight_memory_mib",
        raw.server.in_flight_memory_mib,
        512,
        16,
        1_048_576,
        "MiB",
    )
    .map(|mib| mib * 1024 * 1024);

    let relay = raw.relay.clone().validate(&resolve, &mut p);
    let imap = raw.imap.clone().validate(&mut p);
    let audit = raw.audit.clone().validate(&resolve, &data_dir, &mut p);
    let extra_ca_file = raw.tls_extra_ca_file.as_deref().and_then(|f| {
        let path = resolve(f);
        match transport::certificate::read_chain(&path) {
            Ok(certs) if !certs.is_empty() => Some(path),
            Ok(_) => {
                p.push(Problem::new(
                    "tls.extra_ca_file",
                    format!("{} holds no certificate", path.display()),
                ));
                None
            }
            Err(e) => {
                p.push(Problem::new("tls.extra_ca_file", e.to_string()));
                None
            }
        }
    });
    let tls = match (raw.tls_certificate, raw.tls_private_key) {
        (None, None) => Some(TlsSource::SelfSigned),
        (Some(_), None) => {
            p.push(Problem::new(
                "tls.private_key",
                "is missing: a certificate needs its private key",
            ));
            None
        }
        (None, Some(_)) => {
            p.push(Problem::new(
                "tls.certificate",
                "is missing: a private key needs its certificate",
            ));
            None
        }
        (Some(cert), Some(key)) => {
            let (certificate, private_key) = (resolve(&cert), resolve(&key));
            match transport::certificate::load(&certificate, &private_key) {
                Ok(_) => Some(TlsSource::Files {
                    certificate,
                    private_key,
                }),
                Err(e) => {
                    use transport::CertificateError as E;
                    let key = match &e {
                        E::Unreadable { path, .. } if *path == private_key => "tls.private_key",
                        E::NoPrivateKey { .. } | E::UnsupportedKey { .. } => "tls.private_key",
                        _ => "tls.certificate",
                    };
                    p.push(Problem::new(key, e.to_string()));
                    None
                }
            }
        }
    };

    let mut listeners = Vec::new();
    let mut seen: HashMap<SocketAddr, String> = HashMap::new();
    for (kind, values) in raw.listen {
        for (i, value) in values.unwrap_or_default().iter().enumerate() {
            let key = format!("listen.{}[{i}]", kind.key());
            match parse_listen(value) {
                Ok(addr) if addr.port() != 0 && seen.contains_key(&addr) => {
                    let other = &seen[&addr];
                    p.push(Problem::new(
                        &key,
                        format!("{addr} is already used by {other}"),
                    ));
                }
                Ok(addr) => {
                    seen.insert(addr, key);
                    listeners.push((kind, addr));
                }
                Err(why) => p.push(Problem::new(key, why)),
            }
        }
    }
    if listeners.is_empty() && !p.iter().any(|x| x.key.starts_with("listen.")) {
        p.push(Problem::new(
            "listen",
            "no listener is configured: Ward would accept nothing",
        ));
    }

    let admin_socket = raw
        .admin_socket
        .map(|s| resolve(&s))
        .unwrap_or_else(|| data_dir.join("admin.sock"));
    if admin_socket.as_os_str().len() > MAX_SOCKET_PATH {
        p.push(Problem::new("admin.socket", format!(
            "{} is longer than the {MAX_SOCKET_PATH} bytes a Unix socket path may have; choose a shorter path",
            admin_socket.display()
        )));
    }

    let log_format = match raw.log_format.as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            p.push(Problem::new(
                "log.format",
                format!("{other:?} is not a log format; use \"text\" or \"json\""),
            ));
            LogFormat::Text
        }
    };
    let log_level = raw.log_level.unwrap_or_else(|| "info".to_owned());
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log_level) {
        p.push(Problem::new(
            "log.level",
            format!(
                "{log_level:?} is not a log filter ({e}); use e.g. \"info\" or \"ward=debug,info\""
            ),
        ));
    }

    let accounts = match (
        password_max_age,
        inactivity_lock,
        deleted_retention,
        max_failed_logins,
        failed_login_lock,
        password_history,
    ) {
        (
            Some(password_max_age),
            Some(inactivity_lock),
            Some(deleted_retention),
            Some(max),
            Some(lock),
            Some(history),
        ) => Some(accounts::Settings {
            suffix: suffix.clone(),
            secure_domains,
            public_mail_providers,
            terms_version: terms_version.trim().to_owned(),
            password_max_age,
            inactivity_lock,
            max_failed_logins: max as u32,
            failed_login_lock: lock,
            password_history: history as usize,
            deleted_retention,
            hostname: hostname.clone(),
        }),
        _ => None,
    };

    match (
        tls,
        shutdown_grace,
        max_connections,
        max_connections_per_ip,
        admission,
        accounts,
        smtp,
        relay,
        imap,
        audit,
        in_flight_memory,
    ) {
        (
            Some(tls),
            Some(shutdown_grace),
            Some(max_connections),
            Some(max_connections_per_ip),
            Some((max_connections_per_network, deadlines)),
            Some(accounts),
            Some(smtp),
            Some(relay),
            Some(imap),
            Some(audit),
            Some(in_flight_memory),
        ) if p.is_empty() && in_flight_fits(in_flight_memory, &smtp, &imap, &mut p) => Ok(Config {
            accounts,
            smtp,
            relay,
            imap,
            audit,
            hostname,
            data_dir,
            suffix,
            tls,
            extra_ca_file,
            listeners,
            admin_socket,
            shutdown_grace,
            max_connections: max_connections as usize,
            max_connections_per_ip: max_connections_per_ip as usize,
            max_connections_per_network,
            deadlines,
            in_flight_memory,
            log_format,
            log_level,
        }),
        _ => Err(p),
    }
}

/// The in-flight budget must hold at least one largest message and one
/// largest literal, or those could never be received.
fn in_flight_fits(
    budget: u64,
    smtp: &super::SmtpSettings,
    imap: &super::ImapSettings,
    p: &mut Vec<Problem>,
) -> bool {
    // What receiving one largest message costs (each protocol holds
    // several copies of a message until it is stored).
    let largest = (smtp.max_message_size * smtp_in::MEMORY_PER_MESSAGE_BYTE)
        .max(imap.max_literal * imap::MEMORY_PER_LITERAL_BYTE);
    if budget < largest {
        p.push(Problem::new(
            "server.in_flight_memory_mib",
            format!(
                "{} MiB cannot hold one largest message while it is received ({} MiB: {} times smtp.max_message_size_mib, or {} times imap.max_literal_mib); raise it",
                budget / (1024 * 1024),
                largest.div_ceil(1024 * 1024),
                smtp_in::MEMORY_PER_MESSAGE_BYTE,
                imap::MEMORY_PER_LITERAL_BYTE
            ),
        ));
        return false;
    }
    true
}

pub(super) fn bounded(
    p: &mut Vec<Problem>,
    key: &str,
    value: Option<i64>,
    default: u64,
    min: u64,
    max: u64,
    unit: &str,
) -> Option<u64> {
    let v = value.unwrap_or(default as i64);
    if v < min as i64 || v > max as i64 {
        p.push(Problem::new(
            key,
            format!("{v} is out of range: use {min} to {max} {unit}"),
        ));
        return None;
    }
    Some(v as u64)
}

/// Parses `address:port` (`[v6]:port` for IPv6), explaining what is wrong.
fn parse_listen(value: &str) -> Result<SocketAddr, String> {
    let Some((host, port)) = value.rsplit_once(':') else {
        return Err(format!(
            "{value:?} needs a port, as in \"0.0.0.0:25\" or \"[::]:25\""
        ));
    };
    let port: u64 = port
        .parse()
        .map_err(|_| format!("{port:?} in {value:?} is not a port number"))?;
    if port > 65535 {
        return Err(format!(
            "port {port} is out of range: ports are 1 to 65535 (0 picks any free port)"
        ));
    }
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip: IpAddr = host
        .parse()
        .map_err(|_| format!("{host:?} is not an IP address; listeners bind to addresses such as 0.0.0.0, 127.0.0.1 or [::]"))?;
    Ok(SocketAddr::new(ip, port as u16))
}

/// Checks a DNS name: labels of letters, digits and inner hyphens, each at
/// most 63 characters, the whole at most 253.
fn check_domain(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("it is empty");
    }
    if name.len() > 253 {
        return Err("it is longer than 253 characters");
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("it has an empty label (two dots, or a dot at an end)");
        }
        if label.len() > 63 {
            return Err("a label is longer than 63 characters");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err("only letters, digits, hyphens and dots are allowed");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label starts or ends with a hyphen");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen("127.0.0.1:25").unwrap(),
            "127.0.0.1:25".parse().unwrap()
        );
        assert_eq!(
            parse_listen("[::1]:993").unwrap(),
            "[::1]:993".parse().unwrap()
        );
        assert!(
            parse_listen("127.0.0.1:70000")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            parse_listen("127.0.0.1")
                .unwrap_err()
                .contains("needs a port")
        );
        assert!(
            parse_listen("mail.example:25")
                .unwrap_err()
                .contains("not an IP address")
        );
        assert!(
            parse_listen("1.2.3.4:x")
                .unwrap_err()
                .contains("not a port")
        );
    }

    #[test]
    fn domains() {
        assert!(check_domain("cjsm.net").is_ok());
        assert!(check_domain("bad..name").is_err());
        assert!(check_domain("-bad.example").is_err());
        assert!(check_domain("sp ace.example").is_err());
    }

    #[test]
    fn public_mail_providers() {
        let settings = |text: &str| {
            let text = format!("{text}\n[listen]\nsmtp = [\"127.0.0.1:0\"]\n");
            let (raw, p) = RawConfig::from_toml(&text).unwrap();
            assert!(p.is_empty(), "{p:?}");
            validate(raw, Path::new("/tmp")).map(|c| c.accounts)
        };
        let default = settings("").unwrap();
        assert!(default.is_public_mail_provider("gmail.com"));
        assert!(default.is_public_mail_provider("hotmail.co.uk"));
        let own =
            settings("[community]\npublic_mail_providers = [\"Freemail.*\", \"isp.example\"]")
                .unwrap();
        assert_eq!(own.public_mail_providers, ["freemail.*", "isp.example"]);
        assert!(!own.is_public_mail_provider("gmail.com"));
        // The production example documents the defaults.
        let example = include_str!("../../../../config/ward.toml");
        let (raw, _) = RawConfig::from_toml(example).unwrap();
        assert_eq!(
            raw.public_mail_providers.unwrap(),
            default.public_mail_providers
        );
        assert_eq!(raw.secure_domains.unwrap(), default.secure_domains);
        let none = settings("[community]\npublic_mail_providers = []").unwrap();
        assert!(none.public_mail_providers.is_empty());
        let p = settings(
            "[community]\npublic_mail_providers = [\"gmail.com\", \"bad..name\", \"mail.*.com\", \"*\"]",
        )
        .unwrap_err();
        let keys: Vec<_> = p.iter().map(|x| x.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "community.public_mail_providers[1]",
                "community.public_mail_providers[2]",
                "community.public_mail_providers[3]",
            ],
            "{p:?}"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = r#"
            colour = "blue"
            [server]
            hostname = 7
            data_dirr = "x"
            shutdown_grace_seconds = -1
            [listen]
            smtp = ["127.0.0.1:99999", "nowhere:25"]
            imap = ["127.0.0.1:2143", "127.0.0.1:2143"]
            [log]
            format = "xml"
        "#;
        let (raw, mut p) = RawConfig::from_toml(text).unwrap();
        p.extend(validate(raw, Path::new("/tmp")).unwrap_err());
        let keys: Vec<_> = p.iter().map(|x| x.key.as_str()).collect();
        for want in [
            "colour",
            "server.hostname",
            "server.data_dirr",
            "server.shutdown_grace_seconds",
            "listen.smtp[0]",
            "listen.smtp[1]",
            "listen.imap[1]",
            "log.format",
        ] {
            assert!(keys.contains(&want), "{want} missing from {keys:?}");
        }
    }
}
