//! What the session asks of its driver, and the envelope it hands over. Each
//! [`Event`] names what happened; the driver answers it with the matching
//! method on [`Session`](super::Session) before the dialogue goes on.

use policy::{Address, Label, Reply, Route, SenderOrigin};

use crate::proto::command::{BodyType, Mechanism, Notify, OriginalRecipient, Ret};
use transport::Secret;

/// Something only the driver can decide, because it needs I/O.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The client sent credentials. Verify them (and
    /// `policy::check_account`), then call
    /// [`Session::auth_result`](super::Session::auth_result).
    AuthRequested {
        /// The mechanism used.
        mechanism: Mechanism,
        /// The user name (authentication identity).
        username: String,
        /// The password.
        password: Secret<String>,
    },
    /// A recipient routes to a mailbox Ward hosts. Check that the mailbox
    /// exists, then call
    /// [`Session::recipient_checked`](super::Session::recipient_checked)
    /// (refuse with `PolicyError::NoSuchMailbox`).
    RecipientCheckRequested {
        /// The recipient, in community form.
        recipient: Address,
        /// Its route (`Route::Local`, or `Route::Held` for a hosted organisation).
        route: Route,
    },
    /// A whole message arrived and passed every check. Make it durable
    /// (flushed), then call [`Session::delivered`](super::Session::delivered);
    /// only then does the client get its `250`.
    MessageReceived {
        /// Who sent it, to whom, with which parameters.
        envelope: Envelope,
        /// Its classification; prepend `label.header_to_add()` when unlabelled.
        label: Label,
        /// The message exactly as received (dot-unstuffed), with an SMTP
        /// organisation's header addresses already given the suffix. The
        /// driver prepends `Received:` and, on submission, the missing
        /// `Message-ID`/`Date` (see [`crate::message`]).
        data: Vec<u8>,
    },
}

/// One mail transaction's envelope (RFC 5321 §2.3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse-path in community form; `None` for `<>`.
    pub mail_from: Option<Address>,
    /// Who `policy` believed the sender to be.
    pub origin: SenderOrigin,
    /// The accepted recipients, in order, without duplicates.
    pub recipients: Vec<Recipient>,
    /// `BODY=`.
    pub body: BodyType,
    /// `SMTPUTF8` was given.
    pub smtputf8: bool,
    /// `REQUIRETLS` was given: relay only over verified TLS (RFC 8689).
    pub requiretls: bool,
    /// DSN `RET=`.
    pub ret: Option<Ret>,
    /// DSN `ENVID=` (xtext, as sent).
    pub envid: Option<String>,
    /// The size the client declared with `SIZE=`.
    pub declared_size: Option<u64>,
}

/// One accepted recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The address in community form.
    pub address: Address,
    /// Where its copy goes.
    pub route: Route,
    /// DSN `NOTIFY=`.
    pub notify: Notify,
    /// DSN `ORCPT=`.
    pub orcpt: Option<OriginalRecipient>,
}

/// A refusal under a community rule, kept for the driver to audit
/// ([`Session::take_refusals`](super::Session::take_refusals)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The rule, e.g. `NotOnAllowList` (see `SessionError::policy_rule`).
    pub rule: &'static str,
    /// The reply the client got.
    pub reply: Reply,
    /// What was refused, in a sentence (the error's text).
    pub reason: String,
    /// The addresses the refusal names, in community form.
    pub addresses: Vec<String>,
}
