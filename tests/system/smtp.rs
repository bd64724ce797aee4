//! Mail through the real daemon: swaks and Python's smtplib on the
//! submission listeners, organisation gateways proving themselves with
//! Ward-issued client certificates on the SMTP listener, and what lands in
//! the store (read after the daemon stops).

use std::path::Path;
use std::process::Command;

use crate::harness::{Ward, cli, demo, gateway_certificate, inbox, swaks, ward_bin, write_config};

#[test]
fn users_send_with_swaks_and_smtplib_and_mail_lands_in_the_inbox() {
    let (_dir, mut ward, users) = demo();
    let (eric, eric_pw) = &users[0];
    let (anna, anna_pw) = &users[1];
    let submission = ward.addr("submission").port();
    let submissions = ward.addr("submissions").port();

    // Plain text: refused before MAIL.
    let (ok, text) = swaks(submission, &["--from", eric, "--to", anna]);
    assert!(!ok && text.contains("530 5.7.0"), "{text}");
    // Wrong password.
    let (ok, text) = swaks(
        submission,
        &[
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            eric,
            "--auth-password",
            "wrong password!",
            "--from",
            eric,
            "--to",
            anna,
        ],
    );
    assert!(!ok && text.contains("535 5.7.8"), "{text}");
    // Sending as someone else.
    let (ok, text) = swaks(
        submission,
        &[
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            eric,
            "--auth-password",
            eric_pw,
            "--from",
            anna,
            "--to",
            anna,
        ],
    );
    assert!(!ok && text.contains("5.7.1"), "{text}");
    // Outside the community.
    let (ok, text) = swaks(
        submission,
        &[
            "--tls",
            "--auth",
            "LOGIN",
            "--auth-user",
            eric,
            "--auth-password",
            eric_pw,
            "--from",
            eric,
            "--to",
            "someone@gmail.com",
        ],
    );
    assert!(!ok && text.contains("550"), "{text}");
    // The real thing.
    let (ok, text) = swaks(
        submission,
        &[
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            eric,
            "--auth-password",
            eric_pw,
            "--from",
            eric,
            "--to",
            anna,
            "--header",
            "Subject: swaks to anna",
            "--body",
            "Hello Anna, via swaks.",
        ],
    );
    assert!(ok, "{text}");

    // smtplib over implicit TLS, AUTH LOGIN, two recipients in one transaction.
    let script = r#"
import smtplib, ssl, sys
port, user, password, to1, to2 = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
with smtplib.SMTP_SSL("127.0.0.1", int(port), context=ctx, timeout=30) as s:
    s.ehlo("client.example")
    s.login(user, password)
    s.sendmail(user, [to1, to2], "From: %s\r\nTo: %s, %s\r\nSubject: smtplib to both\r\n\r\nHello both.\r\n" % (user, to1, to2))
print("sent")
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &submissions.to_string(),
            anna,
            anna_pw,
            anna,
            eric,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    ward.signal("TERM");
    assert!(ward.wait().success());
    let anna_mail = inbox(&ward.data, anna);
    let eric_mail = inbox(&ward.data, eric);
    assert_eq!(
        anna_mail.len(),
        2,
        "anna has the swaks and smtplib messages"
    );
    assert_eq!(eric_mail.len(), 1);
    let swaks_msg = String::from_utf8_lossy(&anna_mail[0]).into_owned();
    // Final delivery: the reverse-path first, then the trace header.
    assert!(swaks_msg.starts_with("Return-Path: <"), "{swaks_msg}");
    assert!(swaks_msg.contains(">\r\nReceived: "), "{swaks_msg}");
    assert!(swaks_msg.contains("TLS"), "{swaks_msg}");
    assert!(
        swaks_msg.contains("Subject: swaks to anna")
            && swaks_msg.contains("Hello Anna, via swaks.")
    );
    assert_eq!(
        anna_mail[1], eric_mail[0],
        "one message, the same bytes in both mailboxes"
    );
    // The body as sent, then the bilingual notice, once.
    let both = String::from_utf8_lossy(&eric_mail[0]).into_owned();
    assert!(
        both.contains("Subject: smtplib to both\r\n\r\nHello both.\r\n"),
        "{both}"
    );
    assert_eq!(
        both.matches(policy::DEFAULT_ENGLISH).count(),
        1,
        "the footer, once: {both}"
    );
    assert!(both.contains("X-Ward-Footer: added"), "{both}");
}

#[test]
fn gateways_prove_their_organisation_with_a_certificate_or_their_network() {
    let (dir, mut ward, users) = demo();
    let (eric, _) = &users[0];
    let config = dir.path().join("ward.toml");
    let smtp = ward.addr("smtp").port();
    // A second SMTP organisation, to try its certificate on the first's mail.
    let out = ward_apply(&config);
    assert!(out.contains("approved"), "{out}");

    let certs = dir.path().join("certs");
    let (safeguarder_cert, safeguarder_key) = gateway_certificate(
        &config,
        "safeguarder",
        "safeguarders.org.uk.cjsm.net",
        &certs,
    );
    let (oak_cert, oak_key) = gateway_certificate(
        &config,
        "oakfield.org.uk",
        "oakfield.org.uk.cjsm.net",
        &certs,
    );
    let from = "case.worker@safeguarder.cjsm.net";
    let send = |cert: Option<(&Path, &Path)>, body: &str| {
        let mut args = vec![
            "--tls".to_owned(),
            "--from".into(),
            from.into(),
            "--to".into(),
            eric.clone(),
            "--body".into(),
            body.into(),
        ];
        if let Some((c, k)) = cert {
            args.extend([
                "--tls-cert".into(),
                c.display().to_string(),
                "--tls-key".into(),
                k.display().to_string(),
            ]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        swaks(smtp, &args)
    };
    let (ok, text) = send(None, "no certificate");
    assert!(!ok && text.contains("<~* 5"), "no certificate: {text}");
    let (ok, text) = send(
        Some((&oak_cert, &oak_key)),
        "another organisation's certificate",
    );
    assert!(!ok && text.contains("<~* 5"), "wrong organisation: {text}");
    let (ok, text) = send(
        Some((&safeguarder_cert, &safeguarder_key)),
        "from the safeguarders' gateway",
    );
    assert!(ok, "own certificate: {text}");
    cli(&config, &["org", "cert", "revoke", "safeguarder"]);
    let (ok, text) = send(
        Some((&safeguarder_cert, &safeguarder_key)),
        "after revocation",
    );
    assert!(!ok && text.contains("<~* 5"), "revoked: {text}");
    let listed = cli(&config, &["org", "cert", "list"]);
    assert!(listed.contains("REVOKED"), "{listed}");

    // Recognised by source network instead: TLS still required.
    let set = cli(&config, &["org", "networks", "safeguarder", "127.0.0.0/8"]);
    assert!(set.contains("127.0.0.0/8"), "{set}");
    let (ok, text) = send(None, "from the safeguarders' network");
    assert!(ok, "by network: {text}");
    let (ok, text) = swaks(smtp, &["--from", from, "--to", eric, "--body", "in clear"]);
    assert!(
        !ok && text.contains("530 5.7.0"),
        "by network, no TLS: {text}"
    );
    cli(&config, &["org", "networks", "safeguarder", "--clear"]);
    let (ok, text) = send(None, "after the networks were cleared");
    assert!(!ok && text.contains("<~* 5"), "networks cleared: {text}");

    ward.signal("TERM");
    assert!(ward.wait().success());
    let mail = inbox(&ward.data, eric);
    assert_eq!(
        mail.len(),
        2,
        "only the proven gateway's messages were accepted"
    );
    assert!(String::from_utf8_lossy(&mail[0]).contains("from the safeguarders' gateway"));
    assert!(String::from_utf8_lossy(&mail[1]).contains("from the safeguarders' network"));
}

#[test]
fn external_secure_domain_servers_prove_themselves_with_a_certificate() {
    // A CA Ward is told to trust (`[tls] extra_ca_file`) vouches for the
    // Ministry's mail server, as a public CA would.
    let dir = tempfile::tempdir().unwrap();
    let ministry_ca =
        transport::ca::CertificateAuthority::ensure(&dir.path().join("ministry-ca")).unwrap();
    let issued = ministry_ca
        .issue("mail.justice.gov.uk", "Ministry of Justice", 30)
        .unwrap();
    let cert = dir.path().join("mail.justice.gov.uk.pem");
    let key = dir.path().join("mail.justice.gov.uk.key");
    std::fs::write(&cert, &issued.certificate_pem).unwrap();
    std::fs::write(&key, &issued.key_pem).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[tls]\nextra_ca_file = \"{}\"\n",
            ministry_ca.certificate_path().display()
        ),
    );
    let mut first = Ward::start(&config, &[]);
    first.signal("TERM");
    first.wait();
    let out = cli(&config, &["demo"]);
    let eric = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("user"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let mut ward = Ward::start(&config, &[]);
    let smtp = ward.addr("smtp").port();
    let send = |with_cert: bool, body: &str| {
        let mut args = vec![
            "--tls",
            "--from",
            "dave@justice.gov.uk",
            "--to",
            &eric,
            "--body",
            body,
        ];
        let (c, k) = (cert.to_str().unwrap(), key.to_str().unwrap());
        if with_cert {
            args.extend(["--tls-cert", c, "--tls-key", k]);
        }
        swaks(smtp, &args)
    };
    let (ok, text) = send(false, "unproven");
    assert!(
        !ok && text.contains("<~* 550 5.7.1"),
        "no certificate: {text}"
    );
    let (ok, text) = send(true, "from the ministry's server");
    assert!(ok, "with the ministry's certificate: {text}");
    ward.signal("TERM");
    assert!(ward.wait().success());
    let mail = inbox(&ward.data, &eric);
    assert_eq!(mail.len(), 1);
    assert!(String::from_utf8_lossy(&mail[0]).contains("from the ministry's server"));
}

/// Connects Oakfield Solicitors as a second SMTP organisation.
fn ward_apply(config: &Path) -> String {
    cli(
        config,
        &[
            "org",
            "apply",
            "--domain",
            "oakfield.org.uk",
            "--name",
            "Oakfield Solicitors",
            "--connection",
            "smtp",
            "--gateway",
            "mail.oakfield.org.uk",
            "--reason",
            "case papers",
            "--users",
            "5",
            "--sponsor",
            "Jo Bloggs|CPS|jo@cps.gov.uk|Lawyer",
            "--signatory-name",
            "Sam",
            "--signatory-position",
            "Partner",
            "--signatory-address",
            "sam@oakfield.org.uk",
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
            "Solicitors",
        ],
    );
    cli(
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
            "sam.smith@oakfield.org.uk",
        ],
    )
}

#[test]
fn sigkill_during_a_burst_loses_no_acknowledged_message() {
    let (dir, ward, users) = demo();
    let config = dir.path().join("ward.toml");
    let data = ward.data.clone();
    let (eric, eric_pw) = users[0].clone();
    let (anna, _) = users[1].clone();
    let script = r#"
import smtplib, ssl, sys
port, user, password, to, cycle = sys.argv[1:6]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(port), timeout=30)
s.starttls(context=ctx); s.login(user, password)
for i in range(100000):
    subject = "burst-%s-%d" % (cycle, i)
    s.sendmail(user, [to], "From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n%s\r\n" % (user, to, subject, "x" * 2000))
    print(subject, flush=True)
"#;
    let mut acknowledged = Vec::new();
    let mut ward = Some(ward);
    for cycle in 0..3 {
        let daemon = ward.take().unwrap_or_else(|| Ward::start(&config, &[]));
        let port = daemon.addr("submission").port().to_string();
        let mut child = Command::new("python3")
            .args([
                "-c",
                script,
                &port,
                &eric,
                &eric_pw,
                &anna,
                &cycle.to_string(),
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut lines =
            std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
        let kill_after = 15 + cycle * 11;
        for _ in 0..kill_after {
            acknowledged.push(lines.next().expect("python keeps sending").unwrap());
        }
        daemon.signal("KILL");
        // Anything acknowledged before the kill took effect counts too.
        for line in lines.map_while(Result::ok) {
            acknowledged.push(line);
        }
        let _ = child.wait();
        drop(daemon);
        let stored: Vec<String> = inbox(&data, &anna)
            .iter()
            .map(|m| String::from_utf8_lossy(m).into_owned())
            .collect();
        for subject in &acknowledged {
            assert!(
                stored
                    .iter()
                    .any(|m| m.contains(&format!("Subject: {subject}\r\n"))),
                "{subject} was acknowledged with 250 but is not in the store"
            );
        }
        let store = store::Store::open(&data.join("store")).unwrap();
        let report = store.check_consistency().unwrap();
        assert!(report.problems.is_empty(), "{report:?}");
    }
}

#[test]
fn configured_smtp_limits_and_timeouts_apply() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[smtp]\nmax_message_size_mib = 1\nmax_recipients = 2\ncommand_timeout_seconds = 1\n",
    );
    let out = Command::new(ward_bin())
        .args(["check-config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ward = Ward::start(&config, &[]);
    let script = r#"
import socket, smtplib, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=30)
greeting = s.recv(1000)
time.sleep(2.5)
print("idle:", s.recv(1000).decode().strip())
c = smtplib.SMTP("127.0.0.1", port, timeout=30)
c.ehlo("client.example")
print("size:", [l for l in c.esmtp_features.get("size", "").split()])
"#;
    let port = ward.addr("submission").port().to_string();
    let out = Command::new("python3")
        .args(["-c", script, &port])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("idle: 421 4.4.2"), "{text}");
    assert!(text.contains("size: ['1048576']"), "{text}");
}
