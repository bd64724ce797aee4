//! Test doubles on loopback: a private CA, an SMTP sink that speaks
//! STARTTLS and records every byte it receives, a DNS responder answering
//! from a table, and a fixture with a real store and a running relay.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use policy::{Community, Domain, Gateway, Organisation, SuffixRewrite};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use smtp_relay::{Relay, RelayConfig, RelayHandle, ResolverChoice};
use store::{
    AccountStatus, ConnectionKind, MailboxId, NewQueueRecipient, OrgState, QueueEnvelope, QueueId,
    Role, Store, User,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

// ---------------------------------------------------------------- PKI

/// A private CA whose certificate the relay trusts through `extra_ca_file`.
pub struct Pki {
    _dir: tempfile::TempDir,
    pub ca_file: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(cert: CertificateDer<'static>, key: &KeyPair) -> Arc<ServerConfig> {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Arc::new(
        ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap(),
    )
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params
}

impl Pki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().unwrap();
        let params = ca_params("Ward test CA");
        let cert = params.self_signed(&key).unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, cert.pem()).unwrap();
        Self {
            _dir: dir,
            ca_file,
            issuer: Issuer::new(params, key),
        }
    }

    /// A server configuration with a certificate for `names` from this CA.
    pub fn server(&self, names: &[&str]) -> Arc<ServerConfig> {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        server_config(cert.der().clone(), &key)
    }

    /// A server configuration from this CA that requires a client
    /// certificate issued by this CA.
    pub fn server_requiring_client_certificate(&self, names: &[&str]) -> Arc<ServerConfig> {
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(&self.ca_file).unwrap())
            .unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider(),
        )
        .build()
        .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        Arc::new(
            ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_client_cert_verifier(verifier)
                .with_single_cert(vec![cert.der().clone()], key)
                .unwrap(),
        )
    }

    /// A client certificate and key from this CA, as PEM files.
    pub fn client_certificate(&self, name: &str) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let dir = self.ca_file.parent().unwrap();
        let (c, k) = (dir.join("client.pem"), dir.join("client.key"));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }

    /// A server configuration with a certificate for `names` from a CA
    /// nobody trusts.
    pub fn untrusted_server(names: &[&str]) -> Arc<ServerConfig> {
        let other = Pki::new();
        other.server(names)
    }
}

// ---------------------------------------------------------------- SMTP sink

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: Vec<u8>,
    pub tls: bool,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.data);
        text.lines().take_while(|l| !l.is_empty()).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

#[derive(Clone)]
pub struct SinkOptions {
    /// Offer STARTTLS with this configuration; `None`: offer nothing.
    pub tls: Option<Arc<ServerConfig>>,
    /// Recipients refused with 550 5.1.1.
    pub reject: Vec<String>,
    /// TLS from the first byte (with `tls`), no STARTTLS.
    pub implicit: bool,
    /// Answer this many RCPTs (over all connections) with 451 first.
    pub tempfail_rcpts: usize,
    /// Wait this long before accepting each message.
    pub data_delay: Duration,
}

#[derive(Default)]
struct SinkState {
    /// Every byte received, in clear or decrypted.
    raw: Mutex<Vec<u8>>,
    /// Bytes received before TLS.
    plain: Mutex<Vec<u8>>,
    messages: Mutex<Vec<Received>>,
    connections: AtomicUsize,
    active: AtomicUsize,
    max_active: AtomicUsize,
    tempfailed: AtomicUsize,
    transactions_per_connection: Mutex<Vec<usize>>,
}

pub struct Sink {
    pub addr: SocketAddr,
    state: Arc<SinkState>,
    task: JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
    Gone,
}

impl Conn {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf).await,
            Conn::Tls(s) => s.read(buf).await,
            Conn::Gone => Ok(0),
        }
    }
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.write_all(bytes).await,
            Conn::Tls(s) => {
                s.write_all(bytes).await?;
                s.flush().await
            }
            Conn::Gone => Ok(()),
        }
    }
}

impl Sink {
    /// Listens on `addr` (port 0 for any).
    pub async fn start(addr: &str, options: SinkOptions) -> Sink {
        let listener = TcpListener::bind(addr).await.unwrap();
        Self::with_listener(listener, options)
    }

    pub fn with_listener(listener: TcpListener, options: SinkOptions) -> Sink {
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(SinkState::default());
        let st = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                st.connections.fetch_add(1, Ordering::SeqCst);
                let st = Arc::clone(&st);
                let options = options.clone();
                tokio::spawn(async move {
                    let conn = match (&options.tls, options.implicit) {
                        (Some(config), true) => {
                            match TlsAcceptor::from(Arc::clone(config)).accept(tcp).await {
                                Ok(s) => Conn::Tls(Box::new(s)),
                                Err(_) => return,
                            }
                        }
                        _ => Conn::Plain(tcp),
                    };
                    let now = st.active.fetch_add(1, Ordering::SeqCst) + 1;
                    st.max_active.fetch_max(now, Ordering::SeqCst);
                    let counted = Arc::new(std::sync::atomic::AtomicBool::new(true));
                    let _ = tokio::time::timeout(
                        Duration::from_secs(60),
                        serve(conn, options, Arc::clone(&st), Arc::clone(&counted)),
                    )
                    .await;
                    if counted.swap(false, Ordering::SeqCst) {
                        st.active.fetch_sub(1, Ordering::SeqCst);
                    }
                });
            }
        });
        Sink { addr, state, task }
    }

    pub fn messages(&self) -> Vec<Received> {
        self.state.messages.lock().unwrap().clone()
    }

    pub fn raw(&self) -> Vec<u8> {
        self.state.raw.lock().unwrap().clone()
    }

    pub fn plain(&self) -> Vec<u8> {
        self.state.plain.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// The most connections open at once.
    pub fn max_active(&self) -> usize {
        self.state.max_active.load(Ordering::SeqCst)
    }

    pub fn transactions_per_connection(&self) -> Vec<usize> {
        self.state
            .transactions_per_connection
            .lock()
            .unwrap()
            .clone()
    }
}

/// `counted`: whether this connection still counts as active; a QUIT ends
/// it before the reply, so the client's next connection never overlaps.
async fn serve(
    mut conn: Conn,
    options: SinkOptions,
    state: Arc<SinkState>,
    counted: Arc<std::sync::atomic::AtomicBool>,
) {
    let mut buf = Vec::new();
    let mut tls = matches!(conn, Conn::Tls(_));
    let mut mail_from = None;
    let mut rcpts: Vec<String> = Vec::new();
    let mut transactions = 0;
    let record = |bytes: &[u8], tls: bool| {
        state.raw.lock().unwrap().extend_from_slice(bytes);
        if !tls {
            state.plain.lock().unwrap().extend_from_slice(bytes);
        }
    };
    if conn.write(b"220 sink.test ESMTP\r\n").await.is_err() {
        return;
    }
    loop {
        // One line.
        let line = loop {
            if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = buf.drain(..p + 2).collect();
                break line;
            }
            let mut chunk = [0u8; 4096];
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => {
                    state
                        .transactions_per_connection
                        .lock()
                        .unwrap()
                        .push(transactions);
                    return;
                }
                Ok(n) => {
                    record(&chunk[..n], tls);
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
        };
        let text = String::from_utf8_lossy(&line[..line.len() - 2]).into_owned();
        let upper = text.to_ascii_uppercase();
        let reply: Vec<u8> = if upper.starts_with("EHLO") {
            let mut r = String::from("250-sink.test\r\n");
            if options.tls.is_some() && !tls {
                r.push_str("250-STARTTLS\r\n");
            }
            r.push_str("250-SIZE 100000000\r\n250 8BITMIME\r\n");
            r.into_bytes()
        } else if upper == "STARTTLS" {
            match (&options.tls, tls) {
                (Some(config), false) => {
                    if conn.write(b"220 2.0.0 go ahead\r\n").await.is_err() {
                        return;
                    }
                    let Conn::Plain(tcp) = std::mem::replace(&mut conn, Conn::Gone) else {
                        return;
                    };
                    match TlsAcceptor::from(Arc::clone(config)).accept(tcp).await {
                        Ok(s) => {
                            conn = Conn::Tls(Box::new(s));
                            tls = true;
                            buf.clear();
                            continue;
                        }
                        Err(_) => return,
                    }
                }
                _ => b"502 5.5.1 no\r\n".to_vec(),
            }
        } else if upper.starts_with("MAIL FROM:") {
            mail_from = Some(angle(&text));
            rcpts.clear();
            b"250 2.1.0 ok\r\n".to_vec()
        } else if upper.starts_with("RCPT TO:") {
            let rcpt = angle(&text);
            if state.tempfailed.load(Ordering::SeqCst) < options.tempfail_rcpts {
                state.tempfailed.fetch_add(1, Ordering::SeqCst);
                b"451 4.3.0 try again later\r\n".to_vec()
            } else if options.reject.iter().any(|r| r.eq_ignore_ascii_case(&rcpt)) {
                b"550 5.1.1 no such user here\r\n".to_vec()
            } else {
                rcpts.push(rcpt);
                b"250 2.1.5 ok\r\n".to_vec()
            }
        } else if upper == "DATA" {
            if rcpts.is_empty() || mail_from.is_none() {
                b"503 5.5.1 no recipients\r\n".to_vec()
            } else {
                if conn.write(b"354 go\r\n").await.is_err() {
                    return;
                }
                let data = loop {
                    if let Some(p) = find(&buf, b"\r\n.\r\n") {
                        let data: Vec<u8> = buf.drain(..p + 5).collect();
                        break data[..p + 2].to_vec();
                    }
                    let mut chunk = [0u8; 65536];
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => {
                            record(&chunk[..n], tls);
                            buf.extend_from_slice(&chunk[..n]);
                        }
                    }
                };
                let data = undot(&data);
                state.messages.lock().unwrap().push(Received {
                    mail_from: mail_from.take().unwrap_or_default(),
                    rcpt_to: std::mem::take(&mut rcpts),
                    data,
                    tls,
                });
                transactions += 1;
                tokio::time::sleep(options.data_delay).await;
                b"250 2.0.0 queued\r\n".to_vec()
            }
        } else if upper == "RSET" {
            mail_from = None;
            rcpts.clear();
            b"250 2.0.0 ok\r\n".to_vec()
        } else if upper == "QUIT" {
            if counted.swap(false, Ordering::SeqCst) {
                state.active.fetch_sub(1, Ordering::SeqCst);
            }
            let _ = conn.write(b"221 2.0.0 bye\r\n").await;
            state
                .transactions_per_connection
                .lock()
                .unwrap()
                .push(transactions);
            return;
        } else if upper == "NOOP" {
            b"250 ok\r\n".to_vec()
        } else {
            b"500 5.5.2 what\r\n".to_vec()
        };
        if conn.write(&reply).await.is_err() {
            return;
        }
    }
}

fn angle(text: &str) -> String {
    let start = text.find('<').map_or(0, |i| i + 1);
    let end = text[start..].find('>').map_or(text.len(), |i| start + i);
    text[start..end].to_owned()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn undot(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut at_start = true;
    for &b in data {
        if at_start && b == b'.' {
            at_start = false;
            continue;
        }
        out.push(b);
        at_start = b == b'\n';
    }
    out
}

// ---------------------------------------------------------------- DNS

/// Records by (lower-case name without the root dot, type).
type Table = Arc<Mutex<HashMap<(String, RecordType), Vec<RData>>>>;

/// A UDP DNS responder on loopback answering from a table.
pub struct Dns {
    pub addr: SocketAddr,
    records: Table,
    task: JoinHandle<()>,
}

impl Drop for Dns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Dns {
    pub async fn start() -> Dns {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let records: Table = Arc::default();
        let table = Arc::clone(&records);
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            loop {
                let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(request) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let mut response =
                    Message::new(request.metadata.id, MessageType::Response, OpCode::Query);
                response.metadata.authoritative = true;
                response.metadata.recursion_desired = request.metadata.recursion_desired;
                response.metadata.recursion_available = true;
                if let Some(q) = request.queries.first() {
                    response.add_query(q.clone());
                    let name = key(&q.name().to_ascii());
                    let table = table.lock().unwrap();
                    match table.get(&(name.clone(), q.query_type())) {
                        Some(answers) => {
                            for rdata in answers {
                                response.add_answer(Record::from_rdata(
                                    q.name().clone(),
                                    60,
                                    rdata.clone(),
                                ));
                            }
                        }
                        None if table.keys().any(|(n, _)| *n == name) => {}
                        None => response.metadata.response_code = ResponseCode::NXDomain,
                    }
                }
                if let Ok(bytes) = response.to_vec() {
                    let _ = socket.send_to(&bytes, peer).await;
                }
            }
        });
        Dns {
            addr,
            records,
            task,
        }
    }

    pub fn add(&self, name: &str, rdata: RData) {
        let rtype = rdata.record_type();
        self.records
            .lock()
            .unwrap()
            .entry((key(name), rtype))
            .or_default()
            .push(rdata);
    }

    pub fn mx(&self, domain: &str, preference: u16, exchange: &str) {
        let exchange = if exchange.is_empty() {
            Name::root()
        } else {
            Name::from_ascii(format!("{exchange}.")).unwrap()
        };
        self.add(
            domain,
            RData::MX(hickory_proto::rr::rdata::MX::new(preference, exchange)),
        );
    }

    pub fn a(&self, host: &str, ip: &str) {
        self.add(
            host,
            RData::A(hickory_proto::rr::rdata::A(ip.parse().unwrap())),
        );
    }
}

// ---------------------------------------------------------------- fixture

pub const SENDER: &str = "alice@greenstone.co.uk.cjsm.net";

/// A store with a hosted sender (whose INBOX receives reports), a
/// community, and the relay's configuration for tests.
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub store: Arc<Store>,
    pub community: watch::Sender<Arc<Community>>,
    pub inbox: MailboxId,
    pub pki: Pki,
    pub dns: Dns,
}

/// An SMTP organisation with its gateway on `localhost:port`.
pub fn gateway_org(name: &str, domain: &str, port: u16, rewrite: SuffixRewrite) -> Organisation {
    Organisation::smtp(
        name,
        Domain::parse(domain).unwrap(),
        Gateway {
            host: Domain::parse("localhost").unwrap(),
            port,
            rewrite,
        },
    )
}

impl Fixture {
    pub async fn new(organisations: Vec<Organisation>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(&dir.path().join("store")).unwrap());
        let org = store
            .create_organisation(&store::Organisation {
                name: "Greenstone".into(),
                domains: vec!["greenstone.co.uk.cjsm.net".into()],
                abbreviation: None,
                connection: ConnectionKind::Mailbox,
                parent: None,
                ex_directory: false,
                state: OrgState::Active,
                delivery_held: false,
                details: Default::default(),
            })
            .unwrap();
        let user = store
            .create_user(&User {
                address: SENDER.into(),
                first_name: "Alice".into(),
                last_name: "Able".into(),
                notice_address: None,
                organisation: org,
                role: Role::User,
                directory: Default::default(),
                ex_directory: false,
                status: AccountStatus::Active,
                password_hash: None,
                password_set_at: None,
                previous_passwords: Vec::new(),
                failed_attempts: 0,
                locked_at: None,
                last_login: None,
                created_at: 0,
            })
            .unwrap();
        let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
        let mut community = Community::default();
        community.organisations.push(Organisation::mailbox(
            "Greenstone",
            Domain::parse("greenstone.co.uk").unwrap(),
        ));
        community.organisations.extend(organisations);
        Fixture {
            _dir: dir,
            store,
            community: watch::Sender::new(Arc::new(community)),
            inbox,
            pki: Pki::new(),
            dns: Dns::start().await,
        }
    }

    /// Quick retries, short timeouts, the test CA and DNS.
    pub fn config(&self) -> RelayConfig {
        let mut c = RelayConfig::default();
        c.hostname = "ward.test".into();
        c.retry_schedule = vec![Duration::from_secs(1)];
        c.connect_timeout = Duration::from_secs(5);
        c.command_timeout = Duration::from_secs(10);
        c.extra_ca_file = Some(self.pki.ca_file.clone());
        c.resolver = ResolverChoice::NameServers(vec![self.dns.addr]);
        c.poll_interval = Duration::from_millis(200);
        c
    }

    pub fn start(&self, config: RelayConfig) -> Running {
        let relay =
            Relay::new(Arc::clone(&self.store), self.community.subscribe(), config).unwrap();
        let handle = relay.handle();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(relay.run(shutdown.clone()));
        Running {
            handle,
            shutdown,
            task,
        }
    }

    pub fn enqueue(&self, recipients: &[&str], message_id: &str) -> QueueId {
        self.enqueue_with(recipients, message_id, &QueueEnvelope::default())
    }

    pub fn enqueue_with(
        &self,
        recipients: &[&str],
        message_id: &str,
        envelope: &QueueEnvelope,
    ) -> QueueId {
        self.enqueue_notify(recipients, message_id, envelope, None)
    }

    pub fn enqueue_notify(
        &self,
        recipients: &[&str],
        message_id: &str,
        envelope: &QueueEnvelope,
        notify: Option<&str>,
    ) -> QueueId {
        let raw = format!(
            "From: Alice <{SENDER}>\r\nTo: {}\r\nSubject: Case file {message_id}\r\nMessage-ID: <{message_id}>\r\n\r\nHello.\r\n.leading dot\r\n",
            recipients.join(", ")
        );
        let recipients: Vec<NewQueueRecipient> = recipients
            .iter()
            .map(|r| NewQueueRecipient {
                address: (*r).to_owned(),
                notify: notify.map(str::to_owned),
                orcpt: None,
            })
            .collect();
        self.store
            .enqueue_with(SENDER, &recipients, envelope, raw.as_bytes(), now())
            .unwrap()
    }

    /// The raw messages in the sender's INBOX (reports).
    pub fn inbox(&self) -> Vec<Vec<u8>> {
        self.store
            .messages(self.inbox)
            .unwrap()
            .into_iter()
            .map(|m| self.store.read_body(m.body).unwrap())
            .collect()
    }

    pub fn queue_len(&self) -> usize {
        self.store.queue_entries().unwrap().len()
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub struct Running {
    pub handle: RelayHandle,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<()>,
}

impl Running {
    pub async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the relay stops promptly on shutdown")
            .unwrap();
    }
}

/// Waits until `condition` holds, polling; panics with `what` after
/// `limit`.
pub async fn wait_for(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A free port on 127.0.0.1 (bound then released).
pub async fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap().port()
}
