//! Identifier newtypes, so that a user id cannot be passed where a mailbox
//! id is expected.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Identifies an organisation. Assigned by the store, never reused.
    OrgId
);
id_type!(
    /// Identifies an application to join the community.
    ApplicationId
);
id_type!(
    /// Identifies a user account. Assigned by the store, never reused.
    UserId
);
id_type!(
    /// Identifies a mailbox. A mailbox keeps its id when renamed; a mailbox
    /// deleted and created again gets a new id and a new UIDVALIDITY.
    MailboxId
);
id_type!(
    /// Identifies an outbound queue entry.
    QueueId
);

/// An IMAP unique identifier (RFC 9051 §2.3.1.1): strictly increasing within
/// a mailbox and never reused while its UIDVALIDITY stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Uid(pub u32);

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Identifies a stored message body: the SHA-256 of its bytes. Identical
/// bodies are stored once.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BodyId(pub [u8; 32]);

impl fmt::Display for BodyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BodyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BodyId({self})")
    }
}
