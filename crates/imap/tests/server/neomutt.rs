//! neomutt against the real server over implicit TLS, in a pseudo-terminal
//! (`script`): it logs in with AUTHENTICATE PLAIN, opens INBOX, fetches
//! the headers, deletes one message and syncs.

use std::process::Command;

use store::NewMessage;

use crate::harness::{ADDRESS, PASSWORD, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn neomutt_reads_and_deletes() {
    let installed = |name: &str| Command::new(name).arg("-v").output().is_ok();
    if !installed("neomutt") || !installed("script") {
        eprintln!("neomutt or script is not installed; skipping");
        return;
    }
    let server = Server::start().await;
    let inbox = server
        .store
        .mailbox_by_name(server.user, "INBOX")
        .unwrap()
        .unwrap();
    for i in 0..3 {
        let raw = format!(
            "From: a@b.test\r\nTo: {ADDRESS}\r\nSubject: m{i}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nBody {i}.\r\n"
        );
        let message = NewMessage {
            raw: raw.as_bytes(),
            cached: None,
            internal_date: 1_700_000_000,
            flags: Default::default(),
            keywords: Default::default(),
        };
        server.store.append(inbox.id, &message).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let rc = dir.path().join("neomuttrc");
    std::fs::write(
        &rc,
        format!(
            "set imap_user = \"{ADDRESS}\"\nset imap_pass = \"{PASSWORD}\"\n\
             set folder = \"imaps://127.0.0.1:{port}/\"\nset spoolfile = \"+INBOX\"\n\
             set certificate_file = \"{cert}\"\nset ssl_verify_host = no\n\
             set header_cache = \"\"\nset message_cachedir = \"\"\n\
             set delete = yes\nset quit = yes\nset confirmappend = no\n",
            port = server.implicit.port(),
            cert = server.certificate.display(),
        ),
    )
    .unwrap();
    let command = format!(
        "neomutt -n -F {} -e 'push <delete-message><sync-mailbox><quit>'",
        rc.display()
    );
    let output = tokio::task::spawn_blocking(move || {
        Command::new("timeout")
            .args(["60", "script", "-qec", &command, "/dev/null"])
            .env("TERM", "xterm")
            .output()
            .expect("script runs")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "neomutt failed: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let inbox = server.store.mailbox(inbox.id).unwrap().unwrap();
    assert_eq!(inbox.messages, 2, "neomutt should have deleted one message");
}
