//! EXPUNGE and UID EXPUNGE (UIDPLUS).

use imap_codec::imap_types::sequence::SequenceSet;
use store::Uid;

use super::{Done, Engine};
use crate::error::ImapError;

impl Engine {
    pub(super) fn expunge(&mut self, uids: Option<&SequenceSet>, _out: &mut Vec<u8>) -> Done {
        let selected = self.selected()?;
        if selected.read_only {
            return Err(ImapError::ReadOnly);
        }
        let targets: Option<Vec<Uid>> = match uids {
            Some(set) => Some(
                selected
                    .resolve(set, true)?
                    .into_iter()
                    .map(|(_, u)| u)
                    .collect(),
            ),
            None => None,
        };
        let mailbox = selected.info.id;
        let gone = self.store.expunge(mailbox, targets.as_deref())?;
        // The EXPUNGE responses follow from the view's update, with any
        // expunges made elsewhere, in one consistent renumbering.
        self.selected()?.note_expunged(&gone);
        Ok("EXPUNGE completed".into())
    }
}
