//! A connection that is plain TCP until it is upgraded to TLS.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::{ServerTls, TlsSummary};

/// A client connection: plain before `STARTTLS`, TLS after it (or from the
/// start on implicit-TLS ports).
#[derive(Debug)]
pub enum Stream {
    /// Not yet encrypted. Sessions must not accept mail or credentials here.
    Plain(TcpStream),
    /// Encrypted; boxed because the TLS state is large.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// Performs the server side of the TLS handshake on a plain stream,
    /// within `limit`, giving way to `stop` (the server shutting down).
    ///
    /// Whatever the client sent before the handshake and the caller had not
    /// read is never seen again by the session: the caller must discard its own
    /// read buffer (the STARTTLS command-injection class, CVE-2011-0411).
    ///
    /// # Errors
    ///
    /// The handshake's I/O or TLS error; `InvalidInput` if already TLS;
    /// `TimedOut` past `limit`; `Interrupted` when `stop` completes first.
    pub async fn upgrade_within(
        self,
        tls: &ServerTls,
        limit: std::time::Duration,
        stop: impl std::future::Future<Output = ()>,
    ) -> io::Result<Self> {
        tokio::select! {
            () = stop => Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the server is shutting down",
            )),
            result = tokio::time::timeout(limit, self.upgrade(tls)) => match result {
                Ok(result) => result,
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the TLS handshake took too long",
                )),
            },
        }
    }

    /// The TLS handshake alone, with no time limit (see
    /// [`Stream::upgrade_within`]).
    ///
    /// # Errors
    ///
    /// The handshake's I/O or TLS error; `InvalidInput` if already TLS.
    pub async fn upgrade(self, tls: &ServerTls) -> io::Result<Self> {
        match self {
            Stream::Plain(tcp) => Ok(Stream::Tls(Box::new(tls.acceptor().accept(tcp).await?))),
            Stream::Tls(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the connection already uses TLS",
            )),
        }
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        matches!(self, Stream::Tls(_))
    }

    /// The negotiated TLS version and cipher, if encrypted.
    pub fn tls_summary(&self) -> Option<TlsSummary> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(tls) => TlsSummary::of(tls.get_ref().1),
        }
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
