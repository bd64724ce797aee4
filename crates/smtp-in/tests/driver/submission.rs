//! Submission: STARTTLS, AUTH, and what lands in the store.

use policy::Listener;

use crate::support::{
    Client, ERIC, GATEWAY_RECIPIENT, JANE, LOCKED, PASSWORD, POLICE_RECIPIENT, Server, dot_stuffed,
    fast_timeouts, message, plain,
};

/// The `id` a `250` reply names (`250 2.0.0 OK: queued as <id>` or similar):
/// its last word.
fn reply_id(reply: &str) -> &str {
    reply.rsplit(' ').next().unwrap()
}

#[tokio::test]
async fn submission_lands_byte_for_byte_after_the_trace_header() {
    let server = Server::submission().await;
    let mut client = Client::signed_in(&server, ERIC).await;
    let original = message(JANE, "first");
    let reply = client.send_mail(ERIC, &[JANE], &original).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    // The 250 came only after the store's fsync: the message is there now.
    let inbox = server.inbox(JANE);
    assert_eq!(inbox.len(), 1);
    let stored = String::from_utf8(inbox[0].1.clone()).unwrap();
    let prefix = stored
        .strip_suffix(&original)
        .unwrap_or_else(|| panic!("the message was changed:\n{stored}"));
    let id = reply_id(&reply);
    // Final delivery records the reverse-path first (RFC 5321 §4.4).
    let prefix = prefix
        .strip_prefix(&format!("Return-Path: <{ERIC}>\r\n"))
        .unwrap_or_else(|| panic!("no Return-Path first:\n{prefix}"));
    assert!(
        prefix.starts_with("Received: from client.example ([127.0.0.1])\r\n\tby mx.ward.test (Ward) with ESMTPSA\r\n\t(version=TLSv1.3 cipher=TLS13_"),
        "{prefix}"
    );
    assert!(
        prefix.contains(&format!("\tid {id}; ")),
        "{prefix} / {reply}"
    );
    // Unlabelled mail is OFFICIAL, and says so.
    assert!(
        prefix.ends_with(" +0000\r\nX-Security-Classification: OFFICIAL\r\n"),
        "{prefix}"
    );
    assert_eq!(prefix.matches("\r\n").count(), 5, "{prefix}");
    assert!(client.cmd("QUIT").await.starts_with("221"));
}

#[tokio::test]
async fn submission_adds_missing_message_id_and_date_and_keeps_a_label() {
    let server = Server::submission().await;
    let mut client = Client::signed_in(&server, ERIC).await;
    let original = format!(
        "From: {ERIC}\r\nTo: {JANE}\r\nSubject: OFFICIAL-SENSITIVE: bare\r\n\r\nNo id, no date.\r\n"
    );
    let reply = client.send_mail(ERIC, &[JANE], &original).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let stored = String::from_utf8(server.inbox(JANE).remove(0).1).unwrap();
    let prefix = stored.strip_suffix(&original).unwrap();
    let id = reply_id(&reply);
    assert!(
        prefix.contains(&format!("\r\nMessage-ID: <{id}@mx.ward.test>\r\nDate: ")),
        "{prefix}"
    );
    assert!(!prefix.contains("X-Security-Classification"), "{prefix}");
}

#[tokio::test]
async fn mail_before_starttls_is_refused_and_auth_is_offered_only_after_tls() {
    let server = Server::submission().await;
    let mut client = Client::connect(server.addr).await;
    assert!(client.reply().await.starts_with("220 mx.ward.test"));
    let ehlo = client.cmd("EHLO client.example").await;
    assert!(ehlo.contains("STARTTLS"), "{ehlo}");
    assert!(!ehlo.contains("AUTH"), "{ehlo}");
    let reply = client.cmd(&format!("MAIL FROM:<{ERIC}>")).await;
    assert!(reply.starts_with("530 5.7.0"), "{reply}");
    let reply = client
        .cmd(&format!("AUTH PLAIN {}", plain(ERIC, PASSWORD)))
        .await;
    assert!(reply.starts_with("530 5.7.0"), "{reply}");
    assert!(client.cmd("STARTTLS").await.starts_with("220 2.0.0"));
    client.handshake(&server.cert).await;
    let ehlo = client.cmd("EHLO client.example").await;
    assert!(ehlo.contains("AUTH PLAIN LOGIN"), "{ehlo}");
    assert!(!ehlo.contains("STARTTLS"), "{ehlo}");
    // Signed out, even over TLS, submission needs AUTH.
    let reply = client.cmd(&format!("MAIL FROM:<{ERIC}>")).await;
    assert!(reply.starts_with("530 5.7.0"), "{reply}");
}

#[tokio::test]
async fn commands_pipelined_before_starttls_are_discarded() {
    let server = Server::submission().await;
    let mut client = Client::connect(server.addr).await;
    client.reply().await;
    client.cmd("EHLO client.example").await;
    client
        .send(&format!(
            "STARTTLS\r\nAUTH PLAIN {}\r\n",
            plain(ERIC, PASSWORD)
        ))
        .await;
    assert!(client.reply().await.starts_with("220 2.0.0"));
    client.handshake(&server.cert).await;
    // The injected AUTH was never run: MAIL still needs sign-in.
    client.cmd("EHLO client.example").await;
    let reply = client.cmd(&format!("MAIL FROM:<{ERIC}>")).await;
    assert!(reply.starts_with("530 5.7.0"), "{reply}");
}

#[tokio::test]
async fn wrong_password_is_refused_then_the_right_one_works() {
    let server = Server::submission().await;
    let mut client = Client::connect(server.addr).await;
    client.start_tls(&server.cert).await;
    let reply = client
        .cmd(&format!("AUTH PLAIN {}", plain(ERIC, "guess")))
        .await;
    assert!(reply.starts_with("535 5.7.8"), "{reply}");
    let reply = client
        .cmd(&format!(
            "AUTH PLAIN {}",
            plain("nobody@x.example", PASSWORD)
        ))
        .await;
    assert!(reply.starts_with("535 5.7.8"), "{reply}");
    let reply = client
        .cmd(&format!("AUTH PLAIN {}", plain(LOCKED, PASSWORD)))
        .await;
    assert!(reply.starts_with("525 5.7.13"), "{reply}");
    // AUTH LOGIN, step by step.
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    assert!(client.cmd("AUTH LOGIN").await.starts_with("334 "));
    assert!(client.cmd(&b64(ERIC)).await.starts_with("334 "));
    let reply = client.cmd(&b64(PASSWORD)).await;
    assert!(reply.starts_with("235 2.7.0"), "{reply}");
}

#[tokio::test]
async fn pipelined_recipients_and_one_copy_for_two_local_mailboxes() {
    let server = Server::submission().await;
    let mut client = Client::signed_in(&server, ERIC).await;
    // One write: the server answers in order, in one batch.
    client
        .send(&format!(
            "MAIL FROM:<{ERIC}>\r\nRCPT TO:<{JANE}>\r\nRCPT TO:<nobody@greenstonechambers.co.uk.cjsm.net>\r\nRCPT TO:<someone@gmail.com>\r\nRCPT TO:<{ERIC}>\r\nDATA\r\n"
        ))
        .await;
    let mut replies = Vec::new();
    for _ in 0..6 {
        replies.push(client.reply().await);
    }
    let codes: Vec<&str> = replies.iter().map(|r| &r[..9]).collect();
    assert_eq!(
        codes,
        [
            "250 2.1.0",
            "250 2.1.5",
            "550 5.1.1",
            "550 5.7.1",
            "250 2.1.5",
            "354 Start"
        ],
        "{replies:#?}"
    );
    let original = message(JANE, "both");
    client.send(&dot_stuffed(&original)).await;
    let reply = client.reply().await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let jane = server.inbox(JANE);
    let eric = server.inbox(ERIC);
    assert_eq!((jane.len(), eric.len()), (1, 1));
    // Stored once: both entries point at the same body.
    assert_eq!(jane[0].0, eric[0].0);
    assert!(jane[0].1.ends_with(original.as_bytes()));
    assert!(server.store.queue_entries().unwrap().is_empty());
}

#[tokio::test]
async fn remote_recipients_are_queued_and_local_ones_delivered() {
    let server = Server::submission().await;
    let mut client = Client::signed_in(&server, ERIC).await;
    let original = message(GATEWAY_RECIPIENT, "remote");
    let reply = client
        .send_mail(
            ERIC,
            &[GATEWAY_RECIPIENT, JANE, POLICE_RECIPIENT],
            &original,
        )
        .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let queue = server.store.queue_entries().unwrap();
    assert_eq!(queue.len(), 1);
    let entry = &queue[0].1;
    assert_eq!(entry.sender, ERIC);
    let recipients: Vec<&str> = entry
        .recipients
        .iter()
        .map(|r| r.address.as_str())
        .collect();
    assert_eq!(recipients, [GATEWAY_RECIPIENT, POLICE_RECIPIENT]);
    assert!(
        entry
            .recipients
            .iter()
            .all(|r| r.state == store::RecipientState::Pending && r.attempts == 0)
    );
    let queued = server.store.read_body(entry.body).unwrap();
    let jane = server.inbox(JANE);
    assert_eq!(jane.len(), 1);
    // The same bytes, stored once for mailbox and queue.
    assert_eq!(jane[0].0, entry.body);
    assert_eq!(queued, jane[0].1);
    assert!(queued.ends_with(original.as_bytes()));
}

#[tokio::test]
async fn implicit_tls_greets_after_the_handshake() {
    let server = Server::start(Listener::Submission, true, fast_timeouts()).await;
    let mut client = Client::connect_tls(server.addr, &server.cert).await;
    assert!(client.reply().await.starts_with("220 mx.ward.test"));
    let ehlo = client.cmd("EHLO client.example").await;
    assert!(ehlo.contains("AUTH PLAIN LOGIN") && !ehlo.contains("STARTTLS"));
    let reply = client
        .cmd(&format!("AUTH PLAIN {}", plain(JANE, PASSWORD)))
        .await;
    assert!(reply.starts_with("235"), "{reply}");
    let original = format!("From: {JANE}\r\nTo: {ERIC}\r\nSubject: hi\r\n\r\nHi.\r\n");
    let reply = client.send_mail(JANE, &[ERIC], &original).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    assert_eq!(server.inbox(ERIC).len(), 1);
}

#[tokio::test]
async fn refused_content_is_not_stored_and_the_session_goes_on() {
    let server = Server::submission().await;
    let mut client = Client::signed_in(&server, ERIC).await;
    // Someone else's From: on submission.
    let forged = format!("From: {JANE}\r\nSubject: x\r\n\r\nx\r\n");
    let reply = client.send_mail(ERIC, &[JANE], &forged).await;
    assert!(reply.starts_with("553 5.7.1"), "{reply}");
    // SECRET is refused.
    let secret = format!("From: {ERIC}\r\nSubject: SECRET: plans\r\n\r\nx\r\n");
    let reply = client.send_mail(ERIC, &[JANE], &secret).await;
    assert!(reply.starts_with("550 5.7.1"), "{reply}");
    // Junk and an overlong line get replies, not a dropped connection.
    let reply = client.cmd("\u{1}\u{2}junk \u{7f}").await;
    assert!(reply.starts_with("500"), "{reply}");
    let reply = client.cmd(&"X".repeat(5000)).await;
    assert!(reply.starts_with("500 5.5.6"), "{reply}");
    assert!(server.inbox(JANE).is_empty());
    assert!(client.cmd("NOOP").await.starts_with("250"));
}

#[tokio::test]
async fn relay_port_does_not_offer_auth_and_refuses_outsiders() {
    let server = Server::start(Listener::Relay, false, fast_timeouts()).await;
    let mut client = Client::connect(server.addr).await;
    let reply = client.start_tls(&server.cert).await;
    assert!(!reply.contains("AUTH"), "{reply}");
    let reply = client.cmd("MAIL FROM:<someone@gmail.com>").await;
    assert!(reply.starts_with("550 5.7.1"), "{reply}");
    let reply = client
        .cmd(&format!("AUTH PLAIN {}", plain(ERIC, PASSWORD)))
        .await;
    assert!(reply.starts_with("503 5.5.1"), "{reply}");
}

#[tokio::test]
async fn bdat_chunks_are_stored_like_data() {
    let server = Server::submission().await;
    let mut client = Client::signed_in(&server, ERIC).await;
    let original = message(JANE, "chunked");
    let (first, second) = original.split_at(40);
    client
        .send(&format!(
            "MAIL FROM:<{ERIC}>\r\nRCPT TO:<{JANE}>\r\nBDAT {}\r\n{first}",
            first.len()
        ))
        .await;
    assert!(client.reply().await.starts_with("250 2.1.0"));
    assert!(client.reply().await.starts_with("250 2.1.5"));
    assert!(client.reply().await.starts_with("250 2.0.0"));
    client
        .send(&format!("BDAT {} LAST\r\n{second}", second.len()))
        .await;
    let reply = client.reply().await;
    assert!(reply.starts_with("250 2.0.0 Message accepted"), "{reply}");
    let stored = server.inbox(JANE);
    assert_eq!(stored.len(), 1);
    assert!(stored[0].1.ends_with(original.as_bytes()));
}

#[tokio::test]
async fn a_failed_auth_is_answered_after_a_pause() {
    let mut timeouts = fast_timeouts();
    timeouts.auth_failure_delay = std::time::Duration::from_millis(200);
    let server = Server::start(Listener::Submission, false, timeouts).await;
    let mut client = Client::connect(server.addr).await;
    client.start_tls(&server.cert).await;
    for failures in 1..=2u32 {
        let started = std::time::Instant::now();
        let reply = client
            .cmd(&format!("AUTH PLAIN {}", plain(ERIC, "guess")))
            .await;
        assert!(reply.starts_with("535 5.7.8"), "{reply}");
        assert!(started.elapsed() >= std::time::Duration::from_millis(200) * failures);
    }
}

#[tokio::test]
async fn hostile_mime_is_stored_not_fatal() {
    // mail-parser 0.11 panics in debug builds on a quoted-printable part
    // ending in `=` just before its boundary; the server must not care.
    let server = Server::submission().await;
    let mut client = Client::signed_in(&server, ERIC).await;
    let hostile = format!(
        "From: {ERIC}\r\nTo: {JANE}\r\nSubject: qp\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nabc=\r\n--b--\r\n"
    );
    let reply = client.send_mail(ERIC, &[JANE], &hostile).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    assert!(server.inbox(JANE)[0].1.ends_with(hostile.as_bytes()));
    assert!(client.cmd("NOOP").await.starts_with("250"));
}

#[tokio::test]
async fn concurrent_clients_all_land() {
    let server = Server::submission().await;
    let mut tasks = Vec::new();
    for n in 0..8 {
        let (addr, cert) = (server.addr, server.cert.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = Client::signed_in_at(addr, &cert, ERIC).await;
            for m in 0..3 {
                let original = message(JANE, &format!("c{n}m{m}"));
                let reply = client.send_mail(ERIC, &[JANE], &original).await;
                assert!(reply.starts_with("250 2.0.0"), "{reply}");
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(server.inbox(JANE).len(), 24);
}

#[tokio::test]
async fn dsn_parameters_and_requiretls_are_kept_in_the_queue() {
    let server = Server::submission().await;
    let mut client = Client::signed_in(&server, ERIC).await;
    let reply = client
        .cmd(&format!(
            "MAIL FROM:<{ERIC}> RET=HDRS ENVID=case+2D42 BODY=8BITMIME REQUIRETLS"
        ))
        .await;
    assert!(reply.starts_with("250"), "{reply}");
    let reply = client
        .cmd(&format!(
            "RCPT TO:<{GATEWAY_RECIPIENT}> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;{GATEWAY_RECIPIENT}"
        ))
        .await;
    assert!(reply.starts_with("250"), "{reply}");
    let reply = client.cmd(&format!("RCPT TO:<{POLICE_RECIPIENT}>")).await;
    assert!(reply.starts_with("250"), "{reply}");
    assert!(client.cmd("DATA").await.starts_with("354"));
    client
        .send(&dot_stuffed(&message(GATEWAY_RECIPIENT, "dsn")))
        .await;
    assert!(client.reply().await.starts_with("250"));
    let queue = server.store.queue_entries().unwrap();
    let entry = &queue[0].1;
    assert_eq!(entry.envelope.ret.as_deref(), Some("HDRS"));
    assert_eq!(entry.envelope.envid.as_deref(), Some("case+2D42"));
    assert!(entry.envelope.eight_bit && entry.envelope.requiretls);
    assert_eq!(entry.recipients[0].notify.as_deref(), Some("SUCCESS,DELAY"));
    assert_eq!(
        entry.recipients[0].orcpt.as_deref(),
        Some(format!("rfc822;{GATEWAY_RECIPIENT}").as_str())
    );
    assert_eq!(entry.recipients[1].notify, None);
    assert_eq!(entry.recipients[1].orcpt, None);
}

#[tokio::test]
async fn an_accepted_message_and_the_sessions_refusals_are_audited() {
    let server = Server::submission().await;
    let mut client = Client::signed_in(&server, ERIC).await;
    let flushes = server.store.fsync_count();
    let reply = client
        .send_mail(ERIC, &[JANE], &message(JANE, "audited"))
        .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    // The record went into the delivery's own batch: one flush for both.
    assert_eq!(server.store.fsync_count() - flushes, 1);
    let records = server.store.audit_records(1, 100).unwrap();
    let accepted = records.last().unwrap();
    assert_eq!(accepted.action, "smtp.accept");
    assert_eq!(accepted.actor, ERIC);
    assert!(accepted.source.starts_with("submission 127.0.0.1"));
    for part in [
        format!("id={}", reply_id(&reply)),
        format!("sender=<{ERIC}>"),
        format!("recipients={JANE}"),
        "classification=OFFICIAL".to_owned(),
        "tls=TLSv1.3".to_owned(),
        "cipher=TLS13_".to_owned(),
        "message-id=<".to_owned(),
        "size=".to_owned(),
    ] {
        assert!(
            accepted.detail.contains(&part),
            "{part}: {}",
            accepted.detail
        );
    }

    // Refused recipients, however many, make one record when the session
    // ends.
    assert!(
        client
            .cmd(&format!("MAIL FROM:<{ERIC}>"))
            .await
            .starts_with("250")
    );
    for i in 0..30 {
        let reply = client.cmd(&format!("RCPT TO:<someone{i}@gmail.com>")).await;
        assert!(reply.starts_with("550 5.7.1"), "{reply}");
    }
    let before = server.store.audit_head().unwrap().seq;
    assert!(client.cmd("QUIT").await.starts_with("221"));
    let refused = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            if let Some(r) = server.store.audit_record(before + 1).unwrap() {
                return r;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the refusals are recorded when the session ends");
    assert_eq!(refused.action, "smtp.refused");
    assert!(
        refused
            .detail
            .starts_with("refused=30 rules=NotOnAllowList:30 | 1. 550 5.7.1 NotOnAllowList: recipient someone0@gmail.com"),
        "{}",
        refused.detail
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        server.store.audit_head().unwrap().seq,
        before + 1,
        "one record"
    );
}
