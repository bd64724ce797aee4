//! Integration tests: the real server on `127.0.0.1:0` (STARTTLS and
//! implicit TLS listeners) over a temporary store, driven by Python's
//! imaplib and by raw sockets.

mod harness;
mod imaplib;
mod mbsync;
mod neomutt;
mod raw;
