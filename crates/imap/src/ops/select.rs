//! SELECT, EXAMINE, CLOSE and UNSELECT.

use std::fmt::Write as _;

use imap_codec::imap_types::command::SelectParameter;
use imap_codec::imap_types::mailbox::Mailbox;
use store::Flags;

use super::{Done, Engine, mailbox_name};
use crate::error::ImapError;
use crate::proto::encode::{Bytes, astring, flag_list};
use crate::selected::Selected;
use imap_codec::imap_types::sequence::SequenceSet;

impl Engine {
    pub(super) fn select(
        &mut self,
        mailbox: &Mailbox<'_>,
        read_only: bool,
        parameters: &[SelectParameter],
        out: &mut Vec<u8>,
    ) -> Done {
        self.forget_saved_result();
        if self.selected.take().is_some() {
            out.extend_from_slice(b"* OK [CLOSED] Previous mailbox closed\r\n");
        }
        let mut qresync = None;
        for parameter in parameters {
            match parameter {
                SelectParameter::CondStore => self.condstore = true,
                SelectParameter::QResync {
                    uid_validity,
                    mod_sequence_value,
                    known_uids,
                    ..
                } => {
                    if !self.qresync {
                        return Err(ImapError::QresyncNotEnabled);
                    }
                    qresync = Some((
                        uid_validity.get(),
                        mod_sequence_value.get(),
                        known_uids.clone(),
                    ));
                }
            }
        }
        let name = mailbox_name(mailbox, self.rev2)?;
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
        let _ = write!(Bytes(out), "* {} EXISTS\r\n", entries.len());
        if self.rev2 {
            // RFC 9051 §6.3.2: a LIST response with the mailbox's name; no
            // RECENT, no UNSEEN.
            out.extend_from_slice(b"* LIST () \"/\" ");
            astring(out, &info.name);
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(b"* 0 RECENT\r\n");
            if let Some(seq) = first_unseen {
                let _ = write!(Bytes(out), "* OK [UNSEEN {seq}] First unseen message\r\n");
            }
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
        // RFC 7162 §3.2.5: what changed since the client's MODSEQ.
        if let Some((uidvalidity, modseq, known)) = qresync
            && uidvalidity == info.uidvalidity
        {
            let present: Vec<store::Uid> = entries.iter().map(|e| e.uid).collect();
            let last = info.uidnext.saturating_sub(1);
            let known = known
                .unwrap_or_else(|| SequenceSet::try_from("1:*").expect("a valid sequence set"));
            if let Some(gone) = Selected::missing(&known, last, info.uidnext, &present) {
                let _ = write!(Bytes(out), "* VANISHED (EARLIER) {gone}\r\n");
            }
            for (i, e) in entries.iter().enumerate() {
                if e.modseq > modseq {
                    let _ = write!(
                        Bytes(out),
                        "* {} FETCH (UID {} FLAGS {} MODSEQ ({}))\r\n",
                        i + 1,
                        e.uid.0,
                        flag_list(e, false),
                        e.modseq
                    );
                }
            }
        }
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
        self.forget_saved_result();
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
