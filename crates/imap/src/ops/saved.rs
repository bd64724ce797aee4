//! SEARCHRES (RFC 5182): `$` in a command stands for the messages the last
//! `SEARCH RETURN (SAVE …)` found. The session marks each `$`; here the mark
//! is replaced by those messages that still exist, as UIDs or sequence
//! numbers as the command needs.

use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::core::Vec1;
use imap_codec::imap_types::search::SearchKey;
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};

use super::{Done, Engine};
use crate::proto::encode::sequence_set;
use crate::proto::extended::SAVED_RESULT_MARK;

fn is_mark(set: &SequenceSet) -> bool {
    matches!(set.0.as_ref(), [Sequence::Single(SeqOrUid::Value(n))] if n.get() == SAVED_RESULT_MARK)
}

impl Engine {
    /// Remembers a search result for `$`.
    pub(super) fn save_result(&mut self, uids: Vec<store::Uid>) {
        self.saved = uids;
    }

    /// Forgets the saved result (SELECT, EXAMINE, CLOSE, UNSELECT).
    pub(super) fn forget_saved_result(&mut self) {
        self.saved.clear();
    }

    /// The saved messages still in the selected mailbox, as a sequence set
    /// of UIDs or sequence numbers; `None` when there are none.
    fn saved_set(&self, uid: bool) -> Option<SequenceSet> {
        let selected = self.selected.as_ref()?;
        let mut numbers: Vec<u32> = self
            .saved
            .iter()
            .filter_map(|u| selected.seq_of(*u).map(|seq| if uid { u.0 } else { seq }))
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        if numbers.is_empty() {
            return None;
        }
        SequenceSet::try_from(sequence_set(&numbers).as_str()).ok()
    }

    /// The command with `$` replaced; `Err` with the completion when `$`
    /// is empty and there is nothing to do.
    pub(super) fn with_saved_result(
        &self,
        body: CommandBody<'static>,
    ) -> Result<CommandBody<'static>, Done> {
        let swap = |set: &mut SequenceSet, uid: bool, name: &str| -> Result<(), Done> {
            if is_mark(set) {
                match self.saved_set(uid) {
                    Some(saved) => *set = saved,
                    None => return Err(Ok(format!("{name} completed"))),
                }
            }
            Ok(())
        };
        let mut body = body;
        match &mut body {
            CommandBody::Fetch {
                sequence_set, uid, ..
            } => swap(sequence_set, *uid, "FETCH")?,
            CommandBody::Store {
                sequence_set, uid, ..
            } => swap(sequence_set, *uid, "STORE")?,
            CommandBody::Copy {
                sequence_set, uid, ..
            } => swap(sequence_set, *uid, "COPY")?,
            CommandBody::Move {
                sequence_set, uid, ..
            } => swap(sequence_set, *uid, "MOVE")?,
            CommandBody::ExpungeUid { sequence_set } => swap(sequence_set, true, "EXPUNGE")?,
            CommandBody::Search { criteria, .. } => {
                let keys: Vec<SearchKey<'static>> = criteria
                    .as_ref()
                    .iter()
                    .map(|k| self.swap_key(k.clone()))
                    .collect();
                *criteria =
                    Vec1::try_from(keys).map_err(|_| Err(crate::error::ImapError::Malformed))?;
            }
            _ => {}
        }
        Ok(body)
    }

    fn swap_key(&self, key: SearchKey<'static>) -> SearchKey<'static> {
        let nothing = || SearchKey::Not(Box::new(SearchKey::All));
        match key {
            SearchKey::SequenceSet(set) if is_mark(&set) => self
                .saved_set(false)
                .map_or_else(nothing, SearchKey::SequenceSet),
            SearchKey::Uid(set) if is_mark(&set) => {
                self.saved_set(true).map_or_else(nothing, SearchKey::Uid)
            }
            SearchKey::Not(inner) => SearchKey::Not(Box::new(self.swap_key(*inner))),
            SearchKey::Or(a, b) => {
                SearchKey::Or(Box::new(self.swap_key(*a)), Box::new(self.swap_key(*b)))
            }
            SearchKey::And(keys) => {
                let keys: Vec<SearchKey<'static>> = keys
                    .into_inner()
                    .into_iter()
                    .map(|k| self.swap_key(k))
                    .collect();
                Vec1::try_from(keys).map_or_else(|_| SearchKey::All, SearchKey::And)
            }
            other => other,
        }
    }
}
