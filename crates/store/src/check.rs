//! A full consistency check: counters against messages, reference counts
//! against references, body files against body records.
//!
//! It reads everything, so it is for operators (`ward check`) and tests —
//! opening the store never runs it. It holds the write lock while it reads,
//! so it sees one consistent state.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::body::BodyRecord;
use crate::{BodyId, Error, MailboxInfo, MessageEntry, QueueEntry, Store, codec, keys};

/// What [`Store::check_consistency`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsistencyReport {
    /// Mailboxes checked.
    pub mailboxes: u64,
    /// Messages checked.
    pub messages: u64,
    /// Stored bodies.
    pub bodies: u64,
    /// Stored body bytes (each body counted once).
    pub body_bytes: u64,
    /// Body files no record refers to, left by a crash between a file write
    /// and its commit or between a release and its unlink. Harmless (never
    /// read) and not counted as a problem; [`Store::sweep_orphan_bodies`]
    /// removes them.
    pub orphan_body_files: u64,
    /// Each inconsistency, in plain language. Empty when all is well.
    pub problems: Vec<String>,
}

impl ConsistencyReport {
    /// Whether no problem was found.
    pub fn is_consistent(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    /// Checks every invariant the store maintains and reports each breach:
    /// mailbox counters (messages, unseen, size, UIDNEXT, HIGHESTMODSEQ),
    /// name index, body reference counts, orphan body records, and a file of
    /// the recorded size for every body record. Counts orphan body files
    /// (see [`ConsistencyReport::orphan_body_files`]). Lists every body file,
    /// so it takes seconds on a store of millions of messages.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`] when a record cannot be decoded.
    pub fn check_consistency(&self) -> Result<ConsistencyReport, Error> {
        self.exclusive(|| self.check_locked())
    }

    fn check_locked(&self) -> Result<ConsistencyReport, Error> {
        let tree = self.tree();
        let mut report = ConsistencyReport::default();
        let mut refs: BTreeMap<BodyId, u64> = BTreeMap::new();
        let mut mailboxes: BTreeMap<u64, MailboxInfo> = BTreeMap::new();
        for item in tree.scan_prefix([keys::MAILBOX]) {
            let (k, v) = item?;
            let info: MailboxInfo = codec::decode(&v, "mailbox")?;
            if info.id.0 != keys::key_id(&k) {
                report.problems.push(format!(
                    "mailbox key {} holds mailbox {}",
                    keys::key_id(&k),
                    info.id
                ));
            }
            mailboxes.insert(info.id.0, info);
        }
        report.mailboxes = mailboxes.len() as u64;
        let mut named = BTreeSet::new();
        for item in tree.scan_prefix([keys::MAILBOX_NAME]) {
            let (k, v) = item?;
            let user = keys::key_id(&k);
            let name = String::from_utf8_lossy(&k[9..]).into_owned();
            let id: u64 = codec::decode(&v, "mailbox name")?;
            match mailboxes.get(&id) {
                Some(info) if info.user.0 == user && info.name == name => {
                    named.insert(id);
                }
                _ => report.problems.push(format!(
                    "name {name:?} of user {user} points to wrong or missing mailbox {id}"
                )),
            }
        }
        for id in mailboxes.keys() {
            if !named.contains(id) {
                report
                    .problems
                    .push(format!("mailbox {id} has no name entry"));
            }
        }
        let mut counted: BTreeMap<u64, (u64, u64, u64)> = BTreeMap::new();
        for item in tree.scan_prefix([keys::MESSAGE]) {
            let (k, v) = item?;
            let mailbox = keys::key_id(&k);
            let uid = keys::message_uid(&k);
            let entry: MessageEntry = codec::decode(&v, "message")?;
            report.messages += 1;
            *refs.entry(entry.body).or_default() += 1;
            let Some(info) = mailboxes.get(&mailbox) else {
                report.problems.push(format!(
                    "message {uid} belongs to missing mailbox {mailbox}"
                ));
                continue;
            };
            if entry.uid.0 != uid || uid >= info.uidnext {
                report.problems.push(format!(
                    "mailbox {mailbox}: UID {uid} not below UIDNEXT {}",
                    info.uidnext
                ));
            }
            if entry.modseq > info.highest_modseq {
                report.problems.push(format!(
                    "mailbox {mailbox}: UID {uid} has MODSEQ {} above HIGHESTMODSEQ {}",
                    entry.modseq, info.highest_modseq
                ));
            }
            let c = counted.entry(mailbox).or_default();
            c.0 += 1;
            c.1 += u64::from(!entry.flags.contains(crate::Flags::SEEN));
            c.2 += entry.size;
        }
        for (id, info) in &mailboxes {
            let (messages, unseen, size) = counted.get(id).copied().unwrap_or_default();
            if (info.messages, info.unseen, info.size) != (messages, unseen, size) {
                report.problems.push(format!(
                    "mailbox {id}: counters say {}/{}/{} (messages/unseen/size), contents {messages}/{unseen}/{size}",
                    info.messages, info.unseen, info.size
                ));
            }
        }
        for item in tree.scan_prefix([keys::QUEUE]) {
            let (_, v) = item?;
            let entry: QueueEntry = codec::decode(&v, "queue entry")?;
            *refs.entry(entry.body).or_default() += 1;
        }
        let mut bodies: BTreeMap<BodyId, BodyRecord> = BTreeMap::new();
        for item in tree.scan_prefix([keys::BODY]) {
            let (k, v) = item?;
            let mut hash = [0u8; 32];
            hash.copy_from_slice(&k[1..33]);
            let record: BodyRecord = codec::decode(&v, "body record")?;
            let id = BodyId(hash);
            let expected = refs.get(&id).copied().unwrap_or(0);
            if record.refs != expected {
                report.problems.push(format!(
                    "body {id}: refcount {} but {expected} references",
                    record.refs
                ));
            }
            report.body_bytes += record.size;
            bodies.insert(id, record);
        }
        report.bodies = bodies.len() as u64;
        for id in refs.keys() {
            if !bodies.contains_key(id) {
                report
                    .problems
                    .push(format!("body {id} is referred to but missing"));
            }
        }
        let listing = self
            .inner
            .files
            .list()
            .map_err(|e| Error::Io(format!("cannot list the body files: {e}")))?;
        let mut on_disk: HashMap<BodyId, u64> = HashMap::with_capacity(listing.bodies.len());
        for (id, len) in listing.bodies {
            if bodies.contains_key(&id) {
                on_disk.insert(id, len);
            } else if !self.inner.files.is_busy(id) {
                report.orphan_body_files += 1;
            }
        }
        report.orphan_body_files += listing.stale_temps;
        for path in listing.strangers {
            report.problems.push(format!(
                "unexpected file {} among the body files",
                path.display()
            ));
        }
        for (id, record) in &bodies {
            match on_disk.get(id) {
                None => report
                    .problems
                    .push(format!("body {id}: its file is missing")),
                Some(&len) if len != record.size => report.problems.push(format!(
                    "body {id}: file of {len} bytes for a body of {} bytes",
                    record.size
                )),
                Some(_) => {}
            }
        }
        Ok(report)
    }
}
