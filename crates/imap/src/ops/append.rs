//! APPEND (with UIDPLUS's APPENDUID).

use std::time::{SystemTime, UNIX_EPOCH};

use imap_codec::imap_types::datetime::DateTime;
use imap_codec::imap_types::extensions::binary::LiteralOrLiteral8;
use imap_codec::imap_types::flag::Flag;
use imap_codec::imap_types::mailbox::Mailbox;
use store::NewMessage;

use super::flags::store_flags_of;
use super::{Done, Engine, mailbox_name};
use crate::error::ImapError;
use crate::mime::Summary;

impl Engine {
    pub(super) fn append(
        &mut self,
        mailbox: &Mailbox<'_>,
        flags: &[Flag<'_>],
        date: Option<&DateTime>,
        message: LiteralOrLiteral8<'_>,
        _out: &mut Vec<u8>,
    ) -> Done {
        let name = mailbox_name(mailbox, self.rev2)?;
        let info = self
            .store
            .mailbox_by_name(self.user, &name)?
            .ok_or(ImapError::TryCreate(name))?;
        let raw: &[u8] = match &message {
            LiteralOrLiteral8::Literal(l) => l.data(),
            LiteralOrLiteral8::Literal8(l) => l.data.as_ref(),
        };
        let internal_date = match date {
            Some(d) => d.as_ref().timestamp(),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        };
        let (flags, keywords) = store_flags_of(flags);
        let cached = Summary::of(raw).to_cache();
        let appended = self.store.append(
            info.id,
            &NewMessage {
                raw,
                cached: Some(&cached),
                internal_date,
                flags,
                keywords,
            },
        )?;
        if let Some(selected) = self.selected.as_mut()
            && selected.info.id == info.id
        {
            selected.note_new();
        }
        Ok(format!(
            "[APPENDUID {} {}] APPEND completed",
            appended.uidvalidity, appended.uid.0
        ))
    }
}
