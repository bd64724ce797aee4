//! The end of a session: shutdown, idle timeouts, client hang-ups.

use std::time::Duration;

use policy::Listener;

use crate::support::{Client, ERIC, JANE, Server, fast_timeouts};

#[tokio::test]
async fn shutdown_says_421_and_closes() {
    let server = Server::submission().await;
    let mut client = Client::connect(server.addr).await;
    assert!(client.reply().await.starts_with("220"));
    assert!(client.cmd("EHLO client.example").await.starts_with("250"));
    server.shutdown.cancel();
    let reply = client.reply().await;
    assert!(reply.starts_with("421 4.3.2"), "{reply}");
    assert!(client.closed().await);
}

#[tokio::test]
async fn idle_client_gets_421_4_4_2() {
    let mut timeouts = fast_timeouts();
    timeouts.command = Duration::from_millis(300);
    let server = Server::start(Listener::Submission, false, timeouts).await;
    let mut client = Client::connect(server.addr).await;
    assert!(client.reply().await.starts_with("220"));
    let started = std::time::Instant::now();
    let reply = client.reply().await;
    assert!(reply.starts_with("421 4.4.2"), "{reply}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(client.closed().await);
}

#[tokio::test]
async fn stalled_message_content_gets_421_4_4_2_and_is_not_stored() {
    let mut timeouts = fast_timeouts();
    timeouts.data = Duration::from_millis(300);
    let server = Server::start(Listener::Submission, false, timeouts).await;
    let mut client = Client::signed_in(&server, ERIC).await;
    assert!(
        client
            .cmd(&format!("MAIL FROM:<{ERIC}>"))
            .await
            .starts_with("250")
    );
    assert!(
        client
            .cmd(&format!("RCPT TO:<{JANE}>"))
            .await
            .starts_with("250")
    );
    assert!(client.cmd("DATA").await.starts_with("354"));
    client.send("Subject: half\r\n\r\nand then nothing").await;
    let reply = client.reply().await;
    assert!(reply.starts_with("421 4.4.2"), "{reply}");
    assert!(client.closed().await);
    assert!(server.inbox(JANE).is_empty());
}

#[tokio::test]
async fn a_client_that_hangs_up_does_not_disturb_the_next() {
    let server = Server::submission().await;
    for _ in 0..3 {
        let mut client = Client::signed_in(&server, ERIC).await;
        client.cmd(&format!("MAIL FROM:<{ERIC}>")).await;
        drop(client);
    }
    let mut client = Client::signed_in(&server, ERIC).await;
    assert!(client.cmd("QUIT").await.starts_with("221"));
    assert!(client.closed().await);
}

#[tokio::test]
async fn shutdown_during_data_stores_nothing() {
    let server = Server::submission().await;
    let mut client = Client::signed_in(&server, ERIC).await;
    assert!(
        client
            .cmd(&format!("MAIL FROM:<{ERIC}>"))
            .await
            .starts_with("250")
    );
    assert!(
        client
            .cmd(&format!("RCPT TO:<{JANE}>"))
            .await
            .starts_with("250")
    );
    assert!(client.cmd("DATA").await.starts_with("354"));
    client.send("Subject: interrupted\r\n\r\nhalf a mess").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.shutdown.cancel();
    let reply = client.reply().await;
    assert!(reply.starts_with("421 4.3.2"), "{reply}");
    assert!(client.closed().await);
    assert!(server.inbox(JANE).is_empty());
}
