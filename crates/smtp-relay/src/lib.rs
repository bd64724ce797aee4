//! Ward's outbound SMTP relay: delivers queued mail to connected
//! organisations' gateways and to external secure domains, **only over
//! verified TLS**, and holds mail safely through outages.
//!
//! # What it does
//!
//! - **Routing.** Each queued recipient (community form) is routed again at
//!   every attempt with the current [`policy::Community`]: an SMTP-connected
//!   organisation's gateway (the suffix stripped from the envelope and the
//!   address headers for strip-suffix organisations), or an external secure
//!   domain's MX hosts by preference (hickory-resolver), its A/AAAA when it
//!   has no MX, and a null MX (RFC 7505) failed at once. A suspended
//!   organisation's mail is held, not tried, until it is resumed.
//! - **Transport security.** STARTTLS (implicit TLS on port 465, see
//!   [`RelayConfig::implicit_tls_ports`]) is
//!   mandatory; the server certificate is verified for the host name
//!   against the public roots and [`RelayConfig::extra_ca_file`]; TLS 1.2
//!   or later. A peer without STARTTLS or with a certificate that does not
//!   verify gets no envelope and no message byte: the mail waits, and in the
//!   end bounces. Every delivery's TLS version and cipher go into the audit
//!   log (`relay.deliver`).
//! - **Queue.** Recipients with the same destination share one transaction;
//!   a connection carries several messages; connections are limited per
//!   destination and overall. `4xx` and connection or TLS failures retry on
//!   [`RelayConfig::retry_schedule`]; `5xx` fails that recipient only. A
//!   destination that keeps failing is backed off as a whole and, when it
//!   answers again, all its waiting mail goes at once.
//! - **Reports.** RFC 3464 delivery status notifications to the envelope
//!   sender: a delay notice after [`RelayConfig::delay_notice_after`], a
//!   failure report on permanent failure or at [`RelayConfig::max_age`],
//!   honouring NOTIFY, RET, ENVID and ORCPT; none for an empty sender. A
//!   report goes into the sender's INBOX when the sender is a hosted
//!   mailbox, and is queued with an empty sender otherwise.
//!
//! # Exactly once, and the one duplicate window
//!
//! A recipient is marked `Delivered` in the store, durably, as soon as the
//! peer answers the message's final dot with `250`, before anything else
//! happens (audit, reports, the next message). A message can reach a peer
//! twice only in **the window between the peer's 250 and that mark reaching
//! the disk**: a crash, or a shutdown that abandons the transaction, in
//! those few milliseconds leaves the recipient queued, and it is sent again
//! after the restart. The same holds, by the nature of SMTP (RFC 1047), when
//! the connection breaks after the final dot was sent but before the peer's
//! reply arrived: the relay cannot know the peer has the message, so it
//! retries. Outside these windows no message is sent twice: a scan never
//! plans an entry that a delivery task is working on, and reads the queue
//! only after learning which entries are in flight.
//!
//! Failure reports are written (into the sender's INBOX or the queue)
//! before the `Failed` marks, so a crash may repeat a report, never lose
//! one. The delay notice is remembered by taking `DELAY` out of the
//! recipient's queued NOTIFY (the queue entry has no other field for it).
//!
//! Held entries (an operator's hold) and recipients of suspended
//! organisations are neither tried nor expired while they wait.
//!
//! # What it does not do
//!
//! It binds no listener, parses no configuration file and has no CLI: the
//! daemon builds a [`RelayConfig`], runs [`Relay::run`] and passes
//! [`RelayHandle`] to the operator interface. No DANE or MTA-STS lookups; no
//! PIPELINING (one command at a time); no down-conversion of 8-bit mail for
//! peers without 8BITMIME (it is sent as it is). Each message is read into
//! memory for its transaction (the store caps message size).
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use smtp_relay::{Relay, RelayConfig};
//! # async fn example(store: Arc<store::Store>) -> Result<(), smtp_relay::RelayError> {
//! let (_updates, community) = tokio::sync::watch::channel(Arc::new(policy::Community::default()));
//! let relay = Relay::new(store, community, RelayConfig::default())?;
//! let handle = relay.handle();
//! let shutdown = tokio_util::sync::CancellationToken::new();
//! tokio::spawn(relay.run(shutdown.clone()));
//! handle.flush(Some("kent.pnn.police.uk".into())); // retry one destination now
//! shutdown.cancel();
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! `proto` (wire grammar, no I/O), `session` (the client's opening and
//! transaction as sans-IO state machines), `schedule` (what is due, grouping,
//! back-off, expiry: pure), `route` (community routing), `dsn` (reports:
//! pure), `resolve` (DNS), `tls` (client TLS policy), `client` (one SMTP
//! connection), `relay` (the engine), `config`, `error`.

mod client;
mod config;
mod dsn;
mod error;
pub mod proto;
mod relay;
mod resolve;
mod route;
pub mod schedule;
pub mod session;
mod tls;

pub use config::{RelayConfig, ResolverChoice};
pub use dsn::{Action, RecipientReport, Report, build as build_dsn};
pub use error::{Failure, RelayError};
pub use relay::{Relay, RelayHandle};
pub use route::{Destination, Routed, route};
