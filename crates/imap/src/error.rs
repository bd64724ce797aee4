//! Every refusal the server gives, and the one place that turns it into a
//! tagged `NO` or `BAD` with its response code and sentence.

use thiserror::Error;

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ImapError {
    /// LOGIN or AUTHENTICATE before TLS (`LOGINDISABLED`).
    #[error("log in only after STARTTLS")]
    LoginBeforeTls,
    /// Unknown user or wrong password.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The one-time or expired password must be changed first.
    #[error("password must be changed: {hint}")]
    MustChangePassword {
        /// Where to change it, shown to the user.
        hint: String,
    },
    /// The account is locked after failed logins or inactivity.
    #[error("account locked")]
    AccountLocked,
    /// The account is suspended by its administrator.
    #[error("account suspended")]
    AccountSuspended,
    /// The account was deleted.
    #[error("account deleted")]
    AccountDeleted,
    /// Too many failed logins from this client or for this account.
    #[error("too many attempts")]
    Throttled,
    /// The accounts backend or the store failed.
    #[error("temporarily unavailable")]
    Unavailable,
    /// The client cancelled the SASL exchange.
    #[error("authentication cancelled")]
    AuthCancelled,
    /// A SASL mechanism other than PLAIN.
    #[error("unsupported mechanism")]
    UnsupportedMechanism,
    /// A malformed SASL PLAIN message.
    #[error("malformed SASL response")]
    MalformedSasl,
    /// STARTTLS on a connection that already uses TLS.
    #[error("TLS already active")]
    TlsActive,
    /// A command that needs a logged-in user.
    #[error("not authenticated")]
    NotAuthenticated,
    /// LOGIN, AUTHENTICATE or STARTTLS after login.
    #[error("already authenticated")]
    AlreadyAuthenticated,
    /// A command that needs a selected mailbox.
    #[error("no mailbox selected")]
    NoMailboxSelected,
    /// A change to a mailbox opened with EXAMINE.
    #[error("mailbox is read-only")]
    ReadOnly,
    /// The named mailbox does not exist.
    #[error("no such mailbox: {0}")]
    NoSuchMailbox(String),
    /// APPEND, COPY or MOVE to a mailbox that does not exist.
    #[error("no such target mailbox: {0}")]
    TryCreate(String),
    /// CREATE or RENAME onto an existing mailbox.
    #[error("mailbox exists: {0}")]
    MailboxExists(String),
    /// A mailbox name the store does not accept.
    #[error("invalid mailbox name: {0}")]
    InvalidMailboxName(String),
    /// DELETE INBOX.
    #[error("cannot delete INBOX")]
    CannotDeleteInbox,
    /// DELETE of a mailbox that has children.
    #[error("mailbox has children: {0}")]
    HasChildren(String),
    /// RENAME of a mailbox below itself.
    #[error("cannot rename a mailbox into itself")]
    RenameIntoItself,
    /// A literal larger than the server accepts.
    #[error("literal too big (limit {limit} bytes)")]
    LiteralTooBig {
        /// The limit in bytes.
        limit: u64,
    },
    /// An appended message's header section exceeds the bounds every
    /// parser relies on.
    #[error("message refused: {0}")]
    HeaderBound(policy::HeaderBound),
    /// A command line imap-codec could not parse.
    #[error("malformed command")]
    Malformed,
    /// A command this server does not implement.
    #[error("unsupported command: {0}")]
    Unsupported(&'static str),
    /// BINARY of a part whose Content-Transfer-Encoding is unknown.
    #[error("unknown content transfer encoding")]
    UnknownCte,
    /// SELECT (QRESYNC …) or FETCH (VANISHED) without ENABLE QRESYNC.
    #[error("QRESYNC not enabled")]
    QresyncNotEnabled,
    /// A message sequence number beyond the mailbox.
    #[error("invalid message sequence number")]
    InvalidSequence,
    /// SEARCH with a charset other than US-ASCII or UTF-8.
    #[error("unsupported charset")]
    BadCharset,
    /// The store failed.
    #[error("store error: {0}")]
    Store(String),
    /// The client stopped reading a long response (the driver gave up).
    #[error("client gone")]
    ClientGone,
    /// The selected mailbox was deleted by another session.
    #[error("mailbox deleted")]
    MailboxGone,
}

/// The tagged status a refusal is sent as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `NO`: the command was understood and refused.
    No,
    /// `BAD`: the command was not understood or not allowed now.
    Bad,
}

impl ImapError {
    /// Status kind, response code and the sentence for the user.
    pub(crate) fn reply(&self) -> (Kind, Option<&'static str>, String) {
        use ImapError::*;
        use Kind::{Bad, No};
        match self {
            LoginBeforeTls => (
                No,
                Some("PRIVACYREQUIRED"),
                "Log in only after STARTTLS; this server never accepts passwords in clear text"
                    .into(),
            ),
            AuthenticationFailed => (
                No,
                Some("AUTHENTICATIONFAILED"),
                "Wrong user name or password".into(),
            ),
            MustChangePassword { hint } => (
                No,
                Some("ALERT"),
                format!("Your password must be changed before you can read mail. {hint}"),
            ),
            AccountLocked => (
                No,
                Some("CONTACTADMIN"),
                "Your account is locked; ask your organisation's administrator to unlock it".into(),
            ),
            AccountSuspended => (
                No,
                Some("CONTACTADMIN"),
                "Your account is suspended; ask your organisation's administrator".into(),
            ),
            AccountDeleted => (
                No,
                Some("AUTHENTICATIONFAILED"),
                "This account no longer exists".into(),
            ),
            Throttled => (
                No,
                Some("UNAVAILABLE"),
                "Too many failed logins; please try again later".into(),
            ),
            Unavailable => (
                No,
                Some("UNAVAILABLE"),
                "The server cannot do this right now; please try again later".into(),
            ),
            AuthCancelled => (Bad, None, "Authentication cancelled".into()),
            UnsupportedMechanism => (No, None, "Only AUTHENTICATE PLAIN is supported".into()),
            MalformedSasl => (Bad, None, "Malformed SASL PLAIN response".into()),
            TlsActive => (Bad, None, "TLS is already active".into()),
            NotAuthenticated => (Bad, None, "Log in first".into()),
            AlreadyAuthenticated => (Bad, None, "Already logged in".into()),
            NoMailboxSelected => (Bad, None, "Select a mailbox first".into()),
            ReadOnly => (
                No,
                Some("READ-ONLY"),
                "The mailbox was opened read-only with EXAMINE".into(),
            ),
            NoSuchMailbox(name) => (
                No,
                Some("NONEXISTENT"),
                format!("There is no mailbox called {name}"),
            ),
            TryCreate(name) => (
                No,
                Some("TRYCREATE"),
                format!("There is no mailbox called {name}; create it first"),
            ),
            MailboxExists(name) => (
                No,
                Some("ALREADYEXISTS"),
                format!("A mailbox called {name} already exists"),
            ),
            InvalidMailboxName(name) => (
                No,
                Some("CANNOT"),
                format!("{name} is not a valid mailbox name"),
            ),
            CannotDeleteInbox => (No, Some("CANNOT"), "INBOX cannot be deleted".into()),
            HasChildren(name) => (
                No,
                Some("INUSE"),
                format!("{name} has mailboxes below it; delete those first"),
            ),
            RenameIntoItself => (
                No,
                Some("CANNOT"),
                "A mailbox cannot be moved below itself".into(),
            ),
            LiteralTooBig { limit } => (
                No,
                Some("TOOBIG"),
                format!("That is larger than the {limit} bytes this server accepts"),
            ),
            HeaderBound(bound) => (
                No,
                Some("LIMIT"),
                format!("Message refused: {bound}"),
            ),
            Malformed => (Bad, None, "Could not parse that command".into()),
            Unsupported(what) => (Bad, None, format!("{what} is not supported")),
            UnknownCte => (No, Some("UNKNOWN-CTE"), "That part's Content-Transfer-Encoding cannot be decoded; fetch it with BODY[] instead".into()),
            QresyncNotEnabled => (Bad, None, "Send ENABLE QRESYNC first".into()),
            InvalidSequence => (Bad, None, "Message sequence number out of range".into()),
            BadCharset => (
                No,
                Some("BADCHARSET (US-ASCII UTF-8)"),
                "Only US-ASCII and UTF-8 searches are supported".into(),
            ),
            Store(_) => (
                No,
                Some("SERVERBUG"),
                "The mailbox store failed; please try again".into(),
            ),
            ClientGone => (No, None, "Response abandoned".into()),
            MailboxGone => (No, Some("NONEXISTENT"), "The mailbox was deleted".into()),
        }
    }

    /// The tagged response line for this refusal.
    pub(crate) fn tagged(&self, tag: &str) -> Vec<u8> {
        let (kind, code, text) = self.reply();
        let kind = match kind {
            Kind::No => "NO",
            Kind::Bad => "BAD",
        };
        match code {
            Some(code) => format!("{tag} {kind} [{code}] {text}\r\n").into_bytes(),
            None => format!("{tag} {kind} {text}\r\n").into_bytes(),
        }
    }
}

impl From<store::Error> for ImapError {
    fn from(e: store::Error) -> Self {
        match e {
            store::Error::NoSuchMailboxName(name) => ImapError::NoSuchMailbox(name),
            store::Error::NoSuchMailbox(_) => ImapError::MailboxGone,
            store::Error::MailboxExists(name) => ImapError::MailboxExists(name),
            store::Error::InvalidMailboxName(name) => ImapError::InvalidMailboxName(name),
            store::Error::CannotDeleteInbox => ImapError::CannotDeleteInbox,
            store::Error::MailboxHasChildren(name) => ImapError::HasChildren(name),
            store::Error::RenameIntoItself { .. } => ImapError::RenameIntoItself,
            other => ImapError::Store(other.to_string()),
        }
    }
}
