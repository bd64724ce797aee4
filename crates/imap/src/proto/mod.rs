//! Wire grammar that imap-codec does not cover for a server: encoding of
//! responses (strings, flag lists, dates, sequence sets) and modified UTF-7
//! mailbox names. No tokio, no store, no sockets.
//!
//! Commands are decoded by imap-codec (see the `session` module for why);
//! responses are written here by hand because a server sends a small, fixed
//! set of shapes and building imap-types values for each FETCH item would
//! cost more code than the bytes themselves.

pub(crate) mod encode;
pub(crate) mod extended;
pub(crate) mod utf7;
