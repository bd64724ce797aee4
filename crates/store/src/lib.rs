//! Ward's durable store: the only crate that touches sled.
//!
//! It owns the community (organisations, applications, sponsors, terms
//! acceptances), the accounts, the mailboxes with their IMAP semantics
//! (UIDVALIDITY, UIDNEXT, MODSEQ, flags, subscriptions), the message bodies
//! (stored once as content-addressed files beside sled, reference counted,
//! streamed), the outbound queue and the hash-chained audit log.
//!
//! **Durable before positive.** Every operation that changes data is atomic
//! (one sled batch) and returns only after the change is flushed to disk.
//! Concurrent writers share flushes (group commit, see the `commit` module),
//! so durable throughput grows with the number of writers. Reads do not
//! wait: they may see a change a few milliseconds before its writer's flush
//! completes, but change notifications are sent only once it is durable.
//!
//! **Synchronous API.** Every method blocks (on the write lock and on the
//! flush); async callers run it in `tokio::task::spawn_blocking`. Change
//! notifications are `tokio::sync::broadcast` receivers, usable from both
//! worlds.
//!
//! It does not parse mail (callers hand over opaque cached parse data), hash
//! passwords, or decide policy. No sled type crosses this crate's boundary,
//! so another backend could sit behind the same API.
//!
//! Layout: `store` (open, write path), `txn` (transaction overlay),
//! `commit` (group commit), `keys`/`codec` (storage layout), `files` (body
//! files and their crash ordering), then one module per kind of data:
//! `community`, `account`, `mailbox`, `message`, `body`, `queue`, `audit`,
//! plus `notify` (change notification) and `check` (consistency check).
//!
//! ```
//! use store::{NewMessage, Store};
//! # use store::{ConnectionKind, Organisation, OrgState, Role, AccountStatus, User};
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path()).unwrap();
//! # let org = store.create_organisation(&Organisation {
//! #     name: "Greenstone Chambers".into(),
//! #     domains: vec!["greenstonechambers.co.uk.cjsm.net".into()],
//! #     abbreviation: None, connection: ConnectionKind::Mailbox,
//! #     parent: None, ex_directory: false, state: OrgState::Active, delivery_held: false,
//! #     details: Default::default(),
//! # }).unwrap();
//! # let user = store.create_user(&User {
//! #     address: "eric.brown@greenstonechambers.co.uk.cjsm.net".into(),
//! #     first_name: "Eric".into(), last_name: "Brown".into(), notice_address: None,
//! #     organisation: org, role: Role::User, directory: Default::default(),
//! #     ex_directory: false, status: AccountStatus::Active, password_hash: None,
//! #     password_set_at: None, previous_passwords: Vec::new(), failed_attempts: 0, locked_at: None,
//! #     last_login: None, created_at: 0,
//! # }).unwrap();
//! let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap();
//! let raw = b"Subject: hello\r\n\r\nHello.\r\n";
//! let landed = store
//!     .deliver(&[inbox.id], &NewMessage { raw, cached: None, internal_date: 0,
//!         flags: Default::default(), keywords: Default::default() })
//!     .unwrap();
//! assert_eq!(store.read_body(landed[0].body).unwrap(), raw);
//! assert_eq!(store.mailbox(inbox.id).unwrap().unwrap().messages, 1);
//! ```

mod account;
mod audit;
mod body;
mod certs;
mod check;
mod codec;
mod commit;
mod community;
mod error;
mod files;
mod ids;
mod keys;
mod mailbox;
mod message;
mod migrate;
mod notify;
mod queue;
mod store;
mod txn;

pub use account::{AccountStatus, DirectoryFields, PasswordHash, Role, User};
pub use audit::{
    AnchorVerdict, AuditBase, AuditEvent, AuditHead, AuditProblem, AuditRecord, AuditVerdict,
};
pub use body::BodyReader;
pub use certs::GatewayCertificate;
pub use check::ConsistencyReport;
pub use community::{
    Application, ApplicationState, ConnectionKind, OrgDetails, OrgState, Organisation, Sponsor,
    TermsAcceptance,
};
pub use error::Error;
pub use ids::{ApplicationId, BodyId, MailboxId, OrgId, QueueId, Uid, UserId};
pub use mailbox::{DELIMITER, MailboxInfo, SpecialUse};
pub use message::{Appended, Copied, FlagOp, Flags, MessageEntry, NewMessage};
pub use notify::MailboxChange;
pub use queue::{
    NewQueueRecipient, Outbound, QueueEntry, QueueEnvelope, QueueRecipient, RecipientState,
};
pub use store::{Options, Store};
