//! A minimal IMAP client over implicit TLS: tagged commands, responses read
//! up to the tagged completion (literals in responses skipped by count),
//! synchronising literals for APPEND. Enough for a benchmark; nothing more.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context as _, bail};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Where and how to connect.
pub(crate) struct Target {
    pub(crate) address: SocketAddr,
    pub(crate) tls_name: ServerName<'static>,
    pub(crate) connector: TlsConnector,
    pub(crate) user: String,
    pub(crate) password: String,
    pub(crate) reply_timeout: Duration,
}

/// One logged-in session.
pub(crate) struct Session {
    stream: BufReader<TlsStream<TcpStream>>,
    next_tag: u64,
    reply_timeout: Duration,
}

/// The answer to one command: its untagged lines (literals dropped) and
/// whether it completed `OK`.
pub(crate) struct Answer {
    pub(crate) untagged: Vec<String>,
    pub(crate) completion: String,
}

impl Answer {
    pub(crate) fn ok(&self) -> bool {
        self.completion.split_whitespace().nth(1) == Some("OK")
    }
}

impl Session {
    /// Connects, reads the greeting and logs in.
    pub(crate) async fn open(target: &Target) -> anyhow::Result<Self> {
        let tcp = timeout(target.reply_timeout, TcpStream::connect(target.address))
            .await
            .context("connect timed out")?
            .context("connect")?;
        tcp.set_nodelay(true)?;
        let tls = timeout(
            target.reply_timeout,
            target.connector.connect(target.tls_name.clone(), tcp),
        )
        .await
        .context("TLS handshake timed out")?
        .context("TLS handshake")?;
        let mut session = Self {
            stream: BufReader::with_capacity(64 * 1024, tls),
            next_tag: 1,
            reply_timeout: target.reply_timeout,
        };
        let greeting = session.line().await?;
        if !greeting.starts_with("* OK") {
            bail!("greeting: {greeting}");
        }
        let login = session
            .command(&format!(
                "LOGIN {} {}",
                quoted(&target.user),
                quoted(&target.password)
            ))
            .await?;
        if !login.ok() {
            bail!("LOGIN: {}", login.completion);
        }
        Ok(session)
    }

    async fn line(&mut self) -> anyhow::Result<String> {
        let mut buf = Vec::new();
        let n = timeout(self.reply_timeout, self.stream.read_until(b'\n', &mut buf))
            .await
            .context("reply timed out")??;
        if n == 0 {
            bail!("connection closed by the server");
        }
        Ok(String::from_utf8_lossy(&buf).trim_end().to_owned())
    }

    /// Reads one response line, skipping any literals it carries.
    async fn response(&mut self) -> anyhow::Result<String> {
        let mut line = self.line().await?;
        while let Some(n) = literal_length(&line) {
            let mut left = n;
            let mut chunk = [0u8; 16 * 1024];
            while left > 0 {
                let want = left.min(chunk.len() as u64) as usize;
                timeout(
                    self.reply_timeout,
                    self.stream.read_exact(&mut chunk[..want]),
                )
                .await
                .context("literal timed out")??;
                left -= want as u64;
            }
            let rest = self.line().await?;
            line.push_str(" <literal> ");
            line.push_str(&rest);
        }
        Ok(line)
    }

    fn tag(&mut self) -> String {
        let tag = format!("a{}", self.next_tag);
        self.next_tag += 1;
        tag
    }

    /// Sends `text` as a tagged command and reads to its completion.
    pub(crate) async fn command(&mut self, text: &str) -> anyhow::Result<Answer> {
        let tag = self.tag();
        self.send(format!("{tag} {text}\r\n").as_bytes()).await?;
        self.complete(&tag).await
    }

    async fn send(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        timeout(self.reply_timeout, async {
            self.stream.get_mut().write_all(bytes).await?;
            self.stream.get_mut().flush().await
        })
        .await
        .context("write timed out")??;
        Ok(())
    }

    async fn complete(&mut self, tag: &str) -> anyhow::Result<Answer> {
        let mut untagged = Vec::new();
        loop {
            let line = self.response().await?;
            if line.starts_with(tag) && line.as_bytes().get(tag.len()) == Some(&b' ') {
                return Ok(Answer {
                    untagged,
                    completion: line,
                });
            }
            if line.starts_with("* BYE") {
                bail!("server said {line}");
            }
            untagged.push(line);
        }
    }

    /// `APPEND mailbox (flags) {n}` with a synchronising literal; returns the
    /// APPENDUID's UID if the server gave one.
    pub(crate) async fn append(
        &mut self,
        mailbox: &str,
        flags: &str,
        message: &[u8],
    ) -> anyhow::Result<Option<u32>> {
        let tag = self.tag();
        self.send(format!("{tag} APPEND {mailbox} ({flags}) {{{}}}\r\n", message.len()).as_bytes())
            .await?;
        let go = self.response().await?;
        if !go.starts_with('+') {
            bail!("APPEND literal refused: {go}");
        }
        self.send(message).await?;
        self.send(b"\r\n").await?;
        let answer = self.complete(&tag).await?;
        if !answer.ok() {
            bail!("APPEND: {}", answer.completion);
        }
        Ok(appenduid(&answer.completion))
    }

    /// Enters IDLE and waits for the continuation.
    pub(crate) async fn idle(&mut self) -> anyhow::Result<()> {
        let tag = self.tag();
        self.send(format!("{tag} IDLE\r\n").as_bytes()).await?;
        let go = self.response().await?;
        if !go.starts_with('+') {
            bail!("IDLE refused: {go}");
        }
        Ok(())
    }

    /// Says LOGOUT and reads the answer (errors ignored: the server may
    /// close first).
    pub(crate) async fn logout(mut self) {
        let _ = self.command("LOGOUT").await;
    }
}

/// `{123}` or `{123+}` at the end of a response line.
fn literal_length(line: &str) -> Option<u64> {
    let open = line.strip_suffix('}')?.rfind('{')?;
    line[open + 1..line.len() - 1]
        .trim_end_matches('+')
        .parse()
        .ok()
}

/// The UID of `[APPENDUID validity uid]`.
fn appenduid(completion: &str) -> Option<u32> {
    let at = completion.find("[APPENDUID ")?;
    completion[at..]
        .split_whitespace()
        .nth(2)?
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// An IMAP quoted string.
pub(crate) fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_pieces() {
        assert_eq!(literal_length("* 1 FETCH (BODY[] {342}"), Some(342));
        assert_eq!(literal_length("* 1 FETCH (FLAGS ())"), None);
        assert_eq!(
            appenduid("a3 OK [APPENDUID 1700000000 4521] APPEND completed"),
            Some(4521)
        );
        assert_eq!(quoted("a\"b"), "\"a\\\"b\"");
    }
}
