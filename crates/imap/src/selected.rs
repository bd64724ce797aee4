//! The selected mailbox as this session sees it: the message sequence
//! numbers it has announced, and the changes other sessions made that it has
//! not announced yet.
//!
//! Changes arrive from the store's broadcast channel. They are collected
//! here and announced only when RFC 9051 §7.5.1 allows: EXISTS and flag
//! FETCHes after any command, EXPUNGE only after commands other than
//! FETCH, STORE and SEARCH (their UID forms allow it), so that sequence
//! numbers never shift under a client mid-command. A message expunged
//! elsewhere keeps its sequence number here until then.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;

use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use store::{MailboxChange, MailboxInfo, MessageEntry, Store, Uid};
use tokio::sync::broadcast::{self, error::TryRecvError};

use crate::error::ImapError;
use crate::proto::encode::{Bytes, flag_list, sequence_set};

/// One selected mailbox.
#[derive(Debug)]
pub(crate) struct Selected {
    /// The mailbox as it was when selected (id, name, UIDVALIDITY).
    pub(crate) info: MailboxInfo,
    /// Opened with EXAMINE.
    pub(crate) read_only: bool,
    /// The announced messages: sequence number `n` is `uids[n - 1]`.
    uids: Vec<Uid>,
    changes: broadcast::Receiver<MailboxChange>,
    /// Expunged in the store, not yet announced.
    expunged: BTreeSet<Uid>,
    /// Flags changed by others, not yet announced.
    flags_changed: BTreeSet<Uid>,
    /// New messages may exist past the last announced UID.
    maybe_new: bool,
    /// The channel lagged: compare with the store at the next update.
    resync: bool,
    /// MODSEQs of this session's own STOREs, already answered.
    own_modseqs: HashSet<u64>,
    /// The mailbox was deleted by another session.
    pub(crate) deleted: bool,
}

impl Selected {
    /// Opens the view: subscribes first, then reads the messages, so that
    /// no change falls between the two.
    pub(crate) fn open(
        store: &Store,
        info: MailboxInfo,
        read_only: bool,
    ) -> Result<(Self, Vec<MessageEntry>), ImapError> {
        let changes = store.subscribe_changes(info.id);
        let entries = store.messages(info.id)?;
        let uids = entries.iter().map(|e| e.uid).collect();
        Ok((
            Self {
                info,
                read_only,
                uids,
                changes,
                expunged: BTreeSet::new(),
                flags_changed: BTreeSet::new(),
                maybe_new: false,
                resync: false,
                own_modseqs: HashSet::new(),
                deleted: false,
            },
            entries,
        ))
    }

    /// The announced UIDs in sequence order.
    pub(crate) fn uids(&self) -> &[Uid] {
        &self.uids
    }

    /// The sequence number of an announced UID.
    pub(crate) fn seq_of(&self, uid: Uid) -> Option<u32> {
        self.uids.binary_search(&uid).ok().map(|i| i as u32 + 1)
    }

    /// Remembers a MODSEQ this session produced (its STORE already told
    /// the client).
    pub(crate) fn own_modseq(&mut self, modseq: u64) {
        self.own_modseqs.insert(modseq);
    }

    /// Notes that this session added messages (APPEND, COPY, MOVE here).
    pub(crate) fn note_new(&mut self) {
        self.maybe_new = true;
    }

    /// Notes messages this session expunged itself.
    pub(crate) fn note_expunged(&mut self, uids: &[Uid]) {
        self.expunged.extend(uids.iter().copied());
    }

    /// Takes one change the driver received while idling.
    pub(crate) fn note(&mut self, change: MailboxChange) {
        match change {
            MailboxChange::Added { .. } => self.maybe_new = true,
            MailboxChange::FlagsChanged { uid, modseq } if !self.own_modseqs.contains(&modseq) => {
                self.flags_changed.insert(uid);
            }
            MailboxChange::Expunged { uid, .. } if self.uids.binary_search(&uid).is_ok() => {
                self.expunged.insert(uid);
            }
            MailboxChange::Renamed { name } => self.info.name = name,
            MailboxChange::Deleted => self.deleted = true,
            _ => {}
        }
    }

    fn drain(&mut self) {
        loop {
            match self.changes.try_recv() {
                Ok(change) => self.note(change),
                Err(TryRecvError::Lagged(_)) => self.resync = true,
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
    }

    /// Writes the untagged updates allowed now: flag changes and new
    /// messages always, expunges when `allow_expunge`. `condstore` adds
    /// MODSEQ to flag FETCHes; `vanished` reports expunges as VANISHED
    /// (QRESYNC).
    pub(crate) fn updates(
        &mut self,
        store: &Store,
        allow_expunge: bool,
        condstore: bool,
        vanished: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), ImapError> {
        self.drain();
        if self.deleted {
            return Ok(());
        }
        if std::mem::take(&mut self.resync) {
            let present: BTreeSet<Uid> = store
                .messages(self.info.id)?
                .into_iter()
                .map(|e| e.uid)
                .collect();
            for &uid in &self.uids {
                if present.contains(&uid) {
                    self.flags_changed.insert(uid);
                } else {
                    self.expunged.insert(uid);
                }
            }
            self.maybe_new = true;
        }
        if allow_expunge && !self.expunged.is_empty() {
            let gone = std::mem::take(&mut self.expunged);
            if vanished {
                let list: Vec<u32> = gone
                    .iter()
                    .filter(|u| self.seq_of(**u).is_some())
                    .map(|u| u.0)
                    .collect();
                if !list.is_empty() {
                    let _ = write!(Bytes(out), "* VANISHED {}\r\n", sequence_set(&list));
                }
                self.uids.retain(|u| !gone.contains(u));
            } else {
                for uid in &gone {
                    if let Some(seq) = self.seq_of(*uid) {
                        self.uids.remove(seq as usize - 1);
                        let _ = write!(Bytes(out), "* {seq} EXPUNGE\r\n");
                    }
                }
            }
            self.flags_changed.retain(|u| !gone.contains(u));
        }
        let changed = std::mem::take(&mut self.flags_changed);
        for uid in changed {
            if self.expunged.contains(&uid) {
                continue;
            }
            let (Some(seq), Some(entry)) = (self.seq_of(uid), store.message(self.info.id, uid)?)
            else {
                continue;
            };
            let _ = write!(
                Bytes(out),
                "* {seq} FETCH (UID {} FLAGS {}",
                uid.0,
                flag_list(&entry, false)
            );
            if condstore {
                let _ = write!(Bytes(out), " MODSEQ ({})", entry.modseq);
            }
            out.extend_from_slice(b")\r\n");
        }
        if std::mem::take(&mut self.maybe_new) {
            let after = self.uids.last().map_or(0, |u| u.0);
            let new = store.messages_from(self.info.id, Uid(after.saturating_add(1)))?;
            if !new.is_empty() {
                self.uids.extend(new.iter().map(|e| e.uid));
                let _ = write!(Bytes(out), "* {} EXISTS\r\n", self.uids.len());
            }
        }
        Ok(())
    }

    /// The UIDs in `set` (`*` meaning `last`), below `limit`, that are not
    /// in `present` (sorted), as a sequence set; `None` if there are none.
    /// Never enumerates the set: a client may send `1:4294967295`.
    pub(crate) fn missing(
        set: &SequenceSet,
        last: u32,
        limit: u32,
        present: &[Uid],
    ) -> Option<String> {
        let value = |v: &SeqOrUid| match v {
            SeqOrUid::Value(n) => n.get(),
            SeqOrUid::Asterisk => last,
        };
        let mut ranges: Vec<(u32, u32)> = set
            .0
            .as_ref()
            .iter()
            .map(|s| match s {
                Sequence::Single(v) => (value(v), value(v)),
                Sequence::Range(a, b) => (value(a).min(value(b)), value(a).max(value(b))),
            })
            .filter(|&(a, _)| a < limit)
            .map(|(a, b)| (a.max(1), b.min(limit - 1)))
            .filter(|(a, b)| a <= b)
            .collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::new();
        for (a, b) in ranges {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        let mut out = Vec::new();
        for (a, b) in merged {
            let mut next = a;
            let start = present.partition_point(|u| u.0 < a);
            for u in present[start..].iter().take_while(|u| u.0 <= b) {
                if u.0 > next {
                    out.push((next, u.0 - 1));
                }
                next = u.0 + 1;
            }
            if next <= b {
                out.push((next, b));
            }
        }
        if out.is_empty() {
            return None;
        }
        Some(
            out.iter()
                .map(|&(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("{a}:{b}")
                    }
                })
                .collect::<Vec<_>>()
                .join(","),
        )
    }

    /// The (sequence number, UID) pairs a sequence set names, in order.
    /// With `uid`, numbers are UIDs and unknown ones are ignored; without,
    /// a number past the last message is an error.
    pub(crate) fn resolve(
        &self,
        set: &SequenceSet,
        uid: bool,
    ) -> Result<Vec<(u32, Uid)>, ImapError> {
        let mut chosen = BTreeSet::new();
        let last_seq = self.uids.len() as u32;
        let last_uid = self.uids.last().map_or(0, |u| u.0);
        let value = |v: &SeqOrUid| match v {
            SeqOrUid::Value(n) => n.get(),
            SeqOrUid::Asterisk => {
                if uid {
                    last_uid
                } else {
                    last_seq
                }
            }
        };
        for seq in set.0.as_ref() {
            let (a, b) = match seq {
                Sequence::Single(v) => (value(v), value(v)),
                Sequence::Range(a, b) => {
                    let (a, b) = (value(a), value(b));
                    (a.min(b), a.max(b))
                }
            };
            if uid {
                let start = self.uids.partition_point(|u| u.0 < a);
                let end = self.uids.partition_point(|u| u.0 <= b);
                chosen.extend(start..end);
            } else {
                if a == 0 || b > last_seq {
                    return Err(ImapError::InvalidSequence);
                }
                chosen.extend((a - 1) as usize..b as usize);
            }
        }
        Ok(chosen
            .into_iter()
            .map(|i| (i as u32 + 1, self.uids[i]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_uids_are_ranges_without_enumerating() {
        let set = SequenceSet::try_from("1:*").unwrap();
        let present = [Uid(2), Uid(3), Uid(7)];
        assert_eq!(
            Selected::missing(&set, 9, 10, &present).unwrap(),
            "1,4:6,8:9"
        );
        let set = SequenceSet::try_from("1:4294967295").unwrap();
        assert_eq!(
            Selected::missing(&set, 9, 10, &present).unwrap(),
            "1,4:6,8:9"
        );
        let set = SequenceSet::try_from("2:3,7").unwrap();
        assert!(Selected::missing(&set, 9, 10, &present).is_none());
        assert!(Selected::missing(&set, 0, 1, &[]).is_none());
    }
}
