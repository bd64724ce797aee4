//! The async SMTP client: one connection to one server, taken through
//! greeting, EHLO, STARTTLS (or implicit TLS on the configured ports), EHLO again, then
//! any number of transactions. Only this module touches the socket: it
//! performs the steps of the `session` state machines, whose grammar is in
//! `proto`.
//!
//! A connection never carries `MAIL FROM` before TLS is established and the
//! server's certificate verified for the host name: without STARTTLS, or
//! with a certificate that does not verify, the attempt ends before any
//! envelope or message byte is sent.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::error::Failure;
use crate::proto::{Capabilities, Command, Reply, dot_stuff, parse_reply};
use crate::resolve::Candidate;
use crate::session::{Envelope, Opening, Outcome, Step, Transaction};

/// What a connection needs from the relay's configuration.
#[derive(Clone)]
pub(crate) struct ClientContext {
    /// The EHLO name.
    pub(crate) hostname: String,
    /// The TLS client configuration (reloadable).
    pub(crate) tls: Arc<crate::tls::ClientTls>,
    /// TCP connect and greeting timeout.
    pub(crate) connect_timeout: Duration,
    /// Per-reply timeout.
    pub(crate) command_timeout: Duration,
    /// Ports that speak TLS from the first byte.
    pub(crate) implicit_tls_ports: Vec<u16>,
}

/// The negotiated TLS parameters, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsInfo {
    /// For example `TLSv1.3`.
    pub(crate) version: String,
    /// For example `TLS13_AES_256_GCM_SHA384`.
    pub(crate) cipher: String,
}

enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// After a failed TLS handshake.
    Closed,
}

/// An open, encrypted SMTP connection ready for `MAIL FROM`.
pub(crate) struct Session {
    io: Io,
    buf: Vec<u8>,
    /// The server's host name, as verified.
    pub(crate) host: String,
    /// The address connected to.
    pub(crate) peer: SocketAddr,
    /// What the server offers (from the EHLO after TLS).
    pub(crate) capabilities: Capabilities,
    /// The negotiated TLS parameters.
    pub(crate) tls: TlsInfo,
    command_timeout: Duration,
}

async fn read_from<S: AsyncRead + Unpin>(s: &mut S, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut chunk = [0u8; 4096];
    let n = s.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

impl Session {
    /// Connects to the first of the candidate's addresses that answers and
    /// secures the connection.
    ///
    /// # Errors
    ///
    /// A temporary [`Failure`]: connection refused or timed out, greeting or
    /// EHLO refused, no STARTTLS, TLS or certificate failure.
    pub(crate) async fn open(candidate: &Candidate, ctx: &ClientContext) -> Result<Self, Failure> {
        let mut worst: Option<Failure> = None;
        for &addr in &candidate.addresses {
            match Self::open_one(&candidate.host, addr, ctx).await {
                Ok(s) => return Ok(s),
                Err(e) => {
                    tracing::debug!(host = %candidate.host, %addr, error = %e, "connection attempt failed");
                    worst = Some(match worst {
                        None => e,
                        Some(w) => w.more_telling(e),
                    });
                }
            }
        }
        Err(worst.unwrap_or(Failure::Connect {
            host: candidate.host.clone(),
            reason: "no address".into(),
        }))
    }

    async fn open_one(host: &str, addr: SocketAddr, ctx: &ClientContext) -> Result<Self, Failure> {
        let name = format!("{host} ({addr})");
        let connect_failure = |reason: String| Failure::Connect {
            host: name.clone(),
            reason,
        };
        let tcp = match tokio::time::timeout(ctx.connect_timeout, TcpStream::connect(addr)).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => return Err(connect_failure(e.to_string())),
            Err(_) => return Err(connect_failure("timed out".into())),
        };
        let _ = tcp.set_nodelay(true);
        let server_name = ServerName::try_from(host.to_owned()).map_err(|e| Failure::Tls {
            host: name.clone(),
            reason: format!("not a valid server name: {e}"),
        })?;
        let mut session = Session {
            io: Io::Plain(tcp),
            buf: Vec::new(),
            host: host.to_owned(),
            peer: addr,
            capabilities: Capabilities::default(),
            tls: TlsInfo {
                version: String::new(),
                cipher: String::new(),
            },
            command_timeout: ctx.command_timeout,
        };
        let implicit = ctx.implicit_tls_ports.contains(&addr.port());
        let (mut opening, mut step) = Opening::new(&ctx.hostname, &name, implicit);
        loop {
            step = match step {
                Step::Read => {
                    let greeting = session
                        .read_reply_within(ctx.connect_timeout)
                        .await
                        .map_err(|e| connect_failure(format!("no greeting: {e}")))?;
                    opening.reply(greeting)
                }
                Step::Send(command) => opening.reply(session.command(&command).await?),
                Step::Handshake => {
                    if !session.buf.is_empty() {
                        // Bytes sent before the handshake would be read as if
                        // they came over TLS (the STARTTLS injection class).
                        return Err(Failure::Protocol {
                            host: name,
                            reason: "data pipelined before the TLS handshake".into(),
                        });
                    }
                    session.handshake(server_name.clone(), ctx).await?;
                    opening.tls_established()
                }
                Step::Ready(capabilities) => {
                    session.capabilities = capabilities;
                    return Ok(session);
                }
                Step::Failed(f) => return Err(f),
                Step::SendMessage | Step::Done(_) => {
                    return Err(Failure::Protocol {
                        host: name,
                        reason: "opening out of order".into(),
                    });
                }
            };
        }
    }

    async fn handshake(
        &mut self,
        server_name: ServerName<'static>,
        ctx: &ClientContext,
    ) -> Result<(), Failure> {
        let host = format!("{} ({})", self.host, self.peer);
        let tcp = match std::mem::replace(&mut self.io, Io::Closed) {
            Io::Plain(tcp) => tcp,
            other => {
                self.io = other;
                return Ok(());
            }
        };
        let connector = TlsConnector::from(ctx.tls.current());
        let tls =
            match tokio::time::timeout(ctx.command_timeout, connector.connect(server_name, tcp))
                .await
            {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    return Err(Failure::Tls {
                        host,
                        reason: e.to_string(),
                    });
                }
                Err(_) => {
                    return Err(Failure::Tls {
                        host,
                        reason: "handshake timed out".into(),
                    });
                }
            };
        let conn = tls.get_ref().1;
        self.tls = TlsInfo {
            version: conn
                .protocol_version()
                .and_then(|v| v.as_str())
                .unwrap_or("TLS")
                .replace("TLSv1_", "TLSv1."),
            cipher: conn
                .negotiated_cipher_suite()
                .and_then(|c| c.suite().as_str())
                .unwrap_or("unknown")
                .to_owned(),
        };
        self.io = Io::Tls(Box::new(tls));
        Ok(())
    }

    fn name(&self) -> String {
        format!("{} ({})", self.host, self.peer)
    }

    fn io_failure(&self, e: impl std::fmt::Display) -> Failure {
        Failure::Protocol {
            host: self.name(),
            reason: e.to_string(),
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        let timeout = self.command_timeout;
        let result = match &mut self.io {
            Io::Plain(s) => tokio::time::timeout(timeout, write_all(s, bytes)).await,
            Io::Tls(s) => tokio::time::timeout(timeout, write_all(s.as_mut(), bytes)).await,
            Io::Closed => return Err(self.io_failure("connection closed")),
        };
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(self.io_failure(e)),
            Err(_) => Err(self.io_failure("write timed out")),
        }
    }

    async fn read_reply_within(&mut self, timeout: Duration) -> Result<Reply, Failure> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match parse_reply(&self.buf) {
                Ok(Some((reply, used))) => {
                    self.buf.drain(..used);
                    return Ok(reply);
                }
                Ok(None) => {}
                Err(e) => return Err(Failure::protocol(&self.name(), &e)),
            }
            let read = match &mut self.io {
                Io::Plain(s) => {
                    tokio::time::timeout_at(deadline, read_from(s, &mut self.buf)).await
                }
                Io::Tls(s) => {
                    tokio::time::timeout_at(deadline, read_from(s.as_mut(), &mut self.buf)).await
                }
                Io::Closed => return Err(self.io_failure("connection closed")),
            };
            match read {
                Ok(Ok(0)) => return Err(self.io_failure("connection closed by the server")),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(self.io_failure(e)),
                Err(_) => return Err(self.io_failure("timed out waiting for a reply")),
            }
        }
    }

    async fn command(&mut self, command: &Command) -> Result<Reply, Failure> {
        self.write(&command.encode()).await?;
        self.read_reply_within(self.command_timeout).await
    }

    /// Runs one transaction: `MAIL`, a `RCPT` per recipient, `DATA` and the
    /// message. The outcome says which recipients the server accepted the
    /// message for; the caller records that at once.
    pub(crate) async fn send(&mut self, envelope: Envelope, message: &[u8]) -> Outcome {
        let peer = self.name();
        let (mut tx, mut step) = Transaction::new(envelope, &self.capabilities, &peer);
        loop {
            let reply = match step {
                Step::Send(command) => self.command(&command).await,
                Step::SendMessage => match self.write(&dot_stuff(message)).await {
                    // RFC 5321 §4.5.3.2.6: the final reply may take 10 minutes.
                    Ok(()) => self.read_reply_within(self.command_timeout * 2).await,
                    Err(f) => Err(f),
                },
                Step::Done(outcome) => return outcome,
                Step::Read | Step::Handshake | Step::Ready(_) | Step::Failed(_) => {
                    Err(Failure::Protocol {
                        host: peer.clone(),
                        reason: "transaction out of order".into(),
                    })
                }
            };
            step = match reply {
                Ok(reply) => tx.reply(reply),
                Err(f) => return tx.connection_failed(&f),
            };
        }
    }

    /// Says goodbye; errors do not matter any more.
    pub(crate) async fn quit(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.command(&Command::Quit)).await;
        match &mut self.io {
            Io::Plain(s) => {
                let _ = s.shutdown().await;
            }
            Io::Tls(s) => {
                let _ = s.shutdown().await;
            }
            Io::Closed => {}
        }
    }
}

async fn write_all<S: AsyncWrite + Unpin>(s: &mut S, bytes: &[u8]) -> std::io::Result<()> {
    s.write_all(bytes).await?;
    s.flush().await
}
