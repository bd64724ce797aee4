//! The fixtures: a real server on `127.0.0.1:0` with a self-signed
//! certificate and a sled store in a temporary folder, a password map
//! behind the `Authenticator` seam, and a small SMTP client that speaks
//! real TLS.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use policy::{
    Address, AuthenticatedUser, Community, Domain, Gateway, Listener, Organisation, PolicyError,
    SuffixRewrite,
};
use rustls_pki_types::ServerName;
use smtp_in::{AuthOutcome, Authenticator, Context, Options, Timeouts};
use store::{AccountStatus, ConnectionKind, OrgState, Role, Store, User};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use transport::{ServerTls, Stream};

pub(crate) const HOSTNAME: &str = "mx.ward.test";
pub(crate) const ERIC: &str = "eric.brown@greenstonechambers.co.uk.cjsm.net";
pub(crate) const JANE: &str = "jane.doe@greenstonechambers.co.uk.cjsm.net";
pub(crate) const LOCKED: &str = "lou.locked@greenstonechambers.co.uk.cjsm.net";
/// A recipient at an SMTP-connected organisation: queued for its gateway.
pub(crate) const GATEWAY_RECIPIENT: &str = "sam.smith@kentsol.example.cjsm.net";
/// A recipient on an external secure government domain: queued for its MX.
pub(crate) const POLICE_RECIPIENT: &str = "pc.jones@kent.pnn.police.uk";
pub(crate) const PASSWORD: &str = "correct horse battery staple";

/// The community of the tests: one hosted organisation, one SMTP one.
pub(crate) fn community() -> Community {
    let mut community = Community::default();
    community.organisations.push(Organisation::mailbox(
        "Greenstone Chambers",
        Domain::parse("greenstonechambers.co.uk").unwrap(),
    ));
    community.organisations.push(Organisation::smtp(
        "Kent Solicitors",
        Domain::parse("kentsol.example").unwrap(),
        Gateway {
            host: Domain::parse("mail.kentsol.example").unwrap(),
            port: 25,
            rewrite: SuffixRewrite::StripSuffix,
        },
    ));
    community
}

/// Creates the hosted organisation and its users through the store API
/// (once; a reopened store keeps them).
pub(crate) fn populate(store: &Store) {
    if store.user_by_address(ERIC).unwrap().is_some() {
        return;
    }
    let org = store
        .create_organisation(&store::Organisation {
            name: "Greenstone Chambers".into(),
            domains: vec!["greenstonechambers.co.uk.cjsm.net".into()],
            abbreviation: None,
            connection: ConnectionKind::Mailbox,
            parent: None,
            ex_directory: false,
            state: OrgState::Active,
            delivery_held: false,
            details: Default::default(),
        })
        .unwrap();
    for (address, status) in [
        (ERIC, AccountStatus::Active),
        (JANE, AccountStatus::Active),
        (LOCKED, AccountStatus::Locked),
    ] {
        store
            .create_user(&User {
                address: address.into(),
                first_name: "Test".into(),
                last_name: "User".into(),
                notice_address: None,
                organisation: org,
                role: Role::User,
                directory: Default::default(),
                ex_directory: false,
                status,
                password_hash: None,
                password_set_at: None,
                previous_passwords: Vec::new(),
                failed_attempts: 0,
                locked_at: None,
                last_login: None,
                created_at: 0,
            })
            .unwrap();
    }
}

/// The authenticator seam: a fixed map of addresses to passwords. The
/// locked account has the right password but is refused, as the accounts
/// crate would after `policy::check_account`.
pub(crate) struct Passwords(HashMap<String, String>);

impl Passwords {
    pub(crate) fn new() -> Self {
        Self(
            [ERIC, JANE, LOCKED]
                .into_iter()
                .map(|a| (a.to_owned(), PASSWORD.to_owned()))
                .collect(),
        )
    }
}

impl Authenticator for Passwords {
    fn authenticate(&self, username: &str, password: &str, _peer: Option<IpAddr>) -> AuthOutcome {
        let username = username.to_ascii_lowercase();
        if self.0.get(&username).map(String::as_str) != Some(password) {
            return AuthOutcome::BadCredentials;
        }
        let address = Address::try_from(username.as_str()).unwrap();
        if username == LOCKED {
            return AuthOutcome::AccountRefused(PolicyError::AccountLocked { user: address });
        }
        AuthOutcome::Accepted(AuthenticatedUser::new(address))
    }
}

/// A running server and what the tests inspect.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) store: Store,
    pub(crate) shutdown: CancellationToken,
    pub(crate) cert: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// A submission server (STARTTLS) with short failure pauses.
    pub(crate) async fn submission() -> Self {
        Self::start(Listener::Submission, false, fast_timeouts()).await
    }

    pub(crate) async fn start(listener: Listener, implicit: bool, timeouts: Timeouts) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut server = Self::start_in(dir.path(), listener, implicit, timeouts).await;
        server._dir = Some(dir);
        server
    }

    /// Starts a server whose store and certificate live in `dir`.
    pub(crate) async fn start_in(
        dir: &Path,
        listener: Listener,
        implicit: bool,
        timeouts: Timeouts,
    ) -> Self {
        let (cert, key) =
            transport::certificate::ensure_self_signed(&dir.join("tls"), "localhost").unwrap();
        let tls = ServerTls::from_files(&cert, &key).unwrap();
        let store = Store::open(&dir.join("store")).unwrap();
        populate(&store);
        let (_, community) = watch::channel(Arc::new(community()));
        // Byte-for-byte checks of the stored message: no footer here (the
        // daemon's default adds it; tests/system checks it there).
        let mut options = Options::new(HOSTNAME, listener);
        options.footer = None;
        let mut ctx = Context::new(
            options,
            tls,
            community,
            store.clone(),
            Arc::new(Passwords::new()),
        );
        ctx.timeouts = timeouts;
        let ctx = Arc::new(ctx);
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        tokio::spawn(async move {
            loop {
                let (socket, peer) = tokio::select! {
                    accepted = tcp.accept() => accepted.unwrap(),
                    () = token.cancelled() => return,
                };
                let (ctx, token) = (ctx.clone(), token.clone());
                tokio::spawn(async move {
                    let _ =
                        smtp_in::serve(Stream::Plain(socket), implicit, &ctx, Some(peer), &token)
                            .await;
                });
            }
        });
        Self {
            addr,
            store,
            shutdown,
            cert,
            _dir: None,
        }
    }

    /// The messages in `address`'s INBOX, oldest first, as stored.
    pub(crate) fn inbox(&self, address: &str) -> Vec<(store::BodyId, Vec<u8>)> {
        inbox(&self.store, address)
    }
}

/// The messages in `address`'s INBOX of `store`.
pub(crate) fn inbox(store: &Store, address: &str) -> Vec<(store::BodyId, Vec<u8>)> {
    let (user, _) = store.user_by_address(address).unwrap().unwrap();
    let mailbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap();
    store
        .messages(mailbox.id)
        .unwrap()
        .into_iter()
        .map(|m| (m.body, store.read_body(m.body).unwrap()))
        .collect()
}

/// Default timeouts, with failed sign-ins answered at once.
pub(crate) fn fast_timeouts() -> Timeouts {
    let mut timeouts = Timeouts::default();
    timeouts.auth_failure_delay = Duration::from_millis(10);
    timeouts
}

/// `AUTH PLAIN` initial response for `user`.
pub(crate) fn plain(user: &str, password: &str) -> String {
    STANDARD.encode(format!("\0{user}\0{password}"))
}

/// A message from Eric with every header a mail program sets.
pub(crate) fn message(to: &str, subject: &str) -> String {
    format!(
        "Message-ID: <{subject}@client.example>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\nFrom: Eric Brown <{ERIC}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\r\nHello.\r\n.A line that starts with a dot.\r\n\r\nRegards,\r\nEric\r\n"
    )
}

/// Dot-stuffs a message and appends the end-of-data line.
pub(crate) fn dot_stuffed(message: &str) -> String {
    let mut out = String::new();
    for line in message.split_inclusive("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    out.push_str(".\r\n");
    out
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// A line-level SMTP client over real TCP and TLS.
pub(crate) struct Client {
    conn: Option<Conn>,
    buf: Vec<u8>,
}

impl Client {
    pub(crate) async fn connect(addr: SocketAddr) -> Self {
        let tcp = TcpStream::connect(addr).await.unwrap();
        Self {
            conn: Some(Conn::Plain(tcp)),
            buf: Vec::new(),
        }
    }

    /// Connects and performs the TLS handshake at once (implicit TLS).
    pub(crate) async fn connect_tls(addr: SocketAddr, cert: &Path) -> Self {
        let mut client = Self::connect(addr).await;
        client.handshake(cert).await;
        client
    }

    pub(crate) async fn send(&mut self, text: &str) {
        self.write(text.as_bytes()).await.unwrap();
    }

    async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self.conn.as_mut().unwrap() {
            Conn::Plain(s) => s.write_all(bytes).await,
            Conn::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
        }
    }

    async fn read(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 4096];
        let n = match self.conn.as_mut().unwrap() {
            Conn::Plain(s) => s.read(&mut chunk).await?,
            Conn::Tls(s) => s.read(&mut chunk).await?,
        };
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The next complete reply, its lines joined by `\n` (no CRs).
    pub(crate) async fn reply(&mut self) -> String {
        tokio::time::timeout(Duration::from_secs(20), self.read_reply())
            .await
            .expect("no reply within 20 s")
    }

    async fn read_reply(&mut self) -> String {
        let mut lines = Vec::new();
        loop {
            while let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..end + 2).collect();
                let line = String::from_utf8_lossy(&line[..end]).into_owned();
                let last = line.as_bytes().get(3) != Some(&b'-');
                lines.push(line);
                if last {
                    return lines.join("\n");
                }
            }
            let n = self.read().await.unwrap_or(0);
            assert!(n > 0, "connection closed while waiting; got {lines:?}");
        }
    }

    /// Sends one command line and returns its reply.
    pub(crate) async fn cmd(&mut self, line: &str) -> String {
        self.send(&format!("{line}\r\n")).await;
        self.reply().await
    }

    /// True when the server closes the connection (after any unread bytes).
    pub(crate) async fn closed(&mut self) -> bool {
        let wait = async {
            loop {
                match self.read().await {
                    Ok(0) | Err(_) => return true,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), wait)
            .await
            .unwrap_or(false)
    }

    /// The client side of the TLS handshake, trusting the test certificate.
    pub(crate) async fn handshake(&mut self, cert: &Path) {
        let mut roots = rustls::RootCertStore::empty();
        for c in transport::certificate::read_chain(cert).unwrap() {
            roots.add(c).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(transport::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let Some(Conn::Plain(tcp)) = self.conn.take() else {
            panic!("already TLS");
        };
        assert!(self.buf.is_empty(), "unread bytes before the handshake");
        let name = ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, tcp).await.unwrap();
        self.conn = Some(Conn::Tls(Box::new(tls)));
    }

    /// Greeting, EHLO, STARTTLS, handshake, EHLO again; returns the second
    /// EHLO reply.
    pub(crate) async fn start_tls(&mut self, cert: &Path) -> String {
        assert!(self.reply().await.starts_with("220 "));
        assert!(self.cmd("EHLO client.example").await.starts_with("250"));
        assert!(self.cmd("STARTTLS").await.starts_with("220 2.0.0"));
        self.handshake(cert).await;
        self.cmd("EHLO client.example").await
    }

    /// A submission client signed in as `user`.
    pub(crate) async fn signed_in(server: &Server, user: &str) -> Self {
        Self::signed_in_at(server.addr, &server.cert, user).await
    }

    /// A submission client signed in as `user` at `addr`.
    pub(crate) async fn signed_in_at(addr: SocketAddr, cert: &Path, user: &str) -> Self {
        let mut client = Self::connect(addr).await;
        client.start_tls(cert).await;
        let reply = client
            .cmd(&format!("AUTH PLAIN {}", plain(user, PASSWORD)))
            .await;
        assert!(reply.starts_with("235 "), "{reply}");
        client
    }

    /// Sends a whole transaction and returns the final reply.
    pub(crate) async fn send_mail(&mut self, from: &str, to: &[&str], message: &str) -> String {
        assert!(
            self.cmd(&format!("MAIL FROM:<{from}>"))
                .await
                .starts_with("250")
        );
        for rcpt in to {
            let reply = self.cmd(&format!("RCPT TO:<{rcpt}>")).await;
            assert!(reply.starts_with("250"), "{rcpt}: {reply}");
        }
        assert!(self.cmd("DATA").await.starts_with("354"));
        self.send(&dot_stuffed(message)).await;
        self.reply().await
    }
}
