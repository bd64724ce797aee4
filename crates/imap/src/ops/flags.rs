//! STORE and UID STORE, with CONDSTORE's UNCHANGEDSINCE.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use imap_codec::imap_types::command::StoreModifier;
use imap_codec::imap_types::flag::{Flag, StoreResponse, StoreType};
use imap_codec::imap_types::sequence::SequenceSet;
use store::{FlagOp, Flags, MessageEntry, Uid};

use super::{Done, Engine};
use crate::error::ImapError;
use crate::proto::encode::{Bytes, flag_list, sequence_set};

/// System flags and keywords of a flag list (`\Recent` and unknown
/// system flags are ignored: they cannot be stored).
pub(crate) fn store_flags_of(flags: &[Flag<'_>]) -> (Flags, BTreeSet<String>) {
    let mut system = Flags::empty();
    let mut keywords = BTreeSet::new();
    for flag in flags {
        match flag {
            Flag::Seen => system |= Flags::SEEN,
            Flag::Answered => system |= Flags::ANSWERED,
            Flag::Flagged => system |= Flags::FLAGGED,
            Flag::Deleted => system |= Flags::DELETED,
            Flag::Draft => system |= Flags::DRAFT,
            Flag::Keyword(atom) => {
                keywords.insert(atom.inner().to_owned());
            }
            Flag::Extension(_) => {}
        }
    }
    (system, keywords)
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn store_flags(
        &mut self,
        set: &SequenceSet,
        kind: &StoreType,
        response: &StoreResponse,
        flags: &[Flag<'_>],
        uid: bool,
        modifiers: &[StoreModifier],
        out: &mut Vec<u8>,
    ) -> Done {
        let condstore_used = !modifiers.is_empty();
        if condstore_used {
            self.condstore = true;
        }
        let condstore = self.condstore;
        let store = self.store.clone();
        let selected = self.selected()?;
        if selected.read_only {
            return Err(ImapError::ReadOnly);
        }
        let targets = selected.resolve(set, uid)?;
        let mailbox = selected.info.id;
        let (system, keywords) = store_flags_of(flags);
        let op = match kind {
            StoreType::Replace => FlagOp::Set,
            StoreType::Add => FlagOp::Add,
            StoreType::Remove => FlagOp::Remove,
        };
        let unchanged_since = modifiers
            .iter()
            .map(|StoreModifier::UnchangedSince(m)| *m)
            .min();
        let mut current: BTreeMap<Uid, MessageEntry> = BTreeMap::new();
        for &(_, u) in &targets {
            if let Some(entry) = store.message(mailbox, u)? {
                current.insert(u, entry);
            }
        }
        let mut modified = Vec::new();
        let mut allowed = Vec::new();
        for (&u, entry) in &current {
            match unchanged_since {
                Some(limit) if entry.modseq > limit => modified.push(u),
                _ => allowed.push(u),
            }
        }
        let changed = store.store_flags(mailbox, &allowed, op, system, &keywords)?;
        for entry in changed {
            selected.own_modseq(entry.modseq);
            current.insert(entry.uid, entry);
        }
        let silent = *response == StoreResponse::Silent;
        for &(seq, u) in &targets {
            let Some(entry) = current.get(&u) else {
                continue;
            };
            if silent || modified.contains(&u) {
                continue;
            }
            let _ = write!(Bytes(out), "* {seq} FETCH (");
            if uid {
                let _ = write!(Bytes(out), "UID {} ", u.0);
            }
            let _ = write!(Bytes(out), "FLAGS {}", flag_list(entry, false));
            if condstore {
                let _ = write!(Bytes(out), " MODSEQ ({})", entry.modseq);
            }
            out.extend_from_slice(b")\r\n");
        }
        if !modified.is_empty() {
            let numbers: Vec<u32> = if uid {
                modified.iter().map(|u| u.0).collect()
            } else {
                modified
                    .iter()
                    .filter_map(|u| self.selected.as_ref().and_then(|s| s.seq_of(*u)))
                    .collect()
            };
            return Ok(format!(
                "[MODIFIED {}] Conditional STORE failed for some messages",
                sequence_set(&numbers)
            ));
        }
        Ok("STORE completed".into())
    }
}
