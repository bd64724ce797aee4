//! Ward's inbound SMTP server: the gateway/MX listener for connected
//! organisations' mail servers and external secure domains, and the
//! submission listeners (STARTTLS and implicit TLS) for users.
//!
//! It will own the SMTP session state machine (kept apart from I/O), TLS
//! before `MAIL`, authentication, and durable delivery through `store`, asking
//! `policy` for every decision.
//!
//! Until that lands, [`serve_unavailable`] answers honestly on the bound
//! ports: it greets, offers and performs `STARTTLS`, and refuses mail with
//! `421 4.3.2`, so the daemon's lifecycle and TLS can be tested end to end.
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
//! # Layout
//!
//! `proto` (framing, commands, replies), `session` (the state machine and its
//! events), `message` (header functions), `error` (every refusal and its
//! reply), `secret`, `unavailable` (the interim session).

mod error;
pub mod message;
mod proto;
mod secret;
mod session;
mod unavailable;

pub use error::{ContentError, DeliveryError, SessionError, UnexpectedAnswer};
pub use proto::command::{
    Auth, Bdat, BodyType, Command, CommandError, Hello, MailFrom, Mechanism, Notify,
    OriginalRecipient, RcptTo, Ret,
};
pub use secret::Secret;
pub use session::{Envelope, Event, Options, Recipient, Session, Step, TlsInfo};
pub use unavailable::serve_unavailable;

/// Sent, then the connection closed, when the server's connection caps are
/// reached (RFC 5321 §3.8: 421 with the reason).
pub const TOO_MANY_CONNECTIONS: &[u8] =
    b"421 4.7.0 Too many connections; please try again later\r\n";
