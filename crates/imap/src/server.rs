//! The async driver: runs one [`Session`] and, once logged in, its mailbox
//! engine over a real connection. It is the only part of the crate that
//! touches the socket, TLS, timers, the authenticator and (through the
//! engine, on blocking threads) the store.
//!
//! For each [`Step`] the driver gathers responses (one write per pipelined
//! batch), reads under the login or autologout timer, performs the TLS
//! handshake after `STARTTLS`, checks passwords on a blocking thread (a
//! refusal is answered after a short, growing pause), and runs each
//! authenticated command on a blocking thread, writing a long response
//! (`FETCH 1:* BODY[]`) while it is built, a few hundred KiB at a time.
//! During IDLE it also waits on the selected mailbox's change channel and
//! sends the untagged updates as soon as another session's change is on
//! disk.
//!
//! When the shutdown token fires while the driver waits for input, the
//! client gets `* BYE [UNAVAILABLE]`; when it is silent too long,
//! `* BYE Autologout`; when the daemon evicts the connection
//! ([`serve_admitted`]), `* BYE [UNAVAILABLE]` (crowded out) or a BYE
//! saying it was too slow to start TLS or log in. A command in progress is
//! finished first.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use store::{Store, UserId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, warn};
use transport::budget::{Budget, Reservation};
use transport::{Admission, Eviction, ServerTls, Stream};

use imap_codec::imap_types::command::CommandBody;

use crate::error::ImapError;
use crate::ops::Engine;
use crate::proto::extended::Extension;
use crate::session::{Event, Options, Session, Step};

/// Failed logins after which the connection is closed (the accounts
/// backend throttles across connections; this stops one connection from
/// guessing on).
const MAX_AUTH_FAILURES: u32 = 5;

/// What the [`Authenticator`] decided about one LOGIN or AUTHENTICATE.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthOutcome {
    /// The password is right and the account may read mail.
    Accepted {
        /// The account.
        user: UserId,
        /// Its canonical community address, for the log.
        address: String,
    },
    /// Unknown user or wrong password: `NO [AUTHENTICATIONFAILED]`, after
    /// a pause.
    BadCredentials,
    /// The one-time or expired password must be changed first:
    /// `NO [ALERT]` with `hint` (where to change it).
    MustChangePassword {
        /// A sentence saying where to change the password.
        hint: String,
    },
    /// Locked (failed logins, inactivity): `NO [CONTACTADMIN]`.
    Locked,
    /// Suspended by the administrator: `NO [CONTACTADMIN]`.
    Suspended,
    /// Deleted: `NO [AUTHENTICATIONFAILED]`.
    Deleted,
    /// Too many attempts: `NO [UNAVAILABLE]`, try later.
    Throttled,
    /// The accounts backend failed: `NO [UNAVAILABLE]`.
    Unavailable {
        /// For the log; never sent to the client.
        detail: String,
    },
}

/// Checks IMAP passwords. The accounts crate implements it (hashes,
/// throttling, lock-out, expiry, the auth cache); imap only asks.
pub trait Authenticator: Send + Sync {
    /// Checks `password` for `username` (as typed) from a client at
    /// `peer`. Blocking (argon2): the driver calls it on a blocking thread.
    fn authenticate(&self, username: &str, password: &str, peer: Option<IpAddr>) -> AuthOutcome;

    /// Whether the user at `address`, logged in at `since` (seconds since
    /// the Unix epoch), may go on using the session: asked when the store
    /// announces that credentials changed, so it must be cheap (no
    /// password hashing). Blocking (a store read). The default keeps the
    /// session.
    ///
    /// # Errors
    ///
    /// Why the session must end, as a login outcome: `Locked`,
    /// `Suspended`, `Deleted` (the client gets `* BYE [CONTACTADMIN]`),
    /// `MustChangePassword` or `BadCredentials` for a password changed
    /// since (`* BYE [UNAVAILABLE]`).
    fn still_valid(&self, address: &str, since: i64) -> Result<(), AuthOutcome> {
        let _ = (address, since);
        Ok(())
    }
}

/// Everything a connection on one listener needs; built once and shared.
#[derive(Clone)]
#[non_exhaustive]
pub struct Context {
    /// Limits, host name and timers.
    pub options: Options,
    /// The server's TLS configuration (shared; sees certificate reloads).
    pub tls: ServerTls,
    /// The mailbox store.
    pub store: Arc<Store>,
    /// Checks passwords.
    pub authenticator: Arc<dyn Authenticator>,
    /// The process-wide budget for message data held in memory (literals
    /// being read); `None` for no limit beyond the literal size.
    pub budget: Option<Budget>,
}

impl Context {
    /// A context for one listener.
    pub fn new(
        options: Options,
        tls: ServerTls,
        store: Arc<Store>,
        authenticator: Arc<dyn Authenticator>,
    ) -> Self {
        Self {
            options,
            tls,
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
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// Runs one IMAP connection to its end: greeting, dialogue, close.
///
/// `implicit_tls` is true on the IMAPS port (993): the handshake comes
/// before the greeting.
///
/// # Errors
///
/// The connection's I/O or TLS error, or `TimedOut` when the handshake or
/// a write takes too long. Protocol errors, timeouts while waiting for the
/// client, and shutdown are answered and end in `Ok(())`.
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
/// something, when TLS is complete and when the user has logged in, and when the daemon evicts the connection it is
/// told at the next wait for input, or the TLS handshake in progress is
/// dropped.
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
    let span = tracing::debug_span!("imap", peer = ?peer);
    async move {
        let stream = if implicit_tls {
            let stream = handshake(stream, ctx, shutdown, admission).await?;
            admission.encrypted();
            stream
        } else {
            stream
        };
        let session = Session::new(ctx.options.clone(), stream.is_tls());
        let mut connection = Connection {
            stream: Some(stream),
            session,
            engine: None,
            idle: None,
            ctx,
            peer_ip: peer.map(|p| p.ip()),
            out: Vec::new(),
            auth_failures: 0,
            closing: None,
            command_deadline: None,
            admission,
            credentials: ctx.store.subscribe_credentials(),
            signed_in: None,
            reservation: ctx.budget.as_ref().map(Budget::reservation),
        };
        connection.run(shutdown).await
    }
    .instrument(span)
    .await
}

/// One connection's I/O state around its session.
struct Connection<'a> {
    /// `None` only while the TLS handshake owns the stream.
    stream: Option<Stream>,
    session: Session,
    /// The logged-in user's engine; `None` before login and while a
    /// command runs on a blocking thread.
    engine: Option<Engine>,
    /// The change channel IDLE waits on.
    idle: Option<Option<broadcast::Receiver<store::MailboxChange>>>,
    ctx: &'a Context,
    peer_ip: Option<IpAddr>,
    out: Vec<u8>,
    auth_failures: u32,
    /// The connection ends after the session's pending responses and
    /// these last bytes (a BYE).
    closing: Option<Vec<u8>>,
    /// Set when input arrives that the server has not answered yet (a
    /// command in progress): the rest must arrive by then. Cleared by
    /// every response written.
    command_deadline: Option<tokio::time::Instant>,
    /// The connection's standing with the daemon.
    admission: &'a Admission,
    /// Moves when users, organisations or gateway proofs change: the
    /// logged-in user's account is then checked again.
    credentials: watch::Receiver<u64>,
    /// Who logged in, and when (seconds since the Unix epoch).
    signed_in: Option<(String, i64)>,
    /// This connection's share of the in-flight memory budget, covering
    /// the command being received.
    reservation: Option<Reservation>,
}

/// How long a connection waits for others to free in-flight memory before
/// it gives up its command.
const BUDGET_PATIENCE: Duration = Duration::from_secs(20);

/// Memory a command's bytes cost until it is done: the framed bytes, the
/// parsed command handed to the engine, the appended copy and its parse
/// (docs/benchmarks.md, "Memory"). Its reservation in the in-flight budget
/// is this many times its size.
pub const MEMORY_PER_LITERAL_BYTE: u64 = 3;

/// What woke the driver while it waited for input.
enum Wake {
    Read(io::Result<usize>),
    Changed,
    TimedOut,
    /// A command begun but not finished in time.
    TooSlow,
    ShuttingDown,
    /// The daemon wants the connection's place back.
    Evicted(Eviction),
    /// Accounts changed: check the logged-in user's again.
    CredentialsChanged,
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the stream is gone")
}

impl Connection<'_> {
    async fn run(&mut self, shutdown: &CancellationToken) -> io::Result<()> {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if let Some(last) = self.closing.take() {
                if let Step::Write(bytes) = self.session.next() {
                    self.out.extend_from_slice(&bytes);
                }
                return self.close_with(&last).await;
            }
            match self.session.next() {
                Step::Write(bytes) => self.out.extend_from_slice(&bytes),
                Step::Event(event) => self.answer(event, shutdown).await?,
                Step::StartTls => {
                    self.flush().await?;
                    let stream = self.stream.take().ok_or_else(gone)?;
                    self.stream =
                        Some(handshake(stream, self.ctx, shutdown, self.admission).await?);
                    debug!("STARTTLS done");
                    self.admission.encrypted();
                    self.session.tls_established();
                }
                Step::NeedInput => {
                    self.flush().await?;
                    match self.wait(&mut buf, shutdown).await {
                        Wake::Read(Ok(0)) => {
                            debug!("client closed the connection");
                            return Ok(());
                        }
                        Wake::Read(Ok(n)) => {
                            self.admission.heard();
                            let pending = self.session.pending_bytes();
                            if let Some(reservation) = self.reservation.as_mut() {
                                if pending == 0 {
                                    // The last command is complete and gone.
                                    reservation.release();
                                }
                                let wanted = (pending + n as u64) * MEMORY_PER_LITERAL_BYTE;
                                if let Err(exhausted) =
                                    reservation.grow_to(wanted, BUDGET_PATIENCE).await
                                {
                                    warn!(held = pending + n as u64, %exhausted, "in-flight memory budget spent; closing");
                                    return self
                                        .close_with(b"* NO [LIMIT] Too much mail is in flight; please try again later\r\n* BYE [UNAVAILABLE] Closing the connection\r\n")
                                        .await;
                                }
                                tracing::trace!(
                                    pending,
                                    reserved = reservation.bytes(),
                                    "in-flight reservation"
                                );
                            }
                            let now = tokio::time::Instant::now();
                            let limit = now + self.ctx.options.command_timeout;
                            let rate = u64::from(self.ctx.options.min_data_rate.max(1));
                            let earned = Duration::from_micros(n as u64 * 1_000_000 / rate);
                            self.command_deadline = Some(match self.command_deadline {
                                None => limit,
                                Some(d) => (d + earned).min(limit).max(d),
                            });
                            self.session.feed(&buf[..n]);
                        }
                        Wake::Read(Err(error)) => return Err(error),
                        Wake::Changed => {
                            let updates = self.engine_call(|engine| engine.idle_updates()).await;
                            self.out.extend_from_slice(&updates);
                        }
                        Wake::TimedOut => {
                            return self
                                .close_with(b"* BYE Autologout; idle for too long\r\n")
                                .await;
                        }
                        Wake::TooSlow => {
                            return self
                                .close_with(b"* BYE The command did not arrive in time; closing the connection\r\n")
                                .await;
                        }
                        Wake::ShuttingDown => {
                            return self
                                .close_with(b"* BYE [UNAVAILABLE] Server shutting down; please reconnect later\r\n")
                                .await;
                        }
                        Wake::CredentialsChanged => {
                            if let Some(bye) = self.revoked().await {
                                return self.close_with(&bye).await;
                            }
                        }
                        Wake::Evicted(why) => {
                            debug!(%why, "evicted");
                            let bye: &[u8] = match why {
                                Eviction::Crowded => crate::TOO_MANY_CONNECTIONS,
                                Eviction::TooSlow => {
                                    b"* BYE Too slow to start TLS or log in; closing the connection\r\n"
                                }
                            };
                            return self.close_with(bye).await;
                        }
                    }
                }
                Step::NeedAnswer => {
                    warn!("session waits for an answer the driver did not give");
                    return Ok(());
                }
                Step::Close => {
                    self.flush().await?;
                    if let Some(stream) = self.stream.as_mut() {
                        let _ =
                            tokio::time::timeout(self.ctx.options.write_timeout, stream.shutdown())
                                .await;
                    }
                    return Ok(());
                }
            }
        }
    }

    /// Waits for input, a mailbox change (during IDLE), the timer or
    /// shutdown.
    async fn wait(&mut self, buf: &mut [u8], shutdown: &CancellationToken) -> Wake {
        let options = &self.ctx.options;
        let limit: Duration = if self.session.is_idling() {
            options.idle_timeout
        } else if self.session.is_authenticated() {
            options.autologout
        } else {
            options.login_timeout
        };
        let Some(stream) = self.stream.as_mut() else {
            return Wake::Read(Err(gone()));
        };
        let admission = self.admission;
        let credentials = &mut self.credentials;
        let idle = &mut self.idle;
        let changes = async {
            match idle.as_mut() {
                Some(Some(rx)) => match rx.recv().await {
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        // One update covers everything already queued.
                        while !matches!(
                            rx.try_recv(),
                            Err(broadcast::error::TryRecvError::Empty
                                | broadcast::error::TryRecvError::Closed)
                        ) {}
                    }
                    Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
                },
                _ => std::future::pending().await,
            }
        };
        let quiet = tokio::time::Instant::now() + limit;
        let (until, too_slow) = match self.command_deadline {
            Some(d) if d < quiet => (d, true),
            _ => (quiet, false),
        };
        tokio::select! {
            biased;
            () = shutdown.cancelled() => Wake::ShuttingDown,
            why = admission.evicted() => Wake::Evicted(why),
            Ok(()) = credentials.changed() => Wake::CredentialsChanged,
            read = tokio::time::timeout_at(until, stream.read(buf)) => match read {
                Ok(read) => Wake::Read(read),
                Err(_) if too_slow => Wake::TooSlow,
                Err(_) => Wake::TimedOut,
            },
            () = changes => Wake::Changed,
        }
    }

    /// Checks the logged-in user's account again after credentials
    /// changed; the `BYE` that ends the session when it no longer holds.
    async fn revoked(&mut self) -> Option<Vec<u8>> {
        self.credentials.borrow_and_update();
        let (address, since) = self.signed_in.clone()?;
        let authenticator = Arc::clone(&self.ctx.authenticator);
        let checked =
            tokio::task::spawn_blocking(move || authenticator.still_valid(&address, since)).await;
        let Ok(Err(outcome)) = checked else {
            return None;
        };
        info!(?outcome, "credentials revoked; closing");
        Some(match outcome {
            AuthOutcome::Locked | AuthOutcome::Suspended | AuthOutcome::Deleted => {
                b"* BYE [CONTACTADMIN] This account may no longer be used; ask your organisation administrator\r\n".to_vec()
            }
            AuthOutcome::MustChangePassword { .. } => {
                b"* BYE [UNAVAILABLE] The password has expired; change it, then sign in again\r\n".to_vec()
            }
            _ => b"* BYE [UNAVAILABLE] The password was changed; sign in again with the new one\r\n".to_vec(),
        })
    }

    /// Runs one command on the engine on a blocking thread, writing long
    /// responses to the client while they are built (bounded: the engine
    /// waits when four chunks are queued).
    async fn run_command(
        &mut self,
        tag: String,
        body: CommandBody<'static>,
        extension: Option<Extension>,
    ) -> io::Result<()> {
        // A pipelined command must not slip past a revocation announced
        // while the driver was busy.
        if self.credentials.has_changed().unwrap_or(false)
            && let Some(bye) = self.revoked().await
        {
            self.closing = Some(bye);
            return Ok(());
        }
        let Some(mut engine) = self.engine.take() else {
            return Ok(());
        };
        // Earlier pipelined responses go first.
        self.flush().await?;
        let (sink, mut chunks) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
        let mut task = tokio::task::spawn_blocking(move || {
            let out = engine.execute_streaming(&tag, body, extension, sink);
            (engine, out)
        });
        let joined = loop {
            tokio::select! {
                Some(chunk) = chunks.recv() => {
                    self.out = chunk;
                    if let Err(error) = self.flush().await {
                        // The engine's next send fails and it stops.
                        drop(chunks);
                        let _ = task.await;
                        return Err(error);
                    }
                }
                joined = &mut task => break joined,
            }
        };
        while let Ok(chunk) = chunks.try_recv() {
            self.out.extend_from_slice(&chunk);
        }
        match joined {
            Ok((engine, out)) => {
                if engine.must_close() {
                    self.closing = Some(Vec::new());
                }
                self.engine = Some(engine);
                self.out.extend_from_slice(&out);
            }
            Err(error) => {
                warn!(%error, "mailbox engine failed");
                self.out
                    .extend_from_slice(b"* BYE [SERVERBUG] Internal error; please reconnect\r\n");
                self.closing = Some(Vec::new());
            }
        }
        Ok(())
    }

    /// Runs `f` on the engine on a blocking thread.
    async fn engine_call(
        &mut self,
        f: impl FnOnce(&mut Engine) -> Vec<u8> + Send + 'static,
    ) -> Vec<u8> {
        let Some(mut engine) = self.engine.take() else {
            return Vec::new();
        };
        let joined = tokio::task::spawn_blocking(move || {
            let out = f(&mut engine);
            (engine, out)
        })
        .await;
        match joined {
            Ok((engine, out)) => {
                if engine.must_close() {
                    self.closing = Some(Vec::new());
                }
                self.engine = Some(engine);
                out
            }
            Err(error) => {
                warn!(%error, "mailbox engine failed");
                b"* BYE [SERVERBUG] Internal error; please reconnect\r\n".to_vec()
            }
        }
    }

    async fn answer(&mut self, event: Event, shutdown: &CancellationToken) -> io::Result<()> {
        match event {
            Event::LoginRequested {
                tag: _,
                username,
                password,
            } => {
                let outcome = self.authenticate(username.clone(), password.expose()).await;
                let result = match outcome {
                    AuthOutcome::Accepted { user, address } => {
                        info!(%username, %address, "logged in");
                        self.admission.trusted();
                        self.signed_in = Some((address.clone(), unix_now()));
                        self.engine = Some(Engine::new((*self.ctx.store).clone(), user));
                        Ok(())
                    }
                    AuthOutcome::BadCredentials => {
                        self.auth_failures += 1;
                        info!(%username, failures = self.auth_failures, "login failed");
                        let pause = self.ctx.options.auth_failure_delay * self.auth_failures.min(5);
                        tokio::select! {
                            () = tokio::time::sleep(pause) => {}
                            () = shutdown.cancelled() => {}
                        }
                        if self.auth_failures >= MAX_AUTH_FAILURES {
                            self.closing = Some(
                                b"* BYE Too many failed logins; please check your user name and password\r\n"
                                    .to_vec(),
                            );
                        }
                        Err(ImapError::AuthenticationFailed)
                    }
                    AuthOutcome::MustChangePassword { hint } => {
                        info!(%username, "login refused: password must be changed");
                        Err(ImapError::MustChangePassword { hint })
                    }
                    AuthOutcome::Locked => Err(ImapError::AccountLocked),
                    AuthOutcome::Suspended => Err(ImapError::AccountSuspended),
                    AuthOutcome::Deleted => Err(ImapError::AccountDeleted),
                    AuthOutcome::Throttled => Err(ImapError::Throttled),
                    AuthOutcome::Unavailable { detail } => {
                        warn!(%username, %detail, "authentication backend failed");
                        Err(ImapError::Unavailable)
                    }
                };
                self.session.auth_result(result);
            }
            Event::CommandReceived {
                tag,
                body,
                extension,
            } => self.run_command(tag, *body, extension).await?,
            Event::IdleStarted { .. } => {
                let receiver = self.engine.as_ref().and_then(Engine::change_receiver);
                self.idle = Some(receiver);
                let updates = self.engine_call(|engine| engine.idle_updates()).await;
                self.out.extend_from_slice(&updates);
            }
            Event::IdleDone { tag } => {
                self.idle = None;
                let updates = self.engine_call(|engine| engine.idle_updates()).await;
                self.out.extend_from_slice(&updates);
                self.out
                    .extend_from_slice(format!("{tag} OK IDLE terminated\r\n").as_bytes());
            }
            Event::LoggedOut => debug!("logged out"),
        }
        Ok(())
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

    /// Writes the pending responses and flushes them through TLS.
    async fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let stream = self.stream.as_mut().ok_or_else(gone)?;
        let write = async {
            stream.write_all(&self.out).await?;
            stream.flush().await
        };
        match tokio::time::timeout(self.ctx.options.write_timeout, write).await {
            Ok(result) => result?,
            Err(_) => return Err(io::Error::from(io::ErrorKind::TimedOut)),
        }
        self.out.clear();
        // The server has answered: no command is half-received now.
        self.command_deadline = None;
        Ok(())
    }

    /// Sends a BYE the driver itself decides, then closes.
    async fn close_with(&mut self, bye: &[u8]) -> io::Result<()> {
        self.out.extend_from_slice(bye);
        self.flush().await?;
        if let Some(stream) = self.stream.as_mut() {
            let _ = tokio::time::timeout(self.ctx.options.write_timeout, stream.shutdown()).await;
        }
        Ok(())
    }
}

/// The TLS handshake, bounded in time and giving way to shutdown and to
/// eviction.
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
        .upgrade_within(&ctx.tls, ctx.options.handshake_timeout, stop)
        .await;
    upgraded.map_err(|e| match admission.eviction() {
        Some(why) if e.kind() == io::ErrorKind::Interrupted => {
            io::Error::new(io::ErrorKind::Interrupted, format!("evicted: {why}"))
        }
        _ => e,
    })
}
