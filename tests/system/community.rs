//! The end-to-end community scenario (tests/community/scenario.py, issue 9)
//! against this build's `ward` binary: hosted and SMTP-connected
//! organisations, an external secure domain behind a DNS responder, real
//! clients, an outage and a crash. The script prints each step; this test
//! passes when every step passed.

use std::process::Command;

use crate::harness::ward_bin;

#[test]
fn the_whole_secure_community_works_end_to_end() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/community/scenario.py"
    );
    let out = Command::new("python3")
        .args([script, "--ward", ward_bin()])
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("11 passed, 0 failed"), "{text}");
}
