//! The async driver: runs one [`Session`] over a real connection. It is the
//! only part of the crate that touches the socket, TLS, timers, the
//! accounts backend and the store; every protocol decision stays in the
//! session.
//!
//! For each [`Step`] the driver writes replies (gathered, so that pipelined
//! commands get one write per batch, RFC 2920), reads more input under the
//! command or data timeout, performs the TLS handshake after `STARTTLS`, and
//! answers the session's events:
//!
//! - [`Event::AuthRequested`]: the [`Authenticator`] checks the password on
//!   a blocking thread; a refusal is answered after a short, growing pause.
//! - [`Event::RecipientCheckRequested`]: the store must know the hosted
//!   mailbox, and the account must not be deleted.
//! - [`Event::MessageReceived`]: the driver prepends `Received:` (naming the
//!   TLS version and cipher), the classification header when the message
//!   carried no label, and on submission a missing `Message-ID`/`Date`; it
//!   delivers one copy to every local recipient's INBOX in a single store
//!   write (all or none) and queues one entry for all remote recipients,
//!   with the message's audit record in the same batch. Only when all are
//!   on disk does the client get its `250`.
//!
//! Refusals under community rules are gathered from the session and
//! written to the audit log coalesced, once per session (see `audit`).
//!
//! When the shutdown token fires while the driver waits for input, the
//! client gets `421 4.3.2`; when the client is idle too long, `421 4.4.2`;
//! when the daemon evicts the connection ([`serve_admitted`]), `421 4.7.0`
//! (crowded out) or `421 4.4.2` (too slow to start TLS or sign in).
//! A message being stored is finished first. I/O errors end the session
//! without a reply.
//!
//! # Example
//!
//! One [`Context`] per listener, one task per connection:
//!
//! ```no_run
//! use std::net::IpAddr;
//! use std::sync::Arc;
//! use policy::{Community, Listener};
//! use smtp_in::{AuthOutcome, Authenticator, Context, Options};
//! use tokio_util::sync::CancellationToken;
//! use transport::Stream;
//!
//! struct NoAccounts;
//! impl Authenticator for NoAccounts {
//!     fn authenticate(&self, _user: &str, _password: &str, _peer: Option<IpAddr>) -> AuthOutcome {
//!         AuthOutcome::BadCredentials
//!     }
//! }
//!
//! # async fn run(tls: transport::ServerTls, store: store::Store) -> std::io::Result<()> {
//! // The daemon keeps the sender and sends a new community on every change.
//! let (_updates, community) = tokio::sync::watch::channel(Arc::new(Community::default()));
//! let options = Options::new("mx.ward.test", Listener::Submission);
//! let ctx = Arc::new(Context::new(options, tls, community, store, Arc::new(NoAccounts)));
//! let shutdown = CancellationToken::new();
//! let listener = tokio::net::TcpListener::bind("[::]:587").await?;
//! loop {
//!     let (tcp, peer) = listener.accept().await?;
//!     let (ctx, shutdown) = (ctx.clone(), shutdown.clone());
//!     tokio::spawn(async move {
//!         let _ = smtp_in::serve(Stream::Plain(tcp), false, &ctx, Some(peer), &shutdown).await;
//!     });
//! }
//! # }
//! ```

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use policy::{Address, AuthenticatedUser, Community, Label, Listener, PolicyError, Reply, Route};
use store::{AccountStatus, MailboxId, NewMessage, Store};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use transport::budget::{Budget, Reservation};
use transport::{Admission, Eviction, ServerTls, Stream};

use crate::audit::{Accepted, RefusalLog};
use crate::error::{DeliveryError, SessionError};
use crate::message::{
    Arrival, add_missing_submission_headers, received_header, return_path_header,
};
use crate::proto::reply::encode_refusal;
use crate::session::{Envelope, Event, Options, Session, Step, TlsInfo};

/// The timers of one connection. Every field is a duration; zero is not a
/// useful value for any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// How long a whole command line (or SASL response) may take to
    /// arrive, counted from the last reply: a deadline per command, not
    /// per read, so a client dripping a byte at a time cannot hold the
    /// connection (slowloris). Default 5 minutes, RFC 5321 §4.5.3.2.7's
    /// minimum for the server.
    pub command: Duration,
    /// How long to wait for more message content during `DATA` or a `BDAT`
    /// chunk. Default 3 minutes, RFC 5321 §4.5.3.2.6's "DATA block" time.
    /// The wait is also a budget: each octet received extends it by
    /// 1/[`Timeouts::min_data_rate`] seconds, never beyond this, so message
    /// content must keep arriving at that average rate.
    pub data: Duration,
    /// The least average rate of message content, in octets per second,
    /// once the first [`Timeouts::data`] is spent. Default 500, as
    /// Postfix's `smtpd_min_data_rate`.
    pub min_data_rate: u32,
    /// How long the TLS handshake (implicit or after `STARTTLS`) may take.
    /// Default 30 seconds: a handshake is a few round trips.
    pub handshake: Duration,
    /// How long writing one batch of replies may take before the client is
    /// dropped as not reading. Default 1 minute.
    pub write: Duration,
    /// The pause before answering a failed `AUTH`, multiplied by the
    /// number of failures on this connection (at most five times). Default
    /// 1 second: slows password guessing without bothering a person who
    /// mistyped.
    pub auth_failure_delay: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            command: Duration::from_secs(300),
            data: Duration::from_secs(180),
            min_data_rate: 500,
            handshake: Duration::from_secs(30),
            write: Duration::from_secs(60),
            auth_failure_delay: Duration::from_secs(1),
        }
    }
}

/// What the [`Authenticator`] decided about one `AUTH`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthOutcome {
    /// The password is right and the account may send: sign in as this
    /// user (its canonical community address, plus any addresses it may
    /// send as). `235 2.7.0`.
    Accepted(AuthenticatedUser),
    /// Unknown user name or wrong password: `535 5.7.8`, after a pause.
    /// Counts towards the session's bad-command limit.
    BadCredentials,
    /// The password is right but the account may not send now: the
    /// refusal from `policy::check_account` (locked, not activated,
    /// suspended, deleted: `525 5.7.13`; one-time or expired password that
    /// must be changed: `432 4.7.12`).
    AccountRefused(PolicyError),
    /// The password could not be checked (the accounts backend failed):
    /// `454 4.7.0`, try again later.
    Unavailable {
        /// For the log; never sent to the client.
        detail: String,
    },
}

/// Checks SMTP AUTH credentials. The accounts crate implements it (password
/// hashes, failed-login throttling and lock-out, expiry); smtp-in only asks.
///
/// The method blocks (password hashing is slow on purpose); the driver
/// calls it on a blocking thread.
pub trait Authenticator: Send + Sync {
    /// Checks `password` for `username` (the SASL authentication identity,
    /// as the client typed it), from a client at `peer`.
    fn authenticate(&self, username: &str, password: &str, peer: Option<IpAddr>) -> AuthOutcome;

    /// Whether `user`, signed in at `since` (seconds since the Unix
    /// epoch), may go on using the session: asked when the store announces
    /// that credentials changed ([`Store::subscribe_credentials`]), so it
    /// must be cheap (no password hashing). The default keeps the session.
    ///
    /// # Errors
    ///
    /// Why the session must end (the account suspended, its password
    /// changed since, …).
    fn still_valid(&self, user: &Address, since: i64) -> Result<(), PolicyError> {
        let _ = (user, since);
        Ok(())
    }
}

/// Everything a connection on one listener needs; built once per listener
/// and shared by its connections. Cloning is cheap.
#[derive(Clone)]
#[non_exhaustive]
pub struct Context {
    /// The session's options: host name, listener kind, message size and
    /// recipient limits, line length, bad-command limit.
    pub options: Options,
    /// The connection's timers.
    pub timeouts: Timeouts,
    /// The server's TLS configuration (shared; sees certificate reloads).
    pub tls: ServerTls,
    /// The current community. Each connection takes the snapshot in force
    /// when it starts; the daemon sends a new one when organisations are
    /// approved, suspended or closed.
    pub community: watch::Receiver<Arc<Community>>,
    /// The durable store: mailboxes and the outbound queue.
    pub store: Store,
    /// Checks passwords (submission listeners only).
    pub authenticator: Arc<dyn Authenticator>,
    /// The process-wide budget for message data held in memory; `None`
    /// for no limit beyond the message size.
    pub budget: Option<Budget>,
}

impl Context {
    /// A context with the default [`Timeouts`].
    pub fn new(
        options: Options,
        tls: ServerTls,
        community: watch::Receiver<Arc<Community>>,
        store: Store,
        authenticator: Arc<dyn Authenticator>,
    ) -> Self {
        Self {
            options,
            timeouts: Timeouts::default(),
            tls,
            community,
            store,
            authenticator,
            budget: None,
        }
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("options", &self.options)
            .field("timeouts", &self.timeouts)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// Runs one SMTP connection to its end: greeting, dialogue, close.
///
/// `implicit_tls` is true on the submissions port (465): the handshake
/// comes before the greeting. `peer` is the client's address, for policy
/// (source networks), `Received:` and the authenticator.
///
/// # Errors
///
/// The connection's I/O or TLS error, or `TimedOut` when the TLS handshake
/// or a write takes too long. Protocol errors, timeouts while waiting for
/// the client, and shutdown are answered with their reply and end in
/// `Ok(())`.
///
/// # Panics
///
/// Never on client input.
pub async fn serve(
    stream: Stream,
    implicit_tls: bool,
    ctx: &Context,
    peer: Option<SocketAddr>,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    let admission = Admission::unwatched();
    serve_admitted(stream, implicit_tls, ctx, peer, shutdown, &admission).await
}

/// [`serve`] for a connection the daemon watches under its caps: the
/// driver reports through `admission` when the client first sends
/// something, when TLS is complete and when the client is trusted (signed in, a gateway certificate, or on the SMTP
/// listener a message accepted), and when the daemon evicts the connection
/// it is told at the next wait for input (`421 4.7.0` when crowded out,
/// `421 4.4.2` when too slow to start TLS or sign in), or the TLS handshake
/// in progress is dropped.
///
/// # Errors
///
/// As [`serve`]; an eviction during the TLS handshake is `Interrupted`.
pub async fn serve_admitted(
    stream: Stream,
    implicit_tls: bool,
    ctx: &Context,
    peer: Option<SocketAddr>,
    shutdown: &CancellationToken,
    admission: &Admission,
) -> io::Result<()> {
    let stream = if implicit_tls {
        handshake(stream, ctx, shutdown, admission).await?
    } else {
        stream
    };
    let tls = tls_info(&stream, &ctx.store).await;
    let gateway_certificate = gateway_fingerprint(&stream, tls.as_ref());
    let community = ctx.community.borrow().clone();
    let mut current = ctx.community.clone();
    current.borrow_and_update();
    let peer_ip = peer.map(|p| p.ip());
    let session = Session::new(ctx.options.clone(), community, peer_ip, tls);
    let mut connection = Connection {
        stream: Some(stream),
        session,
        ctx,
        peer_ip,
        out: Vec::new(),
        auth_failures: 0,
        deadline: None,
        refusals: RefusalLog::default(),
        admission,
        credentials: ctx.store.subscribe_credentials(),
        community: current,
        signed_in_at: None,
        gateway_certificate,
        reservation: ctx.budget.as_ref().map(Budget::reservation),
        held: 0,
        abandoned: false,
    };
    connection.report_tls();
    let result = connection.run(shutdown).await;
    // Whatever ended the session, its refusals are recorded.
    connection.refusals.add(connection.session.take_refusals());
    connection.write_refusals().await;
    result
}

/// How long a connection waits for others to free in-flight memory before
/// it refuses its message.
const BUDGET_PATIENCE: Duration = Duration::from_secs(20);

/// Memory a received message costs per byte until it is stored: the
/// session's copy and the finished message (trace headers, footer) the
/// store is handed (docs/benchmarks.md, "Memory": measured peak 1.8 per
/// byte). Its reservation in the in-flight budget is this many times its
/// size.
pub const MEMORY_PER_MESSAGE_BYTE: u64 = 2;

/// One connection's I/O state around its session.
struct Connection<'a> {
    /// `None` only while the TLS handshake owns the stream.
    stream: Option<Stream>,
    session: Session,
    ctx: &'a Context,
    peer_ip: Option<IpAddr>,
    /// Replies not yet written: flushed before every read, so pipelined
    /// commands are answered in one write.
    out: Vec<u8>,
    auth_failures: u32,
    /// When the input awaited must have arrived: set when the wait for a
    /// command (or message content) begins, cleared by every reply.
    deadline: Option<(bool, tokio::time::Instant)>,
    /// Refusals not yet written to the audit log.
    refusals: RefusalLog,
    /// The connection's standing with the daemon.
    admission: &'a Admission,
    /// Moves when users, organisations or gateway proofs change: the
    /// session's own are then checked again.
    credentials: watch::Receiver<u64>,
    /// The community as it is now (the session keeps the snapshot it
    /// started with for its policy decisions).
    community: watch::Receiver<Arc<Community>>,
    /// When the user signed in (seconds since the Unix epoch).
    signed_in_at: Option<i64>,
    /// The fingerprint of the Ward-issued certificate that proved the
    /// gateway, if one did.
    gateway_certificate: Option<String>,
    /// This connection's share of the in-flight memory budget.
    reservation: Option<Reservation>,
    /// Message bytes read since the message began.
    held: u64,
    /// The message being received was given up for want of memory.
    abandoned: bool,
}

impl Connection<'_> {
    async fn run(&mut self, shutdown: &CancellationToken) -> io::Result<()> {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let step = self.session.next();
            self.refusals.add(self.session.take_refusals());
            match step {
                Step::Write(bytes) => {
                    self.deadline = None;
                    self.out.extend_from_slice(&bytes);
                }
                Step::Event(event) => self.answer(event, shutdown).await,
                Step::StartTls => {
                    self.flush().await?;
                    let stream = self.stream.take().ok_or_else(gone)?;
                    let stream = handshake(stream, self.ctx, shutdown, self.admission).await?;
                    let tls = tls_info(&stream, &self.ctx.store).await.ok_or_else(gone)?;
                    debug!(version = %tls.version, cipher = %tls.cipher, "STARTTLS done");
                    self.gateway_certificate = gateway_fingerprint(&stream, Some(&tls));
                    self.stream = Some(stream);
                    // The session is waiting for exactly this answer.
                    let _ = self.session.tls_established(tls);
                    self.report_tls();
                }
                Step::NeedInput => {
                    self.flush().await?;
                    if self.refusals.due() {
                        self.write_refusals().await;
                    }
                    let receiving = self.session.is_receiving_message();
                    if !self.session.holds_message_data() {
                        self.held = 0;
                        self.abandoned = false;
                        if let Some(reservation) = self.reservation.as_mut() {
                            reservation.release();
                        }
                    }
                    let limit = if receiving {
                        self.ctx.timeouts.data
                    } else {
                        self.ctx.timeouts.command
                    };
                    let now = tokio::time::Instant::now();
                    let deadline = match self.deadline {
                        Some((mode, at)) if mode == receiving => at,
                        _ => now + limit,
                    };
                    self.deadline = Some((receiving, deadline));
                    let stream = self.stream.as_mut().ok_or_else(gone)?;
                    let read = tokio::select! {
                        biased;
                        () = shutdown.cancelled() => {
                            debug!("shutting down");
                            return self.close_with(&SessionError::ShuttingDown).await;
                        }
                        // A closed channel disables the branch (no busy loop).
                        Ok(()) = self.credentials.changed() => {
                            if let Some(reason) = self.revoked().await {
                                info!(%reason, "credentials revoked; closing");
                                return self.close_with(&SessionError::CredentialsRevoked { reason }).await;
                            }
                            continue;
                        }
                        // A closed channel disables the branch (no busy loop).
                        Ok(()) = self.community.changed() => {
                            if let Some(reason) = self.revoked().await {
                                info!(%reason, "credentials revoked; closing");
                                return self.close_with(&SessionError::CredentialsRevoked { reason }).await;
                            }
                            continue;
                        }
                        why = self.admission.evicted() => {
                            debug!(%why, "evicted");
                            let error = match why {
                                Eviction::Crowded => SessionError::TooManyConnections,
                                Eviction::TooSlow => SessionError::NotSecuredInTime,
                            };
                            return self.close_with(&error).await;
                        }
                        read = tokio::time::timeout_at(deadline, stream.read(&mut buf)) => read,
                    };
                    match read {
                        Err(_) => {
                            debug!(?limit, "idle timeout");
                            return self.close_with(&SessionError::IdleTimeout).await;
                        }
                        Ok(Ok(0)) => {
                            debug!("client closed the connection");
                            return Ok(());
                        }
                        Ok(Ok(n)) => {
                            self.admission.heard();
                            if receiving {
                                // Content earns more time, up to the limit.
                                let rate = u64::from(self.ctx.timeouts.min_data_rate.max(1));
                                let earned = Duration::from_micros(n as u64 * 1_000_000 / rate);
                                let extended =
                                    (deadline + earned).min(tokio::time::Instant::now() + limit);
                                self.deadline = Some((true, extended.max(deadline)));
                                self.held += n as u64;
                                // A declared size is reserved whole, at once.
                                let wanted = self
                                    .session
                                    .declared_message_size()
                                    .map_or(self.held, |declared| declared.max(self.held));
                                if !self.abandoned
                                    && let Some(reservation) = self.reservation.as_mut()
                                    && let Err(exhausted) = reservation
                                        .grow_to(wanted * MEMORY_PER_MESSAGE_BYTE, BUDGET_PATIENCE)
                                        .await
                                {
                                    // Read on, keep nothing: 452 at its end.
                                    warn!(held = self.held, %exhausted, "in-flight memory budget spent; refusing the message");
                                    self.session.abandon_message();
                                    self.abandoned = true;
                                }
                            }
                            self.session.feed(&buf[..n]);
                        }
                        Ok(Err(error)) => return Err(error),
                    }
                }
                Step::NeedAnswer => {
                    // Every event is answered before `next` is called again,
                    // so this would be a driver bug; end rather than spin.
                    warn!("session waits for an answer the driver did not give");
                    return Ok(());
                }
                Step::Close => {
                    self.flush().await?;
                    if let Some(stream) = self.stream.as_mut() {
                        let _ =
                            tokio::time::timeout(self.ctx.timeouts.write, stream.shutdown()).await;
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Checks again, after credentials or the community changed, that what
    /// the session was signed in or proved as still holds; the reason when
    /// it does not.
    async fn revoked(&mut self) -> Option<String> {
        let credentials = self.session.credentials().clone();
        if let (Some(user), Some(since)) = (&credentials.authenticated, self.signed_in_at) {
            let authenticator = Arc::clone(&self.ctx.authenticator);
            let address = user.address.clone();
            let checked =
                tokio::task::spawn_blocking(move || authenticator.still_valid(&address, since))
                    .await;
            if let Ok(Err(error)) = checked {
                return Some(match error {
                    PolicyError::AuthenticationFailed => {
                        "the password was changed; sign in again".to_owned()
                    }
                    other => other.to_string(),
                });
            }
        }
        let organisation = credentials.gateway_organisation.as_ref()?;
        if let Some(fingerprint) = self.gateway_certificate.clone() {
            let store = self.ctx.store.clone();
            let found =
                tokio::task::spawn_blocking(move || store.gateway_certificate(&fingerprint)).await;
            match found {
                Ok(Ok(Some(c))) if c.revoked_at.is_none() && c.not_after > unix_now() => {}
                Ok(Ok(_)) => return Some("the gateway certificate was revoked".to_owned()),
                // A failed read is no reason to end the session.
                _ => {}
            }
        }
        let community = self.community.borrow_and_update().clone();
        match community.organisation_named(organisation) {
            None => Some(format!("{organisation} is no longer connected")),
            Some(org) if org.suspended => Some(format!("{organisation} is suspended")),
            Some(org)
                if self.gateway_certificate.is_none()
                    && !self
                        .peer_ip
                        .is_some_and(|ip| org.gateway_network_contains(ip)) =>
            {
                Some(format!(
                    "this address is no longer one of {organisation}'s gateway networks"
                ))
            }
            Some(_) => None,
        }
    }

    /// Tells the daemon that TLS is complete, and that the client is
    /// trusted when it proved itself an organisation's gateway (by its
    /// certificate, or by its configured network over TLS).
    fn report_tls(&self) {
        if self.session.tls().is_some() {
            self.admission.encrypted();
            if self.session.credentials().gateway_organisation.is_some() {
                self.admission.trusted();
            }
        }
    }

    /// Writes the pending replies and flushes them through TLS.
    async fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let stream = self.stream.as_mut().ok_or_else(gone)?;
        let write = async {
            stream.write_all(&self.out).await?;
            stream.flush().await
        };
        match tokio::time::timeout(self.ctx.timeouts.write, write).await {
            Ok(result) => result?,
            Err(_) => return Err(io::Error::from(io::ErrorKind::TimedOut)),
        }
        self.out.clear();
        Ok(())
    }

    /// Sends the reply for a refusal the driver itself decides (timeout,
    /// shutdown), then closes.
    async fn close_with(&mut self, error: &SessionError) -> io::Result<()> {
        self.out
            .extend_from_slice(&encode_refusal(&Reply::from(error)));
        self.flush().await?;
        if let Some(stream) = self.stream.as_mut() {
            let _ = tokio::time::timeout(self.ctx.timeouts.write, stream.shutdown()).await;
        }
        Ok(())
    }

    async fn answer(&mut self, event: Event, shutdown: &CancellationToken) {
        // Each `Event` is answered exactly once, so the session never
        // reports an unexpected answer here.
        match event {
            Event::AuthRequested {
                mechanism,
                username,
                password,
            } => {
                let outcome = self.authenticate(username.clone(), password.expose()).await;
                match outcome {
                    AuthOutcome::Accepted(user) => {
                        info!(%username, address = %user.address, ?mechanism, "authenticated");
                        self.signed_in_at = Some(unix_now());
                        self.admission.trusted();
                        let _ = self.session.auth_result(Ok(user));
                    }
                    AuthOutcome::BadCredentials => {
                        self.auth_failures += 1;
                        info!(%username, failures = self.auth_failures, "authentication failed");
                        let pause =
                            self.ctx.timeouts.auth_failure_delay * self.auth_failures.min(5);
                        tokio::select! {
                            () = tokio::time::sleep(pause) => {}
                            () = shutdown.cancelled() => {}
                        }
                        let _ = self
                            .session
                            .auth_result(Err(PolicyError::AuthenticationFailed));
                    }
                    AuthOutcome::AccountRefused(error) => {
                        info!(%username, %error, "account may not send");
                        let _ = self.session.auth_result(Err(error));
                    }
                    AuthOutcome::Unavailable { detail } => {
                        warn!(%username, %detail, "authentication backend failed");
                        let _ = self.session.auth_unavailable();
                    }
                }
            }
            Event::RecipientCheckRequested { recipient, .. } => {
                let store = self.ctx.store.clone();
                let address = recipient.to_string();
                let found = tokio::task::spawn_blocking(move || store.user_by_address(&address))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()));
                let _ = match found {
                    Ok(Some((_, user))) if user.status != AccountStatus::Deleted => {
                        self.session.recipient_checked(Ok(()))
                    }
                    Ok(_) => self
                        .session
                        .recipient_checked(Err(PolicyError::NoSuchMailbox { recipient })),
                    Err(detail) => {
                        warn!(%recipient, %detail, "recipient lookup failed");
                        self.session.recipient_check_unavailable()
                    }
                };
            }
            Event::MessageReceived {
                envelope,
                label,
                data,
            } => {
                let result = self.store_message(envelope, &label, data).await;
                if result.is_ok() && self.ctx.options.listener == Listener::Relay {
                    // A sender that policy accepted has proved itself.
                    self.admission.trusted();
                }
                let _ = self.session.delivered(result);
            }
        }
    }

    /// Who the audit log names as acting: the signed-in user, the
    /// organisation's gateway, or `anonymous`.
    fn actor(&self) -> String {
        let credentials = self.session.credentials();
        if let Some(user) = &credentials.authenticated {
            return user.address.to_string();
        }
        if let Some(org) = &credentials.gateway_organisation {
            return format!("gateway:{org}");
        }
        "anonymous".to_owned()
    }

    /// Where from, for the audit log: the listener and the peer's address.
    fn source(&self) -> String {
        let listener = match self.ctx.options.listener {
            Listener::Relay => "smtp",
            Listener::Submission => "submission",
        };
        match self.peer_ip {
            Some(ip) => format!("{listener} {ip}"),
            None => listener.to_owned(),
        }
    }

    /// Writes the gathered refusals as one audit record, shown to the
    /// organisations of the addresses they name and of the signed-in user.
    async fn write_refusals(&mut self) {
        let Some((event, mut addresses)) = self.refusals.take(&self.actor(), &self.source()) else {
            return;
        };
        if let Some(user) = &self.session.credentials().authenticated {
            addresses.push(user.address.to_string());
        }
        let store = self.ctx.store.clone();
        let written = tokio::task::spawn_blocking(move || {
            let organisations = store.organisations_of(addresses.iter().map(String::as_str))?;
            store.audit_for(&event, &organisations)
        })
        .await;
        match written {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!(error = %e, "cannot write the refusals to the audit log"),
            Err(e) => warn!(error = %e, "writing the refusals to the audit log panicked"),
        }
    }

    /// Runs the authenticator on a blocking thread.
    async fn authenticate(&self, username: String, password: &str) -> AuthOutcome {
        let authenticator = self.ctx.authenticator.clone();
        let password = password.to_owned();
        let peer = self.peer_ip;
        tokio::task::spawn_blocking(move || authenticator.authenticate(&username, &password, peer))
            .await
            .unwrap_or_else(|e| AuthOutcome::Unavailable {
                detail: e.to_string(),
            })
    }

    /// Makes the message durable: one delivery to every local INBOX, one
    /// queue entry for every remote recipient. Returns the message's id.
    async fn store_message(
        &self,
        envelope: Envelope,
        label: &Label,
        data: Vec<u8>,
    ) -> Result<String, DeliveryError> {
        let now = SystemTime::now();
        let id = message_id(now);
        let raw = self.finished_message(&envelope, label, &data, &id, now);
        let (local, remote): (Vec<_>, Vec<_>) = envelope
            .recipients
            .iter()
            .partition(|r| matches!(r.route, Route::Local { .. }));
        let local: Vec<policy::Address> = local.into_iter().map(|r| r.address.clone()).collect();
        // The relay routes each queued recipient again when it delivers, so
        // the queue keeps the community form of the address.
        let remote: Vec<store::NewQueueRecipient> = remote
            .into_iter()
            .map(|r| store::NewQueueRecipient {
                address: r.address.to_string(),
                notify: r.notify.explicit.then(|| notify_text(&r.notify)),
                orcpt: r
                    .orcpt
                    .as_ref()
                    .map(|o| format!("{};{}", o.addr_type, o.address)),
            })
            .collect();
        let queue_envelope = store::QueueEnvelope {
            ret: envelope.ret.map(|r| {
                match r {
                    crate::Ret::Full => "FULL",
                    crate::Ret::Headers => "HDRS",
                }
                .to_owned()
            }),
            envid: envelope.envid.clone(),
            eight_bit: envelope.body == crate::BodyType::EightBitMime,
            smtputf8: envelope.smtputf8,
            requiretls: envelope.requiretls,
        };
        let sender = envelope
            .mail_from
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let store = self.ctx.store.clone();
        let size = raw.len();
        let (locals, remotes) = (local.len(), remote.len());
        let recipients: Vec<String> = envelope
            .recipients
            .iter()
            .map(|r| r.address.to_string())
            .collect();
        let tls = self.session.tls();
        let detail = Accepted {
            id: &id,
            message_id: crate::message::header_message_id(&raw).as_deref(),
            sender: &sender,
            recipients: &recipients,
            size,
            classification: label.classification.as_str(),
            tls: (
                tls.map_or("none", |t| t.version.as_str()),
                tls.map_or("none", |t| t.cipher.as_str()),
            ),
            helo: self.session.helo().unwrap_or("unknown"),
        }
        .detail();
        let audit = store::AuditEvent {
            actor: self.actor(),
            action: "smtp.accept".to_owned(),
            source: self.source(),
            detail,
        };
        // The record is shown to the sender's, the recipients' and the
        // signed-in user's organisations.
        let mut subjects = recipients;
        subjects.push(sender.clone());
        if let Some(user) = &self.session.credentials().authenticated {
            subjects.push(user.address.to_string());
        }
        let stored = tokio::task::spawn_blocking(move || {
            deliver_durably(
                &store,
                &Delivery {
                    sender: &sender,
                    local: &local,
                    remote: &remote,
                    envelope: &queue_envelope,
                    raw: &raw,
                    now,
                    audit: &audit,
                    subjects: &subjects,
                },
            )
        })
        .await
        .unwrap_or_else(|e| {
            Err(DeliveryError::StorageFailed {
                detail: e.to_string(),
            })
        });
        match &stored {
            Ok(queue) => info!(
                %id, size, local = locals, remote = remotes, queue = ?queue,
                "message accepted"
            ),
            Err(error) => warn!(%id, %error, "message not stored"),
        }
        stored.map(|_| id)
    }

    /// The stored form of the message: trace header first, then what the
    /// driver adds, then the message as received.
    fn finished_message(
        &self,
        envelope: &Envelope,
        label: &Label,
        data: &[u8],
        id: &str,
        now: SystemTime,
    ) -> Vec<u8> {
        let tls = self.session.tls();
        let received = received_header(&Arrival {
            helo: self.session.helo().unwrap_or("unknown"),
            peer_ip: self.peer_ip,
            hostname: &self.ctx.options.hostname,
            tls_version: tls.map_or("none", |t| t.version.as_str()),
            cipher: tls.map_or("none", |t| t.cipher.as_str()),
            authenticated: self.session.credentials().authenticated.is_some(),
            smtputf8: envelope.smtputf8,
            id,
            at: now,
        });
        let mut raw = Vec::with_capacity(data.len() + 512);
        // Final delivery records the reverse-path (RFC 5321 §4.4); the
        // relay takes this line off again for the copies it passes on.
        raw.extend_from_slice(return_path_header(envelope.mail_from.as_ref()).as_bytes());
        raw.extend_from_slice(received.as_bytes());
        if let Some(header) = label.header_to_add() {
            raw.extend_from_slice(header.as_bytes());
        }
        let completed;
        let data = if self.ctx.options.listener == Listener::Submission {
            completed = add_missing_submission_headers(data, &self.ctx.options.hostname, id, now);
            &completed[..]
        } else {
            data
        };
        match self.ctx.options.footer.as_ref().map(|f| f.apply(data)) {
            Some(policy::FooterOutcome::Added(footered)) => raw.extend_from_slice(&footered),
            Some(policy::FooterOutcome::Unchanged(why)) => {
                debug!(?why, "footer not added");
                raw.extend_from_slice(data);
            }
            None => raw.extend_from_slice(data),
        }
        raw
    }
}

/// One message to make durable: its local and remote recipients, and its
/// audit record with the addresses whose organisations may read it.
struct Delivery<'a> {
    sender: &'a str,
    local: &'a [policy::Address],
    remote: &'a [store::NewQueueRecipient],
    envelope: &'a store::QueueEnvelope,
    raw: &'a [u8],
    now: SystemTime,
    audit: &'a store::AuditEvent,
    subjects: &'a [String],
}

/// The blocking half of [`Connection::store_message`]. Returns the queue
/// entry's id when remote recipients were queued.
fn deliver_durably(
    store: &Store,
    delivery: &Delivery<'_>,
) -> Result<Option<store::QueueId>, DeliveryError> {
    let Delivery {
        sender,
        local,
        remote,
        envelope,
        raw,
        now,
        audit,
        subjects,
    } = *delivery;
    let failed = |e: store::Error| DeliveryError::StorageFailed {
        detail: e.to_string(),
    };
    let mut inboxes: Vec<MailboxId> = Vec::with_capacity(local.len());
    for address in local {
        let user = store
            .user_by_address(&address.to_string())
            .map_err(failed)?
            .filter(|(_, user)| user.status != AccountStatus::Deleted);
        let Some((user, _)) = user else {
            return Err(DeliveryError::Policy(PolicyError::NoSuchMailbox {
                recipient: address.clone(),
            }));
        };
        let inbox = store
            .mailbox_by_name(user, "INBOX")
            .map_err(failed)?
            .ok_or_else(|| DeliveryError::StorageFailed {
                detail: format!("{address} has no INBOX"),
            })?;
        inboxes.push(inbox.id);
    }
    let seconds = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    // Local copies and the queue entry in one atomic step: both or neither.
    let outbound = store::Outbound {
        sender,
        recipients: remote,
        envelope,
        now: seconds,
    };
    let organisations = store
        .organisations_of(subjects.iter().map(String::as_str))
        .map_err(failed)?;
    let (_, queued) = store
        .deliver_and_enqueue_audited(
            &inboxes,
            &NewMessage {
                raw,
                cached: None,
                internal_date: seconds,
                flags: Default::default(),
                keywords: Default::default(),
            },
            (!remote.is_empty()).then_some(&outbound),
            audit,
            &organisations,
        )
        .map_err(failed)?;
    Ok(queued)
}

/// DSN `NOTIFY=` as the relay passes it on: `NEVER`, or the list.
fn notify_text(notify: &crate::Notify) -> String {
    if notify.never {
        return "NEVER".to_owned();
    }
    let mut parts = Vec::new();
    if notify.success {
        parts.push("SUCCESS");
    }
    if notify.failure {
        parts.push("FAILURE");
    }
    if notify.delay {
        parts.push("DELAY");
    }
    parts.join(",")
}

/// The server side of the TLS handshake, under the handshake timeout; a
/// shutdown or an eviction abandons it (nothing can be said to a client
/// mid-handshake).
async fn handshake(
    stream: Stream,
    ctx: &Context,
    shutdown: &CancellationToken,
    admission: &Admission,
) -> io::Result<Stream> {
    let stop = async {
        tokio::select! {
            () = shutdown.cancelled() => {}
            _ = admission.evicted() => {}
        }
    };
    let upgraded = stream
        .upgrade_within(&ctx.tls, ctx.timeouts.handshake, stop)
        .await;
    upgraded.map_err(|e| match admission.eviction() {
        Some(why) if e.kind() == io::ErrorKind::Interrupted => {
            io::Error::new(io::ErrorKind::Interrupted, format!("evicted: {why}"))
        }
        _ => e,
    })
}

/// What the session needs to know about the connection's TLS: version,
/// cipher, and the organisation whose gateway certificate (issued by Ward's
/// CA, verified in the handshake) the client presented, unless it was
/// revoked or has expired. Any other verified client certificate (from a CA
/// that vouches for external secure domains) gives its DNS names, which
/// can prove an external secure domain; a Ward-issued one never does.
async fn tls_info(stream: &Stream, store: &Store) -> Option<TlsInfo> {
    let summary = stream.tls_summary()?;
    let mut info = TlsInfo::new(summary.version, summary.cipher);
    let names: Vec<policy::Domain> = summary
        .client_certificate_names
        .iter()
        .filter_map(|n| policy::Domain::parse(n.strip_prefix("*.").unwrap_or(n)).ok())
        .collect();
    if let Some(cert) = summary.client_certificate {
        let fingerprint = transport::ca::fingerprint(&cert);
        let store = store.clone();
        // Some(organisation, if still valid) for a Ward-issued certificate;
        // None for a certificate from another trusted CA.
        let found = tokio::task::spawn_blocking(move || {
            let Some(c) = store.gateway_certificate(&fingerprint)? else {
                return Ok::<_, store::Error>(None);
            };
            if c.revoked_at.is_none() && c.not_after > unix_now() {
                return Ok(Some(store.organisation(c.organisation)?.map(|o| o.name)));
            }
            tracing::warn!(%fingerprint, revoked = c.revoked_at.is_some(), "gateway certificate revoked or expired");
            Ok(Some(None))
        })
        .await;
        match found {
            Ok(Ok(Some(org))) => info.gateway_organisation = org,
            Ok(Ok(None)) => info.client_certificate_names = names,
            Ok(Err(e)) => tracing::warn!(error = %e, "gateway certificate lookup failed"),
            Err(e) => tracing::warn!(error = %e, "gateway certificate lookup panicked"),
        }
    }
    Some(info)
}

/// The fingerprint of the Ward-issued certificate that proved a gateway.
fn gateway_fingerprint(stream: &Stream, tls: Option<&TlsInfo>) -> Option<String> {
    tls?.gateway_organisation.as_ref()?;
    let certificate = stream.tls_summary()?.client_certificate?;
    Some(transport::ca::fingerprint(&certificate))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the connection is gone")
}

/// A message id unique on this host: the arrival time in microseconds, the
/// process and a counter. Used in `Received:`, a missing `Message-ID` and
/// the `250` reply.
fn message_id(now: SystemTime) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let micros = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{micros:x}.{:x}.{n:x}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_unique_and_header_safe() {
        let now = SystemTime::now();
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| message_id(now)).collect();
        assert_eq!(ids.len(), 1000);
        assert!(
            ids.iter()
                .all(|id| id.chars().all(|c| c.is_ascii_hexdigit() || c == '.'))
        );
    }

    #[test]
    fn default_timeouts_follow_rfc_5321() {
        let timeouts = Timeouts::default();
        assert_eq!(timeouts.command, Duration::from_secs(300));
        assert_eq!(timeouts.data, Duration::from_secs(180));
        assert!(timeouts.handshake < timeouts.command);
    }
}
