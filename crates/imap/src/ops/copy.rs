//! COPY, MOVE and their UID forms, with UIDPLUS's COPYUID.

use std::fmt::Write as _;

use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::sequence::SequenceSet;
use store::Uid;

use super::{Done, Engine, mailbox_name};
use crate::error::ImapError;
use crate::proto::encode::{Bytes, sequence_set};

impl Engine {
    pub(super) fn copy(
        &mut self,
        set: &SequenceSet,
        mailbox: &Mailbox<'_>,
        uid: bool,
        moving: bool,
        out: &mut Vec<u8>,
    ) -> Done {
        let store = self.store.clone();
        let user = self.user;
        let rev2 = self.rev2;
        let selected = self.selected()?;
        if moving && selected.read_only {
            return Err(ImapError::ReadOnly);
        }
        let uids: Vec<Uid> = selected
            .resolve(set, uid)?
            .into_iter()
            .map(|(_, u)| u)
            .collect();
        let name = mailbox_name(mailbox, rev2)?;
        let target = store
            .mailbox_by_name(user, &name)?
            .ok_or(ImapError::TryCreate(name))?;
        let source = selected.info.id;
        let copied = if moving {
            store.move_messages(source, &uids, target.id)?
        } else {
            store.copy_messages(source, &uids, target.id)?
        };
        if target.id == source {
            selected.note_new();
        }
        let code = if copied.uids.is_empty() {
            String::new()
        } else {
            let from: Vec<u32> = copied.uids.iter().map(|(a, _)| a.0).collect();
            let to: Vec<u32> = copied.uids.iter().map(|(_, b)| b.0).collect();
            format!(
                "[COPYUID {} {} {}] ",
                copied.uidvalidity,
                sequence_set(&from),
                sequence_set(&to)
            )
        };
        if moving {
            // RFC 6851: COPYUID goes in an untagged OK before the expunges.
            if !code.is_empty() {
                let _ = write!(Bytes(out), "* OK {code}Moved\r\n");
            }
            let moved: Vec<Uid> = copied.uids.iter().map(|(a, _)| *a).collect();
            selected.note_expunged(&moved);
            return Ok("MOVE completed".into());
        }
        Ok(format!("{code}COPY completed"))
    }
}
