//! A real client: Python's `smtplib` signs in over STARTTLS and sends.

use std::time::Duration;

use crate::support::{ERIC, JANE, PASSWORD, Server};

const SCRIPT: &str = r#"
import smtplib, ssl, sys
host, port, cafile, user, password, sender, rcpt = sys.argv[1:8]
context = ssl.create_default_context(cafile=cafile)
context.check_hostname = False  # the certificate names localhost
message = ("From: " + sender + "\r\nTo: " + rcpt +
           "\r\nSubject: from smtplib\r\n\r\nHello from Python.\r\n.dot line\r\n")
with smtplib.SMTP(host, int(port), local_hostname="python.example", timeout=30) as smtp:
    smtp.starttls(context=context)
    smtp.login(user, password)
    refused = smtp.sendmail(sender, [rcpt], message)
    assert not refused, refused
print("SENT")
"#;

#[tokio::test]
async fn python_smtplib_starttls_login_sendmail() {
    if std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("python3 is not installed: skipping the smtplib test");
        return;
    }
    let server = Server::submission().await;
    let run = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg("127.0.0.1")
        .arg(server.addr.port().to_string())
        .arg(&server.cert)
        .arg(ERIC)
        .arg(PASSWORD)
        .arg(ERIC)
        .arg(JANE)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("smtplib hung")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("SENT"),
        "{stdout}\n{stderr}"
    );
    let inbox = server.inbox(JANE);
    assert_eq!(inbox.len(), 1);
    let stored = String::from_utf8(inbox[0].1.clone()).unwrap();
    assert!(
        stored.starts_with("Return-Path: <")
            && stored.contains("\r\nReceived: from python.example ([127.0.0.1])"),
        "{stored}"
    );
    assert!(
        stored.contains("with ESMTPSA\r\n\t(version=TLSv1."),
        "{stored}"
    );
    assert!(
        stored.contains("\r\nMessage-ID: <") && stored.contains("\r\nDate: "),
        "{stored}"
    );
    assert!(
        stored.ends_with("Subject: from smtplib\r\n\r\nHello from Python.\r\n.dot line\r\n"),
        "{stored}"
    );
}
