//! Ward's inbound SMTP server: the gateway/MX listener for connected
//! organisations' mail servers and external secure domains, and the
//! submission listeners (STARTTLS and implicit TLS) for users.
//!
//! It owns the SMTP session state machine (kept apart from I/O), TLS
//! before `MAIL`, authentication, and durable delivery through `store`,
//! asking `policy` for every decision. [`serve`] runs one connection;
//! the daemon builds one [`Context`] per listener.
//!
//! # The protocol core
//!
//! [`Session`] is the SMTP dialogue as a sans-IO state machine: the driver
//! feeds it bytes and performs the [`Step`]s it returns, answering each
//! [`Event`] (password check, mailbox lookup, durable storage) with the
//! matching method. It frames before it parses (line length, message size
//! and recipient limits live in the framers), ends `DATA` only at
//! `CRLF.CRLF` and refuses messages with bare CR or LF (SMTP smuggling),
//! discards input pipelined after `STARTTLS`, and takes every community
//! decision from `policy`. Every refusal is a [`SessionError`] or a
//! `policy::PolicyError`, turned into its reply in one place.
//! [`message`] holds the pure header functions the driver applies before
//! storing (`Received:`, submission's `Message-ID`/`Date`, `From:` check).
//!
//! It deliberately does no I/O, holds no clock and knows nothing of the
//! store: the async driver owns sockets, TLS, timers and storage.
//!
//! # The driver
//!
//! [`serve`] runs a [`Session`] over a `transport::Stream`: it writes the
//! replies (one write per pipelined batch), performs the TLS handshake,
//! applies the command and data timeouts ([`Timeouts`], `421 4.4.2`) and
//! the shutdown signal (`421 4.3.2`), checks passwords through the
//! [`Authenticator`] the accounts crate provides, looks recipients up in the
//! store, and answers `250` only once the message is on disk: one delivery
//! to every local recipient's INBOX (all or none) and one queue entry for
//! the remote recipients. It does not relay (that is `smtp-relay`, reading
//! the queue) and does not add the footer (mail leaving the service gets it
//! there).
//!
//! # Layout
//!
//! `proto` (framing, commands, replies), `session` (the state machine and its
//! events), `message` (header functions), `error` (every refusal and its
//! reply), `server` (the async driver), `audit` (the driver's audit records:
//! each acknowledged message, and the refusals coalesced per session);
//! [`Secret`] is `transport`'s.

mod audit;
mod error;
pub mod message;
mod proto;
mod server;
mod session;

pub use error::{ContentError, DeliveryError, SessionError, UnexpectedAnswer};
pub use proto::command::{
    Auth, Bdat, BodyType, Command, CommandError, Hello, MailFrom, Mechanism, Notify,
    OriginalRecipient, RcptTo, Ret,
};
pub use server::{
    AuthOutcome, Authenticator, Context, MEMORY_PER_MESSAGE_BYTE, Timeouts, serve, serve_admitted,
};
pub use session::{Envelope, Event, Options, Recipient, Refusal, Session, Step, TlsInfo};
pub use transport::Secret;

/// Sent, then the connection closed, when the server's connection caps are
/// reached (RFC 5321 §3.8: 421 with the reason).
pub const TOO_MANY_CONNECTIONS: &[u8] =
    b"421 4.7.0 Too many connections; please try again later\r\n";
