//! The daemon's life: prepare the data folder, bind every listener, tell
//! systemd it is ready, serve until SIGTERM or SIGINT, reload certificates on
//! SIGHUP, then stop accepting, give open sessions the grace period, write a
//! last signed checkpoint of the audit log, flush the store and exit. Hourly
//! it purges deleted accounts and audit records past their retention;
//! every `[audit] checkpoint_interval` it writes a signed checkpoint.
//!
//! ```text
//!  start ──► Bound ──READY=1──► Serving ──SIGTERM/SIGINT──► Draining ──► flushed, exit 0
//!                                  │  ▲
//!                            SIGHUP└──┘ certificates reloaded
//! ```

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream, UnixListener};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info, info_span, warn};
use transport::{ServerTls, Stream};

use crate::admin::{self, AdminState};
use crate::config::{Config, ListenerKind, TlsSource};
use crate::connections::{Caps, Registry};
use crate::notify;

/// Why the daemon could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The data folder could not be created or used.
    #[error("cannot use the data folder {path}: {source}")]
    DataDir {
        /// The folder.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The store could not be opened or flushed.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// The server certificate could not be made or loaded.
    #[error(transparent)]
    Certificate(#[from] transport::CertificateError),
    /// The organisation certificate authority could not be made or loaded.
    #[error(transparent)]
    Authority(#[from] transport::ca::CaError),
    /// A listening address could not be bound.
    #[error("cannot listen on {address} ({kind}): {source}")]
    Bind {
        /// Which listener.
        kind: &'static str,
        /// The address.
        address: SocketAddr,
        /// What the operating system said (in use, permission denied, …).
        source: io::Error,
    },
    /// The admin socket could not be set up.
    #[error("cannot create the admin socket {path}: {source}")]
    AdminSocket {
        /// The socket path.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(io::Error),
    /// The relay's configuration is unusable.
    #[error("cannot start the relay: {0}")]
    Relay(#[from] smtp_relay::RelayError),
    /// The key that signs audit checkpoints could not be made or loaded.
    #[error(transparent)]
    AuditKey(#[from] crate::checkpoint::KeyError),
}

/// A daemon whose listeners are bound and which is ready to serve.
#[derive(Debug)]
pub struct Daemon {
    config: Config,
    store: Arc<store::Store>,
    service: accounts::Service,
    community: Arc<watch::Sender<Arc<policy::Community>>>,
    tls: ServerTls,
    /// The same certificate, asking clients for a gateway certificate from
    /// Ward's CA: used on the SMTP (gateway) listener only, so mail
    /// programs on submission and IMAP are never asked for one.
    gateway_tls: ServerTls,
    listeners: Vec<(ListenerKind, TcpListener)>,
    admin: UnixListener,
    relay: smtp_relay::Relay,
    /// Signs the audit log's checkpoints.
    signer: Arc<crate::checkpoint::Signer>,
    first_start: bool,
}

impl Daemon {
    /// Prepares the data folder, opens the store, loads (or on first start
    /// creates) the certificate, and binds every listener and the admin socket.
    ///
    /// # Errors
    ///
    /// The first thing that failed; nothing is left listening.
    pub async fn start(config: Config) -> Result<Self, ServeError> {
        crate::connections::raise_open_file_limit(crate::connections::files_needed(&config));
        create_private_dir(&config.data_dir)?;
        let store_dir = config.data_dir.join("store");
        let store = tokio::task::spawn_blocking(move || store::Store::open(&store_dir))
            .await
            .expect("opening the store does not panic")?;
        let first_start = store.was_created();
        let store = Arc::new(store);
        let ca_dir = config.data_dir.join("ca");
        let ca = tokio::task::spawn_blocking(move || {
            transport::ca::CertificateAuthority::ensure(&ca_dir)
        })
        .await
        .expect("loading the CA does not panic")?;
        let ca = Arc::new(ca);
        let service = accounts::Service::new(
            store.clone(),
            config.accounts.clone(),
            accounts::clock::from_env(),
        )
        .with_ca(ca.clone());
        let snapshot = {
            let service = service.clone();
            tokio::task::spawn_blocking(move || service.community())
                .await
                .expect("reading the community does not panic")
        };
        let community = Arc::new(watch::Sender::new(Arc::new(snapshot)));
        let (cert, key) = match &config.tls {
            TlsSource::Files {
                certificate,
                private_key,
            } => (certificate.clone(), private_key.clone()),
            TlsSource::SelfSigned => transport::certificate::ensure_self_signed(
                &config.data_dir.join("tls"),
                &config.hostname,
            )?,
        };
        let tls = ServerTls::from_files(&cert, &key)?;
        // The SMTP listener asks for a client certificate: Ward's CA proves
        // an organisation's gateway; the public roots and the extra CAs can
        // prove an external secure domain's server.
        let gateway_tls = ServerTls::with_client_roots(
            &cert,
            &key,
            &[ca.certificate().clone()],
            config.extra_ca_file.as_deref(),
            true,
        )?;
        let mut listeners = Vec::with_capacity(config.listeners.len());
        for &(kind, address) in &config.listeners {
            let listener = bind(address).map_err(|source| ServeError::Bind {
                kind: kind.key(),
                address,
                source,
            })?;
            listeners.push((kind, listener));
        }
        let relay =
            smtp_relay::Relay::new(store.clone(), community.subscribe(), relay_config(&config))?;
        let key_dir = config.audit.key_dir.clone();
        let signer = tokio::task::spawn_blocking(move || {
            crate::checkpoint::Signer::load_or_create(&key_dir)
        })
        .await
        .expect("loading the audit key does not panic")?;
        let signer = Arc::new(signer);
        let admin =
            admin::bind(&config.admin_socket).map_err(|source| ServeError::AdminSocket {
                path: config.admin_socket.clone(),
                source,
            })?;
        Ok(Self {
            config,
            store,
            service,
            community,
            tls,
            gateway_tls,
            listeners,
            admin,
            relay,
            signer,
            first_start,
        })
    }

    /// The bound addresses (useful when a port was configured as 0).
    pub fn addresses(&self) -> Vec<(ListenerKind, SocketAddr)> {
        self.listeners
            .iter()
            .filter_map(|(kind, l)| l.local_addr().ok().map(|a| (*kind, a)))
            .collect()
    }

    /// The account operations over this daemon's store.
    pub fn service(&self) -> &accounts::Service {
        &self.service
    }

    /// Rebuilds the routing snapshot after organisations changed.
    pub fn refresh_community(&self) {
        self.community
            .send_replace(Arc::new(self.service.community()));
    }

    /// Whether this start created the data folder's store.
    pub fn is_first_start(&self) -> bool {
        self.first_start
    }

    /// Serves until `shutdown` is cancelled or SIGTERM/SIGINT arrives.
    ///
    /// # Errors
    ///
    /// Signal handlers that cannot be installed, or a store that cannot be
    /// flushed at the end.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), ServeError> {
        let mut sigterm = signal(SignalKind::terminate()).map_err(ServeError::Signals)?;
        let mut sigint = signal(SignalKind::interrupt()).map_err(ServeError::Signals)?;
        let mut sighup = signal(SignalKind::hangup()).map_err(ServeError::Signals)?;

        let throttle = Arc::new(crate::auth::IpThrottle::default());
        // One budget for message data in memory, shared by every listener.
        let budget = transport::budget::Budget::new(self.config.in_flight_memory);
        let smtp_context = |listener, tls: &ServerTls| {
            let settings = &self.config.smtp;
            let mut options = smtp_in::Options::new(self.config.hostname.clone(), listener);
            options.limits =
                policy::Limits::new(settings.max_message_size, settings.max_recipients);
            options.max_bad_commands = settings.max_bad_commands;
            options.postmaster = settings.postmaster.clone();
            let mut ctx = smtp_in::Context::new(
                options,
                tls.clone(),
                self.community.subscribe(),
                (*self.store).clone(),
                Arc::new(crate::auth::AccountsAuthenticator {
                    service: self.service.clone(),
                    throttle: throttle.clone(),
                }),
            );
            ctx.timeouts.command = settings.command_timeout;
            ctx.timeouts.data = settings.data_timeout;
            ctx.budget = Some(budget.clone());
            ctx
        };
        let shared = Arc::new(Shared {
            smtp_relay: smtp_context(policy::Listener::Relay, &self.gateway_tls),
            smtp_submission: smtp_context(policy::Listener::Submission, &self.tls),
            imap: {
                let mut options = imap::Options::new(self.config.hostname.clone());
                options.max_literal = self
                    .config
                    .imap
                    .max_literal
                    .max(self.config.smtp.max_message_size);
                options.autologout = self.config.imap.idle_timeout;
                options.idle_timeout = self.config.imap.idle_timeout;
                options.command_timeout = self.config.imap.command_timeout;
                let mut ctx = imap::Context::new(
                    options,
                    self.tls.clone(),
                    self.store.clone(),
                    Arc::new(crate::auth::AccountsAuthenticator {
                        service: self.service.clone(),
                        throttle: throttle.clone(),
                    }),
                );
                ctx.budget = Some(budget.clone());
                ctx
            },
            connections: Registry::new(Caps::of(&self.config)),
            next_id: AtomicU64::new(1),
        });
        let addresses = self.addresses();
        let reaper = tokio::spawn(shared.connections.clone().reap_until(shutdown.clone()));
        let tracker = TaskTracker::new();
        let mut accept_loops = Vec::new();
        for (kind, listener) in self.listeners {
            let task = accept_loop(
                kind,
                listener,
                shared.clone(),
                shutdown.clone(),
                tracker.clone(),
            );
            accept_loops.push(tokio::spawn(task));
        }
        let state = Arc::new(AdminState {
            version: env!("CARGO_PKG_VERSION"),
            hostname: self.config.hostname.clone(),
            data_dir: self.config.data_dir.clone(),
            started: Instant::now(),
            started_at: SystemTime::now(),
            listeners: addresses.clone(),
            service: self.service.clone(),
            community: self.community.clone(),
            relay: self.relay.handle(),
        });
        let relay_handle = self.relay.handle();
        let relay_task = tokio::spawn(self.relay.run(shutdown.clone()));
        let purge_task = tokio::spawn(purge_deleted(
            self.service.clone(),
            self.config.audit.retention,
            shutdown.clone(),
        ));
        let checkpoints = Checkpoints {
            store: self.store.clone(),
            signer: self.signer.clone(),
            host: self.config.hostname.clone(),
            file: self.config.audit.checkpoint_file.clone(),
        };
        let checkpoint_task = tokio::spawn(
            checkpoints
                .clone()
                .run_every(self.config.audit.checkpoint_interval, shutdown.clone()),
        );
        let admin_task = tokio::spawn(admin::serve(self.admin, state, shutdown.clone()));

        for (kind, address) in &addresses {
            info!(listener = kind.key(), %address, "listening");
        }
        info!(admin = %self.config.admin_socket.display(), "ready");
        notify::ready();

        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = sigterm.recv() => { info!("SIGTERM received"); break }
                _ = sigint.recv() => { info!("SIGINT received"); break }
                _ = sighup.recv() => {
                    notify::reloading();
                    // Each independently: a broken CA file must not keep the
                    // other listeners on an old certificate.
                    let listeners = self.tls.reload();
                    let gateway = self.gateway_tls.reload();
                    match (&listeners, &gateway) {
                        (Ok(()), Ok(())) => info!("certificates and client CAs reloaded"),
                        _ => {
                            for e in [listeners.err(), gateway.err()].into_iter().flatten() {
                                warn!(error = %e, "certificate reload failed; what could not be read stays as it was");
                            }
                        }
                    }
                    match relay_handle.reload_tls() {
                        Ok(()) => info!("relay trust anchors reloaded"),
                        Err(e) => warn!(error = %e, "relay TLS reload failed; the previous trust anchors stay in use"),
                    }
                    notify::ready();
                }
            }
        }

        notify::stopping();
        let grace = self.config.shutdown_grace;
        info!(
            sessions = tracker.len(),
            grace_seconds = grace.as_secs(),
            "stopping: no new connections; open sessions may finish"
        );
        shutdown.cancel();
        for task in accept_loops {
            let _ = task.await;
        }
        tracker.close();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            warn!(
                sessions = tracker.len(),
                "grace period over; closing the remaining sessions"
            );
        }
        let _ = admin_task.await;
        let _ = purge_task.await;
        let _ = relay_task.await;
        let _ = checkpoint_task.await;
        let _ = reaper.await;
        // Every session and task is done: this is the head the store keeps.
        checkpoints.write().await;
        let store = self.store;
        tokio::task::spawn_blocking(move || store.flush())
            .await
            .expect("flushing the store does not panic")?;
        let _ = std::fs::remove_file(&self.config.admin_socket);
        info!("stopped");
        Ok(())
    }
}

/// The relay's settings from `[relay]`, `[tls] extra_ca_file` and the
/// host name.
fn relay_config(config: &Config) -> smtp_relay::RelayConfig {
    let settings = &config.relay;
    let mut relay = smtp_relay::RelayConfig::default();
    relay.hostname = config.hostname.clone();
    relay.retry_schedule = settings.retry_schedule.clone();
    relay.max_age = settings.max_age;
    relay.delay_notice_after = settings.delay_notice_after;
    relay.max_connections = settings.max_connections;
    relay.max_connections_per_destination = settings.max_connections_per_destination;
    relay.connect_timeout = settings.connect_timeout;
    relay.command_timeout = settings.command_timeout;
    relay.extra_ca_file = config.extra_ca_file.clone();
    relay.client_certificate = settings.client_certificate.clone();
    relay.mx_port = settings.mx_port;
    relay.resolver = if settings.dns_servers.is_empty() {
        smtp_relay::ResolverChoice::System
    } else {
        smtp_relay::ResolverChoice::NameServers(settings.dns_servers.clone())
    };
    relay
}

/// Removes deleted accounts' mailboxes once their retention is over, and
/// audit records older than `audit_retention`, checking hourly.
async fn purge_deleted(
    service: accounts::Service,
    audit_retention: std::time::Duration,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let accounts = service.clone();
        match tokio::task::spawn_blocking(move || accounts.purge_deleted()).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => info!(accounts = n, "deleted accounts purged after retention"),
            Ok(Err(e)) => warn!(error = %e, "purging deleted accounts failed"),
            Err(e) => warn!(error = %e, "purging deleted accounts panicked"),
        }
        let store = service.store().clone();
        let cutoff = unix_millis()
            .saturating_sub(i64::try_from(audit_retention.as_millis()).unwrap_or(i64::MAX));
        match tokio::task::spawn_blocking(move || store.purge_audit_before(cutoff)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => info!(records = n, "audit records purged after retention"),
            Ok(Err(e)) => warn!(error = %e, "purging old audit records failed"),
            Err(e) => warn!(error = %e, "purging old audit records panicked"),
        }
    }
}

fn unix_millis() -> i64 {
    SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Writes signed checkpoints of the audit log's head (see
/// [`crate::checkpoint`]).
#[derive(Clone)]
struct Checkpoints {
    store: Arc<store::Store>,
    signer: Arc<crate::checkpoint::Signer>,
    host: String,
    file: PathBuf,
}

impl Checkpoints {
    /// Every `interval`, a checkpoint when the head has moved since the
    /// last one; until `shutdown`.
    async fn run_every(self, interval: std::time::Duration, shutdown: CancellationToken) {
        let start = tokio::time::Instant::now() + interval;
        let mut tick = tokio::time::interval_at(start, interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last = None;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            let store = self.store.clone();
            let head = tokio::task::spawn_blocking(move || store.audit_head()).await;
            match head {
                Ok(Ok(head)) if Some(head) == last => {}
                Ok(Ok(head)) => {
                    if self.write_head(head).await {
                        last = Some(head);
                    }
                }
                Ok(Err(e)) => warn!(error = %e, "cannot read the audit head for a checkpoint"),
                Err(e) => warn!(error = %e, "reading the audit head panicked"),
            }
        }
    }

    /// A checkpoint of the current head, whatever the last one was.
    async fn write(&self) {
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.audit_head()).await {
            Ok(Ok(head)) => {
                self.write_head(head).await;
            }
            Ok(Err(e)) => warn!(error = %e, "cannot read the audit head for a checkpoint"),
            Err(e) => warn!(error = %e, "reading the audit head panicked"),
        }
    }

    /// Signs `head`, appends it to the file and logs it. True when written.
    async fn write_head(&self, head: store::AuditHead) -> bool {
        let checkpoint = self.signer.sign(&self.host, head, unix_millis());
        let file = self.file.clone();
        let line = checkpoint.clone();
        let written =
            tokio::task::spawn_blocking(move || crate::checkpoint::append(&file, &line)).await;
        // The log line is a second copy outside the store, whatever the
        // file's fate.
        info!(
            seq = checkpoint.seq,
            hash = %checkpoint.hash,
            signature = %checkpoint.signature,
            public_key = %checkpoint.public_key,
            "audit checkpoint"
        );
        match written {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                warn!(file = %self.file.display(), error = %e, "cannot write the audit checkpoint file");
                false
            }
            Err(e) => {
                warn!(error = %e, "writing the audit checkpoint panicked");
                false
            }
        }
    }
}

/// State every session shares.
struct Shared {
    /// The SMTP listeners' contexts: relay (port 25) and submission.
    smtp_relay: smtp_in::Context,
    smtp_submission: smtp_in::Context,
    /// The IMAP listeners' context.
    imap: imap::Context,
    connections: Registry,
    next_id: AtomicU64,
}

async fn accept_loop(
    kind: ListenerKind,
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Usually EMFILE: back off instead of spinning.
                    warn!(listener = kind.key(), error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let span = info_span!("conn", id, peer = %peer, listener = kind.key());
        let login = kind != ListenerKind::Smtp;
        let mut admitted = shared.connections.admit(peer.ip(), login, Instant::now());
        // Evicted connections hold their sockets until they have said why;
        // newcomers wait in the listen queue meanwhile, a second at most.
        let patience = Instant::now() + std::time::Duration::from_secs(1);
        while let Err(crate::connections::Refusal::Closing) = admitted
            && let Some(left) = patience.checked_duration_since(Instant::now())
        {
            shared.connections.closed(left).await;
            admitted = shared.connections.admit(peer.ip(), login, Instant::now());
        }
        let admitted = match admitted {
            Ok(admitted) => admitted,
            Err(refusal) => {
                span.in_scope(|| warn!(reason = refusal.reason(), "connection refused"));
                tracker.spawn(refuse(kind, tcp));
                continue;
            }
        };
        if let Some(evicted) = admitted.evicted {
            span.in_scope(|| {
                tracing::debug!(evicted, "at the cap: oldest untrusted connection evicted")
            });
        }
        let shared = shared.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(
            async move {
                let _permit = admitted.permit;
                let admission = &admitted.admission;
                let _ = tcp.set_nodelay(true);
                tracing::debug!("connected");
                let stream = Stream::Plain(tcp);
                let implicit = kind.implicit_tls();
                let result = match kind {
                    ListenerKind::Smtp | ListenerKind::Submission | ListenerKind::Submissions => {
                        let ctx = if kind == ListenerKind::Smtp {
                            &shared.smtp_relay
                        } else {
                            &shared.smtp_submission
                        };
                        let peer = Some(peer);
                        smtp_in::serve_admitted(stream, implicit, ctx, peer, &shutdown, admission)
                            .await
                    }
                    ListenerKind::Imap | ListenerKind::Imaps => {
                        let ctx = &shared.imap;
                        let peer = Some(peer);
                        imap::serve_admitted(stream, implicit, ctx, peer, &shutdown, admission)
                            .await
                    }
                };
                match result {
                    Ok(()) => tracing::debug!("closed"),
                    Err(e) => tracing::info!(error = %e, "connection ended"),
                }
            }
            .instrument(span),
        );
    }
}

/// Tells a client over the cap why it is turned away (where the protocol
/// starts in clear text), then closes.
async fn refuse(kind: ListenerKind, mut tcp: TcpStream) {
    let line = match kind {
        ListenerKind::Smtp | ListenerKind::Submission => smtp_in::TOO_MANY_CONNECTIONS,
        ListenerKind::Imap => imap::TOO_MANY_CONNECTIONS,
        // Implicit TLS: nothing can be said before a handshake we won't do.
        ListenerKind::Submissions | ListenerKind::Imaps => return,
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), tcp.write_all(line)).await;
}

/// Binds a listening socket; IPv6 sockets are IPv6-only so that `0.0.0.0:25`
/// and `[::]:25` can both be configured.
fn bind(address: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

fn create_private_dir(path: &Path) -> Result<(), ServeError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| ServeError::DataDir {
            path: path.to_owned(),
            source,
        })
}
