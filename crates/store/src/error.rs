//! The store's error type: one enum whose variants say what went wrong and
//! carry the identifiers needed to report it.

use std::path::PathBuf;

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store could not be opened: missing permissions, a damaged file, or
    /// another process (another `ward serve`) holding it.
    #[error("cannot open the store at {path}: {reason}")]
    Open {
        /// The store folder.
        path: PathBuf,
        /// What the storage engine said.
        reason: String,
    },
    /// Data could not be written to or read from disk.
    #[error("the store could not write to disk: {0}")]
    Io(String),
    /// A stored value could not be decoded: the store is damaged or was
    /// written by an incompatible version.
    #[error("stored {what} is damaged: {reason}")]
    Corrupt {
        /// Which kind of record could not be decoded.
        what: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// No mailbox has this id (it may have been deleted meanwhile).
    #[error("no such mailbox (id {0})")]
    NoSuchMailbox(u64),
    /// The user has no mailbox of this name.
    #[error("no mailbox named {0:?}")]
    NoSuchMailboxName(String),
    /// A mailbox of this name already exists for the user.
    #[error("a mailbox named {0:?} already exists")]
    MailboxExists(String),
    /// The mailbox name is empty, has an empty level, or contains control
    /// characters.
    #[error("invalid mailbox name {0:?}")]
    InvalidMailboxName(String),
    /// The mailbox has child mailboxes and so cannot be deleted; delete the
    /// children first.
    #[error("mailbox {0:?} has child mailboxes; delete them first")]
    MailboxHasChildren(String),
    /// INBOX cannot be deleted.
    #[error("INBOX cannot be deleted")]
    CannotDeleteInbox,
    /// A mailbox cannot be renamed to a name below itself.
    #[error("cannot rename {from:?} to {to:?}, which lies below it")]
    RenameIntoItself {
        /// The current name.
        from: String,
        /// The requested name.
        to: String,
    },
    /// A message body is missing although a message refers to it.
    #[error("message body {0} is missing")]
    NoSuchBody(String),
    /// No user has this id.
    #[error("no such user (id {0})")]
    NoSuchUser(u64),
    /// Another user already has this address.
    #[error("the address {0} is already in use")]
    AddressTaken(String),
    /// No organisation has this id.
    #[error("no such organisation (id {0})")]
    NoSuchOrganisation(u64),
    /// Another organisation is already connected with this domain.
    #[error("the domain {0} is already connected")]
    DomainTaken(String),
    /// An application for this domain is already waiting for a decision.
    #[error("an application for {0} is already pending")]
    DuplicateApplication(String),
    /// No application has this id.
    #[error("no such application (id {0})")]
    NoSuchApplication(u64),
    /// No queue entry has this id (it may have been delivered meanwhile).
    #[error("no such queue entry (id {0})")]
    NoSuchQueueEntry(u64),
    /// A counter (UID, MODSEQ, id) would overflow.
    #[error("the {0} counter is exhausted")]
    CounterExhausted(&'static str),
}

impl From<sled::Error> for Error {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Corruption { .. } => Error::Corrupt {
                what: "database page",
                reason: e.to_string(),
            },
            other => Error::Io(other.to_string()),
        }
    }
}
