//! Ward's IMAP server for users of hosted mailboxes: IMAP4rev1 (RFC 3501)
//! and, after `ENABLE IMAP4rev2`, IMAP4rev2 (RFC 9051). Thunderbird,
//! Outlook, mbsync and Python's imaplib read their mail here.
//!
//! It owns the IMAP session (framing and parsing apart from I/O), login
//! (only over TLS, through the daemon's [`Authenticator`]), and mailbox
//! access over `store` with UIDPLUS, MOVE, CONDSTORE, QRESYNC, IDLE,
//! SPECIAL-USE, LIST-EXTENDED, LIST-STATUS, ESEARCH, MULTIAPPEND, BINARY, SEARCHRES,
//! ID, NAMESPACE, ENABLE, UNSELECT, CHILDREN, LITERAL+, SASL-IR and
//! STATUS=SIZE. It does not check passwords (the accounts crate does,
//! behind [`Authenticator`]), accept listeners, or parse MIME itself
//! (mail-parser does).
//!
//! # The protocol core
//!
//! [`Session`] is the connection as a sans-IO state machine: the driver
//! feeds it bytes and performs the [`Step`]s it returns. Commands are
//! framed and decoded by imap-codec (fuzzed, permissively licensed; see the
//! `session` module for why and for the literal limits). Authenticated
//! commands go to the mailbox engine (`ops`, one file per command family),
//! which keeps the selected mailbox's view (`selected`) and announces other
//! sessions' changes only when RFC 9051 §7.5.1 allows. Every refusal is an
//! [`ImapError`], turned into its tagged `NO`/`BAD` in one place.
//!
//! # The driver
//!
//! [`serve`] runs a session over a `transport::Stream`: STARTTLS or
//! implicit TLS, login and autologout timers, IDLE woken by the store's
//! change notifications, `* BYE` on shutdown. Store calls run on blocking
//! threads.
//!
//! # Example
//!
//! ```no_run
//! use std::net::IpAddr;
//! use std::sync::Arc;
//! use imap::{AuthOutcome, Authenticator, Context, Options};
//! use tokio_util::sync::CancellationToken;
//! use transport::Stream;
//!
//! struct NoAccounts;
//! impl Authenticator for NoAccounts {
//!     fn authenticate(&self, _user: &str, _password: &str, _peer: Option<IpAddr>) -> AuthOutcome {
//!         AuthOutcome::BadCredentials
//!     }
//! }
//!
//! # async fn run(tls: transport::ServerTls, store: store::Store) -> std::io::Result<()> {
//! let ctx = Arc::new(Context::new(Options::new("imap.ward.test"), tls, Arc::new(store), Arc::new(NoAccounts)));
//! let shutdown = CancellationToken::new();
//! let listener = tokio::net::TcpListener::bind("[::]:143").await?;
//! loop {
//!     let (tcp, peer) = listener.accept().await?;
//!     let (ctx, shutdown) = (ctx.clone(), shutdown.clone());
//!     tokio::spawn(async move {
//!         let _ = imap::serve(Stream::Plain(tcp), false, &ctx, Some(peer), &shutdown).await;
//!     });
//! }
//! # }
//! ```
//!
//! # Layout
//!
//! `proto` (response encoding, modified UTF-7), `session` (the state
//! machine), `selected` (the selected mailbox's view), `ops` (the
//! commands), `mime` (ENVELOPE, BODYSTRUCTURE, sections), `error` (every
//! refusal and its response), `server` (the async driver); [`Secret`] is
//! `transport`'s.

mod error;
mod mime;
mod ops;
mod proto;
mod selected;
mod server;
mod session;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod transcripts;

pub use error::ImapError;
pub use proto::extended::{AppendMessage, Extension, ListExtended, SearchReturn};
pub use server::{
    AuthOutcome, Authenticator, Context, MEMORY_PER_LITERAL_BYTE, serve, serve_admitted,
};
pub use session::{Event, Options, Session, Step};
pub use transport::Secret;

/// The parse data (ENVELOPE, BODY, BODYSTRUCTURE) IMAP caches per body,
/// for `store::NewMessage::cached` at delivery, so that the first FETCH
/// of a new message needs no parse and no write. Optional: FETCH computes
/// and caches it otherwise.
pub fn cached_summary(raw: &[u8]) -> Vec<u8> {
    mime::Summary::of(raw).to_cache()
}

/// Sent, then the connection closed, when the server's connection caps are
/// reached (RFC 9051 §7.1.5: an untagged BYE as the greeting).
pub const TOO_MANY_CONNECTIONS: &[u8] =
    b"* BYE [UNAVAILABLE] Too many connections; please try again later\r\n";
