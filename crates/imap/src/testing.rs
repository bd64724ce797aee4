//! Test support: a temporary store with one user, and a synchronous driver
//! that replays transcripts against the session and the mailbox engine
//! with no network.

use store::{AccountStatus, ConnectionKind, OrgState, Organisation, Role, Store, User, UserId};

use crate::error::ImapError;
use crate::ops::Engine;
use crate::session::{Event, Options, Session, Step};

/// The transcripts' user.
pub(crate) const USER: &str = "eric@greenstone.example.cjsm.net";
/// The transcripts' password.
pub(crate) const PASSWORD: &str = "secret";

/// A temporary store holding [`USER`] with the default mailboxes.
pub(crate) fn store() -> (tempfile::TempDir, Store, UserId) {
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
            address: USER.into(),
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
    (dir, store, user)
}

/// Runs a session over `chunks` (each fed as one read) and returns all it
/// wrote.
pub(crate) fn drive(store: &Store, user: UserId, tls: bool, chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut options = Options::new("imap.ward.test");
    options.max_literal = 4096;
    let mut session = Session::new(options, tls);
    let mut engine: Option<Engine> = None;
    let mut out = Vec::new();
    let mut chunks = chunks.iter();
    loop {
        match session.next() {
            Step::Write(bytes) => out.extend_from_slice(&bytes),
            Step::Event(Event::LoginRequested {
                username, password, ..
            }) => {
                if username == USER && password.expose() == PASSWORD {
                    engine = Some(Engine::new(store.clone(), user));
                    session.auth_result(Ok(()));
                } else {
                    session.auth_result(Err(ImapError::AuthenticationFailed));
                }
            }
            Step::Event(Event::CommandReceived {
                tag,
                body,
                extension,
            }) => {
                let engine = engine.as_mut().expect("logged in");
                out.extend_from_slice(&engine.execute(&tag, *body, extension));
            }
            Step::Event(Event::IdleStarted { .. }) => {
                out.extend_from_slice(&engine.as_mut().expect("logged in").idle_updates());
            }
            Step::Event(Event::IdleDone { tag }) => {
                out.extend_from_slice(format!("{tag} OK IDLE terminated\r\n").as_bytes());
            }
            Step::Event(Event::LoggedOut) => {}
            Step::StartTls => session.tls_established(),
            Step::NeedInput => match chunks.next() {
                Some(chunk) => session.feed(chunk),
                None => break,
            },
            Step::NeedAnswer => panic!("unanswered event"),
            Step::Close => break,
        }
    }
    out
}
