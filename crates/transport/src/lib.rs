//! Transport security shared by every Ward listener and, later, the relay.
//!
//! One TLS policy for the whole server (TLS 1.2 and 1.3 only, forward-secret
//! AEAD suites only, rustls' `ring` provider), the server certificate (loaded
//! from PEM files, or self-signed on first start) behind a resolver that can be
//! swapped on `SIGHUP` without touching open connections, the [`Stream`] type
//! that is either plain TCP (before `STARTTLS`) or TLS, and the
//! [`Admission`] through which a protocol driver tells the daemon what a
//! client has proved and learns when the daemon wants its place back.
//!
//! It does not speak any mail protocol and does not accept connections: the
//! daemon owns listeners, the protocol crates own sessions.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let (cert, key) = transport::certificate::ensure_self_signed(dir.path(), "localhost").unwrap();
//! let tls = transport::ServerTls::from_files(&cert, &key).unwrap();
//! assert!(tls.acceptor().config().alpn_protocols.is_empty());
//! ```

mod admission;
pub mod budget;
pub mod ca;
pub mod certificate;
mod lines;
mod secret;
mod server;
mod stream;

pub use admission::{Admission, Eviction, Evictor, Standing};
pub use certificate::CertificateError;
pub use lines::{Line, LineBuffer};
pub use secret::Secret;
pub use server::{ServerTls, TlsSummary, provider};
pub use stream::Stream;
