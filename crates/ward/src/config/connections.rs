//! The `[server]` keys that bound client connections beyond the overall
//! and per-address caps: the per-network cap and the time a connection has
//! to start TLS and sign in (see [`crate::connections`]).

use std::time::Duration;

use super::Problem;
use super::raw::{RawServer, bounded};
use crate::connections::Deadlines;

/// Checks the per-network cap (default four times the per-address cap
/// `per_ip`, and never below it) and the deadlines (each 1 to 3600
/// seconds, the busy ones no longer than the normal ones).
pub(super) fn validate(
    server: &RawServer,
    per_ip: Option<u64>,
    p: &mut Vec<Problem>,
) -> Option<(usize, Deadlines)> {
    let default_network = per_ip.map_or(400, |n| n.saturating_mul(4).min(1_000_000));
    let per_network = bounded(
        p,
        "server.max_connections_per_network",
        server.max_connections_per_network,
        default_network,
        1,
        1_000_000,
        "connections",
    );
    if let (Some(network), Some(ip)) = (per_network, per_ip)
        && network < ip
    {
        p.push(Problem::new(
            "server.max_connections_per_network",
            format!(
                "{network} is below server.max_connections_per_ip ({ip}); a network holds at least one address, so use {ip} or more"
            ),
        ));
    }
    let defaults = Deadlines::default();
    let mut seconds = |key: &str, value, default: Duration| {
        bounded(p, key, value, default.as_secs(), 1, 3600, "seconds").map(Duration::from_secs)
    };
    let tls = seconds(
        "server.tls_deadline_seconds",
        server.tls_deadline_seconds,
        defaults.tls,
    );
    let login = seconds(
        "server.login_deadline_seconds",
        server.login_deadline_seconds,
        defaults.login,
    );
    let busy_tls = seconds(
        "server.busy_tls_deadline_seconds",
        server.busy_tls_deadline_seconds,
        defaults.busy_tls,
    );
    let busy_login = seconds(
        "server.busy_login_deadline_seconds",
        server.busy_login_deadline_seconds,
        defaults.busy_login,
    );
    for (key, busy, normal, normal_key) in [
        (
            "server.busy_tls_deadline_seconds",
            busy_tls,
            tls,
            "tls_deadline_seconds",
        ),
        (
            "server.busy_login_deadline_seconds",
            busy_login,
            login,
            "login_deadline_seconds",
        ),
    ] {
        if let (Some(busy), Some(normal)) = (busy, normal)
            && busy > normal
        {
            p.push(Problem::new(
                key,
                format!(
                    "{} is longer than server.{normal_key} ({}); the busy deadline is the shorter one",
                    busy.as_secs(),
                    normal.as_secs()
                ),
            ));
        }
    }
    let deadlines = Deadlines {
        tls: tls?,
        login: login?,
        busy_tls: busy_tls?,
        busy_login: busy_login?,
    };
    Some((per_network? as usize, deadlines))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(server: RawServer, per_ip: u64) -> Result<(usize, Deadlines), Vec<String>> {
        let mut p = Vec::new();
        match validate(&server, Some(per_ip), &mut p) {
            Some(v) if p.is_empty() => Ok(v),
            _ => Err(p.iter().map(|x| x.key.clone()).collect()),
        }
    }

    #[test]
    fn defaults_follow_the_per_address_cap() {
        let (network, deadlines) = check(RawServer::default(), 100).unwrap();
        assert_eq!(network, 400);
        assert_eq!(deadlines, Deadlines::default());
        assert_eq!(check(RawServer::default(), 500).unwrap().0, 2000);
    }

    #[test]
    fn every_problem_is_named() {
        let server = RawServer {
            max_connections_per_network: Some(50),
            tls_deadline_seconds: Some(0),
            login_deadline_seconds: Some(30),
            busy_login_deadline_seconds: Some(31),
            ..RawServer::default()
        };
        assert_eq!(
            check(server, 100).unwrap_err(),
            [
                "server.max_connections_per_network",
                "server.tls_deadline_seconds",
                "server.busy_login_deadline_seconds",
            ]
        );
    }
}
