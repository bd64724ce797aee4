//! The TLS policy on every listener, checked by handshaking with what it
//! forbids: TLS 1.0 and 1.1, TLS 1.2 suites without forward secrecy or
//! without AEAD, null and export suites. TLS 1.2 with an ECDHE AEAD suite
//! and TLS 1.3 are accepted, without compression. (Renegotiation does not
//! exist in rustls, which Ward uses for every TLS endpoint.)

use std::process::Command;

use crate::harness::{Ward, write_config};

#[test]
fn forbidden_versions_and_suites_are_refused_on_every_listener() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let mut ward = Ward::start(&config, &[]);
    let args: Vec<String> = ["smtp", "submission", "submissions", "imap", "imaps"]
        .iter()
        .map(|kind| format!("{kind}:{}", ward.addr(kind).port()))
        .collect();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/system/scripts/tls_policy.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .args(&args)
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    let mut checked = 0;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (kind, attempt, result) = (
            words.next().unwrap(),
            words.next().unwrap(),
            words.next().unwrap(),
        );
        if result == "client-cannot" {
            // This machine's OpenSSL cannot even offer it; nothing to test.
            continue;
        }
        let allowed = matches!(attempt, "tls1.2-aead" | "tls1.3");
        if allowed {
            assert_eq!(result, "accepted", "{kind} {attempt}: {line}");
            assert!(line.ends_with("compression=None"), "{line}");
        } else {
            assert_eq!(
                result, "refused",
                "{kind} {attempt} must be refused: {line}"
            );
            // The server's own alert, not the client failing to offer it.
            assert!(line.contains("ALERT"), "{kind} {attempt}: {line}");
        }
        checked += 1;
    }
    assert!(checked >= 5 * 4, "too few attempts could be made:\n{text}");
    ward.signal("TERM");
    assert!(ward.wait().success());
}
