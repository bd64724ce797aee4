//! Suspension holds mail, as the service promises (issue 24): while an
//! organisation is suspended, or its Organisation Administrator has held
//! its delivery, mail for it is accepted and waits in the queue; the wait
//! counts neither against the maximum age nor towards a delay notice; on
//! resumption everything is delivered exactly once and nothing bounces.

use std::time::{Duration, Instant};

use crate::harness::{
    PATIENCE, Ward, cli, cli_as, demo_on, demo_with, inbox, submit_many, write_config,
};
use crate::relay::{Gateway, connect_northshire, free_port, gateway_certificates, received};

const CAROL: &str = "carol@northshire.gov.uk.cjsm.net";

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE * 2;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn is_report(raw: &[u8]) -> bool {
    let text = String::from_utf8_lossy(raw);
    text.contains("multipart/report") || text.contains("message/delivery-status")
}

#[test]
fn a_suspension_longer_than_max_age_holds_mail_and_resumption_delivers_it_once() {
    const PER_SENDER: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = gateway_certificates(dir.path());
    let port = free_port();
    let config = write_config(
        dir.path(),
        &format!(
            "[tls]\nextra_ca_file = \"{}\"\n\n[relay]\nretry_schedule = [\"1s\"]\nmax_age = \"3s\"\ndelay_notice_after = \"1s\"\n",
            ca.display()
        ),
    );
    let users = demo_on(&config);
    connect_northshire(&config, port);
    let received_dir = dir.path().join("received");
    let _gateway = Gateway::start(port, &cert, &key, &received_dir);
    let mut ward = Ward::start(&config, &[]);

    let said = cli(&config, &["org", "suspend", "northshire.gov.uk"]);
    assert!(said.contains("suspended"), "{said}");
    let submission = ward.addr("submission").port();
    let senders = [&users[0], &users[1]];
    for (n, (address, password)) in senders.iter().enumerate() {
        submit_many(
            submission,
            address,
            password,
            CAROL,
            &format!("s{n}"),
            PER_SENDER,
        );
    }
    let status = cli(&config, &["status"]);
    assert!(
        status.contains(&format!("queue       {} message(s)", 2 * PER_SENDER)),
        "every message waits in the queue: {status}"
    );
    // Longer than max_age (3 s) and the delay notice age (1 s).
    std::thread::sleep(Duration::from_secs(6));
    assert!(
        received(&received_dir).is_empty(),
        "nothing delivered while suspended"
    );
    let status = cli(&config, &["status"]);
    assert!(
        status.contains(&format!("queue       {} message(s)", 2 * PER_SENDER)),
        "nothing expired while suspended: {status}"
    );

    let said = cli(&config, &["org", "resume", "northshire.gov.uk"]);
    assert!(said.contains("resumed"), "{said}");
    wait_for("every held message to arrive", || {
        received(&received_dir).len() == 2 * PER_SENDER
            && cli(&config, &["queue", "list"]).contains("the queue is empty")
    });
    let seen = received(&received_dir);
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    let audit = cli(&config, &["audit", "--limit", "5000"]);
    assert!(!audit.contains("relay.fail"), "nothing failed: {audit}");
    ward.signal("TERM");
    assert!(ward.wait().success());
    for (address, _) in senders {
        let reports = inbox(&dir.path().join("data"), address)
            .iter()
            .filter(|m| is_report(m))
            .count();
        assert_eq!(reports, 0, "no delay or failure report reached {address}");
    }
}

#[test]
fn an_organisation_administrator_holds_and_releases_their_own_delivery() {
    let (dir, mut ward, users) = demo_with("");
    let config = dir.path().join("ward.toml");
    let (eric, eric_password) = &users[0];
    let (anna, anna_password) = &users[1];
    let (safeguarder, safeguarder_password) = &users[2];

    // Only the organisation's own administrators (and the operator).
    let (ok, said) = cli_as(
        &config,
        &["org", "hold-delivery", "greenstonechambers.co.uk"],
        anna,
        anna_password,
    );
    assert!(!ok && said.contains("administrators"), "{said}");
    let (ok, said) = cli_as(
        &config,
        &["org", "hold-delivery", "greenstonechambers.co.uk"],
        safeguarder,
        safeguarder_password,
    );
    assert!(!ok, "another organisation's administrator: {said}");
    let (ok, said) = cli_as(
        &config,
        &["org", "hold-delivery", "greenstonechambers.co.uk"],
        eric,
        eric_password,
    );
    assert!(ok && said.contains("held"), "{said}");
    let shown = cli(&config, &["org", "show", "greenstonechambers.co.uk"]);
    assert!(shown.contains("delivery      held"), "{shown}");

    // Held: accepted, queued, not in the mailbox; members still send.
    let submission = ward.addr("submission").port();
    submit_many(
        submission,
        safeguarder,
        safeguarder_password,
        eric,
        "held",
        10,
    );
    submit_many(submission, eric, eric_password, anna, "inside", 5);
    let status = cli(&config, &["status"]);
    assert!(status.contains("queue       15 message(s)"), "{status}");
    // A mailbox that does not exist is still refused at RCPT.
    let (ok, said) = crate::harness::swaks(
        submission,
        &[
            "--tls",
            "--auth",
            "PLAIN",
            "--auth-user",
            safeguarder,
            "--auth-password",
            safeguarder_password,
            "--from",
            safeguarder,
            "--to",
            "nobody@greenstonechambers.co.uk.cjsm.net",
        ],
    );
    assert!(!ok && said.contains("550"), "{said}");

    let (ok, said) = cli_as(
        &config,
        &["org", "release-delivery", "greenstonechambers.co.uk"],
        eric,
        eric_password,
    );
    assert!(ok && said.contains("released"), "{said}");
    wait_for("the held mail to be delivered", || {
        cli(&config, &["queue", "list"]).contains("the queue is empty")
    });
    let audit = cli(&config, &["audit", "--limit", "500"]);
    assert!(audit.contains("org.delivery-hold"), "{audit}");
    assert!(audit.contains("org.delivery-release"), "{audit}");
    ward.signal("TERM");
    assert!(ward.wait().success());
    let data = dir.path().join("data");
    let held = inbox(&data, eric)
        .iter()
        .filter(|m| String::from_utf8_lossy(m).contains("@system.test>"))
        .count();
    assert_eq!(held, 10, "every held message reached the mailbox once");
    let inside = inbox(&data, anna)
        .iter()
        .filter(|m| String::from_utf8_lossy(m).contains("<inside-"))
        .count();
    assert_eq!(inside, 5);
}
