//! The daemon's lifecycle: start, readiness, TLS on every listener, status,
//! SIGTERM, SIGHUP, restart on the same data folder, connection caps.

use std::fs;

use tokio::io::AsyncWriteExt;

use crate::harness::{
    Client, PATIENCE, Ward, connector, handshake, peer_certificate, tcp, ward, write_config,
};

/// STARTTLS on an SMTP listener; returns the certificate presented.
async fn smtp_starttls(ward: &Ward, kind: &str) -> Vec<u8> {
    let connector = connector(ward.certificate());
    let mut client = Client::new(tcp(ward.addr(kind)).await);
    assert!(client.reply().await[0].starts_with("220 localhost"));
    client.send("EHLO test.example").await;
    let ehlo = client.reply().await;
    assert!(ehlo.iter().any(|l| l.ends_with("STARTTLS")), "{ehlo:?}");
    client.send("MAIL FROM:<a@b.example>").await;
    // Still in clear text: no mail before TLS.
    let refused = client.reply().await;
    assert!(refused[0].starts_with("530 5.7.0"), "{refused:?}");

    let mut client = Client::new(tcp(ward.addr(kind)).await);
    client.reply().await;
    client.send("STARTTLS").await;
    assert!(client.reply().await[0].starts_with("220 2.0.0"));
    let tls = handshake(&connector, client.into_inner()).await;
    let cert = peer_certificate(&tls).to_vec();
    let mut client = Client::new(tls);
    client.send("EHLO test.example").await;
    let ehlo = client.reply().await;
    assert!(ehlo[0].starts_with("250-localhost"), "{ehlo:?}");
    assert!(
        !ehlo.iter().any(|l| l.contains("STARTTLS")),
        "STARTTLS offered inside TLS: {ehlo:?}"
    );
    client.send("QUIT").await;
    assert!(client.reply().await[0].starts_with("221"));
    cert
}

/// STARTTLS on the IMAP listener.
async fn imap_starttls(ward: &Ward) -> Vec<u8> {
    let connector = connector(ward.certificate());
    let mut client = Client::new(tcp(ward.addr("imap")).await);
    let greeting = client.line().await;
    assert!(
        greeting.starts_with("* OK [CAPABILITY IMAP4rev1")
            && greeting.contains("STARTTLS LOGINDISABLED]"),
        "{greeting}"
    );
    client.send("a1 STARTTLS").await;
    assert_eq!(
        client.tagged("a1").await.last().unwrap(),
        "a1 OK Begin TLS negotiation now"
    );
    let tls = handshake(&connector, client.into_inner()).await;
    let cert = peer_certificate(&tls).to_vec();
    let mut client = Client::new(tls);
    client.send("a2 CAPABILITY").await;
    let caps = client.tagged("a2").await;
    assert!(caps[0].starts_with("* CAPABILITY IMAP4rev1"), "{caps:?}");
    assert!(!caps[0].contains("STARTTLS"));
    client.send("a3 LOGIN alice secret").await;
    assert!(
        client
            .tagged("a3")
            .await
            .last()
            .unwrap()
            .starts_with("a3 NO [AUTHENTICATIONFAILED]")
    );
    client.send("a4 LOGOUT").await;
    assert!(
        client
            .tagged("a4")
            .await
            .last()
            .unwrap()
            .starts_with("a4 OK")
    );
    cert
}

/// Implicit TLS on `kind`; returns the certificate and the first line.
async fn implicit_tls(ward: &Ward, kind: &str) -> (Vec<u8>, String) {
    let connector = connector(ward.certificate());
    let tls = handshake(&connector, tcp(ward.addr(kind)).await).await;
    let cert = peer_certificate(&tls).to_vec();
    let mut client = Client::new(tls);
    (cert, client.line().await)
}

async fn every_tls_listener(ward: &Ward) -> Vec<Vec<u8>> {
    let (smtps, banner) = implicit_tls(ward, "submissions").await;
    assert!(banner.starts_with("220 localhost ESMTP"), "{banner}");
    let (imaps, banner) = implicit_tls(ward, "imaps").await;
    assert!(banner.starts_with("* OK [CAPABILITY IMAP4rev1"), "{banner}");
    assert!(!banner.contains("LOGINDISABLED"), "TLS is up: {banner}");
    vec![
        smtp_starttls(ward, "smtp").await,
        smtp_starttls(ward, "submission").await,
        imap_starttls(ward).await,
        smtps,
        imaps,
    ]
}

#[tokio::test]
async fn serves_tls_everywhere_reports_status_stops_cleanly_and_keeps_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let mut daemon = Ward::start(&config, &["--log-format", "json"]);
    assert_eq!(daemon.listeners.len(), 5);

    let first_cert = daemon.certificate();
    for cert in every_tls_listener(&daemon).await {
        assert_eq!(
            cert,
            first_cert.to_vec(),
            "every listener presents the generated certificate"
        );
    }

    let out = ward(&["status", "--config", config.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(concat!("Ward ", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    assert!(text.contains("uptime"), "{text}");
    for addr in daemon.listeners.values() {
        assert!(
            text.contains(&addr.to_string()),
            "{addr} missing from {text}"
        );
    }

    // The first start explained itself, once.
    let stdout = fs::read_to_string(dir.path().join("stdout.txt")).unwrap();
    assert!(
        stdout.contains("Ward is starting for the first time"),
        "{stdout}"
    );

    daemon.signal("TERM");
    let status = daemon.wait();
    assert_eq!(status.code(), Some(0), "log:\n{}", daemon.log_text());
    assert!(
        !daemon.data.join("admin.sock").exists(),
        "admin socket removed on exit"
    );

    // JSON logs, with a span per connection naming the peer.
    let log = daemon.log_text();
    let events: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["span"]["name"] == "conn" && e["span"]["peer"].is_string())
    );

    // Restarted on the same folder: same certificate, no first-start banner.
    let mut ward = Ward::start(&config, &[]);
    assert_eq!(ward.certificate(), first_cert);
    let (cert, _) = implicit_tls(&ward, "imaps").await;
    assert_eq!(cert, first_cert.to_vec());
    let stdout = fs::read_to_string(dir.path().join("stdout.txt")).unwrap();
    assert!(!stdout.contains("first time"), "{stdout}");
    ward.signal("INT");
    assert_eq!(ward.wait().code(), Some(0));
}

#[tokio::test]
async fn open_sessions_are_told_before_the_daemon_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut ward = Ward::start(&write_config(dir.path(), ""), &[]);
    let mut smtp = Client::new(tcp(ward.addr("smtp")).await);
    smtp.reply().await;
    let mut imap = Client::new(tcp(ward.addr("imap")).await);
    imap.line().await;
    ward.signal("TERM");
    assert!(smtp.reply().await[0].starts_with("421 4.3.2"));
    assert!(imap.line().await.starts_with("* BYE"));
    assert_eq!(ward.wait().code(), Some(0));
    // After exit nothing listens any more.
    assert!(
        tokio::net::TcpStream::connect(ward.addr("smtp"))
            .await
            .is_err()
    );
}

fn write_pair(dir: &std::path::Path, org: &str) {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::OrganizationName, org);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
    fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
}

#[tokio::test]
async fn sighup_reloads_the_certificate_without_dropping_connections() {
    let dir = tempfile::tempdir().unwrap();
    write_pair(dir.path(), "first");
    let config = write_config(
        dir.path(),
        "[tls]\ncertificate = \"cert.pem\"\nprivate_key = \"key.pem\"\n",
    );
    let mut ward = Ward::start(&config, &[]);
    let first =
        rustls_pki_types::pem::PemObject::from_pem_file(dir.path().join("cert.pem")).unwrap();
    let tls = handshake(&connector(first), tcp(ward.addr("submissions")).await).await;
    let mut open = Client::new(tls);
    open.reply().await;

    write_pair(dir.path(), "second");
    let second: rustls_pki_types::CertificateDer<'static> =
        rustls_pki_types::pem::PemObject::from_pem_file(dir.path().join("cert.pem")).unwrap();
    ward.signal("HUP");
    // The reload is asynchronous: poll until new handshakes see the new certificate.
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let tcp = tcp(ward.addr("submissions")).await;
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        if let Ok(tls) = connector(second.clone()).connect(name, tcp).await {
            assert_eq!(crate::harness::peer_certificate(&tls), second);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "certificate never reloaded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The connection opened before the reload still works.
    open.send("NOOP").await;
    assert!(open.reply().await[0].starts_with("250"));
    assert!(
        ward.log_text()
            .contains("certificates and client CAs reloaded")
    );

    // A broken certificate on reload keeps the working one.
    fs::write(dir.path().join("cert.pem"), "garbage").unwrap();
    ward.signal("HUP");
    let deadline = std::time::Instant::now() + PATIENCE;
    while !ward.log_text().contains("certificate reload failed") {
        assert!(
            std::time::Instant::now() < deadline,
            "reload failure never logged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    handshake(&connector(second), tcp(ward.addr("submissions")).await).await;
    ward.signal("TERM");
    assert_eq!(ward.wait().code(), Some(0));
}

#[tokio::test]
async fn connections_beyond_the_per_ip_cap_are_refused_with_421() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let text = fs::read_to_string(&config).unwrap().replace(
        "shutdown_grace_seconds = 5",
        "shutdown_grace_seconds = 5\nmax_connections_per_ip = 2",
    );
    fs::write(&config, text).unwrap();
    let mut ward = Ward::start(&config, &[]);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = Client::new(tcp(ward.addr("smtp")).await);
        assert!(c.reply().await[0].starts_with("220"));
        held.push(c);
    }
    let mut third = Client::new(tcp(ward.addr("smtp")).await);
    assert!(third.reply().await[0].starts_with("421 4.7.0"));
    assert_eq!(third.line().await, "", "closed after the refusal");
    // A place frees when a client leaves.
    let mut first = held.remove(0);
    first.send("QUIT").await;
    first.reply().await;
    drop(first);
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let mut again = Client::new(tcp(ward.addr("smtp")).await);
        if again.reply().await[0].starts_with("220") {
            break;
        }
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    ward.signal("TERM");
    assert_eq!(ward.wait().code(), Some(0));
}

#[tokio::test]
async fn a_second_daemon_on_the_same_data_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let mut ward = Ward::start(&config, &[]);
    let out = crate::harness::ward(&["serve", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot open the store"), "{err}");
    // The first one is unharmed.
    let mut c = Client::new(tcp(ward.addr("smtp")).await);
    assert!(c.reply().await[0].starts_with("220"));
    c.send("QUIT").await;
    c.reply().await;
    let mut sock = c.into_inner();
    let _ = sock.shutdown().await;
    ward.signal("TERM");
    assert_eq!(ward.wait().code(), Some(0));
}

#[test]
fn status_without_a_daemon_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = ward(&[
        "status",
        "--data",
        dir.path().join("data").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Ward is not running"));
}
