//! The interim IMAP session: greeting, CAPABILITY, STARTTLS, NOOP, LOGOUT,
//! and `NO [UNAVAILABLE]` for everything that needs a mailbox.

use std::io;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;
use transport::{Line, LineBuffer, ServerTls, Stream};

const MAX_LINE: usize = 8192;
/// RFC 9051 §5.4: the autologout timer is at least 30 minutes.
const IDLE: Duration = Duration::from_secs(30 * 60);

fn capabilities(stream: &Stream) -> &'static str {
    if stream.is_tls() {
        "IMAP4rev1 LOGINDISABLED"
    } else {
        "IMAP4rev1 STARTTLS LOGINDISABLED"
    }
}

/// Runs one interim session to its end.
///
/// # Errors
///
/// I/O and TLS handshake errors; protocol errors are answered, not returned.
pub async fn serve_unavailable(
    mut stream: Stream,
    implicit_tls: bool,
    tls: &ServerTls,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    if implicit_tls {
        stream = stream.upgrade(tls).await?;
    }
    let mut lines = LineBuffer::new(MAX_LINE);
    let greeting = format!("* OK [CAPABILITY {}] Ward ready\r\n", capabilities(&stream));
    stream.write_all(greeting.as_bytes()).await?;
    loop {
        let line = tokio::select! {
            line = tokio::time::timeout(IDLE, lines.read_line(&mut stream)) => match line {
                Ok(line) => line?,
                Err(_) => {
                    stream.write_all(b"* BYE Autologout; idle for too long\r\n").await?;
                    return Ok(());
                }
            },
            () = shutdown.cancelled() => {
                stream.write_all(b"* BYE [UNAVAILABLE] Server shutting down\r\n").await?;
                return Ok(());
            }
        };
        let line = match line {
            Line::Complete(line) => String::from_utf8_lossy(&line).into_owned(),
            Line::TooLong => {
                stream.write_all(b"* BAD Command line too long\r\n").await?;
                continue;
            }
            Line::Closed => return Ok(()),
        };
        let mut words = line.split(' ');
        let tag = words.next().unwrap_or_default();
        let command = words.next().unwrap_or_default().to_ascii_uppercase();
        let valid_tag = !tag.is_empty()
            && tag
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"(){%*\"\\+".contains(&b));
        if !valid_tag || command.is_empty() {
            stream
                .write_all(b"* BAD Expected a tag and a command\r\n")
                .await?;
            continue;
        }
        let reply = match command.as_str() {
            "CAPABILITY" => format!(
                "* CAPABILITY {}\r\n{tag} OK CAPABILITY completed\r\n",
                capabilities(&stream)
            ),
            "NOOP" => format!("{tag} OK NOOP completed\r\n"),
            "LOGOUT" => {
                let bye = format!("* BYE Ward logging out\r\n{tag} OK LOGOUT completed\r\n");
                stream.write_all(bye.as_bytes()).await?;
                return Ok(());
            }
            "STARTTLS" if stream.is_tls() => format!("{tag} BAD TLS is already active\r\n"),
            "STARTTLS" => {
                let go = format!("{tag} OK Begin TLS negotiation now\r\n");
                stream.write_all(go.as_bytes()).await?;
                lines.discard();
                stream = stream.upgrade(tls).await?;
                continue;
            }
            _ => format!("{tag} NO [UNAVAILABLE] Ward does not serve mailboxes yet\r\n"),
        };
        stream.write_all(reply.as_bytes()).await?;
    }
}
