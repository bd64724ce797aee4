//! mbsync (isync) against the real server over implicit TLS: a first sync
//! downloads every mailbox, a second uploads a local message and a local
//! flag change.

use std::path::Path;
use std::process::Command;

use store::{Flags, NewMessage};

use crate::harness::{ADDRESS, PASSWORD, Server};

fn mbsync(config: &Path) -> String {
    let output = Command::new("mbsync")
        .arg("-c")
        .arg(config)
        .arg("-a")
        .output()
        .expect("mbsync runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "mbsync failed:\n{text}");
    text
}

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(entries) = std::fs::read_dir(dir.join(sub)) {
            out.extend(entries.map(|e| e.unwrap().path()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mbsync_downloads_uploads_and_syncs_flags() {
    if Command::new("mbsync").arg("--version").output().is_err() {
        eprintln!("mbsync is not installed; skipping");
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
            "From: a@b.test\r\nSubject: m{i}\r\nMessage-ID: <m{i}@b.test>\r\n\r\nBody {i}.\r\n"
        );
        server
            .store
            .append(
                inbox.id,
                &NewMessage {
                    raw: raw.as_bytes(),
                    cached: None,
                    internal_date: 1_700_000_000,
                    flags: Flags::empty(),
                    keywords: Default::default(),
                },
            )
            .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let mail = dir.path().join("mail");
    std::fs::create_dir_all(&mail).unwrap();
    let config = dir.path().join("mbsyncrc");
    std::fs::write(
        &config,
        format!(
            "IMAPAccount ward\nHost 127.0.0.1\nPort {port}\nUser {ADDRESS}\nPass \"{PASSWORD}\"\n\
             SSLType IMAPS\nCertificateFile {cert}\n\n\
             IMAPStore remote\nAccount ward\n\n\
             MaildirStore local\nPath {mail}/\nInbox {mail}/INBOX\nSubFolders Verbatim\n\n\
             Channel ward\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\nSyncState *\n",
            port = server.implicit.port(),
            cert = server.certificate.display(),
            mail = mail.display(),
        ),
    )
    .unwrap();
    let run = {
        let config = config.clone();
        move || mbsync(&config)
    };
    tokio::task::spawn_blocking(run.clone()).await.unwrap();
    let local_inbox = files(&mail.join("INBOX"));
    assert_eq!(local_inbox.len(), 3, "{local_inbox:?}");
    for name in ["Sent", "Drafts", "Trash", "Junk", "Archive"] {
        assert!(mail.join(name).is_dir(), "{name} not created locally");
    }

    // A new local draft goes up; a message read locally becomes \Seen.
    std::fs::write(
        mail.join("Drafts/new/1.local:2,"),
        "From: eric@b.test\r\nSubject: draft\r\n\r\nDraft.\r\n",
    )
    .unwrap();
    let first = &local_inbox[0];
    let seen = first.to_string_lossy().replace("/new/", "/cur/");
    let seen = if seen.contains(":2,") {
        format!("{seen}S")
    } else {
        format!("{seen}:2,S")
    };
    std::fs::rename(first, &seen).unwrap();
    tokio::task::spawn_blocking(run).await.unwrap();
    let drafts = server
        .store
        .mailbox_by_name(server.user, "Drafts")
        .unwrap()
        .unwrap();
    assert_eq!(drafts.messages, 1);
    let inbox = server.store.mailbox(inbox.id).unwrap().unwrap();
    assert_eq!(inbox.unseen, 2);
}
