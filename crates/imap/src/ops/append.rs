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
use crate::proto::extended::AppendMessage;

/// Now, in seconds since the epoch (INTERNALDATE of an APPEND without one).
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Engine {
    /// MULTIAPPEND (RFC 3502): all messages or none. Each append is
    /// durable; if one fails, those already made are expunged again.
    pub(super) fn multiappend(
        &mut self,
        mailbox: &Mailbox<'_>,
        flags: Vec<Flag<'_>>,
        date: Option<DateTime>,
        first: LiteralOrLiteral8<'_>,
        more: Vec<AppendMessage>,
    ) -> Done {
        let name = mailbox_name(mailbox, self.rev2)?;
        let info = self
            .store
            .mailbox_by_name(self.user, &name)?
            .ok_or(ImapError::TryCreate(name))?;
        let first = match &first {
            LiteralOrLiteral8::Literal(l) => l.data().to_vec(),
            LiteralOrLiteral8::Literal8(l) => l.data.to_vec(),
        };
        let mut all = vec![(
            store_flags_of(&flags),
            date.map(|d| d.as_ref().timestamp()),
            first,
        )];
        for m in more {
            all.push((
                store_flags_of(&m.flags),
                m.date.map(|d| d.as_ref().timestamp()),
                m.data,
            ));
        }
        // All or none: a refused message fails the command before any is
        // appended.
        for (_, _, raw) in &all {
            policy::check_message_structure(raw).map_err(ImapError::HeaderBound)?;
        }
        let mut done = Vec::new();
        for ((system, keywords), date, raw) in all {
            let cached = Summary::of(&raw).to_cache();
            let result = self.store.append(
                info.id,
                &NewMessage {
                    raw: &raw,
                    cached: Some(&cached),
                    internal_date: date.unwrap_or_else(now),
                    flags: system,
                    keywords,
                },
            );
            match result {
                Ok(appended) => done.push(appended.uid),
                Err(error) => {
                    let undo = self
                        .store
                        .store_flags(
                            info.id,
                            &done,
                            store::FlagOp::Add,
                            store::Flags::DELETED,
                            &Default::default(),
                        )
                        .and_then(|_| self.store.expunge(info.id, Some(&done)));
                    if let Err(undo) = undo {
                        tracing::warn!(%undo, "could not take back a partial MULTIAPPEND");
                    }
                    return Err(error.into());
                }
            }
        }
        if let Some(selected) = self.selected.as_mut()
            && selected.info.id == info.id
        {
            selected.note_new();
        }
        let uids: Vec<u32> = done.iter().map(|u| u.0).collect();
        Ok(format!(
            "[APPENDUID {} {}] APPEND completed",
            info.uidvalidity,
            crate::proto::encode::sequence_set(&uids)
        ))
    }

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
        let internal_date = date.map_or_else(now, |d| d.as_ref().timestamp());
        let (flags, keywords) = store_flags_of(flags);
        policy::check_message_structure(raw).map_err(ImapError::HeaderBound)?;
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
