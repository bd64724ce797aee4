//! `ward check-config`: exit 0 on a valid file; exit 2 on every kind of
//! error, each reported with its key path and a reason; `ward serve` refuses
//! the same files.

use std::fs;
use std::path::Path;

use crate::harness::ward;

fn check(path: &Path) -> (Option<i32>, String, String) {
    let out = ward(&["check-config", path.to_str().unwrap()]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes a matching certificate and key, and a stranger's key.
fn pem_files(dir: &Path) {
    let make = || {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["mail.ward.example".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (cert, key) = make();
    let (_, other_key) = make();
    fs::write(dir.join("cert.pem"), cert).unwrap();
    fs::write(dir.join("key.pem"), key).unwrap();
    fs::write(dir.join("other-key.pem"), other_key).unwrap();
}

const VALID: &str = r#"
[server]
hostname = "mail.ward.example"
data_dir = "data"
[community]
suffix = "cjsm.net"
[tls]
certificate = "cert.pem"
private_key = "key.pem"
[listen]
smtp = ["127.0.0.1:2525", "[::1]:2525"]
imaps = "127.0.0.1:2993"
[log]
format = "json"
level = "ward=debug,info"
"#;

#[test]
fn a_valid_file_passes() {
    let dir = tempfile::tempdir().unwrap();
    pem_files(dir.path());
    let path = dir.path().join("ward.toml");
    fs::write(&path, VALID).unwrap();
    let (code, stdout, stderr) = check(&path);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("valid"), "{stdout}");
    assert!(
        stdout.contains("127.0.0.1:2525") && stdout.contains("[::1]:2525"),
        "{stdout}"
    );
}

/// Each case: a change to the valid file, the key path and words of the reason.
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "per-network cap below the per-address cap",
        "data_dir = \"data\"",
        "data_dir = \"data\"\nmax_connections_per_ip = 50\nmax_connections_per_network = 20",
        "server.max_connections_per_network: 20 is below server.max_connections_per_ip (50)",
    ),
    (
        "busy deadline longer than the normal one",
        "data_dir = \"data\"",
        "data_dir = \"data\"\nbusy_tls_deadline_seconds = 30",
        "server.busy_tls_deadline_seconds: 30 is longer than server.tls_deadline_seconds (10)",
    ),
    (
        "bad retry wait",
        "[listen]",
        "[relay]\nretry_schedule = [\"2m\", \"soon\"]\n[listen]",
        "relay.retry_schedule[1]: \"soon\" is not a duration",
    ),
    (
        "bad DNS server",
        "[listen]",
        "[relay]\ndns_servers = [\"ns1.example\"]\n[listen]",
        "relay.dns_servers[0]: \"ns1.example\" is not an IP address",
    ),
    (
        "IMAP autologout below RFC 9051's minimum",
        "[listen]",
        "[imap]\nidle_timeout_minutes = 5\n[listen]",
        "imap.idle_timeout_minutes: 5 is out of range",
    ),
    (
        "postmaster outside the community",
        "[listen]",
        "[smtp]\npostmaster = \"ops@example.org\"\n[listen]",
        "smtp.postmaster: \"ops@example.org\" must be a hosted mailbox",
    ),
    (
        "unknown top-level section",
        "[listen]",
        "[listne]\nsmtp = [\"127.0.0.1:1\"]\n[listen]",
        "listne: unknown section",
    ),
    (
        "bad public mail provider",
        "suffix = \"cjsm.net\"",
        "suffix = \"cjsm.net\"\npublic_mail_providers = [\"hotmail.*\", \"mail.*.com\"]",
        "community.public_mail_providers[1]: \"mail.*.com\" is not a domain or a word followed by .*",
    ),
    (
        "unknown key",
        "suffix = \"cjsm.net\"",
        "suffix = \"cjsm.net\"\nsufix = \"x\"",
        "community.sufix: unknown key",
    ),
    (
        "port out of range",
        "127.0.0.1:2525\"",
        "127.0.0.1:70000\"",
        "listen.smtp[0]: port 70000 is out of range",
    ),
    (
        "not an address",
        "\"[::1]:2525\"",
        "\"mail.example:25\"",
        "listen.smtp[1]: \"mail.example\" is not an IP address",
    ),
    (
        "missing certificate file",
        "\"cert.pem\"",
        "\"missing.pem\"",
        "tls.certificate: cannot read",
    ),
    (
        "missing key file",
        "\"key.pem\"",
        "\"missing-key.pem\"",
        "tls.private_key: cannot read",
    ),
    (
        "key does not match certificate",
        "\"key.pem\"",
        "\"other-key.pem\"",
        "does not match the certificate",
    ),
    (
        "certificate file holds a key",
        "certificate = \"cert.pem\"",
        "certificate = \"key.pem\"",
        "tls.certificate:",
    ),
    (
        "wrong type",
        "hostname = \"mail.ward.example\"",
        "hostname = 42",
        "server.hostname: must be a string, not a whole number",
    ),
    (
        "bad host name",
        "hostname = \"mail.ward.example\"",
        "hostname = \"mail..example\"",
        "server.hostname: \"mail..example\" is not a valid host name",
    ),
    (
        "bad log format",
        "format = \"json\"",
        "format = \"xml\"",
        "log.format: \"xml\" is not a log format",
    ),
    ("invalid TOML", "[log]", "[log", "not valid TOML"),
    (
        "same address twice",
        "\"[::1]:2525\"",
        "\"127.0.0.1:2525\"",
        "listen.smtp[1]: 127.0.0.1:2525 is already used by listen.smtp[0]",
    ),
];

#[test]
fn every_kind_of_error_is_reported_with_its_key_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    pem_files(dir.path());
    for (name, from, to, expect) in CASES {
        assert!(
            VALID.contains(from),
            "case {name}: {from:?} not in the valid file"
        );
        let path = dir.path().join("case.toml");
        fs::write(&path, VALID.replacen(from, to, 1)).unwrap();
        let (code, _, stderr) = check(&path);
        assert_eq!(code, Some(2), "case {name}: {stderr}");
        assert!(
            stderr.contains(expect),
            "case {name}: expected {expect:?} in:\n{stderr}"
        );
    }
}

#[test]
fn every_problem_in_a_file_is_listed_at_once_and_serve_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    pem_files(dir.path());
    let text = VALID
        .replace("127.0.0.1:2525\"", "127.0.0.1:99999\"")
        .replace("\"key.pem\"", "\"other-key.pem\"")
        .replace("format = \"json\"", "format = \"xml\"\ncolour = \"blue\"")
        .replace(
            "data_dir = \"data\"",
            "data_dir = \"data\"\nshutdown_grace_seconds = 86400",
        );
    let path = dir.path().join("many.toml");
    fs::write(&path, &text).unwrap();
    let (code, _, stderr) = check(&path);
    assert_eq!(code, Some(2));
    for expect in [
        "listen.smtp[0]: port 99999",
        "tls.certificate: the private key",
        "log.format:",
        "log.colour: unknown key",
        "server.shutdown_grace_seconds: 86400 is out of range",
    ] {
        assert!(stderr.contains(expect), "expected {expect:?} in:\n{stderr}");
    }

    let out = ward(&["serve", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen.smtp[0]: port 99999"));
    assert!(
        !dir.path().join("data").exists(),
        "nothing created for an invalid config"
    );
}

#[test]
fn the_production_example_only_lacks_its_certificate_files() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/ward.toml");
    let (code, _, stderr) = check(&example);
    assert_eq!(
        code,
        Some(2),
        "the example names /etc/ward files this machine lacks"
    );
    let problems: Vec<_> = stderr.lines().skip(1).collect();
    assert!(!problems.is_empty());
    for line in problems {
        assert!(
            line.trim_start().starts_with("tls."),
            "unexpected problem: {line}"
        );
    }
}

#[test]
fn a_missing_file_is_reported() {
    let (code, _, stderr) = check(Path::new("/nonexistent/ward.toml"));
    assert_eq!(code, Some(2));
    assert!(stderr.contains("cannot read the file"), "{stderr}");
}
