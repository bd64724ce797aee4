//! The operator's queue commands against the running daemon: mail for an
//! SMTP organisation whose gateway is down waits in the queue, and
//! `ward queue list|show|hold|release|flush|delete` and `ward status` show
//! and change it, each action audited.

use crate::harness::{cli, demo, swaks};

#[test]
fn queued_mail_is_listed_held_released_flushed_and_deleted() {
    let (dir, mut ward, users) = demo();
    let config = dir.path().join("ward.toml");
    let (eric, eric_pw) = &users[0];
    let submission = ward.addr("submission").port();
    // The demo's Safeguarder Service is an SMTP organisation whose gateway
    // (localhost:2526) is not running: its mail waits in the queue.
    let to = "case.worker@safeguarder.cjsm.net";
    for n in 0..2 {
        let body = format!("queued message {n}");
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
                to,
                "--body",
                &body,
            ],
        );
        assert!(ok, "{text}");
    }

    let listed = cli(&config, &["queue", "list"]);
    assert!(listed.contains("2 queued message(s)"), "{listed}");
    assert!(
        listed.contains(eric.as_str()) && listed.contains(to),
        "{listed}"
    );
    assert!(listed.contains("localhost"), "the destination: {listed}");
    let ids: Vec<String> = listed
        .lines()
        .filter(|l| l.contains(" tries "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.chars().all(|c| c.is_ascii_digit()))
        .map(str::to_owned)
        .collect();
    assert_eq!(ids.len(), 2, "{listed}");

    let status = cli(&config, &["status"]);
    assert!(status.contains("queue       2 message(s)"), "{status}");

    let held = cli(&config, &["queue", "hold", &ids[0]]);
    assert!(held.contains("held"), "{held}");
    let shown = cli(&config, &["queue", "show", &ids[0]]);
    assert!(shown.contains("HELD") && shown.contains(to), "{shown}");
    let status = cli(&config, &["status"]);
    assert!(status.contains("1 held"), "{status}");
    let released = cli(&config, &["queue", "release", &ids[0]]);
    assert!(released.contains("released"), "{released}");
    let flushed = cli(&config, &["queue", "flush", "safeguarder.cjsm.net"]);
    assert!(
        flushed.contains("2 queued message(s) will be tried now"),
        "{flushed}"
    );
    // The organisation's domain without the suffix names it too.
    let flushed = cli(&config, &["queue", "flush", "safeguarder"]);
    assert!(
        flushed.contains("2 queued message(s) will be tried now"),
        "{flushed}"
    );
    let flushed = cli(&config, &["queue", "flush", "nowhere.example"]);
    assert!(flushed.contains("0 queued message(s)"), "{flushed}");
    let deleted = cli(&config, &["queue", "delete", &ids[1]]);
    assert!(deleted.contains("deleted"), "{deleted}");
    let listed = cli(&config, &["queue", "list"]);
    assert!(listed.contains("1 queued message(s)"), "{listed}");

    let out = std::process::Command::new(crate::harness::ward_bin())
        .args(["queue", "show", "999999", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no queued message 999999"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let audit = cli(&config, &["audit"]);
    for action in ["queue.hold", "queue.release", "queue.flush", "queue.delete"] {
        assert!(audit.contains(action), "{action} audited: {audit}");
    }
    ward.signal("TERM");
    assert!(ward.wait().success());

    // With the daemon stopped the CLI reads the store itself.
    let listed = cli(&config, &["queue", "list"]);
    assert!(listed.contains("1 queued message(s)"), "{listed}");
}
