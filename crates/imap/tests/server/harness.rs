//! A running server for the tests: temporary store with one organisation
//! and one user, self-signed certificate, STARTTLS and implicit-TLS
//! listeners on loopback.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use imap::{AuthOutcome, Authenticator, Context, Options};
use store::{AccountStatus, ConnectionKind, OrgState, Organisation, Role, Store, User, UserId};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use transport::{ServerTls, Stream};

/// The test user's address.
pub(crate) const ADDRESS: &str = "eric.brown@greenstone.example.cjsm.net";
/// The test user's password.
pub(crate) const PASSWORD: &str = "correct horse";

/// Accepts `ADDRESS`/`PASSWORD`; `change@…` must change its password,
/// `locked@…` is locked; everything else is refused.
struct TestAccounts {
    user: UserId,
}

impl Authenticator for TestAccounts {
    fn authenticate(&self, username: &str, password: &str, _peer: Option<IpAddr>) -> AuthOutcome {
        match (username, password) {
            (ADDRESS, PASSWORD) => AuthOutcome::Accepted {
                user: self.user,
                address: ADDRESS.into(),
            },
            ("change@greenstone.example.cjsm.net", _) => AuthOutcome::MustChangePassword {
                hint: "Change it at https://ward.example/account.".into(),
            },
            ("locked@greenstone.example.cjsm.net", _) => AuthOutcome::Locked,
            _ => AuthOutcome::BadCredentials,
        }
    }
}

/// A server running until dropped.
pub(crate) struct Server {
    /// The STARTTLS listener.
    pub(crate) starttls: SocketAddr,
    /// The implicit-TLS listener.
    pub(crate) implicit: SocketAddr,
    /// The server's self-signed certificate (PEM).
    #[allow(dead_code)]
    pub(crate) certificate: std::path::PathBuf,
    /// The store behind the server.
    #[allow(dead_code)]
    pub(crate) store: Arc<Store>,
    /// The test user.
    #[allow(dead_code)]
    pub(crate) user: UserId,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Server {
    /// Fires the shutdown signal (connections get BYE).
    #[allow(dead_code)]
    pub(crate) fn shut_down(&self) {
        self.shutdown.cancel();
    }

    /// Starts a server on loopback.
    pub(crate) async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let org = store
            .create_organisation(&Organisation {
                name: "Greenstone".into(),
                domains: vec!["greenstone.example.cjsm.net".into()],
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
                address: ADDRESS.into(),
                first_name: "Eric".into(),
                last_name: "Brown".into(),
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
        let (cert, key) =
            transport::certificate::ensure_self_signed(dir.path(), "localhost").unwrap();
        let tls = ServerTls::from_files(&cert, &key).unwrap();
        let store = Arc::new(store);
        let mut options = Options::new("imap.ward.test");
        options.max_literal = 1024 * 1024;
        options.auth_failure_delay = std::time::Duration::from_millis(10);
        let ctx = Arc::new(Context::new(
            options,
            tls,
            store.clone(),
            Arc::new(TestAccounts { user }),
        ));
        let shutdown = CancellationToken::new();
        let starttls = listen(ctx.clone(), false, shutdown.clone()).await;
        let implicit = listen(ctx, true, shutdown.clone()).await;
        Server {
            certificate: cert.clone(),
            starttls,
            implicit,
            store,
            user,
            shutdown,
            _dir: dir,
        }
    }
}

async fn listen(ctx: Arc<Context>, implicit: bool, shutdown: CancellationToken) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = shutdown.cancelled() => return,
            };
            let Ok((tcp, peer)) = accepted else { return };
            let (ctx, shutdown) = (ctx.clone(), shutdown.clone());
            tokio::spawn(async move {
                let _ =
                    imap::serve(Stream::Plain(tcp), implicit, &ctx, Some(peer), &shutdown).await;
            });
        }
    });
    addr
}
