//! A full consistency check: counters against messages, reference counts
//! against references, chunks against body records.
//!
//! It reads everything, so it is for operators (`ward check`) and tests —
//! opening the store never runs it. It holds the write lock while it reads,
//! so it sees one consistent state.

use std::collections::{BTreeMap, BTreeSet};

use crate::body::{BodyRecord, CHUNK_SIZE};
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
    /// name index, body reference counts, orphan bodies and chunks.
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
        let mut chunk_bytes: BTreeMap<BodyId, (u32, u64)> = BTreeMap::new();
        for item in tree.scan_prefix([keys::CHUNK]) {
            let (k, v) = item?;
            let mut hash = [0u8; 32];
            hash.copy_from_slice(&k[1..33]);
            let id = BodyId(hash);
            let c = chunk_bytes.entry(id).or_default();
            c.0 += 1;
            c.1 += v.len() as u64;
            if !bodies.contains_key(&id) {
                report.problems.push(format!("orphan chunk of body {id}"));
            }
        }
        for (id, record) in &bodies {
            let (chunks, bytes) = chunk_bytes.get(id).copied().unwrap_or_default();
            let expected_chunks = record.size.div_ceil(CHUNK_SIZE as u64);
            if u64::from(chunks) != expected_chunks
                || chunks != record.chunks
                || bytes != record.size
            {
                report.problems.push(format!(
                    "body {id}: {chunks} chunks of {bytes} bytes for a body of {} bytes in {} chunks",
                    record.size, record.chunks
                ));
            }
        }
        Ok(report)
    }
}
