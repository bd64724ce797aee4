//! Ward's IMAP server (IMAP4rev1 and IMAP4rev2).

mod error;
mod mime;
mod ops;
mod proto;
mod secret;
mod selected;
mod session;
mod unavailable;

pub use error::ImapError;
pub use secret::Secret;
pub use session::{Event, Options, Session, Step};
pub use unavailable::serve_unavailable;

/// Sent, then the connection closed, when the server's connection caps are
/// reached (RFC 9051 §7.1.5: an untagged BYE as the greeting).
pub const TOO_MANY_CONNECTIONS: &[u8] =
    b"* BYE [UNAVAILABLE] Too many connections; please try again later\r\n";
