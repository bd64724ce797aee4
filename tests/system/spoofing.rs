//! Header spoofing (issue 25): a gateway's certificate proves its own
//! organisation's `From:` and `Sender:`, not another organisation's or a
//! government address; a signed-in user may not name another user in
//! `Sender:` or as a display name, nor send with `MAIL FROM:<>`. Final
//! delivery records the reverse-path in `Return-Path:`.

use std::process::Command;

use crate::harness::{demo, gateway_certificate, inbox, swaks};

#[test]
fn forged_header_senders_are_refused_and_final_delivery_adds_return_path() {
    let (dir, mut ward, users) = demo();
    let (eric, _) = &users[0];
    let (anna, anna_password) = &users[1];
    let config = dir.path().join("ward.toml");
    let (cert, key) = gateway_certificate(
        &config,
        "safeguarder",
        "safeguarders.org.uk.cjsm.net",
        &dir.path().join("certs"),
    );
    let worker = "case.worker@safeguarder.cjsm.net";
    let gateway = |header: &str, body: &str| {
        swaks(
            ward.addr("smtp").port(),
            &[
                "--tls",
                "--tls-cert",
                cert.to_str().unwrap(),
                "--tls-key",
                key.to_str().unwrap(),
                "--from",
                worker,
                "--to",
                eric,
                "--header",
                header,
                "--body",
                body,
            ],
        )
    };
    for forged in [
        "From: Anna Jones <anna.jones@greenstonechambers.co.uk.cjsm.net>",
        "From: ceo@justice.gov.uk",
        "Sender: ceo@justice.gov.uk",
    ] {
        let (ok, said) = gateway(forged, "forged");
        assert!(!ok, "{forged}: {said}");
        assert!(
            said.contains("550 5.7.1") && said.contains("may not send as"),
            "{forged}: {said}"
        );
    }
    let (ok, said) = gateway(&format!("From: Case Worker <{worker}>"), "genuine");
    assert!(ok, "{said}");

    // Submission: the signed-in user's own headers only.
    let script = r#"
import smtplib, ssl, sys
port, user, password, eric = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
cases = [
    ("sender", user, f"From: {user}\r\nSender: {eric}\r\nTo: {eric}\r\nSubject: s\r\n\r\nx\r\n"),
    ("display", user, f'From: "{eric}" <{user}>\r\nTo: {eric}\r\nSubject: d\r\n\r\nx\r\n'),
    ("null", "", f"From: {user}\r\nTo: {eric}\r\nSubject: n\r\n\r\nx\r\n"),
    ("own", user, f"From: Anna <{user}>\r\nTo: {eric}\r\nSubject: own\r\n\r\nx\r\n"),
]
for name, mail_from, msg in cases:
    c = smtplib.SMTP("127.0.0.1", port, timeout=30)
    c.starttls(context=ctx); c.login(user, password)
    try:
        c.sendmail(mail_from, [eric], msg)
        print(name, 250, "accepted")
    except smtplib.SMTPSenderRefused as e:
        print(name, e.smtp_code, e.smtp_error.decode())
    except smtplib.SMTPDataError as e:
        print(name, e.smtp_code, e.smtp_error.decode())
    c.quit()
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(ward.addr("submission").port().to_string())
        .args([anna, anna_password, eric])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout).replace('\n', " | ");
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("sender 550") && said.contains("Sender: header"),
        "{said}"
    );
    assert!(
        said.contains("display 550") && said.contains("display name"),
        "{said}"
    );
    assert!(
        said.contains("null 550") && said.contains("empty reverse-path"),
        "{said}"
    );
    assert!(said.contains("own 250"), "{said}");

    ward.signal("TERM");
    assert!(ward.wait().success());
    let mail: Vec<String> = inbox(&ward.data, eric)
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    assert_eq!(mail.len(), 2, "only the genuine messages: {mail:?}");
    assert!(
        mail[0].starts_with(&format!("Return-Path: <{worker}>\r\n")),
        "{}",
        mail[0]
    );
    assert!(
        mail[1].starts_with(&format!("Return-Path: <{anna}>\r\n")),
        "{}",
        mail[1]
    );
}
