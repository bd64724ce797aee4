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

mod unavailable;

pub use unavailable::serve_unavailable;

/// Sent, then the connection closed, when the server's connection caps are
/// reached (RFC 5321 §3.8: 421 with the reason).
pub const TOO_MANY_CONNECTIONS: &[u8] =
    b"421 4.7.0 Too many connections; please try again later\r\n";
