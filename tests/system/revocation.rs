//! Revocation and suspension bite at once (issue 25): open SMTP and IMAP
//! sessions end when their account is suspended or its password changed,
//! when their organisation is suspended, or when the gateway certificate
//! they connected with is revoked.

use std::collections::HashMap;
use std::process::Command;

use crate::harness::{demo, gateway_certificate, ward_bin};

#[test]
fn changed_credentials_end_open_sessions() {
    let (dir, mut ward, users) = demo();
    let (eric, eric_password) = &users[0];
    let (anna, anna_password) = &users[1];
    let config = dir.path().join("ward.toml");
    let (cert, key) = gateway_certificate(
        &config,
        "safeguarder",
        "safeguarders.org.uk.cjsm.net",
        &dir.path().join("certs"),
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/system/scripts/revocation.py"
    );
    let out = Command::new("python3")
        .arg(script)
        .arg(ward_bin())
        .arg(&config)
        .args([
            ward.addr("submission").port().to_string(),
            ward.addr("smtp").port().to_string(),
            ward.addr("imaps").port().to_string(),
        ])
        .arg(&cert)
        .arg(&key)
        .args([anna, anna_password, eric, eric_password])
        .arg("case.worker@safeguarder.cjsm.net")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success());
    let said: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once(": ")).collect();
    let ends = |name: &str, words: &[&str]| {
        let outcome = said.get(name).copied().unwrap_or("missing");
        assert!(
            words.iter().all(|w| outcome.contains(w)),
            "{name}: {outcome} (wanted {words:?})"
        );
    };
    ends("anna smtp", &["421", "4.7.0", "suspended"]);
    ends("anna imap", &["abort", "CONTACTADMIN"]);
    ends("eric smtp still", &["250"]);
    ends(
        "eric imap",
        &["abort", "UNAVAILABLE", "password was changed"],
    );
    ends("eric smtp", &["421", "password was changed"]);
    ends("eric new imap", &["OK"]);
    ends("gateway before", &["250"]);
    ends("gateway suspended", &["421", "suspended"]);
    ends("gateway again", &["250"]);
    ends("gateway revoked", &["421", "certificate was revoked"]);
    ward.signal("TERM");
    assert!(ward.wait().success());
}
