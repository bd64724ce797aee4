//! The interim SMTP session: greeting, EHLO, STARTTLS, and an honest
//! `421 4.3.2` for anything that would carry mail.

use std::io;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use transport::{Line, LineBuffer, ServerTls, Stream};

/// RFC 5321 §4.5.3.1.4: a command line is at most 512 octets; allow some slack
/// for ESMTP parameters.
const MAX_LINE: usize = 1000;
/// RFC 5321 §4.5.3.2.7: the server waits at least five minutes for a command.
const IDLE: Duration = Duration::from_secs(300);

/// Runs one interim session to its end.
///
/// # Errors
///
/// I/O and TLS handshake errors; protocol errors are answered, not returned.
pub async fn serve_unavailable(
    mut stream: Stream,
    implicit_tls: bool,
    tls: &ServerTls,
    hostname: &str,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    if implicit_tls {
        stream = stream.upgrade(tls).await?;
    }
    let mut lines = LineBuffer::new(MAX_LINE);
    stream
        .write_all(format!("220 {hostname} ESMTP Ward\r\n").as_bytes())
        .await?;
    loop {
        let line = tokio::select! {
            line = tokio::time::timeout(IDLE, lines.read_line(&mut stream)) => match line {
                Ok(line) => line?,
                Err(_) => {
                    stream.write_all(b"421 4.4.2 Idle for too long; closing the connection\r\n").await?;
                    return Ok(());
                }
            },
            () = shutdown.cancelled() => {
                stream.write_all(b"421 4.3.2 Service shutting down; please try again later\r\n").await?;
                return Ok(());
            }
        };
        let line = match line {
            Line::Complete(line) => line,
            Line::TooLong => {
                stream
                    .write_all(b"500 5.5.6 Command line too long\r\n")
                    .await?;
                continue;
            }
            Line::Closed => return Ok(()),
        };
        let verb = line
            .split(|&b| b == b' ')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match verb.as_slice() {
            b"EHLO" => {
                let starttls = if stream.is_tls() {
                    ""
                } else {
                    "250-STARTTLS\r\n"
                };
                let reply = format!("250-{hostname}\r\n{starttls}250 ENHANCEDSTATUSCODES\r\n");
                stream.write_all(reply.as_bytes()).await?;
            }
            b"HELO" => {
                stream
                    .write_all(format!("250 {hostname}\r\n").as_bytes())
                    .await?
            }
            b"NOOP" | b"RSET" => stream.write_all(b"250 2.0.0 OK\r\n").await?,
            b"STARTTLS" if stream.is_tls() => {
                stream
                    .write_all(b"503 5.5.1 TLS is already active\r\n")
                    .await?;
            }
            b"STARTTLS" => {
                stream
                    .write_all(b"220 2.0.0 Ready to start TLS\r\n")
                    .await?;
                lines.discard();
                stream = stream.upgrade(tls).await?;
            }
            b"QUIT" => {
                stream.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            b"MAIL" | b"RCPT" | b"DATA" | b"BDAT" | b"AUTH" | b"VRFY" | b"EXPN" => {
                stream
                    .write_all(
                        b"421 4.3.2 Service not yet available: Ward does not accept mail yet\r\n",
                    )
                    .await?;
                return Ok(());
            }
            _ => {
                stream
                    .write_all(b"500 5.5.2 Command not recognised\r\n")
                    .await?
            }
        }
    }
}
