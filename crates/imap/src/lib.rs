//! Ward's IMAP server (IMAP4rev1 and IMAP4rev2) for users of hosted mailboxes.
//!
//! It will own the IMAP session (parsing and encoding apart from I/O),
//! login through `policy` and `store`, and mailbox access with CONDSTORE,
//! QRESYNC, IDLE and the special-use mailboxes mail clients expect.
//!
//! Until that lands, [`serve_unavailable`] answers honestly on the bound
//! ports: it greets, performs `STARTTLS`, and answers login and mailbox
//! commands with `NO [UNAVAILABLE]`, so the daemon's lifecycle and TLS can be
//! tested end to end.

mod unavailable;

pub use unavailable::serve_unavailable;

/// Sent, then the connection closed, when the server's connection caps are
/// reached (RFC 9051 §7.1.5: an untagged BYE as the greeting).
pub const TOO_MANY_CONNECTIONS: &[u8] =
    b"* BYE [UNAVAILABLE] Too many connections; please try again later\r\n";
