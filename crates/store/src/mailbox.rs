//! Mailboxes: per-user, hierarchical (`/` delimiter), with the IMAP counters
//! (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, message, unseen and size totals)
//! kept in the mailbox record by every operation, so that STATUS and SELECT
//! and opening the store never count messages.
//!
//! Names are UTF-8 as the client meant them (modified UTF-7 is the IMAP
//! crate's business). `INBOX` is case-insensitive and always stored as
//! `INBOX`. Creating `a/b/c` creates `a` and `a/b` if missing; renaming moves
//! the children; deleting a mailbox with children is refused, as Dovecot
//! does, so no `\Noselect` placeholders exist.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::message::expunge_entry;
use crate::notify::MailboxChange;
use crate::txn::Txn;
use crate::{Error, MailboxId, MessageEntry, Store, UserId, keys};

/// The hierarchy delimiter.
pub const DELIMITER: char = '/';

/// The special-use attribute of a mailbox (RFC 6154).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SpecialUse {
    /// `\Sent`.
    Sent,
    /// `\Drafts`.
    Drafts,
    /// `\Trash`.
    Trash,
    /// `\Junk`.
    Junk,
    /// `\Archive`.
    Archive,
}

/// The mailboxes every new user gets, besides INBOX.
pub(crate) const DEFAULT_MAILBOXES: [(&str, SpecialUse); 5] = [
    ("Sent", SpecialUse::Sent),
    ("Drafts", SpecialUse::Drafts),
    ("Trash", SpecialUse::Trash),
    ("Junk", SpecialUse::Junk),
    ("Archive", SpecialUse::Archive),
];

/// A mailbox and its counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxInfo {
    /// The mailbox's id; kept across renames.
    pub id: MailboxId,
    /// The owner.
    pub user: UserId,
    /// The full hierarchical name, for example `Clients/Smith`.
    pub name: String,
    /// The special-use attribute, if any.
    pub special_use: Option<SpecialUse>,
    /// UIDVALIDITY: unique across the store, so a mailbox deleted and
    /// created again never reuses one.
    pub uidvalidity: u32,
    /// The UID the next message will get.
    pub uidnext: u32,
    /// The highest MODSEQ of any change in the mailbox (RFC 7162), starting
    /// at 1 for an empty new mailbox.
    pub highest_modseq: u64,
    /// Number of messages.
    pub messages: u64,
    /// Number of messages without `\Seen`.
    pub unseen: u64,
    /// Total size of the messages in bytes.
    pub size: u64,
}

/// Checks and canonicalises a mailbox name.
pub(crate) fn normalise_name(name: &str) -> Result<String, Error> {
    let invalid = || Error::InvalidMailboxName(name.to_owned());
    if name.is_empty() || name.len() > 1024 {
        return Err(invalid());
    }
    if name.chars().any(|c| c.is_control() || c == '*' || c == '%') {
        return Err(invalid());
    }
    let mut levels = name.split(DELIMITER);
    let first = levels.next().unwrap_or_default();
    if first.is_empty() || levels.clone().any(str::is_empty) {
        return Err(invalid());
    }
    let first = if first.eq_ignore_ascii_case("INBOX") {
        "INBOX"
    } else {
        first
    };
    let mut out = first.to_owned();
    for level in levels {
        out.push(DELIMITER);
        out.push_str(level);
    }
    Ok(out)
}

/// The names of the mailboxes above `name`, outermost first.
fn ancestors(name: &str) -> Vec<&str> {
    name.match_indices(DELIMITER)
        .map(|(i, _)| &name[..i])
        .collect()
}

/// Takes a fresh UIDVALIDITY. The counter starts at the current time so that
/// a store rebuilt from scratch does not repeat values a client cached.
fn next_uidvalidity(txn: &mut Txn<'_>) -> Result<u32, Error> {
    let key = keys::text(keys::META, "uidvalidity");
    let current = match txn.get_as::<u64>(&key, "counter")? {
        Some(v) => v,
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_secs() & 0x7fff_ffff),
    };
    let next = current + 1;
    let value = u32::try_from(next).map_err(|_| Error::CounterExhausted("UIDVALIDITY"))?;
    txn.put_as(key, &next);
    Ok(value)
}

/// Loads a mailbox record inside a transaction.
pub(crate) fn load(txn: &Txn<'_>, id: MailboxId) -> Result<MailboxInfo, Error> {
    txn.get_as(&keys::id(keys::MAILBOX, id.0), "mailbox")?
        .ok_or(Error::NoSuchMailbox(id.0))
}

/// Saves a mailbox record inside a transaction.
pub(crate) fn save(txn: &mut Txn<'_>, info: &MailboxInfo) {
    txn.put_as(keys::id(keys::MAILBOX, info.id.0), info);
}

/// Looks a mailbox up by (normalised) name inside a transaction.
pub(crate) fn find(txn: &Txn<'_>, user: UserId, name: &str) -> Result<Option<MailboxId>, Error> {
    Ok(txn
        .get_as::<u64>(
            &keys::id_text(keys::MAILBOX_NAME, user.0, name),
            "mailbox name",
        )?
        .map(MailboxId))
}

/// Creates one mailbox (parents must exist or be created by the caller).
fn create_one(
    txn: &mut Txn<'_>,
    user: UserId,
    name: &str,
    special_use: Option<SpecialUse>,
) -> Result<MailboxId, Error> {
    let id = MailboxId(txn.next_id("mailbox")?);
    let info = MailboxInfo {
        id,
        user,
        name: name.to_owned(),
        special_use,
        uidvalidity: next_uidvalidity(txn)?,
        uidnext: 1,
        highest_modseq: 1,
        messages: 0,
        unseen: 0,
        size: 0,
    };
    save(txn, &info);
    txn.put_as(keys::id_text(keys::MAILBOX_NAME, user.0, name), &id.0);
    Ok(id)
}

/// Creates `name` and any missing parents.
pub(crate) fn create(
    txn: &mut Txn<'_>,
    user: UserId,
    name: &str,
    special_use: Option<SpecialUse>,
) -> Result<MailboxId, Error> {
    if find(txn, user, name)?.is_some() {
        return Err(Error::MailboxExists(name.to_owned()));
    }
    for parent in ancestors(name) {
        if find(txn, user, parent)?.is_none() {
            create_one(txn, user, parent, None)?;
        }
    }
    create_one(txn, user, name, special_use)
}

/// The (name key, id) pairs of `name`'s descendants.
fn descendants(txn: &Txn<'_>, user: UserId, name: &str) -> Result<Vec<(String, MailboxId)>, Error> {
    let prefix = keys::id_text(keys::MAILBOX_NAME, user.0, &format!("{name}{DELIMITER}"));
    txn.scan_prefix(&prefix)?
        .into_iter()
        .map(|(k, v)| {
            let child = String::from_utf8_lossy(&k[9..]).into_owned();
            Ok((child, MailboxId(crate::codec::decode(&v, "mailbox name")?)))
        })
        .collect()
}

impl Store {
    /// Creates a mailbox for `user`, and any missing parents (`a/b/c`
    /// creates `a` and `a/b`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidMailboxName`], [`Error::MailboxExists`],
    /// [`Error::NoSuchUser`], [`Error::Io`].
    pub fn create_mailbox(
        &self,
        user: UserId,
        name: &str,
        special_use: Option<SpecialUse>,
    ) -> Result<MailboxId, Error> {
        let name = normalise_name(name)?;
        self.write(|txn| {
            if !txn.contains(&keys::id(keys::USER, user.0))? {
                return Err(Error::NoSuchUser(user.0));
            }
            create(txn, user, &name, special_use)
        })
    }

    /// A mailbox and its counters, or `None` if it does not exist.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn mailbox(&self, id: MailboxId) -> Result<Option<MailboxInfo>, Error> {
        self.read_as(&keys::id(keys::MAILBOX, id.0), "mailbox")
    }

    /// The user's mailbox of this name (INBOX case-insensitively), if any.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidMailboxName`], [`Error::Io`], [`Error::Corrupt`].
    pub fn mailbox_by_name(&self, user: UserId, name: &str) -> Result<Option<MailboxInfo>, Error> {
        let name = normalise_name(name)?;
        let Some(id) = self.read_as::<u64>(
            &keys::id_text(keys::MAILBOX_NAME, user.0, &name),
            "mailbox name",
        )?
        else {
            return Ok(None);
        };
        self.mailbox(MailboxId(id))
    }

    /// All of the user's mailboxes, ordered by name.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn mailboxes(&self, user: UserId) -> Result<Vec<MailboxInfo>, Error> {
        let mut out = Vec::new();
        for item in self
            .tree()
            .scan_prefix(keys::id(keys::MAILBOX_NAME, user.0))
        {
            let (_, v) = item?;
            let id: u64 = crate::codec::decode(&v, "mailbox name")?;
            if let Some(info) = self.mailbox(MailboxId(id))? {
                out.push(info);
            }
        }
        Ok(out)
    }

    /// Renames a mailbox and all mailboxes below it, keeping their ids,
    /// UIDVALIDITY and messages. Renaming INBOX instead moves all its
    /// messages to a new mailbox `to` and leaves INBOX empty (RFC 9051
    /// §6.3.6).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchMailboxName`], [`Error::MailboxExists`],
    /// [`Error::RenameIntoItself`], [`Error::InvalidMailboxName`],
    /// [`Error::Io`].
    pub fn rename_mailbox(&self, user: UserId, from: &str, to: &str) -> Result<(), Error> {
        let from = normalise_name(from)?;
        let to = normalise_name(to)?;
        self.write(|txn| {
            let id =
                find(txn, user, &from)?.ok_or_else(|| Error::NoSuchMailboxName(from.clone()))?;
            if find(txn, user, &to)?.is_some() {
                return Err(Error::MailboxExists(to.clone()));
            }
            if to.starts_with(&format!("{from}{DELIMITER}")) {
                return Err(Error::RenameIntoItself {
                    from: from.clone(),
                    to: to.clone(),
                });
            }
            if from == "INBOX" {
                let target = create(txn, user, &to, None)?;
                let uids: Vec<_> = crate::message::entries(txn, id)?
                    .into_iter()
                    .map(|e| e.uid)
                    .collect();
                crate::message::copy_in(txn, id, &uids, target, true)?;
                return Ok(());
            }
            let mut moves = descendants(txn, user, &from)?;
            moves.insert(0, (from.clone(), id));
            for (old_name, _) in &moves {
                txn.remove(keys::id_text(keys::MAILBOX_NAME, user.0, old_name));
            }
            for parent in ancestors(&to) {
                if find(txn, user, parent)?.is_none() {
                    create_one(txn, user, parent, None)?;
                }
            }
            for (old_name, mailbox) in moves {
                let new_name = format!("{to}{}", &old_name[from.len()..]);
                let mut info = load(txn, mailbox)?;
                info.name.clone_from(&new_name);
                save(txn, &info);
                txn.put_as(
                    keys::id_text(keys::MAILBOX_NAME, user.0, &new_name),
                    &mailbox.0,
                );
                txn.announce(mailbox, MailboxChange::Renamed { name: new_name });
            }
            Ok(())
        })
    }

    /// Deletes a mailbox and its messages (bodies no longer referred to are
    /// removed).
    ///
    /// # Errors
    ///
    /// [`Error::CannotDeleteInbox`], [`Error::MailboxHasChildren`],
    /// [`Error::NoSuchMailboxName`], [`Error::Io`].
    pub fn delete_mailbox(&self, user: UserId, name: &str) -> Result<(), Error> {
        let name = normalise_name(name)?;
        if name == "INBOX" {
            return Err(Error::CannotDeleteInbox);
        }
        self.write(|txn| {
            let id =
                find(txn, user, &name)?.ok_or_else(|| Error::NoSuchMailboxName(name.clone()))?;
            if !descendants(txn, user, &name)?.is_empty() {
                return Err(Error::MailboxHasChildren(name.clone()));
            }
            let entries: Vec<MessageEntry> = crate::message::entries(txn, id)?;
            let mut info = load(txn, id)?;
            for entry in &entries {
                expunge_entry(txn, &mut info, entry)?;
            }
            txn.remove(keys::id(keys::MAILBOX, id.0));
            txn.remove(keys::id_text(keys::MAILBOX_NAME, user.0, &name));
            txn.announce(id, MailboxChange::Deleted);
            Ok(())
        })
    }

    /// Adds `name` to the user's subscriptions (IMAP SUBSCRIBE). The
    /// mailbox need not exist.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidMailboxName`], [`Error::Io`].
    pub fn subscribe_mailbox(&self, user: UserId, name: &str) -> Result<(), Error> {
        let name = normalise_name(name)?;
        self.write(|txn| {
            txn.put(keys::id_text(keys::SUBSCRIPTION, user.0, &name), Vec::new());
            Ok(())
        })
    }

    /// Removes `name` from the user's subscriptions (IMAP UNSUBSCRIBE).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidMailboxName`], [`Error::Io`].
    pub fn unsubscribe_mailbox(&self, user: UserId, name: &str) -> Result<(), Error> {
        let name = normalise_name(name)?;
        self.write(|txn| {
            txn.remove(keys::id_text(keys::SUBSCRIPTION, user.0, &name));
            Ok(())
        })
    }

    /// The user's subscribed names, ordered.
    ///
    /// # Errors
    ///
    /// [`Error::Io`].
    pub fn subscriptions(&self, user: UserId) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for item in self
            .tree()
            .scan_prefix(keys::id(keys::SUBSCRIPTION, user.0))
        {
            let (k, _) = item?;
            out.push(String::from_utf8_lossy(&k[9..]).into_owned());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_inbox_is_canonical() {
        assert_eq!(normalise_name("inbox").unwrap(), "INBOX");
        assert_eq!(normalise_name("Inbox/Sub").unwrap(), "INBOX/Sub");
        assert_eq!(normalise_name("Clients/Smith").unwrap(), "Clients/Smith");
        assert_eq!(normalise_name("InboxOther").unwrap(), "InboxOther");
        for bad in ["", "/a", "a/", "a//b", "a\u{0}b", "a*", "a%b"] {
            assert!(normalise_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ancestors_are_listed_outermost_first() {
        assert_eq!(ancestors("a/b/c"), vec!["a", "a/b"]);
        assert!(ancestors("a").is_empty());
    }
}
