//! "250 means on disk": a child process (this test binary, re-executed
//! with an environment variable) runs the server; the parent submits mail
//! and SIGKILLs the child the moment it reads `250`, then reopens the store
//! and finds every acknowledged message, byte for byte, in the INBOX and
//! the queue.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use policy::Listener;
use store::Store;

use crate::support::{
    Client, ERIC, GATEWAY_RECIPIENT, JANE, Server, fast_timeouts, inbox, message,
};

const DIR_VAR: &str = "WARD_SMTP_DRIVER_CHILD_DIR";
const CYCLES: usize = 3;

/// The child's side: runs only when re-executed by the parent.
#[test]
fn durability_server_child() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let server = Server::start_in(
            Path::new(&dir),
            Listener::Submission,
            false,
            fast_timeouts(),
        )
        .await;
        // " END" marks a complete line; libtest prints its own text first.
        println!("READY {} END", server.addr.port());
        std::future::pending::<()>().await;
    });
}

#[test]
fn acknowledged_messages_survive_sigkill() {
    if std::env::var(DIR_VAR).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut sent = Vec::new();
    for cycle in 0..CYCLES {
        let mut child = Command::new(&exe)
            .args([
                "durability::durability_server_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_VAR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let port: u16 = loop {
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("the child server never got ready");
            if let Some(start) = line.find("READY ") {
                let words: Vec<&str> = line[start..].split(' ').collect();
                break words[1].parse().unwrap();
            }
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let cert = dir
            .path()
            .join("tls")
            .join(transport::certificate::SELF_SIGNED_CERT);
        runtime.block_on(async {
            let mut client = Client::signed_in_at(addr, &cert, ERIC).await;
            let local = message(JANE, &format!("local-{cycle}"));
            let reply = client.send_mail(ERIC, &[JANE], &local).await;
            assert!(reply.starts_with("250 2.0.0"), "{reply}");
            sent.push((local, false));
            let both = message(JANE, &format!("both-{cycle}"));
            let reply = client
                .send_mail(ERIC, &[JANE, GATEWAY_RECIPIENT], &both)
                .await;
            // Kill the server the moment the 250 is read.
            child.kill().unwrap();
            assert!(reply.starts_with("250 2.0.0"), "{reply}");
            sent.push((both, true));
        });
        child.wait().unwrap();

        let store = Store::open(&dir.path().join("store")).unwrap();
        let stored: Vec<Vec<u8>> = inbox(&store, JANE).into_iter().map(|(_, b)| b).collect();
        assert_eq!(stored.len(), sent.len(), "cycle {cycle}: messages lost");
        for ((message, _), body) in sent.iter().zip(&stored) {
            assert!(
                body.ends_with(message.as_bytes()),
                "cycle {cycle}: stored message differs"
            );
        }
        let queued: Vec<Vec<u8>> = store
            .queue_entries()
            .unwrap()
            .into_iter()
            .map(|(_, e)| store.read_body(e.body).unwrap())
            .collect();
        let expected: Vec<&String> = sent.iter().filter(|(_, q)| *q).map(|(m, _)| m).collect();
        assert_eq!(
            queued.len(),
            expected.len(),
            "cycle {cycle}: queue entries lost"
        );
        for (message, body) in expected.iter().zip(&queued) {
            assert!(body.ends_with(message.as_bytes()));
        }
        assert!(store.check_consistency().unwrap().is_consistent());
    }
}
