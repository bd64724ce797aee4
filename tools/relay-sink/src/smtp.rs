//! One SMTP session: greeting and EHLO in the clear, `STARTTLS`, then any
//! number of transactions whose messages are read, counted and dropped.
//!
//! Replies are collected and written when the client has nothing more
//! buffered (so a PIPELINING client's batch gets its replies together);
//! every read is bounded by the idle timeout and every line in length.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;

use crate::stats::Stats;

/// Longest command line accepted (RFC 5321 §4.5.3.1.4 says 512 octets; the
/// MAIL parameters of extensions may add to it).
const MAX_COMMAND: usize = 4096;

/// Longest line of message content accepted (RFC 5322 says 998 octets;
/// generous slack, the content is dropped anyway).
const MAX_DATA_LINE: usize = 1 << 20;

/// Bad commands tolerated before the session is closed.
const MAX_BAD: u32 = 20;

/// Biggest message advertised with SIZE.
const MAX_SIZE: u64 = 100 << 20;

/// What every session shares.
pub(crate) struct Settings {
    /// Name in the greeting and the EHLO reply.
    pub(crate) hostname: String,
    /// The server TLS configuration.
    pub(crate) acceptor: TlsAcceptor,
    /// Bound on every read.
    pub(crate) idle_timeout: Duration,
    /// Whether PIPELINING is advertised.
    pub(crate) pipelining: bool,
}

/// How a phase of the session ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The client asked for TLS and was told to go ahead.
    StartTls,
    /// QUIT, or the client closed the connection between commands.
    Closed,
}

/// Serves one connection; counts an error if it does not end cleanly.
pub(crate) async fn serve(stream: TcpStream, settings: Arc<Settings>, stats: Arc<Stats>) {
    stats.connection();
    let _ = stream.set_nodelay(true);
    if let Err(e) = session(stream, &settings, &stats).await {
        let n = stats.error();
        if n <= 20 {
            eprintln!("relay-sink: session error: {e:#}");
        } else if n == 21 {
            eprintln!("relay-sink: more session errors; not shown");
        }
    }
}

async fn session(stream: TcpStream, settings: &Settings, stats: &Stats) -> anyhow::Result<()> {
    let mut plain = BufReader::new(stream);
    let mut out = format!("220 {} ESMTP relay-sink\r\n", settings.hostname).into_bytes();
    match phase(&mut plain, &mut out, false, settings, stats).await? {
        End::Closed => return Ok(()),
        End::StartTls => {}
    }
    // RFC 3207 §4.2: anything the client sent after STARTTLS and before the
    // handshake would be injected plaintext.
    if !plain.buffer().is_empty() {
        bail!("data pipelined after STARTTLS");
    }
    let stream = plain.into_inner();
    let tls = tokio::time::timeout(settings.idle_timeout, settings.acceptor.accept(stream))
        .await
        .context("TLS handshake timed out")?
        .context("TLS handshake failed")?;
    stats.tls();
    let mut secure = BufReader::new(tls);
    let mut out = Vec::new();
    phase(&mut secure, &mut out, true, settings, stats).await?;
    let _ = secure.get_mut().shutdown().await;
    Ok(())
}

/// The envelope of the transaction in progress.
#[derive(Default)]
struct Transaction {
    mail: bool,
    recipients: u64,
}

/// Runs commands until STARTTLS (in the clear) or the end of the session.
/// `out` holds replies not yet written.
async fn phase<S>(
    io: &mut BufReader<S>,
    out: &mut Vec<u8>,
    tls: bool,
    settings: &Settings,
    stats: &Stats,
) -> anyhow::Result<End>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut line = Vec::with_capacity(256);
    let mut greeted = false;
    let mut tx = Transaction::default();
    let mut bad = 0u32;
    loop {
        if io.buffer().is_empty() {
            flush(io, out, settings).await?;
        }
        let more = read_line(io, &mut line, MAX_COMMAND, settings.idle_timeout).await?;
        if !more {
            // Closed between commands: not an error.
            return Ok(End::Closed);
        }
        let text = String::from_utf8_lossy(trim_eol(&line)).into_owned();
        let (verb, rest) = match text.split_once(' ') {
            Some((v, r)) => (v.to_ascii_uppercase(), r.trim()),
            None => (text.to_ascii_uppercase(), ""),
        };
        let reply: String = match verb.as_str() {
            "EHLO" | "HELO" if rest.is_empty() => "501 5.5.4 A domain name is needed".into(),
            "EHLO" => {
                greeted = true;
                tx = Transaction::default();
                ehlo_reply(&settings.hostname, tls, settings.pipelining)
            }
            "HELO" => {
                greeted = true;
                tx = Transaction::default();
                format!("250 {}", settings.hostname)
            }
            "STARTTLS" if tls => "503 5.5.1 TLS is already active".into(),
            "STARTTLS" => {
                out.extend_from_slice(b"220 2.0.0 Ready to start TLS\r\n");
                flush(io, out, settings).await?;
                return Ok(End::StartTls);
            }
            "MAIL" | "RCPT" | "DATA" if !tls => {
                "530 5.7.0 Must issue a STARTTLS command first".into()
            }
            "MAIL" if !greeted => "503 5.5.1 Send EHLO first".into(),
            "MAIL" if tx.mail => "503 5.5.1 Nested MAIL command".into(),
            "MAIL" => {
                tx.mail = true;
                "250 2.1.0 OK".into()
            }
            "RCPT" if !tx.mail => "503 5.5.1 Need MAIL first".into(),
            "RCPT" => {
                tx.recipients += 1;
                "250 2.1.5 OK".into()
            }
            "DATA" if tx.recipients == 0 => "554 5.5.1 No valid recipients".into(),
            "DATA" => {
                out.extend_from_slice(b"354 End data with <CR><LF>.<CR><LF>\r\n");
                flush(io, out, settings).await?;
                let id = read_message(io, &mut line, settings.idle_timeout).await?;
                stats.message(tx.recipients, id.as_deref());
                tx = Transaction::default();
                "250 2.0.0 OK: accepted and discarded".into()
            }
            "RSET" => {
                tx = Transaction::default();
                "250 2.0.0 OK".into()
            }
            "NOOP" => "250 2.0.0 OK".into(),
            "VRFY" => "252 2.5.0 Cannot verify; send mail".into(),
            "QUIT" => {
                out.extend_from_slice(b"221 2.0.0 Bye\r\n");
                flush(io, out, settings).await?;
                return Ok(End::Closed);
            }
            _ => {
                bad += 1;
                if bad > MAX_BAD {
                    out.extend_from_slice(b"421 4.7.0 Too many bad commands\r\n");
                    flush(io, out, settings).await?;
                    bail!("too many bad commands");
                }
                "500 5.5.2 Command not recognised".into()
            }
        };
        out.extend_from_slice(reply.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// The EHLO reply: STARTTLS only in the clear.
fn ehlo_reply(hostname: &str, tls: bool, pipelining: bool) -> String {
    let mut lines = vec![hostname.to_owned()];
    if pipelining {
        lines.push("PIPELINING".into());
    }
    lines.push(format!("SIZE {MAX_SIZE}"));
    lines.push("8BITMIME".into());
    lines.push("ENHANCEDSTATUSCODES".into());
    lines.push("SMTPUTF8".into());
    if !tls {
        lines.push("STARTTLS".into());
    }
    let last = lines.len() - 1;
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' }))
        .collect::<Vec<_>>()
        .join("\r\n")
}

/// Writes the pending replies.
async fn flush<S>(
    io: &mut BufReader<S>,
    out: &mut Vec<u8>,
    settings: &Settings,
) -> anyhow::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if out.is_empty() {
        return Ok(());
    }
    let writer = io.get_mut();
    tokio::time::timeout(settings.idle_timeout, async {
        writer.write_all(out).await?;
        writer.flush().await
    })
    .await
    .context("write timed out")?
    .context("write failed")?;
    out.clear();
    Ok(())
}

/// Reads one line (with its line end) into `line`; `false` at the end of
/// the stream with nothing read.
async fn read_line<R>(
    io: &mut R,
    line: &mut Vec<u8>,
    max: usize,
    timeout: Duration,
) -> anyhow::Result<bool>
where
    R: AsyncBufRead + Unpin,
{
    line.clear();
    loop {
        let buf = tokio::time::timeout(timeout, io.fill_buf())
            .await
            .context("the client went silent")?
            .context("read failed")?;
        if buf.is_empty() {
            if line.is_empty() {
                return Ok(false);
            }
            bail!("connection closed in the middle of a line");
        }
        let (take, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        if line.len() + take > max {
            bail!("line longer than {max} octets");
        }
        line.extend_from_slice(&buf[..take]);
        io.consume(take);
        if done {
            return Ok(true);
        }
    }
}

/// Reads message content up to the lone dot, keeping only the value of
/// the first `Message-ID` header (unfolded, trimmed).
async fn read_message<R>(
    io: &mut R,
    line: &mut Vec<u8>,
    timeout: Duration,
) -> anyhow::Result<Option<Vec<u8>>>
where
    R: AsyncBufRead + Unpin,
{
    let mut in_headers = true;
    let mut in_id = false;
    let mut id: Option<Vec<u8>> = None;
    loop {
        if !read_line(io, line, MAX_DATA_LINE, timeout).await? {
            bail!("connection closed during DATA");
        }
        let content = trim_eol(line);
        if content == b"." {
            return Ok(id.map(|v| v.trim_ascii().to_vec()));
        }
        if !in_headers {
            continue;
        }
        if content.is_empty() {
            in_headers = false;
            continue;
        }
        if content[0] == b' ' || content[0] == b'\t' {
            if in_id && let Some(v) = id.as_mut() {
                v.extend_from_slice(content);
            }
            continue;
        }
        in_id = false;
        if id.is_none() && content.len() >= 11 && content[..11].eq_ignore_ascii_case(b"message-id:")
        {
            id = Some(content[11..].to_vec());
            in_id = true;
        }
    }
}

/// The line without its CRLF (or bare LF).
fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn message_id(content: &str) -> Option<Vec<u8>> {
        let mut io = BufReader::new(content.as_bytes());
        let mut line = Vec::new();
        read_message(&mut io, &mut line, Duration::from_secs(5))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn message_id_is_found_unfolded_and_the_body_ignored() {
        assert_eq!(
            message_id("Subject: x\r\nMessage-ID: <a@b>\r\n\r\nMessage-ID: <c@d>\r\n.\r\n").await,
            Some(b"<a@b>".to_vec())
        );
        assert_eq!(
            message_id("message-id:\r\n <folded@b>\r\nTo: x\r\n\r\nbody\r\n.\r\n").await,
            Some(b"<folded@b>".to_vec())
        );
        assert_eq!(message_id("Subject: x\r\n\r\n..dot\r\n.\r\n").await, None);
    }

    #[tokio::test]
    async fn content_cut_off_is_an_error() {
        let mut io = BufReader::new(&b"Subject: x\r\n\r\nbody\r\n"[..]);
        let mut line = Vec::new();
        assert!(
            read_message(&mut io, &mut line, Duration::from_secs(5))
                .await
                .is_err()
        );
    }

    #[test]
    fn ehlo_offers_starttls_only_in_the_clear() {
        let clear = ehlo_reply("localhost", false, true);
        assert!(clear.starts_with("250-localhost\r\n250-PIPELINING\r\n"));
        assert!(clear.ends_with("250 STARTTLS"));
        let secure = ehlo_reply("localhost", true, false);
        assert!(!secure.contains("STARTTLS") && !secure.contains("PIPELINING"));
        assert!(secure.ends_with("250 SMTPUTF8"));
    }
}
