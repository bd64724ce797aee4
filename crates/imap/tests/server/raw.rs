//! Raw-socket tests of the driver on the plain-text side: shutdown BYE and
//! pipelining before STARTTLS.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::harness::Server;

async fn line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(10), reader.read_line(&mut line))
        .await
        .expect("a line in time")
        .unwrap();
    line
}

#[tokio::test]
async fn shutdown_sends_bye_and_closes() {
    let server = Server::start().await;
    let tcp = TcpStream::connect(server.starttls).await.unwrap();
    let mut reader = BufReader::new(tcp);
    assert!(line(&mut reader).await.starts_with("* OK [CAPABILITY"));
    reader.get_mut().write_all(b"a NOOP\r\n").await.unwrap();
    assert_eq!(line(&mut reader).await, "a OK NOOP completed\r\n");
    server.shut_down();
    assert!(line(&mut reader).await.starts_with("* BYE [UNAVAILABLE]"));
    assert_eq!(line(&mut reader).await, "", "connection closed");
}

#[tokio::test]
async fn pipelined_commands_before_starttls_are_answered_in_order() {
    let server = Server::start().await;
    let tcp = TcpStream::connect(server.starttls).await.unwrap();
    let mut reader = BufReader::new(tcp);
    line(&mut reader).await;
    reader
        .get_mut()
        .write_all(b"a NOOP\r\nb CAPABILITY\r\nc LOGIN x y\r\nd LOGOUT\r\n")
        .await
        .unwrap();
    assert_eq!(line(&mut reader).await, "a OK NOOP completed\r\n");
    assert!(line(&mut reader).await.contains("LOGINDISABLED"));
    assert_eq!(line(&mut reader).await, "b OK CAPABILITY completed\r\n");
    assert!(
        line(&mut reader)
            .await
            .starts_with("c NO [PRIVACYREQUIRED]")
    );
    assert_eq!(line(&mut reader).await, "* BYE Ward logging out\r\n");
    assert_eq!(line(&mut reader).await, "d OK LOGOUT completed\r\n");
    assert_eq!(line(&mut reader).await, "");
}
