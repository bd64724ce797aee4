//! SELECT, EXAMINE, CLOSE and UNSELECT.

use std::fmt::Write as _;

use imap_codec::imap_types::command::SelectParameter;
use imap_codec::imap_types::mailbox::Mailbox;
use store::Flags;

use super::{Done, Engine, mailbox_name};
use crate::error::ImapError;
use crate::proto::encode::Bytes;
use crate::selected::Selected;

impl Engine {
    pub(super) fn select(
        &mut self,
        mailbox: &Mailbox<'_>,
        read_only: bool,
        parameters: &[SelectParameter],
        out: &mut Vec<u8>,
    ) -> Done {
        if self.selected.take().is_some() {
            out.extend_from_slice(b"* OK [CLOSED] Previous mailbox closed\r\n");
        }
        for parameter in parameters {
            match parameter {
                SelectParameter::CondStore => self.condstore = true,
                SelectParameter::QResync { .. } => return Err(ImapError::Unsupported("QRESYNC")),
            }
        }
        let name = mailbox_name(mailbox)?;
        let info = self
            .store
            .mailbox_by_name(self.user, &name)?
            .ok_or_else(|| ImapError::NoSuchMailbox(name.clone()))?;
        let (selected, entries) = Selected::open(&self.store, info.clone(), read_only)?;
        let first_unseen = entries
            .iter()
            .position(|e| !e.flags.contains(Flags::SEEN))
            .map(|i| i + 1);
        let mut keywords: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        for e in &entries {
            keywords.extend(e.keywords.iter().map(String::as_str));
        }
        let keywords: Vec<&str> = keywords.into_iter().collect();
        let extra = if keywords.is_empty() {
            String::new()
        } else {
            format!(" {}", keywords.join(" "))
        };
        let _ = write!(
            Bytes(out),
            "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft{extra})\r\n"
        );
        if read_only {
            out.extend_from_slice(b"* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
        } else {
            let _ = write!(
                Bytes(out),
                "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft{extra} \\*)] Flags permitted\r\n"
            );
        }
        let _ = write!(Bytes(out), "* {} EXISTS\r\n* 0 RECENT\r\n", entries.len());
        if let Some(seq) = first_unseen {
            let _ = write!(Bytes(out), "* OK [UNSEEN {seq}] First unseen message\r\n");
        }
        let _ = write!(
            Bytes(out),
            "* OK [UIDVALIDITY {}] UIDs valid\r\n* OK [UIDNEXT {}] Predicted next UID\r\n",
            info.uidvalidity,
            info.uidnext
        );
        let _ = write!(
            Bytes(out),
            "* OK [HIGHESTMODSEQ {}] Highest\r\n",
            info.highest_modseq
        );
        self.selected = Some(selected);
        Ok(if read_only {
            "[READ-ONLY] EXAMINE completed".into()
        } else {
            "[READ-WRITE] SELECT completed".into()
        })
    }

    /// CLOSE (`expunge`) or UNSELECT.
    pub(super) fn close(&mut self, expunge: bool) -> Done {
        let selected = self.selected.take().ok_or(ImapError::NoMailboxSelected)?;
        if expunge && !selected.read_only {
            self.store.expunge(selected.info.id, None)?;
        }
        Ok(if expunge {
            "CLOSE completed".into()
        } else {
            "UNSELECT completed".into()
        })
    }
}
