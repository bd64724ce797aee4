//! `[tls] extra_ca_file` is read again on SIGHUP, like the certificate: an
//! external secure domain's server whose CA is added to the file is trusted
//! from the next handshake on, and a broken file leaves the previous
//! anchors in use.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::{PATIENCE, Ward, demo_on, inbox, swaks, write_config};

/// A private CA: its certificate as PEM, and what signs with it.
struct TestCa {
    pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa {
            pem,
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A client certificate for `host`, written to `dir` as
    /// (`{file}.pem`, `{file}.key`).
    fn client(&self, host: &str, dir: &Path, file: &str) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec![host.to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, host);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let paths = (
            dir.join(format!("{file}.pem")),
            dir.join(format!("{file}.key")),
        );
        fs::write(&paths.0, cert.pem()).unwrap();
        fs::write(&paths.1, key.serialize_pem()).unwrap();
        paths
    }
}

/// Sends SIGHUP and waits until each of `needles` appears once more in the
/// log than before.
fn hup_and_wait(ward: &Ward, needles: &[&str]) {
    let count = |needle: &str| ward.log_text().matches(needle).count();
    let before: Vec<usize> = needles.iter().map(|n| count(n)).collect();
    ward.signal("HUP");
    let deadline = Instant::now() + PATIENCE;
    while needles.iter().zip(&before).any(|(n, b)| count(n) <= *b) {
        assert!(
            Instant::now() < deadline,
            "not all of {needles:?} after SIGHUP; log:\n{}",
            ward.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

const RELOADED: [&str; 2] = [
    "certificates and client CAs reloaded",
    "relay trust anchors reloaded",
];
const RELOAD_FAILED: [&str; 2] = [
    "certificate reload failed; what could not be read stays as it was",
    "relay TLS reload failed; the previous trust anchors stay in use",
];
const UNTRUSTED: &str = "invalid peer certificate: UnknownIssuer";

#[test]
fn extra_ca_file_is_read_again_on_sighup_and_a_broken_one_keeps_the_old_anchors() {
    // Two private CAs that could vouch for the Ministry's mail server (as
    // in smtp.rs); Ward is told to trust only the first.
    let dir = tempfile::tempdir().unwrap();
    let first_ca = TestCa::new("First external CA");
    let second_ca = TestCa::new("Second external CA");
    let old_server = first_ca.client("mail.justice.gov.uk", dir.path(), "old-server");
    let new_server = second_ca.client("mail.justice.gov.uk", dir.path(), "new-server");
    let extra_ca = dir.path().join("extra-ca.pem");
    fs::write(&extra_ca, &first_ca.pem).unwrap();
    let config = write_config(
        dir.path(),
        &format!("[tls]\nextra_ca_file = \"{}\"\n", extra_ca.display()),
    );
    let (eric, _) = demo_on(&config).swap_remove(0);
    let mut ward = Ward::start(&config, &[]);
    let smtp = ward.addr("smtp").port();
    let send = |(cert, key): &(PathBuf, PathBuf), body: &str| {
        swaks(
            smtp,
            &[
                "--tls",
                "--from",
                "clerk@justice.gov.uk",
                "--to",
                &eric,
                "--body",
                body,
                "--tls-cert",
                cert.to_str().unwrap(),
                "--tls-key",
                key.to_str().unwrap(),
            ],
        )
    };
    // The server rejects an unknown issuer's certificate at the handshake
    // (under TLS 1.3 the client learns of it at its first read): nothing
    // is answered over TLS, so MAIL is never reached.
    let refused = |server: &(PathBuf, PathBuf), body: &str, when: &str| {
        let rejections = ward.log_text().matches(UNTRUSTED).count();
        let (ok, text) = send(server, body);
        assert!(
            !ok && text.contains("Remote host closed connection")
                && !text.contains("<~ ")
                && !text.contains("MAIL FROM"),
            "{when}: {text}"
        );
        let deadline = Instant::now() + PATIENCE;
        while ward.log_text().matches(UNTRUSTED).count() <= rejections {
            assert!(
                Instant::now() < deadline,
                "{when}: no {UNTRUSTED:?} in the log:\n{}",
                ward.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let accepted = |server: &(PathBuf, PathBuf), body: &str, when: &str| {
        let (ok, text) = send(server, body);
        assert!(
            ok && text.contains("<~  250 2.0.0 Message accepted"),
            "{when}: {text}"
        );
    };

    // Only the first CA is trusted.
    accepted(&old_server, "first CA, before the reload", "first CA");
    refused(
        &new_server,
        "second CA, before the reload",
        "second CA before the reload",
    );

    // The second CA joins the file; SIGHUP: trusted from the next handshake.
    fs::write(&extra_ca, format!("{}{}", first_ca.pem, second_ca.pem)).unwrap();
    hup_and_wait(&ward, &RELOADED);
    accepted(
        &new_server,
        "second CA, after the reload",
        "second CA after the reload",
    );
    accepted(
        &old_server,
        "first CA, after the reload",
        "first CA after the reload",
    );

    // Broken files: each reload fails with a warning and both CAs stay.
    let bogus_der = "-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGUgYXQgYWxs\n-----END CERTIFICATE-----\n";
    for (broken, what) in [
        (Some("this is not a certificate\n"), "garbage"),
        (Some(bogus_der), "a PEM block that is no certificate"),
        (None, "no file"),
    ] {
        match broken {
            Some(text) => fs::write(&extra_ca, text).unwrap(),
            None => fs::remove_file(&extra_ca).unwrap(),
        }
        hup_and_wait(&ward, &RELOAD_FAILED);
        accepted(
            &new_server,
            &format!("second CA, after {what}"),
            &format!("second CA after {what}"),
        );
        accepted(
            &old_server,
            &format!("first CA, after {what}"),
            &format!("first CA after {what}"),
        );
    }

    // A good file again, now without the first CA: it is no longer trusted.
    fs::write(&extra_ca, &second_ca.pem).unwrap();
    hup_and_wait(&ward, &RELOADED);
    accepted(
        &new_server,
        "second CA, alone in the file",
        "second CA alone",
    );
    refused(
        &old_server,
        "first CA, removed from the file",
        "first CA removed",
    );

    ward.signal("TERM");
    assert!(ward.wait().success());
    let bodies: Vec<String> = inbox(&ward.data, &eric)
        .iter()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .collect();
    let expected = [
        "first CA, before the reload",
        "second CA, after the reload",
        "first CA, after the reload",
        "second CA, after garbage",
        "first CA, after garbage",
        "second CA, after a PEM block that is no certificate",
        "first CA, after a PEM block that is no certificate",
        "second CA, after no file",
        "first CA, after no file",
        "second CA, alone in the file",
    ];
    assert_eq!(bodies.len(), expected.len(), "{bodies:#?}");
    for (body, want) in bodies.iter().zip(expected) {
        assert!(body.contains(want), "expected {want:?} in {body}");
    }
}
