//! Messages in mailboxes: delivery, APPEND, COPY, MOVE, flag changes and
//! EXPUNGE, each one atomic, with the IMAP invariants enforced here:
//!
//! - UIDs strictly increase within a mailbox and are never reused (UIDNEXT
//!   only grows, even when the newest message is expunged);
//! - every change gets a MODSEQ greater than any before it in the mailbox
//!   (one MODSEQ per operation, shared by the messages it touched);
//! - the mailbox counters change in the same batch as the messages.

use std::collections::BTreeSet;
use std::ops::{BitOr, BitOrAssign};

use serde::{Deserialize, Serialize};

use crate::body::{add_body, add_refs, release};
use crate::mailbox::{MailboxInfo, load, save};
use crate::notify::MailboxChange;
use crate::txn::Txn;
use crate::{BodyId, Error, MailboxId, Store, Uid, codec, keys};

/// The IMAP system flags of a message (`\Recent` is per session and not
/// stored).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flags(u8);

impl Flags {
    /// `\Seen`.
    pub const SEEN: Flags = Flags(1);
    /// `\Answered`.
    pub const ANSWERED: Flags = Flags(2);
    /// `\Flagged`.
    pub const FLAGGED: Flags = Flags(4);
    /// `\Deleted`.
    pub const DELETED: Flags = Flags(8);
    /// `\Draft`.
    pub const DRAFT: Flags = Flags(16);
    /// Every system flag, in IMAP order.
    pub const ALL: [(Flags, &'static str); 5] = [
        (Flags::SEEN, "\\Seen"),
        (Flags::ANSWERED, "\\Answered"),
        (Flags::FLAGGED, "\\Flagged"),
        (Flags::DELETED, "\\Deleted"),
        (Flags::DRAFT, "\\Draft"),
    ];

    /// No flag.
    pub const fn empty() -> Flags {
        Flags(0)
    }

    /// Whether every flag in `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any flag in `other` is set.
    pub const fn intersects(self, other: Flags) -> bool {
        self.0 & other.0 != 0
    }

    /// These flags without those in `other`.
    pub const fn without(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

/// One message in one mailbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEntry {
    /// Its UID in the mailbox.
    pub uid: Uid,
    /// System flags.
    pub flags: Flags,
    /// Keywords (user-defined flags such as `$Forwarded`).
    pub keywords: BTreeSet<String>,
    /// The IMAP INTERNALDATE, in seconds since the Unix epoch.
    pub internal_date: i64,
    /// RFC822.SIZE in bytes.
    pub size: u64,
    /// MODSEQ of the last change to this message.
    pub modseq: u64,
    /// The body, readable with [`Store::body_reader`].
    pub body: BodyId,
}

/// A message to deliver or append.
#[derive(Clone, Debug)]
pub struct NewMessage<'a> {
    /// The raw RFC 5322 bytes, exactly as they should be fetched.
    pub raw: &'a [u8],
    /// Opaque parse data (ENVELOPE, BODYSTRUCTURE) to store once per body.
    pub cached: Option<&'a [u8]>,
    /// INTERNALDATE, seconds since the Unix epoch.
    pub internal_date: i64,
    /// Initial flags (delivery: none; APPEND: as the client asked).
    pub flags: Flags,
    /// Initial keywords.
    pub keywords: BTreeSet<String>,
}

/// Where a delivered or appended message landed (for APPENDUID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The mailbox.
    pub mailbox: MailboxId,
    /// The mailbox's UIDVALIDITY.
    pub uidvalidity: u32,
    /// The message's UID.
    pub uid: Uid,
    /// The message's MODSEQ.
    pub modseq: u64,
    /// The stored body.
    pub body: BodyId,
}

/// The outcome of COPY or MOVE (for COPYUID).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Copied {
    /// The destination's UIDVALIDITY.
    pub uidvalidity: u32,
    /// (source UID, destination UID) for each message copied, in source UID
    /// order. UIDs that did not exist are left out.
    pub uids: Vec<(Uid, Uid)>,
}

/// How STORE combines the given flags with the current ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagOp {
    /// Replace (`FLAGS`).
    Set,
    /// Add (`+FLAGS`).
    Add,
    /// Remove (`-FLAGS`).
    Remove,
}

/// All entries of a mailbox, read inside a transaction.
pub(crate) fn entries(txn: &Txn<'_>, mailbox: MailboxId) -> Result<Vec<MessageEntry>, Error> {
    txn.scan_prefix(&keys::id(keys::MESSAGE, mailbox.0))?
        .into_iter()
        .map(|(_, v)| codec::decode(&v, "message"))
        .collect()
}

fn entry(txn: &Txn<'_>, mailbox: MailboxId, uid: Uid) -> Result<Option<MessageEntry>, Error> {
    txn.get_as(&keys::message(mailbox.0, uid.0), "message")
}

fn bump_modseq(info: &mut MailboxInfo) -> Result<u64, Error> {
    info.highest_modseq = info
        .highest_modseq
        .checked_add(1)
        .ok_or(Error::CounterExhausted("MODSEQ"))?;
    Ok(info.highest_modseq)
}

/// Adds a message to a mailbox with the next UID and a new MODSEQ. The body
/// reference must already be counted.
fn add_entry(
    txn: &mut Txn<'_>,
    info: &mut MailboxInfo,
    flags: Flags,
    keywords: BTreeSet<String>,
    internal_date: i64,
    size: u64,
    body: BodyId,
) -> Result<MessageEntry, Error> {
    let uid = Uid(info.uidnext);
    info.uidnext = info
        .uidnext
        .checked_add(1)
        .ok_or(Error::CounterExhausted("UID"))?;
    let modseq = bump_modseq(info)?;
    info.messages += 1;
    info.size += size;
    if !flags.contains(Flags::SEEN) {
        info.unseen += 1;
    }
    let entry = MessageEntry {
        uid,
        flags,
        keywords,
        internal_date,
        size,
        modseq,
        body,
    };
    txn.put_as(keys::message(info.id.0, uid.0), &entry);
    txn.announce(info.id, MailboxChange::Added { uid, modseq });
    Ok(entry)
}

/// Removes a message, adjusts the counters and releases its body. The caller
/// has already taken the expunge's MODSEQ.
pub(crate) fn expunge_entry(
    txn: &mut Txn<'_>,
    info: &mut MailboxInfo,
    entry: &MessageEntry,
) -> Result<(), Error> {
    txn.remove(keys::message(info.id.0, entry.uid.0));
    info.messages -= 1;
    info.size -= entry.size;
    if !entry.flags.contains(Flags::SEEN) {
        info.unseen -= 1;
    }
    release(txn, entry.body)?;
    txn.announce(
        info.id,
        MailboxChange::Expunged {
            uid: entry.uid,
            modseq: info.highest_modseq,
        },
    );
    Ok(())
}

/// Copies (or moves) messages inside a transaction.
pub(crate) fn copy_in(
    txn: &mut Txn<'_>,
    from: MailboxId,
    uids: &[Uid],
    to: MailboxId,
    moving: bool,
) -> Result<Copied, Error> {
    let mut dst = load(txn, to)?;
    let mut src = if from == to {
        None
    } else {
        Some(load(txn, from)?)
    };
    let uids: BTreeSet<Uid> = uids.iter().copied().collect();
    let mut copied = Vec::new();
    let mut originals = Vec::new();
    for uid in uids {
        let Some(old) = entry(txn, from, uid)? else {
            continue;
        };
        add_refs(txn, old.body, 1)?;
        let new = add_entry(
            txn,
            &mut dst,
            old.flags,
            old.keywords.clone(),
            old.internal_date,
            old.size,
            old.body,
        )?;
        copied.push((uid, new.uid));
        originals.push(old);
    }
    if moving && !originals.is_empty() {
        let source = match &mut src {
            Some(s) => s,
            None => &mut dst,
        };
        bump_modseq(source)?;
        for old in &originals {
            expunge_entry(txn, source, old)?;
        }
    }
    if let Some(src) = &src {
        save(txn, src);
    }
    save(txn, &dst);
    Ok(Copied {
        uidvalidity: dst.uidvalidity,
        uids: copied,
    })
}

impl Store {
    /// Delivers one message to several mailboxes, all or none: the body is
    /// stored once and each mailbox gets an entry with its next UID. Returns
    /// only once the delivery is on disk.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchMailbox`] (then nothing is delivered), [`Error::Io`].
    pub fn deliver(
        &self,
        targets: &[MailboxId],
        message: &NewMessage<'_>,
    ) -> Result<Vec<Appended>, Error> {
        Ok(self.deliver_and_enqueue(targets, message, None)?.0)
    }

    /// Delivers to local mailboxes and queues the remote copy in one atomic,
    /// durable step: both or neither, the body stored once.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchMailbox`] (then nothing is written), [`Error::Io`].
    pub fn deliver_and_enqueue(
        &self,
        targets: &[MailboxId],
        message: &NewMessage<'_>,
        outbound: Option<&crate::queue::Outbound<'_>>,
    ) -> Result<(Vec<Appended>, Option<crate::QueueId>), Error> {
        self.deliver_recorded(targets, message, outbound, None)
    }

    /// [`Store::deliver_and_enqueue`] with its audit record (concerning
    /// `organisations`) in the same atomic batch: acknowledging a message
    /// costs one flush, and the record exists exactly when the message does.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchMailbox`] (then nothing is written), [`Error::Io`].
    pub fn deliver_and_enqueue_audited(
        &self,
        targets: &[MailboxId],
        message: &NewMessage<'_>,
        outbound: Option<&crate::queue::Outbound<'_>>,
        event: &crate::AuditEvent,
        organisations: &[crate::OrgId],
    ) -> Result<(Vec<Appended>, Option<crate::QueueId>), Error> {
        self.deliver_recorded(targets, message, outbound, Some((event, organisations)))
    }

    fn deliver_recorded(
        &self,
        targets: &[MailboxId],
        message: &NewMessage<'_>,
        outbound: Option<&crate::queue::Outbound<'_>>,
        audit: Option<(&crate::AuditEvent, &[crate::OrgId])>,
    ) -> Result<(Vec<Appended>, Option<crate::QueueId>), Error> {
        if targets.is_empty() && outbound.is_none() {
            return Ok((Vec::new(), None));
        }
        let mut staged = self.stage_body(message.raw)?;
        let (body, size) = (staged.id, staged.size);
        let references = targets.len() as u64 + u64::from(outbound.is_some());
        let landed = self.write(|txn| {
            add_body(txn, &staged, message.cached, references)?;
            let mut out = Vec::with_capacity(targets.len());
            for &target in targets {
                // Load per target so that a mailbox named twice gets two
                // entries with consecutive UIDs.
                let mut info = load(txn, target)?;
                let entry = add_entry(
                    txn,
                    &mut info,
                    message.flags,
                    message.keywords.clone(),
                    message.internal_date,
                    size,
                    body,
                )?;
                save(txn, &info);
                out.push(Appended {
                    mailbox: target,
                    uidvalidity: info.uidvalidity,
                    uid: entry.uid,
                    modseq: entry.modseq,
                    body,
                });
            }
            let queued = match outbound {
                Some(o) => {
                    let id = crate::QueueId(txn.next_id("queue")?);
                    txn.put_as(keys::id(keys::QUEUE, id.0), &o.entry(body, size));
                    Some(id)
                }
                None => None,
            };
            if let Some((event, organisations)) = audit {
                crate::audit::append(txn, event, organisations)?;
            }
            Ok((out, queued))
        })?;
        staged.keep();
        if landed.1.is_some() {
            self.inner.queued.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(landed)
    }

    /// Appends one message to one mailbox (IMAP APPEND).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchMailbox`], [`Error::Io`].
    pub fn append(&self, mailbox: MailboxId, message: &NewMessage<'_>) -> Result<Appended, Error> {
        let mut appended = self.deliver(&[mailbox], message)?;
        appended.pop().ok_or(Error::NoSuchMailbox(mailbox.0))
    }

    /// Copies messages to another (or the same) mailbox, keeping flags,
    /// keywords and INTERNALDATE. The bodies are shared, not duplicated.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchMailbox`], [`Error::Io`].
    pub fn copy_messages(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
    ) -> Result<Copied, Error> {
        self.write(|txn| copy_in(txn, from, uids, to, false))
    }

    /// Moves messages (RFC 6851): copy and expunge from the source in one
    /// atomic step.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchMailbox`], [`Error::Io`].
    pub fn move_messages(
        &self,
        from: MailboxId,
        uids: &[Uid],
        to: MailboxId,
    ) -> Result<Copied, Error> {
        self.write(|txn| copy_in(txn, from, uids, to, true))
    }

    /// Changes flags and keywords of the given messages (IMAP STORE). All
    /// messages whose flags actually change get one new MODSEQ; the changed
    /// entries are returned with it. UIDs that do not exist are ignored.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchMailbox`], [`Error::Io`].
    pub fn store_flags(
        &self,
        mailbox: MailboxId,
        uids: &[Uid],
        op: FlagOp,
        flags: Flags,
        keywords: &BTreeSet<String>,
    ) -> Result<Vec<MessageEntry>, Error> {
        self.write(|txn| {
            let mut info = load(txn, mailbox)?;
            let modseq = info
                .highest_modseq
                .checked_add(1)
                .ok_or(Error::CounterExhausted("MODSEQ"))?;
            let uids: BTreeSet<Uid> = uids.iter().copied().collect();
            let mut changed = Vec::new();
            for uid in uids {
                let Some(mut e) = entry(txn, mailbox, uid)? else {
                    continue;
                };
                let (new_flags, new_keywords) = match op {
                    FlagOp::Set => (flags, keywords.clone()),
                    FlagOp::Add => (
                        e.flags | flags,
                        e.keywords.union(keywords).cloned().collect(),
                    ),
                    FlagOp::Remove => (
                        e.flags.without(flags),
                        e.keywords.difference(keywords).cloned().collect(),
                    ),
                };
                if new_flags == e.flags && new_keywords == e.keywords {
                    continue;
                }
                match (
                    e.flags.contains(Flags::SEEN),
                    new_flags.contains(Flags::SEEN),
                ) {
                    (false, true) => info.unseen -= 1,
                    (true, false) => info.unseen += 1,
                    _ => {}
                }
                e.flags = new_flags;
                e.keywords = new_keywords;
                e.modseq = modseq;
                txn.put_as(keys::message(mailbox.0, uid.0), &e);
                txn.announce(mailbox, MailboxChange::FlagsChanged { uid, modseq });
                changed.push(e);
            }
            if !changed.is_empty() {
                info.highest_modseq = modseq;
                save(txn, &info);
            }
            Ok(changed)
        })
    }

    /// Removes the messages flagged `\Deleted` (IMAP EXPUNGE), or only those
    /// among `uids` (UID EXPUNGE). Returns the expunged UIDs in order.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchMailbox`], [`Error::Io`].
    pub fn expunge(&self, mailbox: MailboxId, uids: Option<&[Uid]>) -> Result<Vec<Uid>, Error> {
        self.write(|txn| {
            let mut info = load(txn, mailbox)?;
            let candidates: Vec<MessageEntry> = match uids {
                None => entries(txn, mailbox)?,
                Some(uids) => {
                    let uids: BTreeSet<Uid> = uids.iter().copied().collect();
                    let mut found = Vec::new();
                    for uid in uids {
                        if let Some(e) = entry(txn, mailbox, uid)? {
                            found.push(e);
                        }
                    }
                    found
                }
            };
            let doomed: Vec<_> = candidates
                .into_iter()
                .filter(|e| e.flags.contains(Flags::DELETED))
                .collect();
            if doomed.is_empty() {
                return Ok(Vec::new());
            }
            bump_modseq(&mut info)?;
            for e in &doomed {
                expunge_entry(txn, &mut info, e)?;
            }
            save(txn, &info);
            Ok(doomed.into_iter().map(|e| e.uid).collect())
        })
    }

    /// One message, if it exists.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn message(&self, mailbox: MailboxId, uid: Uid) -> Result<Option<MessageEntry>, Error> {
        self.read_as(&keys::message(mailbox.0, uid.0), "message")
    }

    /// Every message of a mailbox in UID order (FETCH 1:* FLAGS, SELECT).
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn messages(&self, mailbox: MailboxId) -> Result<Vec<MessageEntry>, Error> {
        self.messages_from(mailbox, Uid(0))
    }

    /// The messages with UID ≥ `first`, in UID order.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn messages_from(
        &self,
        mailbox: MailboxId,
        first: Uid,
    ) -> Result<Vec<MessageEntry>, Error> {
        let start = keys::message(mailbox.0, first.0);
        let end = keys::id(keys::MESSAGE, mailbox.0 + 1);
        let mut out = Vec::new();
        for item in self.tree().range(start..end) {
            let (_, v) = item?;
            out.push(codec::decode(&v, "message")?);
        }
        Ok(out)
    }

    /// UIDs of the messages having all flags in `with` and none in
    /// `without` (SEARCH SEEN / UNSEEN / DELETED …).
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn search_flags(
        &self,
        mailbox: MailboxId,
        with: Flags,
        without: Flags,
    ) -> Result<Vec<Uid>, Error> {
        Ok(self
            .messages(mailbox)?
            .into_iter()
            .filter(|e| e.flags.contains(with) && !e.flags.intersects(without))
            .map(|e| e.uid)
            .collect())
    }

    /// The messages changed after `modseq` (CONDSTORE `CHANGEDSINCE`).
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn changed_since(
        &self,
        mailbox: MailboxId,
        modseq: u64,
    ) -> Result<Vec<MessageEntry>, Error> {
        Ok(self
            .messages(mailbox)?
            .into_iter()
            .filter(|e| e.modseq > modseq)
            .collect())
    }
}
