//! The relay through the real daemon: mail for an SMTP-connected
//! organisation waits in the queue while its gateway is down, survives a
//! SIGKILL of the daemon, and is delivered over verified TLS exactly once
//! when the gateway (tests/community/support/gateway.py) comes back, each
//! delivery audited with its TLS version.

use std::collections::HashMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{PATIENCE, Ward, cli, demo_on, write_config};

/// A CA and a certificate for `localhost` from it, as PEM files in `dir`:
/// (ca.pem, gateway.pem, gateway.key).
pub fn gateway_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Northshire test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca_params, &ca_key);
    let cert = params.signed_by(&key, &issuer).unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("gateway.pem"),
        dir.join("gateway.key"),
    );
    fs::write(&paths.0, ca.pem()).unwrap();
    fs::write(&paths.1, cert.pem()).unwrap();
    fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The test gateway, killed when dropped.
pub struct Gateway(Child);

impl Gateway {
    pub fn start(port: u16, cert: &Path, key: &Path, dir: &Path) -> Gateway {
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/community/support/gateway.py"
        );
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", &port.to_string()])
            .arg("--cert")
            .arg(cert)
            .arg("--key")
            .arg(key)
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd (.ci/run installs it)");
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the gateway did not start");
        Gateway(child)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Message-ID → how many times the gateway received it.
pub fn received(dir: &Path) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap_or_default();
        if let Some(id) = text.lines().find_map(|l| {
            l.strip_prefix("Message-ID: ")
                .or_else(|| l.strip_prefix("Message-Id: "))
        }) {
            *seen.entry(id.trim().to_owned()).or_insert(0) += 1;
        }
    }
    seen
}

/// Northshire Council joins as an SMTP organisation whose gateway is
/// `localhost:port`, with unsuffixed addresses; its administrator is
/// `sam.smith@northshire.gov.uk.cjsm.net`.
pub fn connect_northshire(config: &Path, port: u16) {
    let apply = cli(
        config,
        &[
            "org",
            "apply",
            "--domain",
            "northshire.gov.uk",
            "--name",
            "Northshire Council",
            "--connection",
            "smtp",
            "--gateway",
            "localhost",
            "--gateway-port",
            &port.to_string(),
            "--strip-suffix",
            "--reason",
            "social care",
            "--users",
            "500",
            "--sponsor",
            "Jo Bloggs|CPS|jo@cps.gov.uk|Lawyer",
            "--signatory-name",
            "Sam",
            "--signatory-position",
            "Chief Executive",
            "--signatory-address",
            "sam@northshire.gov.uk",
            "--accept-terms",
            "1.0",
            "--address1",
            "1 High Street",
            "--postcode",
            "LS1 1AA",
            "--telephone",
            "0113 496 0000",
            "--location",
            "West Yorkshire",
            "--business-type",
            "Local authority",
        ],
    );
    assert!(apply.contains("recorded"), "{apply}");
    let approved = cli(
        config,
        &[
            "org",
            "approve",
            "1",
            "--first-name",
            "Sam",
            "--last-name",
            "Smith",
            "--existing-address",
            "sam.smith@northshire.gov.uk",
        ],
    );
    assert!(approved.contains("approved"), "{approved}");
}

#[test]
fn queued_mail_survives_sigkill_and_is_delivered_exactly_once_over_verified_tls() {
    const MESSAGES: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = gateway_certificates(dir.path());
    let port = free_port();
    let config = write_config(
        dir.path(),
        &format!(
            "[tls]\nextra_ca_file = \"{}\"\n\n[relay]\nretry_schedule = [\"1s\"]\n",
            ca.display()
        ),
    );
    let (eric, password) = demo_on(&config).swap_remove(0);
    connect_northshire(&config, port);

    // The gateway is down: everything waits in the queue.
    let mut ward = Ward::start(&config, &[]);
    let script = r#"
import smtplib, ssl, sys
port, user, password, count = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
c = smtplib.SMTP("127.0.0.1", port, timeout=60)
c.starttls(context=ctx); c.login(user, password)
for n in range(count):
    msg = (f"From: {user}\r\nTo: carol@northshire.gov.uk.cjsm.net\r\n"
           f"Subject: case {n}\r\nMessage-ID: <case-{n}@relay.test>\r\n\r\nPapers {n}.\r\n")
    c.sendmail(user, ["carol@northshire.gov.uk.cjsm.net"], msg)
c.quit()
print("sent", count)
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(ward.addr("submission").port().to_string())
        .args([&eric, &password, &MESSAGES.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let status = cli(&config, &["status"]);
    assert!(
        status.contains(&format!("queue       {MESSAGES} message(s)")),
        "{status}"
    );
    // The relay has tried and recorded why it could not deliver.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let listed = cli(&config, &["queue", "show", "1"]);
        if listed.contains("deferred") {
            break;
        }
        assert!(Instant::now() < deadline, "never tried: {listed}");
        std::thread::sleep(Duration::from_millis(200));
    }

    // Killed with everything queued; restarted with the gateway back.
    ward.signal("KILL");
    ward.wait();
    let received_dir = dir.path().join("received");
    let _gateway = Gateway::start(port, &cert, &key, &received_dir);
    let mut ward = Ward::start(&config, &[]);
    let deadline = Instant::now() + PATIENCE * 3;
    while received(&received_dir).len() < MESSAGES
        || !cli(&config, &["queue", "list"]).contains("the queue is empty")
    {
        assert!(
            Instant::now() < deadline,
            "only {} of {MESSAGES} arrived",
            received(&received_dir).len()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let seen = received(&received_dir);
    assert_eq!(seen.len(), MESSAGES, "every message arrived");
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");

    // Over verified TLS, to the unsuffixed address, with the TLS version
    // audited.
    let one = fs::read_to_string(received_dir.join("1.eml")).unwrap();
    assert!(one.contains("X-Gateway-TLS: TLSv1.3"), "{one}");
    assert_eq!(
        one.matches("transmitted via the Criminal Justice Secure eMail service")
            .count(),
        1,
        "the footer, once: {one}"
    );
    assert!(
        one.contains("X-Gateway-Rcpt-To: <carol@northshire.gov.uk>"),
        "{one}"
    );
    let audit = cli(&config, &["audit", "--limit", "2000"]);
    let deliveries = audit
        .lines()
        .filter(|l| l.contains("relay.deliver"))
        .count();
    assert!(deliveries >= 1, "{audit}");
    assert!(audit.contains("tls=TLSv1.3"), "{audit}");
    let verified = cli(&config, &["audit", "verify"]);
    assert!(verified.contains("intact"), "{verified}");
    ward.signal("TERM");
    assert!(ward.wait().success());
}
