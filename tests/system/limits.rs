//! Limits that hold under attack, against the running daemon: slow
//! clients cut off by the per-command deadline and the minimum data rate,
//! an oversized line, two hundred thousand recipients, a header folded a
//! million times, MIME nested twenty thousand deep, and two thousand idle
//! connections with the per-IP cap refusing more while a normal client is
//! still served. Memory is read from /proc before and after. Every attack
//! is bounded in count and time (tests/system/scripts/smtp_attacks.py).

use std::collections::HashMap;
use std::process::Command;

use crate::harness::demo_with;

/// Megabytes of resident memory an attack may add; a leak or an unbounded
/// buffer of the attack's size would exceed it several times over.
const RSS_SLACK_KIB: i64 = 96 * 1024;

fn rss_growth(line: &str) -> i64 {
    let at = line.rfind("rss ").expect("an rss reading");
    let mut words = line[at + 4..].split_whitespace();
    let before: i64 = words.next().unwrap().parse().unwrap();
    words.next();
    let after: i64 = words.next().unwrap().trim_end_matches(';').parse().unwrap();
    after - before
}

#[test]
fn hostile_smtp_clients_are_cut_off_or_bounded() {
    let (_dir, mut ward, users) =
        demo_with("[smtp]\ncommand_timeout_seconds = 2\ndata_timeout_seconds = 2\n");
    let (user, password) = &users[0];
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/system/scripts/smtp_attacks.py"
    );
    let port = ward.addr("submission").port().to_string();
    let pid = ward.pid().to_string();
    let out = Command::new("python3")
        .args([script, &port, &pid, user, password])
        .args([
            "slow-command",
            "slow-data",
            "long-line",
            "many-recipients",
            "folded-header",
            "nested-mime",
        ])
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    let results: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once(": ")).collect();

    let slow = results["slow-command"];
    assert!(slow.contains("then 421 4.4.2"), "{slow}");
    assert!(
        !slow.starts_with("sent 33 "),
        "cut off before the line was done: {slow}"
    );
    let slow = results["slow-data"];
    assert!(slow.contains("then 421 4.4.2"), "{slow}");
    assert!(!slow.starts_with("sent 217 "), "{slow}");

    let long = results["long-line"];
    assert!(long.starts_with("500 5.5.6"), "{long}");
    assert!(
        long.contains("then 250"),
        "the connection stays usable: {long}"
    );
    assert!(rss_growth(long) < RSS_SLACK_KIB, "{long}");

    let many = results["many-recipients"];
    assert!(
        many.contains("'250': 100") && many.contains("'452': 199900"),
        "{many}"
    );
    assert!(rss_growth(many) < RSS_SLACK_KIB, "{many}");

    for name in ["folded-header", "nested-mime"] {
        let line = results[name];
        assert!(!line.starts_with("error"), "{name}: {line}");
        assert!(rss_growth(line) < RSS_SLACK_KIB, "{name}: {line}");
    }
    ward.signal("TERM");
    assert!(
        ward.wait().success(),
        "the daemon survived and stopped cleanly"
    );
}

#[test]
fn two_thousand_idle_connections_leave_room_for_a_normal_client() {
    // Under the busy mark, with time to spare before the TLS deadline, and
    // the /24 holding the flood and the normal client from 127.0.0.1; the
    // busy mark and deadlines have their own tests in `crowding`.
    let (_dir, mut ward, users) = demo_with(
        "[server]\nmax_connections = 3000\nmax_connections_per_ip = 500\n\
         max_connections_per_network = 2001\ntls_deadline_seconds = 60\n",
    );
    let (user, password) = &users[0];
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/system/scripts/smtp_attacks.py"
    );
    let out = Command::new("python3")
        .args([
            script,
            &ward.addr("submission").port().to_string(),
            &ward.pid().to_string(),
            user,
            password,
            "idle-flood",
        ])
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    let line = text.lines().next().unwrap_or_default();
    assert!(line.contains("greeted 2000 of 2000"), "{line}");
    assert!(line.contains("over the per-IP cap: 421"), "{line}");
    assert!(line.contains("normal client EHLO 250"), "{line}");
    ward.signal("TERM");
    assert!(ward.wait().success());
}

#[test]
fn hostile_imap_clients_are_cut_off_or_bounded() {
    let (_dir, mut ward, users) = demo_with("[imap]\ncommand_timeout_seconds = 2\n");
    let (user, password) = &users[0];
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/system/scripts/imap_attacks.py"
    );
    let out = Command::new("python3")
        .args([
            script,
            &ward.addr("imaps").port().to_string(),
            &ward.pid().to_string(),
            user,
            password,
        ])
        .args([
            "slow-command",
            "unfinished-literal",
            "huge-literal",
            "huge-literal-plus",
            "long-line",
            "guessing",
        ])
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    let results: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once(": ")).collect();

    let slow = results["slow-command"];
    assert!(
        slow.contains("BYE The command did not arrive in time"),
        "{slow}"
    );
    assert!(!slow.starts_with("sent 16 "), "{slow}");
    let unfinished = results["unfinished-literal"];
    assert!(
        unfinished.starts_with('+'),
        "the literal was invited: {unfinished}"
    );
    assert!(
        unfinished.contains("BYE The command did not arrive in time"),
        "{unfinished}"
    );
    let huge = results["huge-literal"];
    assert!(huge.starts_with("d NO [TOOBIG]"), "{huge}");
    assert!(
        huge.contains("then e OK"),
        "the connection stays sane: {huge}"
    );
    assert!(rss_growth(huge) < RSS_SLACK_KIB, "{huge}");
    let plus = results["huge-literal-plus"];
    assert!(plus.starts_with("d NO [TOOBIG]"), "refused at once: {plus}");
    assert!(rss_growth(plus) < RSS_SLACK_KIB, "{plus}");
    let long = results["long-line"];
    assert!(!long.starts_with("error"), "{long}");
    assert!(rss_growth(long) < RSS_SLACK_KIB, "{long}");
    let guessing = results["guessing"];
    assert!(
        !guessing.contains(" | ") && guessing.contains("AUTHENTICATIONFAILED"),
        "the same answer whether or not the account exists: {guessing}"
    );
    ward.signal("TERM");
    assert!(
        ward.wait().success(),
        "the daemon survived and stopped cleanly"
    );
}
