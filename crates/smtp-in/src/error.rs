//! Everything the SMTP session refuses, and the one place where each refusal
//! gets its reply. Community rules come from `policy` as
//! [`PolicyError`](policy::PolicyError) and keep `policy`'s replies; the
//! protocol's own refusals are [`SessionError`]. `impl From<&SessionError>
//! for Reply` is exhaustive, so a new variant cannot ship without its reply.

use policy::{PolicyError, Reply};

use crate::proto::command::CommandError;

/// Why a received message is refused as content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// An LF not preceded by CR.
    #[error("bare LF in message")]
    BareLineFeed,
    /// A CR not followed by LF.
    #[error("bare CR in message")]
    BareCarriageReturn,
    /// A NUL octet.
    #[error("NUL in message")]
    Nul,
    /// The header section could not be read at all (the parser gave up).
    #[error("unreadable message headers")]
    Unreadable,
    /// The first line begins with a space or tab: a continuation with no
    /// header field before it. Refused, because the header the driver
    /// prepends (`X-Security-Classification`, `Received:`) would absorb it
    /// and change its meaning (found by the `classification` fuzz target).
    #[error("message starts with a folded line")]
    FoldedFirstLine,
    /// The header section exceeds a bound every parser relies on (line
    /// length, field count, size).
    #[error("{0}")]
    HeaderBound(policy::HeaderBound),
}

/// Why the driver could not make a message durable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// The store or queue failed; the client should retry (`451 4.3.0`).
    #[error("storage failed: {detail}")]
    StorageFailed {
        /// For the log; never sent to the client.
        detail: String,
    },
    /// A community rule refused it (e.g. a recipient's organisation was
    /// suspended meanwhile).
    #[error(transparent)]
    Policy(PolicyError),
    /// A refusal the driver words itself, e.g. naming the recipient whose
    /// mailbox could not take the message.
    #[error("refused: {0}")]
    Refused(Reply),
}

/// The driver answered an event the session is not waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the session is not waiting for this answer")]
pub struct UnexpectedAnswer;

/// Every refusal of the SMTP session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// A command line longer than the limit (discarded whole).
    #[error("line longer than {limit} octets")]
    LineTooLong {
        /// The limit, CRLF included.
        limit: usize,
    },
    /// A NUL octet in a command line.
    #[error("NUL in command")]
    NulInCommand,
    /// A command line ended by a bare LF or containing a bare CR.
    #[error("command line not ended by CRLF")]
    BareLineEnd,
    /// The line is not a valid command.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// A valid command at the wrong point of the dialogue.
    #[error("bad sequence: {expected}")]
    BadSequence {
        /// What the client should do instead.
        expected: &'static str,
    },
    /// DATA or BDAT with no accepted recipient.
    #[error("no valid recipients")]
    NoValidRecipients,
    /// Mail for the postmaster when no postmaster mailbox is configured.
    #[error("no postmaster mailbox configured")]
    NoPostmaster,
    /// STARTTLS when TLS is already active.
    #[error("TLS already active")]
    TlsAlreadyActive,
    /// AUTH on a listener that does not offer it (the relay port).
    #[error("AUTH not offered here")]
    AuthNotOffered,
    /// AUTH after a successful AUTH.
    #[error("already authenticated")]
    AlreadyAuthenticated,
    /// The client answered a SASL challenge with `*`.
    #[error("authentication cancelled")]
    AuthCancelled,
    /// A SASL response that is not valid base64 or not in the mechanism's
    /// form.
    #[error("malformed authentication response")]
    AuthMalformed,
    /// A BDAT line whose size cannot be read: the chunk cannot be skipped,
    /// so the connection is closed.
    #[error("unreadable BDAT size")]
    UnframableChunk,
    /// The message's content breaks the line-ending rules.
    #[error(transparent)]
    Content(#[from] ContentError),
    /// A submitted message has no `From:` address.
    #[error("no From header")]
    FromHeaderMissing,
    /// Too many bad commands; the connection is closed.
    #[error("too many errors")]
    TooManyErrors,
    /// The driver's idle timer ran out (for the driver to send).
    #[error("idle timeout")]
    IdleTimeout,
    /// The server is shutting down (for the driver to send).
    #[error("shutting down")]
    ShuttingDown,
    /// The daemon is at its connection cap and gave this untrusted
    /// connection's place to a newcomer (for the driver to send).
    #[error("too many connections")]
    TooManyConnections,
    /// The client did not complete TLS or sign in within the time the
    /// daemon allows (for the driver to send).
    #[error("not secured in time")]
    NotSecuredInTime,
    /// The process-wide budget for message data in memory stayed spent for
    /// the driver's patience: the message was read to its end and dropped
    /// (`452 4.3.1`).
    #[error("too much mail in flight")]
    InFlightMemory,
    /// What the session was signed in or proved as no longer holds (the
    /// account suspended or its password changed, the gateway certificate
    /// revoked, the organisation suspended): for the driver to send.
    #[error("credentials revoked: {reason}")]
    CredentialsRevoked {
        /// Why, in plain language.
        reason: String,
    },
    /// The accounts backend could not check the password (RFC 4954 §6,
    /// `454 4.7.0`); the client may try again later.
    #[error("authentication temporarily unavailable")]
    AuthUnavailable,
    /// The store could not be asked whether a mailbox exists.
    #[error("recipient lookup failed")]
    RecipientLookupFailed,
    /// The driver could not store the message.
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// A community rule refused the command or message.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

impl SessionError {
    /// True for errors that count towards the bad-command limit: protocol
    /// misuse and failed sign-ins, not refusals of an address or message.
    pub fn counts_as_bad_command(&self) -> bool {
        use SessionError as E;
        match self {
            E::LineTooLong { .. }
            | E::NulInCommand
            | E::BareLineEnd
            | E::Command(_)
            | E::BadSequence { .. }
            | E::TlsAlreadyActive
            | E::AuthNotOffered
            | E::AlreadyAuthenticated
            | E::AuthMalformed
            | E::UnframableChunk => true,
            E::Policy(p) => matches!(
                p,
                PolicyError::TlsRequired
                    | PolicyError::AuthenticationRequired
                    | PolicyError::AuthenticationFailed
            ),
            E::NoValidRecipients
            | E::NoPostmaster
            | E::AuthCancelled
            | E::Content(_)
            | E::FromHeaderMissing
            | E::TooManyErrors
            | E::IdleTimeout
            | E::ShuttingDown
            | E::TooManyConnections
            | E::NotSecuredInTime
            | E::CredentialsRevoked { .. }
            | E::InFlightMemory
            | E::AuthUnavailable
            | E::RecipientLookupFailed
            | E::Delivery(_) => false,
        }
    }
}

impl SessionError {
    /// The community rule behind this refusal, for the audit log; `None`
    /// for protocol errors (syntax, sequence, limits of the framer), for
    /// the driver's own replies, and for refused sign-ins, which are
    /// audited as sign-ins by the accounts service.
    pub fn policy_rule(&self) -> Option<&'static str> {
        use SessionError as E;
        match self {
            E::Policy(p) | E::Delivery(DeliveryError::Policy(p)) => match p {
                PolicyError::AuthenticationFailed
                | PolicyError::AccountLocked { .. }
                | PolicyError::AccountNotActivated { .. }
                | PolicyError::AccountSuspended { .. }
                | PolicyError::AccountDeleted { .. }
                | PolicyError::PasswordChangeRequired { .. } => None,
                other => Some(other.rule()),
            },
            E::Delivery(DeliveryError::Refused(_)) => Some("MailboxRefused"),
            E::NoPostmaster => Some("NoPostmaster"),
            E::FromHeaderMissing => Some("FromHeaderMissing"),
            E::Content(ContentError::BareLineFeed) => Some("BareLineFeed"),
            E::Content(ContentError::BareCarriageReturn) => Some("BareCarriageReturn"),
            E::Content(ContentError::Nul) => Some("NulInMessage"),
            E::Content(ContentError::Unreadable) => Some("UnreadableHeaders"),
            E::Content(ContentError::FoldedFirstLine) => Some("FoldedFirstLine"),
            E::Content(ContentError::HeaderBound(_)) => Some("HeaderBound"),
            E::TooManyErrors => Some("TooManyErrors"),
            E::LineTooLong { .. }
            | E::NulInCommand
            | E::BareLineEnd
            | E::Command(_)
            | E::BadSequence { .. }
            | E::NoValidRecipients
            | E::TlsAlreadyActive
            | E::AuthNotOffered
            | E::AlreadyAuthenticated
            | E::AuthCancelled
            | E::AuthMalformed
            | E::UnframableChunk
            | E::IdleTimeout
            | E::ShuttingDown
            | E::TooManyConnections
            | E::NotSecuredInTime
            | E::CredentialsRevoked { .. }
            | E::InFlightMemory
            | E::AuthUnavailable
            | E::RecipientLookupFailed
            | E::Delivery(DeliveryError::StorageFailed { .. }) => None,
        }
    }
}

impl From<&SessionError> for Reply {
    fn from(error: &SessionError) -> Self {
        use SessionError as E;
        match error {
            E::LineTooLong { limit } => Reply::new(
                500,
                (5, 5, 6),
                format!("Line too long; command lines are at most {limit} octets"),
            ),
            E::NulInCommand => {
                Reply::new(500, (5, 5, 2), "NUL characters are not allowed in commands")
            }
            E::BareLineEnd => Reply::new(
                500,
                (5, 5, 2),
                "Command lines must end with CRLF and contain no bare CR",
            ),
            E::Command(c) => match c {
                CommandError::Unrecognised => Reply::new(500, (5, 5, 2), "Command not recognised"),
                CommandError::NotImplemented { verb } => {
                    Reply::new(502, (5, 5, 1), format!("{verb} is not implemented"))
                }
                CommandError::Syntax { usage } => {
                    Reply::new(501, (5, 5, 4), format!("Syntax error; use {usage}"))
                }
                CommandError::UnknownParameter { name } => {
                    Reply::new(555, (5, 5, 4), format!("Parameter {name} is not supported"))
                }
                CommandError::InvalidParameter { name } => Reply::new(
                    501,
                    (5, 5, 4),
                    format!("Invalid or repeated value for {name}"),
                ),
                CommandError::UnsupportedMechanism => Reply::new(
                    504,
                    (5, 5, 4),
                    "Unrecognised authentication mechanism; use PLAIN or LOGIN",
                ),
            },
            E::BadSequence { expected } => Reply::new(
                503,
                (5, 5, 1),
                format!("Bad sequence of commands; {expected}"),
            ),
            E::NoValidRecipients => Reply::new(554, (5, 5, 1), "No valid recipients"),
            E::NoPostmaster => Reply::new(
                550,
                (5, 1, 1),
                "This server has no postmaster mailbox configured; contact the secure community's service desk instead",
            ),
            E::TlsAlreadyActive => Reply::new(503, (5, 5, 1), "TLS is already active"),
            E::AuthNotOffered => Reply::new(
                503,
                (5, 5, 1),
                "Authentication is offered only on the submission ports",
            ),
            E::AlreadyAuthenticated => Reply::new(503, (5, 5, 1), "Already authenticated"),
            E::AuthCancelled => Reply::new(501, (5, 0, 0), "Authentication cancelled"),
            E::AuthMalformed => {
                Reply::new(501, (5, 5, 2), "Cannot decode the authentication response")
            }
            E::UnframableChunk => Reply::new(
                501,
                (5, 5, 4),
                "Syntax error; use BDAT chunk-size [LAST]; closing, as the chunk cannot be skipped",
            ),
            E::Content(ContentError::BareLineFeed) => Reply::new(
                554,
                (5, 6, 0),
                "Message refused: it contains a bare LF; every line must end with CRLF",
            ),
            E::Content(ContentError::BareCarriageReturn) => Reply::new(
                554,
                (5, 6, 0),
                "Message refused: it contains a bare CR; every line must end with CRLF",
            ),
            E::Content(ContentError::Nul) => Reply::new(
                554,
                (5, 6, 0),
                "Message refused: it contains a NUL character",
            ),
            E::Content(ContentError::Unreadable) => Reply::new(
                554,
                (5, 6, 0),
                "Message refused: its header section cannot be read",
            ),
            E::Content(ContentError::FoldedFirstLine) => Reply::new(
                554,
                (5, 6, 0),
                "Message refused: its first line begins with a space or tab, so it is not a header",
            ),
            E::Content(ContentError::HeaderBound(bound)) => Reply::new(
                552,
                (5, 6, 0),
                format!("Message refused: {bound}; this server accepts RFC 5322 header lines"),
            ),
            E::FromHeaderMissing => Reply::new(
                550,
                (5, 6, 0),
                "Message refused: it has no From header with your address",
            ),
            E::TooManyErrors => {
                Reply::new(421, (4, 7, 0), "Too many errors; closing the connection")
            }
            E::IdleTimeout => {
                Reply::new(421, (4, 4, 2), "Idle for too long; closing the connection")
            }
            E::ShuttingDown => Reply::new(
                421,
                (4, 3, 2),
                "Service shutting down; please try again later",
            ),
            E::TooManyConnections => Reply::new(
                421,
                (4, 7, 0),
                "Too many connections; please try again later",
            ),
            E::NotSecuredInTime => Reply::new(
                421,
                (4, 4, 2),
                "Too slow to start TLS or sign in; closing the connection",
            ),
            E::InFlightMemory => Reply::new(
                452,
                (4, 3, 1),
                "Insufficient system storage: too much mail is in flight; please try again later",
            ),
            E::CredentialsRevoked { reason } => Reply::new(
                421,
                (4, 7, 0),
                format!("This session may no longer send: {reason}; closing the connection"),
            ),
            E::AuthUnavailable => Reply::new(
                454,
                (4, 7, 0),
                "Temporary authentication failure; please try again later",
            ),
            E::RecipientLookupFailed => Reply::new(
                451,
                (4, 3, 0),
                "The recipient cannot be checked just now; please try again later",
            ),
            E::Delivery(DeliveryError::StorageFailed { .. }) => Reply::new(
                451,
                (4, 3, 0),
                "The message could not be stored; please try again later",
            ),
            E::Delivery(DeliveryError::Policy(p)) | E::Policy(p) => Reply::from(p),
            E::Delivery(DeliveryError::Refused(reply)) => reply.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_have_the_promised_codes() {
        let cases: Vec<(SessionError, &str)> = vec![
            (SessionError::LineTooLong { limit: 1000 }, "500 5.5.6"),
            (SessionError::NulInCommand, "500 5.5.2"),
            (SessionError::TooManyErrors, "421 4.7.0"),
            (
                SessionError::Content(ContentError::BareLineFeed),
                "554 5.6.0",
            ),
            (SessionError::Content(ContentError::Unreadable), "554 5.6.0"),
            (
                SessionError::Content(ContentError::FoldedFirstLine),
                "554 5.6.0",
            ),
            (SessionError::AuthUnavailable, "454 4.7.0"),
            (SessionError::RecipientLookupFailed, "451 4.3.0"),
            (SessionError::IdleTimeout, "421 4.4.2"),
            (SessionError::ShuttingDown, "421 4.3.2"),
            (SessionError::TooManyConnections, "421 4.7.0"),
            (SessionError::NotSecuredInTime, "421 4.4.2"),
            (SessionError::Policy(PolicyError::TlsRequired), "530 5.7.0"),
            (
                SessionError::Policy(PolicyError::TooManyRecipients { limit: 2 }),
                "452 4.5.3",
            ),
            (
                SessionError::Policy(PolicyError::MessageTooBig { size: 2, limit: 1 }),
                "552 5.3.4",
            ),
            (
                SessionError::Delivery(DeliveryError::StorageFailed {
                    detail: "disk".into(),
                }),
                "451 4.3.0",
            ),
        ];
        for (error, prefix) in cases {
            let reply = Reply::from(&error).to_string();
            assert!(reply.starts_with(prefix), "{error:?} → {reply}");
        }
        assert!(
            !Reply::from(&SessionError::Delivery(DeliveryError::StorageFailed {
                detail: "secret path".into()
            }))
            .text
            .contains("secret")
        );
    }
}
