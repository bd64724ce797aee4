//! What can go wrong, and the one place where each refusal gets its SMTP
//! reply. [`AddressError`] says precisely why an address is malformed;
//! [`PolicyError`] is every refusal the community's rules produce, and
//! `impl From<&PolicyError> for Reply` gives each its reply code, enhanced
//! status code and a sentence the sender's user can act on.

use crate::address::Address;
use crate::classification::{LabelSource, Marking};
use crate::reply::Reply;

/// Why a string is not a valid address or domain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// Nothing was given.
    #[error("the address is empty")]
    Empty,
    /// The bytes are not UTF-8.
    #[error("the address is not valid UTF-8")]
    NotUtf8,
    /// There is no `@` between local part and domain.
    #[error("the address has no @ sign")]
    MissingAt,
    /// Nothing before the `@`.
    #[error("the part before the @ is empty")]
    EmptyLocalPart,
    /// The local part exceeds 64 octets.
    #[error("the part before the @ is {len} octets long; at most 64 are allowed")]
    LocalPartTooLong {
        /// Its length in octets.
        len: usize,
    },
    /// A leading, trailing or doubled dot in an unquoted local part.
    #[error("the part before the @ has a leading, trailing or doubled dot")]
    EmptyLocalPartAtom,
    /// A character not allowed in the local part.
    #[error("the part before the @ contains {found:?}, which is not allowed there")]
    InvalidLocalPartCharacter {
        /// The first offending character.
        found: char,
    },
    /// A quoted local part without its closing quote.
    #[error("the quoted part before the @ has no closing quote")]
    UnterminatedQuotedString,
    /// Text between a quoted local part's closing quote and the `@`.
    #[error("there is text between the closing quote and the @")]
    TextAfterQuotedString,
    /// A UTF-8 local part in a session without SMTPUTF8 (RFC 6531).
    #[error("the part before the @ contains non-ASCII characters, which need SMTPUTF8")]
    NeedsSmtpUtf8,
    /// Nothing after the `@`.
    #[error("the domain is empty")]
    EmptyDomain,
    /// `user@[192.0.2.1]`: the community uses domain names only.
    #[error("address literals such as [192.0.2.1] are not accepted; use a domain name")]
    AddressLiteral,
    /// A domain label breaks the letters-digits-hyphens rule.
    #[error("the domain label {label:?} is not valid: {reason}")]
    InvalidLabel {
        /// The offending label.
        label: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
    /// A domain label exceeds 63 octets.
    #[error("the domain label {label:?} is {len} octets long; at most 63 are allowed")]
    LabelTooLong {
        /// The offending label.
        label: String,
        /// Its length in octets.
        len: usize,
    },
    /// An internationalised domain that IDNA cannot convert.
    #[error("the domain {domain:?} is not a valid internationalised domain name")]
    InvalidIdn {
        /// The domain as given.
        domain: String,
    },
    /// The domain exceeds 255 octets.
    #[error("the domain is {len} octets long; at most 255 are allowed")]
    DomainTooLong {
        /// Its length in octets (as A-labels).
        len: usize,
    },
    /// The whole address exceeds 254 octets.
    #[error("the address is {len} octets long; at most 254 are allowed")]
    AddressTooLong {
        /// Its length in octets.
        len: usize,
    },
}

/// Every refusal the community's rules produce. Turn one into its SMTP reply
/// with `Reply::from(&error)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A client sent an address that does not parse.
    #[error("invalid address {input:?}: {reason}")]
    InvalidAddress {
        /// The address as sent (lossily decoded, shortened).
        input: String,
        /// Why it does not parse.
        reason: AddressError,
    },
    /// The recipient is neither a community address nor on an external
    /// secure domain (e.g. `someone@gmail.com`).
    #[error("recipient {recipient} is outside the secure community")]
    NotOnAllowList {
        /// The refused recipient.
        recipient: Address,
        /// The community address the user probably meant, when the domain is
        /// a connected organisation's domain written without the suffix.
        suggestion: Option<Address>,
    },
    /// The recipient's domain ends in the suffix but no organisation uses it.
    #[error("no organisation uses the domain of {recipient}")]
    UnknownCommunityDomain {
        /// The refused recipient.
        recipient: Address,
    },
    /// The recipient's organisation is hosted here but has no such mailbox
    /// (the caller, which owns the store, decides this).
    #[error("no mailbox {recipient}")]
    NoSuchMailbox {
        /// The refused recipient.
        recipient: Address,
    },
    /// The sender's domain is not in the community at all.
    #[error("sender {sender} is not part of the secure community")]
    SenderNotConnected {
        /// The refused sender.
        sender: Address,
    },
    /// The sender claims a community or external secure domain, but the
    /// sending server has not proved it may send for that domain.
    #[error("sender {sender} claims {domain} without proof")]
    SenderSpoofed {
        /// The refused sender.
        sender: Address,
        /// The domain claimed (community domain or external secure domain).
        domain: String,
    },
    /// An empty reverse-path (a delivery report) from a server that is
    /// neither a gateway nor a proven secure domain.
    #[error("delivery report from an unproven server")]
    UnprovenBounce,
    /// The organisation is suspended; its mail waits (4xx).
    #[error("organisation {organisation} is suspended")]
    OrganisationSuspended {
        /// The organisation's name.
        organisation: String,
    },
    /// An unauthenticated, non-gateway session asked to relay outside the
    /// community.
    #[error("relaying to {recipient} denied")]
    RelayDenied {
        /// The refused recipient.
        recipient: Address,
    },
    /// `MAIL`, `RCPT` or `AUTH` before TLS.
    #[error("TLS required")]
    TlsRequired,
    /// Submission without authentication.
    #[error("authentication required")]
    AuthenticationRequired,
    /// Wrong user name or password.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// An authenticated user tried to send as an address not their own and
    /// not granted to them.
    #[error("{user} may not send as {sender}")]
    SenderNotPermitted {
        /// Who is signed in.
        user: Address,
        /// The address they tried to use.
        sender: Address,
    },
    /// A header (`From:`, `Sender:`) names an address the connection has
    /// not proved: another organisation's, another member's, or a
    /// government address through a community gateway.
    #[error("the {field} header names {address}, which {origin} may not send as")]
    HeaderSenderSpoofed {
        /// `From` or `Sender`.
        field: &'static str,
        /// The address the header names.
        address: Address,
        /// Who is sending: a signed-in user, or an organisation's gateway.
        origin: String,
    },
    /// A display name that is itself a different address (`"eric.brown@…"
    /// <anna.jones@…>`): a reader would take the mail as from the former.
    #[error("the display name {display} is a different address from {address}")]
    DisplayNameSpoofed {
        /// The display name as written.
        display: String,
        /// The real address.
        address: Address,
    },
    /// A signed-in user gave the empty reverse-path `<>`, which belongs to
    /// servers' delivery reports.
    #[error("{user} may not send with an empty reverse-path")]
    NullSenderNotPermitted {
        /// Who is signed in.
        user: Address,
    },
    /// The account is locked (too many failed sign-ins, or unused too long).
    #[error("account {user} is locked")]
    AccountLocked {
        /// The account.
        user: Address,
    },
    /// A new account was never activated and has locked.
    #[error("new account {user} is locked")]
    AccountNotActivated {
        /// The account.
        user: Address,
    },
    /// The account is suspended by its administrator.
    #[error("account {user} is suspended")]
    AccountSuspended {
        /// The account.
        user: Address,
    },
    /// The account is deleted.
    #[error("account {user} is deleted")]
    AccountDeleted {
        /// The account.
        user: Address,
    },
    /// The user must change a one-time or expired password first.
    #[error("account {user} must change its password")]
    PasswordChangeRequired {
        /// The account.
        user: Address,
    },
    /// The message is marked above OFFICIAL-SENSITIVE.
    #[error("message marked {marking} (in the {found_in})")]
    Classified {
        /// The marking found (SECRET or TOP SECRET).
        marking: Marking,
        /// Where it was found.
        found_in: LabelSource,
    },
    /// The message exceeds the size limit.
    #[error("message of {size} octets exceeds the limit of {limit}")]
    MessageTooBig {
        /// The size declared (`SIZE=`) or received, in octets.
        size: u64,
        /// The limit, in octets.
        limit: u64,
    },
    /// One recipient more than the limit.
    #[error("more than {limit} recipients")]
    TooManyRecipients {
        /// The limit.
        limit: usize,
    },
}

impl PolicyError {
    /// An [`PolicyError::InvalidAddress`] for the raw bytes a client sent;
    /// keeps at most 100 characters of them for the reply.
    pub fn invalid_address(input: &[u8], reason: AddressError) -> Self {
        let input: String = String::from_utf8_lossy(input)
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect();
        Self::InvalidAddress { input, reason }
    }

    /// This refusal's SMTP reply.
    pub fn reply(&self) -> Reply {
        Reply::from(self)
    }

    /// The rule that refused, as named in the audit log: the variant's name.
    pub fn rule(&self) -> &'static str {
        use PolicyError as E;
        match self {
            E::InvalidAddress { .. } => "InvalidAddress",
            E::NotOnAllowList { .. } => "NotOnAllowList",
            E::UnknownCommunityDomain { .. } => "UnknownCommunityDomain",
            E::NoSuchMailbox { .. } => "NoSuchMailbox",
            E::SenderNotConnected { .. } => "SenderNotConnected",
            E::SenderSpoofed { .. } => "SenderSpoofed",
            E::UnprovenBounce => "UnprovenBounce",
            E::OrganisationSuspended { .. } => "OrganisationSuspended",
            E::RelayDenied { .. } => "RelayDenied",
            E::TlsRequired => "TlsRequired",
            E::AuthenticationRequired => "AuthenticationRequired",
            E::AuthenticationFailed => "AuthenticationFailed",
            E::SenderNotPermitted { .. } => "SenderNotPermitted",
            E::HeaderSenderSpoofed { .. } => "HeaderSenderSpoofed",
            E::DisplayNameSpoofed { .. } => "DisplayNameSpoofed",
            E::NullSenderNotPermitted { .. } => "NullSenderNotPermitted",
            E::AccountLocked { .. } => "AccountLocked",
            E::AccountNotActivated { .. } => "AccountNotActivated",
            E::AccountSuspended { .. } => "AccountSuspended",
            E::AccountDeleted { .. } => "AccountDeleted",
            E::PasswordChangeRequired { .. } => "PasswordChangeRequired",
            E::Classified { .. } => "Classified",
            E::MessageTooBig { .. } => "MessageTooBig",
            E::TooManyRecipients { .. } => "TooManyRecipients",
        }
    }

    /// The addresses the refusal names (the refused recipient, the claimed
    /// sender, the signed-in user), so that an audit record can be shown
    /// to their organisations.
    pub fn addresses(&self) -> Vec<&Address> {
        use PolicyError as E;
        match self {
            E::NotOnAllowList { recipient, .. }
            | E::UnknownCommunityDomain { recipient }
            | E::NoSuchMailbox { recipient }
            | E::RelayDenied { recipient } => vec![recipient],
            E::SenderNotConnected { sender } | E::SenderSpoofed { sender, .. } => vec![sender],
            E::SenderNotPermitted { user, sender } => vec![user, sender],
            E::HeaderSenderSpoofed { address, .. } | E::DisplayNameSpoofed { address, .. } => {
                vec![address]
            }
            E::AccountLocked { user }
            | E::NullSenderNotPermitted { user }
            | E::AccountNotActivated { user }
            | E::AccountSuspended { user }
            | E::AccountDeleted { user }
            | E::PasswordChangeRequired { user } => vec![user],
            E::InvalidAddress { .. }
            | E::UnprovenBounce
            | E::OrganisationSuspended { .. }
            | E::TlsRequired
            | E::AuthenticationRequired
            | E::AuthenticationFailed
            | E::Classified { .. }
            | E::MessageTooBig { .. }
            | E::TooManyRecipients { .. } => Vec::new(),
        }
    }
}

impl From<&PolicyError> for Reply {
    fn from(error: &PolicyError) -> Self {
        use PolicyError as E;
        match error {
            E::InvalidAddress {
                input,
                reason: AddressError::NeedsSmtpUtf8,
            } => Reply::new(
                553,
                (5, 6, 7),
                format!(
                    "The address {input} contains non-ASCII characters, which need the SMTPUTF8 extension."
                ),
            ),
            E::InvalidAddress { input, reason } => Reply::new(
                553,
                (5, 1, 3),
                format!("The address {input} is not valid: {reason}."),
            ),
            E::NotOnAllowList {
                recipient,
                suggestion,
            } => {
                let mut text = format!(
                    "The recipient {recipient} is outside the secure community; this service delivers only to connected organisations and secure government domains."
                );
                if let Some(suggestion) = suggestion {
                    text.push_str(&format!(" Did you mean {suggestion}?"));
                }
                Reply::new(550, (5, 7, 1), text)
            }
            E::UnknownCommunityDomain { recipient } => Reply::new(
                550,
                (5, 1, 2),
                format!(
                    "No organisation in the secure community uses the domain of {recipient}; check the address."
                ),
            ),
            E::NoSuchMailbox { recipient } => Reply::new(
                550,
                (5, 1, 1),
                format!(
                    "There is no mailbox {recipient} in the secure community; check the address."
                ),
            ),
            E::SenderNotConnected { sender } => Reply::new(
                550,
                (5, 7, 1),
                format!(
                    "The sender {sender} is not part of the secure community; only connected organisations and secure government domains may send mail here."
                ),
            ),
            E::SenderSpoofed { sender, domain } => Reply::new(
                550,
                (5, 7, 1),
                format!(
                    "This server has not proved that it may send mail for {domain}, so mail from {sender} is refused as spoofing."
                ),
            ),
            E::UnprovenBounce => Reply::new(
                550,
                (5, 7, 1),
                "Delivery reports are accepted only from connected gateways and proven secure government servers.",
            ),
            E::OrganisationSuspended { organisation } => Reply::new(
                451,
                (4, 3, 2),
                format!(
                    "The organisation {organisation} is suspended from the secure community for now; the mail is deferred, please try again later."
                ),
            ),
            E::RelayDenied { recipient } => Reply::new(
                550,
                (5, 7, 1),
                format!(
                    "Relaying to {recipient} is denied; only signed-in users and connected organisations' gateways may send beyond the community."
                ),
            ),
            E::TlsRequired => Reply::new(530, (5, 7, 0), "Must issue a STARTTLS command first"),
            E::AuthenticationRequired => Reply::new(
                530,
                (5, 7, 0),
                "Authentication required; sign in before sending mail.",
            ),
            E::AuthenticationFailed => {
                Reply::new(535, (5, 7, 8), "Authentication credentials invalid")
            }
            E::SenderNotPermitted { user, sender } => Reply::new(
                553,
                (5, 7, 1),
                format!(
                    "You are signed in as {user} and may not send as {sender}; send from your own address."
                ),
            ),
            E::HeaderSenderSpoofed {
                field,
                address,
                origin,
            } => Reply::new(
                550,
                (5, 7, 1),
                format!(
                    "The {field}: header names {address}, which {origin} may not send as; a message may only be from the addresses its sender has proved."
                ),
            ),
            E::DisplayNameSpoofed { display, address } => Reply::new(
                550,
                (5, 7, 1),
                format!(
                    "The From: display name {display:?} is an address other than {address}; use a name, not another address, as the display name."
                ),
            ),
            E::NullSenderNotPermitted { user } => Reply::new(
                550,
                (5, 7, 1),
                format!(
                    "You are signed in as {user}: send from your own address; the empty reverse-path <> is for mail servers' delivery reports."
                ),
            ),
            E::AccountLocked { user } => Reply::new(
                525,
                (5, 7, 13),
                format!(
                    "The account {user} is locked; ask your organisation administrator to unlock it."
                ),
            ),
            E::AccountNotActivated { user } => Reply::new(
                525,
                (5, 7, 13),
                format!(
                    "The new account {user} was not activated in time and is locked; ask your organisation administrator for a new one-time password."
                ),
            ),
            E::AccountSuspended { user } => Reply::new(
                525,
                (5, 7, 13),
                format!(
                    "The account {user} is suspended; ask your organisation administrator to reactivate it."
                ),
            ),
            E::AccountDeleted { user } => Reply::new(
                525,
                (5, 7, 13),
                format!(
                    "The account {user} has been deleted; ask your organisation administrator if you still need one."
                ),
            ),
            E::PasswordChangeRequired { user } => Reply::new(
                432,
                (4, 7, 12),
                format!(
                    "A password transition is needed: {user} must set a new password before sending mail (it is a one-time or expired password). Your organisation administrator or the service desk changes it with you on the Ward server (`ward passwd {user}`); then send again."
                ),
            ),
            E::Classified { marking, found_in } => Reply::new(
                550,
                (5, 7, 1),
                format!(
                    "The message is marked {marking} in its {found_in}; this service does not carry SECRET or TOP SECRET mail."
                ),
            ),
            E::MessageTooBig { limit, .. } => Reply::new(
                552,
                (5, 3, 4),
                format!(
                    "The message is too big: this service accepts messages of at most {limit} octets."
                ),
            ),
            E::TooManyRecipients { limit } => Reply::new(
                452,
                (4, 5, 3),
                format!(
                    "Too many recipients: at most {limit} per message; send to the rest in another message."
                ),
            ),
        }
    }
}
