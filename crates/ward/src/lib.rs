//! The Ward daemon and its command line, as a library the thin `ward`
//! binary drives.
//!
//! Layout: [`config`] loads and validates configuration; [`server`] binds the
//! listeners and runs the daemon's lifecycle; [`connections`] admits client
//! connections under the caps and evicts those that prove nothing; [`admin`]
//! is the local HTTP+JSON API that the command line talks to; [`checkpoint`]
//! signs the audit log's head into a file outside the store; [`notify`] tells
//! systemd when Ward is ready; [`logging`] sets up `tracing`. The protocols
//! themselves live in the `smtp-in`, `imap` and `smtp-relay` crates, the
//! rules in `policy`, the data in `store`, and TLS in `transport`.
//!
//! ```
//! let config = ward::config::Config::parse(
//!     "[listen]\nsmtp = [\"127.0.0.1:0\"]\n",
//!     "example",
//!     std::path::Path::new("/tmp"),
//!     None,
//! )
//! .unwrap();
//! assert_eq!(config.suffix, "cjsm.net");
//! ```

pub mod admin;
pub mod auth;
pub mod checkpoint;
pub mod config;
pub mod connections;
pub mod logging;
pub mod notify;
pub mod private;
pub mod server;
