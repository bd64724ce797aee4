//! Python's imaplib against the real server: a full session over STARTTLS
//! and over implicit TLS, IDLE woken by a new message, and two concurrent
//! sessions seeing each other's changes.

use std::process::Command;

use crate::harness::{ADDRESS, PASSWORD, Server};

async fn run_script(script: &str, server: &Server) {
    let path = format!("{}/tests/imaplib/{script}", env!("CARGO_MANIFEST_DIR"));
    let starttls = server.starttls.port().to_string();
    let implicit = server.implicit.port().to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(path)
            .args([&starttls, &implicit, ADDRESS, PASSWORD])
            .output()
            .expect("python3 runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imaplib_full_session() {
    let server = Server::start().await;
    run_script("session.py", &server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imaplib_idle_and_concurrent_sessions() {
    let server = Server::start().await;
    run_script("concurrent.py", &server).await;
}
