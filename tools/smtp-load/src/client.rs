//! One SMTP client connection: opening it (greeting, EHLO, STARTTLS or
//! implicit TLS, EHLO again, optional AUTH PLAIN) and then sending mail
//! transactions over it in lock-step, one command and one reply at a time.
//!
//! Every read and write is bounded by the reply timeout, and a reply line
//! is bounded in length, so a stuck or hostile server ends the session
//! with an error instead of hanging the benchmark.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use rustls_pki_types::ServerName;
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Longest reply line accepted (RFC 5321 §4.5.3.1.5 says 512 octets; a
/// little slack for verbose servers).
const MAX_REPLY_LINE: u64 = 4096;

/// Most lines in one multi-line reply (EHLO lists are about a dozen).
const MAX_REPLY_LINES: usize = 100;

/// How the connection becomes encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsMode {
    /// Plain greeting and EHLO, then `STARTTLS` (RFC 3207).
    StartTls,
    /// TLS from the first byte (RFC 8314).
    Implicit,
}

/// Everything needed to open a session; shared by all of them.
pub(crate) struct Target {
    /// Server address.
    pub(crate) address: SocketAddr,
    /// Name checked against the certificate and sent as SNI.
    pub(crate) tls_name: ServerName<'static>,
    /// STARTTLS or implicit TLS.
    pub(crate) mode: TlsMode,
    /// The client TLS configuration.
    pub(crate) connector: TlsConnector,
    /// Name sent in EHLO.
    pub(crate) ehlo: String,
    /// `user:password` for AUTH PLAIN, if the server wants it.
    pub(crate) auth: Option<(String, String)>,
    /// Bound on every single read or write.
    pub(crate) reply_timeout: Duration,
}

/// A server reply: its code and all its text lines.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The three-digit code.
    pub(crate) code: u16,
    /// The text of each line, without code and separator.
    pub(crate) lines: Vec<String>,
}

impl std::fmt::Display for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}",
            self.code,
            self.lines.last().map(String::as_str).unwrap_or("")
        )
    }
}

/// What became of one mail transaction.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// `250` after the end of data: the server took responsibility.
    Accepted,
    /// The server refused at some step; the reply says which and why.
    Refused {
        /// The command that was refused.
        step: &'static str,
        /// The reply.
        reply: Reply,
    },
}

/// An open, encrypted (and, if asked, authenticated) SMTP session.
pub(crate) struct Session {
    io: BufReader<TlsStream<TcpStream>>,
    reply_timeout: Duration,
}

impl Session {
    /// Connects and brings the session to the point where `MAIL` may be
    /// sent.
    ///
    /// # Errors
    ///
    /// Connection or TLS failure, a timeout, or any unexpected reply
    /// during the opening (including a missing `STARTTLS` extension).
    pub(crate) async fn open(target: &Target) -> anyhow::Result<Session> {
        let t = target.reply_timeout;
        let tcp = bounded(t, TcpStream::connect(target.address))
            .await
            .with_context(|| format!("cannot connect to {}", target.address))?;
        tcp.set_nodelay(true)?;
        let tcp = match target.mode {
            TlsMode::Implicit => tcp,
            TlsMode::StartTls => {
                let mut plain = BufReader::new(tcp);
                expect(read_reply(&mut plain, t).await?, 220, "greeting")?;
                command(&mut plain, t, &format!("EHLO {}", target.ehlo)).await?;
                let ehlo = expect(read_reply(&mut plain, t).await?, 250, "EHLO")?;
                if !ehlo
                    .lines
                    .iter()
                    .any(|l| l.eq_ignore_ascii_case("STARTTLS"))
                {
                    bail!("the server does not offer STARTTLS");
                }
                command(&mut plain, t, "STARTTLS").await?;
                expect(read_reply(&mut plain, t).await?, 220, "STARTTLS")?;
                // Anything already buffered was sent before TLS and must not
                // be read as if it came over the encrypted channel.
                if !plain.buffer().is_empty() {
                    bail!("the server sent data after its STARTTLS reply");
                }
                plain.into_inner()
            }
        };
        let tls = bounded(t, target.connector.connect(target.tls_name.clone(), tcp))
            .await
            .context("TLS handshake failed")?;
        let mut io = BufReader::new(tls);
        if target.mode == TlsMode::Implicit {
            expect(read_reply(&mut io, t).await?, 220, "greeting")?;
        }
        command(&mut io, t, &format!("EHLO {}", target.ehlo)).await?;
        expect(read_reply(&mut io, t).await?, 250, "EHLO")?;
        if let Some((user, password)) = &target.auth {
            let blob =
                base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
            command(&mut io, t, &format!("AUTH PLAIN {blob}")).await?;
            expect(read_reply(&mut io, t).await?, 235, "AUTH")?;
        }
        Ok(Session {
            io,
            reply_timeout: t,
        })
    }

    /// Sends one message: `MAIL`, one `RCPT` per recipient, `DATA`, the
    /// content (already dot-stuffed, ending in CRLF) and the final dot, then
    /// `RSET` so the next transaction starts clean whatever happened.
    ///
    /// # Errors
    ///
    /// I/O failure or timeout; the session is then unusable. A refusal
    /// is not an error but an [`Outcome::Refused`].
    pub(crate) async fn send(
        &mut self,
        from: &str,
        to: &[String],
        headers: &[u8],
        body: &[u8],
    ) -> anyhow::Result<Outcome> {
        let outcome = self.transaction(from, to, headers, body).await?;
        command(&mut self.io, self.reply_timeout, "RSET").await?;
        let reset = read_reply(&mut self.io, self.reply_timeout).await?;
        if reset.code != 250 {
            bail!("RSET refused: {reset}");
        }
        Ok(outcome)
    }

    async fn transaction(
        &mut self,
        from: &str,
        to: &[String],
        headers: &[u8],
        body: &[u8],
    ) -> anyhow::Result<Outcome> {
        let t = self.reply_timeout;
        command(&mut self.io, t, &format!("MAIL FROM:<{from}>")).await?;
        let reply = read_reply(&mut self.io, t).await?;
        if reply.code != 250 {
            return Ok(Outcome::Refused {
                step: "MAIL",
                reply,
            });
        }
        for rcpt in to {
            command(&mut self.io, t, &format!("RCPT TO:<{rcpt}>")).await?;
            let reply = read_reply(&mut self.io, t).await?;
            if reply.code != 250 && reply.code != 251 {
                return Ok(Outcome::Refused {
                    step: "RCPT",
                    reply,
                });
            }
        }
        command(&mut self.io, t, "DATA").await?;
        let reply = read_reply(&mut self.io, t).await?;
        if reply.code != 354 {
            return Ok(Outcome::Refused {
                step: "DATA",
                reply,
            });
        }
        bounded(t, async {
            self.io.write_all(headers).await?;
            self.io.write_all(body).await?;
            self.io.write_all(b".\r\n").await?;
            self.io.flush().await
        })
        .await
        .context("cannot send the message")?;
        let reply = read_reply(&mut self.io, t).await?;
        if reply.code == 250 {
            Ok(Outcome::Accepted)
        } else {
            Ok(Outcome::Refused {
                step: "end of data",
                reply,
            })
        }
    }

    /// Says `QUIT` and waits for the reply, within the reply timeout;
    /// errors are ignored since the session is over either way.
    pub(crate) async fn quit(mut self) {
        let t = self.reply_timeout;
        if command(&mut self.io, t, "QUIT").await.is_ok() {
            let _ = read_reply(&mut self.io, t).await;
        }
        let _ = bounded(t, self.io.get_mut().shutdown()).await;
    }
}

/// Runs an I/O future under the reply timeout.
async fn bounded<T>(
    limit: Duration,
    io: impl Future<Output = std::io::Result<T>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(limit, io).await {
        Ok(result) => Ok(result?),
        Err(_) => bail!("no progress in {} s", limit.as_secs_f64()),
    }
}

/// Writes one command line (CRLF added) and flushes it.
async fn command<W: AsyncWrite + Unpin>(
    io: &mut W,
    limit: Duration,
    line: &str,
) -> anyhow::Result<()> {
    bounded(limit, async {
        io.write_all(line.as_bytes()).await?;
        io.write_all(b"\r\n").await?;
        io.flush().await
    })
    .await
    .with_context(|| format!("cannot send {}", line.split(' ').next().unwrap_or(line)))
}

/// Reads one (possibly multi-line) reply.
async fn read_reply<R: AsyncBufRead + Unpin>(io: &mut R, limit: Duration) -> anyhow::Result<Reply> {
    let mut lines = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = bounded(
            limit,
            (&mut *io).take(MAX_REPLY_LINE).read_until(b'\n', &mut line),
        )
        .await
        .context("waiting for a reply")?;
        if n == 0 {
            bail!("the server closed the connection");
        }
        if !line.ends_with(b"\n") {
            bail!("reply line longer than {MAX_REPLY_LINE} octets");
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        let code: u16 = match text.get(..3).map(str::parse) {
            Some(Ok(code)) if (200..600).contains(&code) => code,
            _ => bail!("malformed reply line {text:?}"),
        };
        let last = match text.as_bytes().get(3) {
            None | Some(b' ') => true,
            Some(b'-') => false,
            _ => bail!("malformed reply line {text:?}"),
        };
        lines.push(text.get(4..).unwrap_or("").to_owned());
        if last {
            return Ok(Reply { code, lines });
        }
        if lines.len() >= MAX_REPLY_LINES {
            bail!("reply of more than {MAX_REPLY_LINES} lines");
        }
    }
}

/// Passes a reply through if it has the expected code.
fn expect(reply: Reply, code: u16, step: &str) -> anyhow::Result<Reply> {
    if reply.code == code {
        Ok(reply)
    } else {
        bail!("{step} refused: {reply}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(5);

    async fn parse(input: &[u8]) -> anyhow::Result<Reply> {
        let mut io = input;
        read_reply(&mut io, T).await
    }

    #[tokio::test]
    async fn replies_are_read_whole() {
        let ehlo = parse(b"250-mx.example greets you\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
            .await
            .unwrap();
        assert_eq!(ehlo.code, 250);
        assert_eq!(
            ehlo.lines,
            ["mx.example greets you", "PIPELINING", "STARTTLS"]
        );
        let bare = parse(b"354\r\n").await.unwrap();
        assert_eq!((bare.code, bare.lines.len()), (354, 1));
        assert_eq!(
            parse(b"550 5.7.1 no\r\n").await.unwrap().to_string(),
            "550 5.7.1 no"
        );
    }

    #[tokio::test]
    async fn bad_replies_are_errors() {
        for input in [
            &b""[..],
            b"250-unfinished\r\n",
            b"25 short\r\n",
            b"abc text\r\n",
            b"250xtext\r\n",
            b"199 too low\r\n",
        ] {
            assert!(parse(input).await.is_err(), "{input:?}");
        }
        let long = [b"250 ".as_slice(), &[b'a'; 5000], b"\r\n"].concat();
        assert!(parse(&long).await.is_err());
    }
}
