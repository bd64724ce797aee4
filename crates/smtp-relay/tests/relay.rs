//! The relay against real TLS SMTP sinks and a DNS responder on loopback.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use policy::SuffixRewrite;
use store::{QueueEnvelope, RecipientState};
use support::{Fixture, Pki, Sink, SinkOptions, free_port, gateway_org, wait_for};

const LIMIT: Duration = Duration::from_secs(60);

fn text(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

fn tls(f: &Fixture, names: &[&str]) -> SinkOptions {
    SinkOptions {
        tls: Some(f.pki.server(names)),
        reject: Vec::new(),
        implicit: false,
        tempfail_rcpts: 0,
        data_delay: Duration::ZERO,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_over_verified_tls_grouping_recipients_and_rewriting_the_suffix() {
    let port = free_port().await;
    let f = Fixture::new(vec![gateway_org(
        "Kent Probation",
        "kentprobation.org.uk",
        port,
        SuffixRewrite::StripSuffix,
    )])
    .await;
    let sink = Sink::start(&format!("127.0.0.1:{port}"), tls(&f, &["localhost"])).await;
    for i in 0..3 {
        f.enqueue(
            &[
                "ann@kentprobation.org.uk.cjsm.net",
                "bob@kentprobation.org.uk.cjsm.net",
            ],
            &format!("group-{i}@ward.test"),
        );
    }
    let mut config = f.config();
    config.max_connections_per_destination = 1;
    let relay = f.start(config);
    wait_for(LIMIT, "three messages", || sink.messages().len() == 3).await;
    wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
    relay.stop().await;

    let messages = sink.messages();
    for m in &messages {
        assert!(m.tls, "delivered in clear");
        // One transaction for both recipients, the suffix stripped.
        assert_eq!(
            m.rcpt_to,
            ["ann@kentprobation.org.uk", "bob@kentprobation.org.uk"]
        );
        assert_eq!(m.mail_from, support::SENDER);
        let to = m.header("To").unwrap();
        assert_eq!(to, "ann@kentprobation.org.uk, bob@kentprobation.org.uk");
        // Dot-stuffing undone by the peer: the body arrives as it was.
        assert!(text(&m.data).contains("\r\n.leading dot\r\n"));
    }
    // One connection carried all three messages (the sink records it when
    // the connection ends, which the relay's stop only starts).
    wait_for(LIMIT, "the connection to end", || {
        !sink.transactions_per_connection().is_empty()
    })
    .await;
    assert_eq!(sink.connections(), 1);
    assert_eq!(sink.transactions_per_connection(), [3]);
    assert!(!text(&sink.plain()).contains("MAIL FROM"));

    // Every delivery is audited with its TLS version and cipher.
    let audit = f.store.audit_records(1, 100).unwrap();
    let deliveries: Vec<_> = audit
        .iter()
        .filter(|r| r.action == "relay.deliver")
        .collect();
    assert_eq!(deliveries.len(), 3);
    for r in deliveries {
        assert_eq!(r.actor, "system");
        assert!(r.source.contains("localhost"), "{r:?}");
        assert!(r.detail.contains("tls=TLSv1.3"), "{r:?}");
        assert!(r.detail.contains("cipher=TLS13_"), "{r:?}");
        assert!(r.detail.contains("message-id=<group-"), "{r:?}");
        assert!(r.detail.contains("ann@kentprobation.org.uk"), "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_starttls_or_a_bad_certificate_never_sends_in_clear_and_bounces_at_expiry() {
    let plain_port = free_port().await;
    let forged_port = free_port().await;
    let wrong_name_port = free_port().await;
    let f = Fixture::new(vec![
        gateway_org(
            "Plain",
            "plain.org.uk",
            plain_port,
            SuffixRewrite::KeepSuffix,
        ),
        gateway_org(
            "Forged",
            "forged.org.uk",
            forged_port,
            SuffixRewrite::KeepSuffix,
        ),
        gateway_org(
            "Misnamed",
            "misnamed.org.uk",
            wrong_name_port,
            SuffixRewrite::KeepSuffix,
        ),
    ])
    .await;
    let plain = Sink::start(
        &format!("127.0.0.1:{plain_port}"),
        SinkOptions {
            tls: None,
            reject: Vec::new(),
            implicit: false,
            tempfail_rcpts: 0,
            data_delay: Duration::ZERO,
        },
    )
    .await;
    let forged = Sink::start(
        &format!("127.0.0.1:{forged_port}"),
        SinkOptions {
            tls: Some(Pki::untrusted_server(&["localhost"])),
            reject: Vec::new(),
            implicit: false,
            tempfail_rcpts: 0,
            data_delay: Duration::ZERO,
        },
    )
    .await;
    let misnamed = Sink::start(
        &format!("127.0.0.1:{wrong_name_port}"),
        tls(&f, &["somewhere-else.test"]),
    )
    .await;
    f.enqueue(&["x@plain.org.uk.cjsm.net"], "plain@ward.test");
    f.enqueue(&["x@forged.org.uk.cjsm.net"], "forged@ward.test");
    f.enqueue(&["x@misnamed.org.uk.cjsm.net"], "misnamed@ward.test");
    let mut config = f.config();
    config.max_age = Duration::from_secs(4);
    let relay = f.start(config);

    // Tried, refused to go on, and still queued.
    wait_for(LIMIT, "attempts at every gateway", || {
        plain.connections() > 0 && forged.connections() > 0 && misnamed.connections() > 0
    })
    .await;
    wait_for(LIMIT, "deferred recipients", || {
        f.store
            .queue_entries()
            .unwrap()
            .iter()
            .all(|(_, e)| matches!(e.recipients[0].state, RecipientState::Deferred { .. }))
    })
    .await;
    assert_eq!(f.queue_len(), 3);

    // At expiry the sender learns why.
    wait_for(LIMIT, "three failure reports", || f.inbox().len() == 3).await;
    wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
    relay.stop().await;

    for sink in [&plain, &forged, &misnamed] {
        assert!(sink.messages().is_empty());
        let seen = text(&sink.raw());
        assert!(!seen.contains("MAIL FROM"), "{seen}");
        assert!(!seen.contains("RCPT TO"), "{seen}");
        assert!(!seen.contains("Hello."), "{seen}");
    }
    let reports: Vec<String> = f.inbox().iter().map(|r| text(r)).collect();
    let find = |id: &str| {
        reports
            .iter()
            .find(|r| r.contains(id))
            .unwrap_or_else(|| panic!("no report for {id}: {reports:?}"))
            .clone()
    };
    let r = find("plain@ward.test");
    assert!(r.contains("does not offer STARTTLS"), "{r}");
    assert!(
        r.contains("Action: failed") && r.contains("Status: 5.4.7"),
        "{r}"
    );
    assert!(
        r.contains("Final-Recipient: rfc822; x@plain.org.uk.cjsm.net"),
        "{r}"
    );
    let r = find("forged@ward.test");
    assert!(r.contains("TLS with localhost"), "{r}");
    assert!(r.to_lowercase().contains("certificate"), "{r}");
    let r = find("misnamed@ward.test");
    assert!(r.to_lowercase().contains("certificate"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_outage_500_messages_arrive_exactly_once() {
    let port = free_port().await;
    let f = Fixture::new(vec![gateway_org(
        "Kent Police",
        "kentpolice.org.uk",
        port,
        SuffixRewrite::KeepSuffix,
    )])
    .await;
    for i in 0..500 {
        f.enqueue(
            &["duty.officer@kentpolice.org.uk.cjsm.net"],
            &format!("outage-{i}@ward.test"),
        );
    }
    let relay = f.start(f.config());
    // The gateway is down: every message is tried and deferred.
    wait_for(LIMIT, "500 deferred messages", || {
        f.store
            .queue_entries()
            .unwrap()
            .iter()
            .filter(|(_, e)| e.recipients[0].attempts >= 1)
            .count()
            == 500
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(f.queue_len(), 500);

    // It comes back.
    let sink = Sink::start(&format!("127.0.0.1:{port}"), tls(&f, &["localhost"])).await;
    wait_for(Duration::from_secs(120), "an empty queue", || {
        f.queue_len() == 0
    })
    .await;
    // Give a duplicate every chance to show up.
    tokio::time::sleep(Duration::from_secs(2)).await;
    relay.stop().await;

    let mut seen: HashMap<String, usize> = HashMap::new();
    for m in sink.messages() {
        *seen.entry(m.header("Message-ID").unwrap()).or_default() += 1;
    }
    assert_eq!(seen.len(), 500, "every message arrived");
    assert!(seen.values().all(|&n| n == 1), "a message arrived twice");
    assert!(f.inbox().is_empty(), "no report for delivered mail");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_for_one_recipient_of_three_bounces_only_that_one() {
    let port = free_port().await;
    let f = Fixture::new(vec![gateway_org(
        "Kent Probation",
        "kentprobation.org.uk",
        port,
        SuffixRewrite::KeepSuffix,
    )])
    .await;
    let mut options = tls(&f, &["localhost"]);
    options.reject = vec!["bob@kentprobation.org.uk.cjsm.net".into()];
    let sink = Sink::start(&format!("127.0.0.1:{port}"), options).await;
    f.enqueue(
        &[
            "ann@kentprobation.org.uk.cjsm.net",
            "bob@kentprobation.org.uk.cjsm.net",
            "cat@kentprobation.org.uk.cjsm.net",
        ],
        "three@ward.test",
    );
    let relay = f.start(f.config());
    wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
    wait_for(LIMIT, "one report", || f.inbox().len() == 1).await;
    relay.stop().await;

    let messages = sink.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].rcpt_to,
        [
            "ann@kentprobation.org.uk.cjsm.net",
            "cat@kentprobation.org.uk.cjsm.net"
        ]
    );
    let report = text(&f.inbox()[0]);
    assert!(report.contains("Final-Recipient: rfc822; bob@kentprobation.org.uk.cjsm.net"));
    assert!(report.contains("Status: 5.1.1"), "{report}");
    assert!(report.contains("Diagnostic-Code: smtp; 550 5.1.1 no such user here"));
    assert!(
        !report.contains("Final-Recipient: rfc822; ann@"),
        "{report}"
    );
    assert!(
        !report.contains("Final-Recipient: rfc822; cat@"),
        "{report}"
    );
    assert!(report.contains("Hello."), "the whole message is returned");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mx_by_preference_falls_back_to_the_next_and_refuses_null_mx() {
    let f = Fixture::new(Vec::new()).await;
    // mx1 (preference 10) is down; mx2 (20) answers; direct has no MX.
    let sink = Sink::start(
        "127.0.0.3:0",
        tls(&f, &["mx2.kent.pnn.police.uk", "direct.cps.gov.uk"]),
    )
    .await;
    let port = sink.addr.port();
    f.dns.mx("kent.pnn.police.uk", 20, "mx2.kent.pnn.police.uk");
    f.dns.mx("kent.pnn.police.uk", 10, "mx1.kent.pnn.police.uk");
    f.dns.a("mx1.kent.pnn.police.uk", "127.0.0.2");
    f.dns.a("mx2.kent.pnn.police.uk", "127.0.0.3");
    f.dns.a("direct.cps.gov.uk", "127.0.0.3");
    f.dns.mx("nomail.hmcts.gov.uk", 0, "");
    f.enqueue(&["pc.smith@kent.pnn.police.uk"], "mx@ward.test");
    f.enqueue(&["lawyer@direct.cps.gov.uk"], "direct@ward.test");
    f.enqueue(&["clerk@nomail.hmcts.gov.uk"], "nullmx@ward.test");
    let mut config = f.config();
    config.mx_port = port;
    let relay = f.start(config);
    wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
    wait_for(LIMIT, "the null MX report", || f.inbox().len() == 1).await;
    relay.stop().await;

    let mut delivered: Vec<(String, Vec<String>)> = sink
        .messages()
        .into_iter()
        .map(|m| (m.header("Message-ID").unwrap(), m.rcpt_to))
        .collect();
    delivered.sort();
    assert_eq!(
        delivered,
        [
            (
                "<direct@ward.test>".to_owned(),
                vec!["lawyer@direct.cps.gov.uk".to_owned()]
            ),
            (
                "<mx@ward.test>".to_owned(),
                vec!["pc.smith@kent.pnn.police.uk".to_owned()]
            ),
        ]
    );
    let report = text(&f.inbox()[0]);
    assert!(report.contains("nullmx@ward.test"), "{report}");
    assert!(report.contains("null MX"), "{report}");
    assert!(report.contains("Status: 5.1.10"), "{report}");
    let audit = f.store.audit_records(1, 100).unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.action == "relay.deliver" && r.source.contains("mx2.kent.pnn.police.uk"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_organisation_s_mail_is_held_until_it_is_resumed() {
    let port = free_port().await;
    let mut org = gateway_org("Sleepy", "sleepy.org.uk", port, SuffixRewrite::KeepSuffix);
    org.suspended = true;
    let f = Fixture::new(vec![org]).await;
    let sink = Sink::start(&format!("127.0.0.1:{port}"), tls(&f, &["localhost"])).await;
    f.enqueue(&["x@sleepy.org.uk.cjsm.net"], "held@ward.test");
    let relay = f.start(f.config());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(sink.connections(), 0);
    let entries = f.store.queue_entries().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].1.recipients[0].attempts, 0);
    assert_eq!(entries[0].1.recipients[0].state, RecipientState::Pending);

    f.community.send_modify(|c| {
        let mut c2 = (**c).clone();
        c2.organisations
            .iter_mut()
            .for_each(|o| o.suspended = false);
        *c = std::sync::Arc::new(c2);
    });
    // The community change alone wakes the relay.
    wait_for(LIMIT, "the held message", || sink.messages().len() == 1).await;
    wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_retries_a_backed_off_destination_at_once() {
    let port = free_port().await;
    let f = Fixture::new(vec![gateway_org(
        "Kent Probation",
        "kentprobation.org.uk",
        port,
        SuffixRewrite::KeepSuffix,
    )])
    .await;
    f.enqueue(&["ann@kentprobation.org.uk.cjsm.net"], "flush@ward.test");
    let mut config = f.config();
    config.retry_schedule = vec![Duration::from_secs(3600)];
    let relay = f.start(config);
    wait_for(LIMIT, "a deferred attempt", || {
        f.store.queue_entries().unwrap()[0].1.recipients[0].attempts == 1
    })
    .await;
    let sink = Sink::start(&format!("127.0.0.1:{port}"), tls(&f, &["localhost"])).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(sink.messages().is_empty(), "backed off for an hour");
    relay.handle.flush(Some("localhost".into()));
    wait_for(LIMIT, "the flushed message", || sink.messages().len() == 1).await;
    wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delay_notice_goes_once_and_a_null_sender_never_gets_a_report() {
    let port = free_port().await;
    let f = Fixture::new(vec![gateway_org(
        "Down",
        "down.org.uk",
        port,
        SuffixRewrite::KeepSuffix,
    )])
    .await;
    let envelope = QueueEnvelope {
        envid: Some("case-7".into()),
        ..QueueEnvelope::default()
    };
    f.enqueue_with(&["x@down.org.uk.cjsm.net"], "slow@ward.test", &envelope);
    // A bounce (empty sender) for the same dead gateway.
    f.store
        .enqueue(
            "",
            &["y@down.org.uk.cjsm.net".into()],
            b"Subject: bounce\r\n\r\nx\r\n",
            support::now(),
        )
        .unwrap();
    let mut config = f.config();
    config.delay_notice_after = Duration::from_secs(1);
    config.max_age = Duration::from_secs(6);
    let relay = f.start(config);
    wait_for(LIMIT, "the delay notice", || !f.inbox().is_empty()).await;
    let notice = text(&f.inbox()[0]);
    assert!(notice.contains("Action: delayed"), "{notice}");
    assert!(notice.contains("Original-Envelope-Id: case-7"), "{notice}");
    assert!(notice.contains("Will-Retry-Until:"), "{notice}");
    wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
    relay.stop().await;
    // One delay notice and one failure report, nothing for the bounce.
    let reports: Vec<String> = f.inbox().iter().map(|r| text(r)).collect();
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(reports[1].contains("Action: failed"));
    assert!(reports.iter().all(|r| !r.contains("y@down.org.uk")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_entry_waits_and_wake_sends_it_once_released() {
    let port = free_port().await;
    let f = Fixture::new(vec![gateway_org(
        "Kent Probation",
        "kentprobation.org.uk",
        port,
        SuffixRewrite::KeepSuffix,
    )])
    .await;
    let sink = Sink::start(&format!("127.0.0.1:{port}"), tls(&f, &["localhost"])).await;
    let id = f.enqueue(&["ann@kentprobation.org.uk.cjsm.net"], "held@ward.test");
    f.store.update_queue_entry(id, |e| e.held = true).unwrap();
    let mut config = f.config();
    config.poll_interval = Duration::from_secs(3600);
    let relay = f.start(config);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sink.connections(), 0, "held mail is not tried");
    f.store.update_queue_entry(id, |e| e.held = false).unwrap();
    relay.handle.wake();
    wait_for(LIMIT, "the released message", || sink.messages().len() == 1).await;
    wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_for_a_gateway_user_is_queued_with_an_empty_sender_and_never_bounced() {
    let port = free_port().await;
    let f = Fixture::new(vec![gateway_org(
        "Kent Probation",
        "kentprobation.org.uk",
        port,
        SuffixRewrite::KeepSuffix,
    )])
    .await;
    let mut options = tls(&f, &["localhost"]);
    options.reject = vec![
        "bob@kentprobation.org.uk.cjsm.net".into(),
        "ann@kentprobation.org.uk.cjsm.net".into(),
    ];
    let sink = Sink::start(&format!("127.0.0.1:{port}"), options).await;
    // Ann (at the gateway, not a hosted mailbox) writes to Bob, who does
    // not exist; the report to Ann is refused as well.
    f.store
        .enqueue(
            "ann@kentprobation.org.uk.cjsm.net",
            &["bob@kentprobation.org.uk.cjsm.net".into()],
            b"Subject: to bob\r\nMessage-ID: <to-bob@ward.test>\r\n\r\nhi\r\n",
            support::now(),
        )
        .unwrap();
    let relay = f.start(f.config());
    wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
    relay.stop().await;
    // Nothing was accepted; the report went out once, from <>.
    assert!(sink.messages().is_empty());
    let seen = text(&sink.raw());
    assert_eq!(seen.matches("MAIL FROM:<>").count(), 1, "{seen}");
    assert_eq!(
        seen.matches("RCPT TO:<ann@kentprobation.org.uk.cjsm.net>")
            .count(),
        1
    );
    assert!(f.inbox().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_client_certificate_is_presented() {
    let port = free_port().await;
    let f = Fixture::new(vec![gateway_org(
        "Strict",
        "strict.org.uk",
        port,
        SuffixRewrite::KeepSuffix,
    )])
    .await;
    let sink = Sink::start(
        &format!("127.0.0.1:{port}"),
        SinkOptions {
            tls: Some(f.pki.server_requiring_client_certificate(&["localhost"])),
            reject: Vec::new(),
            implicit: false,
            tempfail_rcpts: 0,
            data_delay: Duration::ZERO,
        },
    )
    .await;
    f.enqueue(&["x@strict.org.uk.cjsm.net"], "cert@ward.test");
    let mut config = f.config();
    config.client_certificate = Some(f.pki.client_certificate("ward.test"));
    let relay = f.start(config);
    wait_for(LIMIT, "the message", || sink.messages().len() == 1).await;
    wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
    relay.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_success_gets_a_relayed_notice_and_notify_never_gets_nothing() {
    let port = free_port().await;
    let f = Fixture::new(vec![gateway_org(
        "Kent Probation",
        "kentprobation.org.uk",
        port,
        SuffixRewrite::KeepSuffix,
    )])
    .await;
    let mut options = tls(&f, &["localhost"]);
    options.reject = vec!["gone@kentprobation.org.uk.cjsm.net".into()];
    let sink = Sink::start(&format!("127.0.0.1:{port}"), options).await;
    let envelope = QueueEnvelope::default();
    f.enqueue_notify(
        &["ann@kentprobation.org.uk.cjsm.net"],
        "success@ward.test",
        &envelope,
        Some("SUCCESS,FAILURE"),
    );
    f.enqueue_notify(
        &["gone@kentprobation.org.uk.cjsm.net"],
        "never@ward.test",
        &envelope,
        Some("NEVER"),
    );
    let relay = f.start(f.config());
    wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
    wait_for(LIMIT, "the relayed notice", || f.inbox().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    relay.stop().await;
    assert_eq!(sink.messages().len(), 1);
    let reports: Vec<String> = f.inbox().iter().map(|r| text(r)).collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains("Action: relayed"), "{}", reports[0]);
    assert!(reports[0].contains("success@ward.test"));
}

#[test]
fn relay_new_checks_its_configuration_and_needs_no_runtime() {
    use smtp_relay::{Relay, RelayConfig, RelayError};
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(store::Store::open(dir.path()).unwrap());
    let (_tx, community) =
        tokio::sync::watch::channel(std::sync::Arc::new(policy::Community::default()));
    assert!(Relay::new(store.clone(), community.clone(), RelayConfig::default()).is_ok());

    let mut config = RelayConfig::default();
    config.extra_ca_file = Some(dir.path().join("missing.pem"));
    assert!(matches!(
        Relay::new(store.clone(), community.clone(), config),
        Err(RelayError::Certificate { .. })
    ));
    let mut config = RelayConfig::default();
    config.max_connections = 0;
    assert!(matches!(
        Relay::new(store, community, config),
        Err(RelayError::Config(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_relay_sends_only_what_was_not_delivered() {
    let up_port = free_port().await;
    let down_port = free_port().await;
    let f = Fixture::new(vec![
        gateway_org("Up", "up.org.uk", up_port, SuffixRewrite::KeepSuffix),
        gateway_org("Down", "down.org.uk", down_port, SuffixRewrite::KeepSuffix),
    ])
    .await;
    let up = Sink::start(&format!("127.0.0.1:{up_port}"), tls(&f, &["localhost"])).await;
    f.enqueue(
        &["a@up.org.uk.cjsm.net", "b@down.org.uk.cjsm.net"],
        "split@ward.test",
    );
    let relay = f.start(f.config());
    wait_for(LIMIT, "the first copy", || up.messages().len() == 1).await;
    wait_for(LIMIT, "the other recipient deferred", || {
        let entries = f.store.queue_entries().unwrap();
        entries.len() == 1
            && matches!(
                entries[0].1.recipients[1].state,
                RecipientState::Deferred { .. }
            )
            && matches!(
                entries[0].1.recipients[0].state,
                RecipientState::Delivered { .. }
            )
    })
    .await;
    relay.stop().await;

    // Restart with the second gateway back.
    let down = Sink::start(&format!("127.0.0.1:{down_port}"), tls(&f, &["localhost"])).await;
    let relay = f.start(f.config());
    wait_for(LIMIT, "the second copy", || down.messages().len() == 1).await;
    wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    relay.stop().await;
    assert_eq!(
        up.messages().len(),
        1,
        "the delivered recipient was not sent again"
    );
    assert_eq!(down.messages()[0].rcpt_to, ["b@down.org.uk.cjsm.net"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_implicit_tls_gateway_port_gets_tls_from_the_first_byte() {
    let port = free_port().await;
    let f = Fixture::new(vec![gateway_org(
        "Submissions",
        "submissions.org.uk",
        port,
        SuffixRewrite::KeepSuffix,
    )])
    .await;
    let mut options = tls(&f, &["localhost"]);
    options.implicit = true;
    let sink = Sink::start(&format!("127.0.0.1:{port}"), options).await;
    f.enqueue(&["x@submissions.org.uk.cjsm.net"], "implicit@ward.test");
    let mut config = f.config();
    config.implicit_tls_ports = vec![port];
    let relay = f.start(config);
    wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
    relay.stop().await;
    assert_eq!(sink.messages().len(), 1);
    assert!(sink.messages()[0].tls);
    assert!(sink.plain().is_empty(), "nothing in clear");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_defers_and_the_retry_delivers_once() {
    let port = free_port().await;
    let f = Fixture::new(vec![gateway_org(
        "Busy",
        "busy.org.uk",
        port,
        SuffixRewrite::KeepSuffix,
    )])
    .await;
    let mut options = tls(&f, &["localhost"]);
    options.tempfail_rcpts = 1;
    let sink = Sink::start(&format!("127.0.0.1:{port}"), options).await;
    let id = f.enqueue(&["x@busy.org.uk.cjsm.net"], "busy@ward.test");
    let relay = f.start(f.config());
    wait_for(LIMIT, "the deferral", || {
        f.store
            .queue_entry(id)
            .unwrap()
            .is_none_or(|e| e.recipients[0].attempts >= 1)
    })
    .await;
    wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
    relay.stop().await;
    assert_eq!(sink.messages().len(), 1);
    assert!(f.inbox().is_empty(), "no report for a delivered message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_limited_per_destination_and_overall() {
    for (overall, per_destination, expected) in [(50, 2, 2), (1, 5, 1)] {
        let port = free_port().await;
        let f = Fixture::new(vec![gateway_org(
            "Many",
            "many.org.uk",
            port,
            SuffixRewrite::KeepSuffix,
        )])
        .await;
        let sink = Sink::start(&format!("127.0.0.1:{port}"), tls(&f, &["localhost"])).await;
        for i in 0..60 {
            f.enqueue(&["x@many.org.uk.cjsm.net"], &format!("many-{i}@ward.test"));
        }
        let mut config = f.config();
        config.max_connections = overall;
        config.max_connections_per_destination = per_destination;
        config.max_messages_per_connection = 5;
        let relay = f.start(config);
        wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
        relay.stop().await;
        assert_eq!(sink.messages().len(), 60);
        assert!(
            sink.max_active() <= expected,
            "{} > {expected}",
            sink.max_active()
        );
        assert!(sink.connections() >= 12, "5 messages per connection");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_queued_during_a_delivery_joins_it_and_arrives_once() {
    let port = free_port().await;
    let f = Fixture::new(vec![gateway_org(
        "Kent Probation",
        "kentprobation.org.uk",
        port,
        SuffixRewrite::KeepSuffix,
    )])
    .await;
    let mut options = tls(&f, &["localhost"]);
    options.data_delay = Duration::from_millis(30);
    let sink = Sink::start(&format!("127.0.0.1:{port}"), options).await;
    let mut config = f.config();
    config.max_connections_per_destination = 3;
    let relay = f.start(config);
    for i in 0..60 {
        f.enqueue(
            &["ann@kentprobation.org.uk.cjsm.net"],
            &format!("stream-{i}@ward.test"),
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    relay.stop().await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for m in sink.messages() {
        *seen.entry(m.header("Message-ID").unwrap()).or_default() += 1;
    }
    assert_eq!(seen.len(), 60);
    assert!(seen.values().all(|&n| n == 1), "a message arrived twice");
    assert!(sink.max_active() <= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recipient_that_became_a_hosted_mailbox_is_delivered_locally() {
    let f = Fixture::new(Vec::new()).await;
    // Alice's own address is hosted; nobody has the second one.
    f.enqueue(
        &[support::SENDER, "nobody@greenstone.co.uk.cjsm.net"],
        "local@ward.test",
    );
    let relay = f.start(f.config());
    wait_for(LIMIT, "an empty queue", || f.queue_len() == 0).await;
    wait_for(LIMIT, "the copy and the report", || f.inbox().len() == 2).await;
    relay.stop().await;
    let inbox: Vec<String> = f.inbox().iter().map(|r| text(r)).collect();
    assert!(
        inbox.iter().any(|m| m.starts_with("From: Alice")),
        "{inbox:?}"
    );
    let report = inbox
        .iter()
        .find(|m| m.contains("Action: failed"))
        .expect("a report for the unknown mailbox");
    assert!(report.contains("Final-Recipient: rfc822; nobody@greenstone.co.uk.cjsm.net"));
    assert!(!report.contains(&format!("Final-Recipient: rfc822; {}", support::SENDER)));
}
