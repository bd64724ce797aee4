//! FETCH and UID FETCH: FLAGS, UID, INTERNALDATE, RFC822.SIZE, ENVELOPE,
//! BODY, BODYSTRUCTURE, `BODY[section]<partial>` and BODY.PEEK, RFC822*,
//! BINARY and BINARY.SIZE, MODSEQ, and CONDSTORE's CHANGEDSINCE.
//!
//! A body is read from disk at most once per message and command; ENVELOPE
//! and BODYSTRUCTURE come from the per-body cache, computed on first use.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::num::NonZeroU32;

use imap_codec::imap_types::IntoStatic;
use imap_codec::imap_types::command::FetchModifier;
use imap_codec::imap_types::fetch::{
    MacroOrMessageDataItemNames, MessageDataItemName, Part, Section,
};
use imap_codec::imap_types::sequence::SequenceSet;
use store::{BodyId, FlagOp, Flags, MessageEntry};

use super::{Done, Engine};
use crate::error::ImapError;
use crate::mime::{self, SectionText, Summary};
use crate::proto::encode::{Bytes, flag_list, internal_date, literal, string};

fn part_path(part: &Part) -> Vec<u32> {
    part.0.as_ref().iter().map(|n| n.get()).collect()
}

fn path_label(path: &[u32]) -> String {
    path.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// The section as echoed in the response, and what it asks for.
fn section_of(section: Option<&Section<'_>>) -> (String, Vec<u32>, SectionText) {
    let names = |list: &[imap_codec::imap_types::core::AString<'_>]| -> Vec<String> {
        list.iter()
            .map(|a| String::from_utf8_lossy(a.as_ref()).into_owned())
            .collect()
    };
    let prefixed = |path: &[u32], what: &str| {
        if path.is_empty() {
            what.to_owned()
        } else {
            format!("{}.{what}", path_label(path))
        }
    };
    match section {
        None => (String::new(), Vec::new(), SectionText::Body),
        Some(Section::Part(part)) => {
            let path = part_path(part);
            (path_label(&path), path, SectionText::Body)
        }
        Some(Section::Header(part)) => {
            let path = part.as_ref().map(part_path).unwrap_or_default();
            (prefixed(&path, "HEADER"), path, SectionText::Header)
        }
        Some(Section::Text(part)) => {
            let path = part.as_ref().map(part_path).unwrap_or_default();
            (prefixed(&path, "TEXT"), path, SectionText::Text)
        }
        Some(Section::Mime(part)) => {
            let path = part_path(part);
            (prefixed(&path, "MIME"), path, SectionText::Mime)
        }
        Some(Section::HeaderFields(part, list)) | Some(Section::HeaderFieldsNot(part, list)) => {
            let not = matches!(section, Some(Section::HeaderFieldsNot(..)));
            let path = part.as_ref().map(part_path).unwrap_or_default();
            let list = names(list.as_ref());
            let what = format!(
                "HEADER.FIELDS{} ({})",
                if not { ".NOT" } else { "" },
                list.join(" ")
            );
            (
                prefixed(&path, &what),
                path,
                SectionText::Fields { names: list, not },
            )
        }
    }
}

/// Applies `<origin.length>`.
fn partial(bytes: &[u8], partial: Option<(u32, NonZeroU32)>) -> &[u8] {
    match partial {
        None => bytes,
        Some((origin, length)) => {
            let start = (origin as usize).min(bytes.len());
            let end = start.saturating_add(length.get() as usize).min(bytes.len());
            &bytes[start..end]
        }
    }
}

/// The raw message, read once.
struct Raw<'a> {
    engine_store: &'a store::Store,
    body: BodyId,
    bytes: Option<Vec<u8>>,
    /// The header block alone, when only that was read.
    head: Option<Vec<u8>>,
    /// Summaries computed in this command, to cache when it ends.
    computed: &'a mut Vec<(BodyId, Vec<u8>)>,
}

impl Raw<'_> {
    fn get(&mut self) -> Result<&[u8], ImapError> {
        if self.bytes.is_none() {
            self.bytes = Some(self.engine_store.read_body(self.body)?);
        }
        Ok(self.bytes.as_deref().unwrap_or_default())
    }

    /// The top-level header block (with its blank line), reading only the
    /// start of the body when the header ends there: a header FETCH of a
    /// large message does not read the message.
    fn header(&mut self) -> Result<&[u8], ImapError> {
        const PREFIX: usize = 64 * 1024;
        if self.bytes.is_none() && self.head.is_none() {
            let prefix = self.engine_store.read_body_range(self.body, 0, PREFIX)?;
            let end = mime::header_end(&prefix);
            if end < prefix.len() || prefix.len() < PREFIX {
                self.head = Some(prefix[..end].to_vec());
            }
        }
        if self.head.is_none() {
            let bytes = self.get()?;
            let end = mime::header_end(bytes);
            self.head = Some(bytes[..end].to_vec());
        }
        Ok(self.head.as_deref().unwrap_or_default())
    }
}

impl Engine {
    /// ENVELOPE/BODY/BODYSTRUCTURE of a body, from the cache or computed
    /// and queued in `raw.computed` for one cache write per command.
    fn summary(&self, raw: &mut Raw<'_>) -> Result<Summary, ImapError> {
        if let Some(cached) = self.store.body_cache(raw.body)?
            && let Some(summary) = Summary::from_cache(&cached)
        {
            return Ok(summary);
        }
        let summary = Summary::of(raw.get()?);
        raw.computed.push((raw.body, summary.to_cache()));
        Ok(summary)
    }

    pub(super) fn fetch(
        &mut self,
        set: &SequenceSet,
        items: MacroOrMessageDataItemNames<'_>,
        uid: bool,
        modifiers: &[FetchModifier],
        out: &mut Vec<u8>,
    ) -> Done {
        let mut items = match items {
            MacroOrMessageDataItemNames::Macro(m) => {
                m.expand().into_iter().map(|i| i.into_static()).collect()
            }
            MacroOrMessageDataItemNames::MessageDataItemNames(items) => items,
        };
        let mut changed_since = None;
        let mut vanished = false;
        for modifier in modifiers {
            match modifier {
                FetchModifier::ChangedSince(m) => changed_since = Some(m.get()),
                FetchModifier::Vanished => vanished = true,
            }
        }
        if vanished && (!self.qresync || !uid || changed_since.is_none()) {
            // RFC 7162 §3.2.6: only UID FETCH with CHANGEDSINCE, after
            // ENABLE QRESYNC.
            return Err(ImapError::QresyncNotEnabled);
        }
        if changed_since.is_some() && !items.contains(&MessageDataItemName::ModSeq) {
            items.push(MessageDataItemName::ModSeq);
        }
        if items.contains(&MessageDataItemName::ModSeq) {
            self.condstore = true;
        }
        let condstore = self.condstore;
        if condstore
            && items.contains(&MessageDataItemName::Flags)
            && !items.contains(&MessageDataItemName::ModSeq)
        {
            items.push(MessageDataItemName::ModSeq);
        }
        let store = self.store.clone();
        let selected = self.selected.as_ref().ok_or(ImapError::NoMailboxSelected)?;
        let read_only = selected.read_only;
        let mailbox = selected.info.id;
        let targets = selected.resolve(set, uid)?;
        if vanished {
            let info = store.mailbox(mailbox)?.ok_or(ImapError::MailboxGone)?;
            let present: Vec<store::Uid> = store
                .messages(mailbox)?
                .into_iter()
                .map(|e| e.uid)
                .collect();
            let last = info.uidnext.saturating_sub(1);
            if let Some(gone) =
                crate::selected::Selected::missing(set, last, info.uidnext, &present)
            {
                let _ = write!(Bytes(out), "* VANISHED (EARLIER) {gone}\r\n");
            }
        }
        let sets_seen = !read_only
            && items.iter().any(|i| match i {
                MessageDataItemName::BodyExt { peek, .. }
                | MessageDataItemName::Binary { peek, .. } => !peek,
                MessageDataItemName::Rfc822 | MessageDataItemName::Rfc822Text => true,
                _ => false,
            });
        let many = targets.len() > 32;
        let all: std::collections::HashMap<store::Uid, MessageEntry> = if many {
            store
                .messages(mailbox)?
                .into_iter()
                .map(|e| (e.uid, e))
                .collect()
        } else {
            Default::default()
        };
        let mut computed = Vec::new();
        for (seq, u) in targets {
            let entry = if many {
                all.get(&u).cloned()
            } else {
                store.message(mailbox, u)?
            };
            // Expunged elsewhere and not yet announced: nothing to return.
            let Some(mut entry) = entry else { continue };
            if changed_since.is_some_and(|m| entry.modseq <= m) {
                continue;
            }
            let mut add_flags = false;
            if sets_seen && !entry.flags.contains(Flags::SEEN) {
                let changed = store.store_flags(
                    mailbox,
                    &[u],
                    FlagOp::Add,
                    Flags::SEEN,
                    &Default::default(),
                )?;
                if let Some(new) = changed.into_iter().next() {
                    if let Some(selected) = self.selected.as_mut() {
                        selected.own_modseq(new.modseq);
                    }
                    entry = new;
                    add_flags = !items.contains(&MessageDataItemName::Flags);
                }
            }
            let mut raw = Raw {
                engine_store: &store,
                body: entry.body,
                bytes: None,
                head: None,
                computed: &mut computed,
            };
            let mut parts: Vec<Vec<u8>> = Vec::new();
            if uid {
                parts.push(format!("UID {}", u.0).into_bytes());
            }
            for item in &items {
                let mut buf = Vec::new();
                self.fetch_item(item, &entry, &mut raw, uid, &mut buf)?;
                if !buf.is_empty() {
                    parts.push(buf);
                }
            }
            if add_flags {
                parts.push(format!("FLAGS {}", flag_list(&entry, false)).into_bytes());
            }
            let _ = write!(Bytes(out), "* {seq} FETCH (");
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                out.extend_from_slice(p);
            }
            out.extend_from_slice(b")\r\n");
            self.spill(out)?;
        }
        if let Err(error) = store.set_body_caches(&computed) {
            tracing::warn!(%error, "caching message summaries failed");
        }
        Ok("FETCH completed".into())
    }

    fn fetch_item(
        &self,
        item: &MessageDataItemName<'_>,
        entry: &MessageEntry,
        raw: &mut Raw<'_>,
        uid: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), ImapError> {
        match item {
            MessageDataItemName::Uid => {
                if !uid {
                    let _ = write!(Bytes(out), "UID {}", entry.uid.0);
                }
            }
            MessageDataItemName::Flags => {
                let _ = write!(Bytes(out), "FLAGS {}", flag_list(entry, false));
            }
            MessageDataItemName::ModSeq => {
                let _ = write!(Bytes(out), "MODSEQ ({})", entry.modseq);
            }
            MessageDataItemName::InternalDate => {
                let _ = write!(
                    Bytes(out),
                    "INTERNALDATE {}",
                    internal_date(entry.internal_date)
                );
            }
            MessageDataItemName::Rfc822Size => {
                let _ = write!(Bytes(out), "RFC822.SIZE {}", entry.size);
            }
            MessageDataItemName::Envelope => {
                out.extend_from_slice(b"ENVELOPE ");
                out.extend_from_slice(&self.summary(raw)?.envelope);
            }
            MessageDataItemName::Body => {
                out.extend_from_slice(b"BODY ");
                out.extend_from_slice(&self.summary(raw)?.body);
            }
            MessageDataItemName::BodyStructure => {
                out.extend_from_slice(b"BODYSTRUCTURE ");
                out.extend_from_slice(&self.summary(raw)?.bodystructure);
            }
            MessageDataItemName::Rfc822 => {
                out.extend_from_slice(b"RFC822 ");
                literal(out, raw.get()?);
            }
            MessageDataItemName::Rfc822Header => {
                let header = raw.header()?;
                out.extend_from_slice(b"RFC822.HEADER ");
                literal(out, header);
            }
            MessageDataItemName::Rfc822Text => {
                let bytes = raw.get()?;
                out.extend_from_slice(b"RFC822.TEXT ");
                literal(out, &bytes[mime::header_end(bytes)..]);
            }
            MessageDataItemName::BodyExt {
                section,
                partial: range,
                ..
            } => {
                let (label, path, text) = section_of(section.as_ref());
                let origin = range.map(|(o, _)| format!("<{o}>")).unwrap_or_default();
                let _ = write!(Bytes(out), "BODY[{label}]{origin} ");
                if path.is_empty() && text == SectionText::Body {
                    match range {
                        Some((o, len)) => {
                            let bytes = self.store.read_body_range(
                                entry.body,
                                u64::from(*o),
                                len.get() as usize,
                            )?;
                            literal(out, &bytes);
                        }
                        None => literal(out, raw.get()?),
                    }
                    return Ok(());
                }
                if path.is_empty() {
                    let data: Option<Cow<'_, [u8]>> = match &text {
                        SectionText::Header => Some(Cow::Borrowed(raw.header()?)),
                        SectionText::Fields { names, not } => {
                            Some(Cow::Owned(mime::header_fields(raw.header()?, names, *not)))
                        }
                        _ => None,
                    };
                    if let Some(data) = data {
                        literal(out, partial(&data, *range));
                        return Ok(());
                    }
                }
                let bytes = raw.get()?;
                let message = mime::parse(bytes);
                let data = message
                    .as_ref()
                    .and_then(|m| mime::section(bytes, m, &path, &text));
                match data {
                    Some(data) => literal(out, partial(&data, *range)),
                    // A part that does not exist is empty (RFC 9051 §6.4.5
                    // leaves it open; clients cope best with "").
                    None => string(out, b""),
                }
            }
            MessageDataItemName::Binary {
                section,
                partial: range,
                ..
            } => {
                let path: Vec<u32> = section.iter().map(|n| n.get()).collect();
                let bytes = raw.get()?;
                let message = mime::parse(bytes);
                let data = match &message {
                    Some(m) => mime::binary(bytes, m, &path).map(Cow::into_owned),
                    None => Err(mime::BinaryError::NoPart),
                };
                let origin = range.map(|(o, _)| format!("<{o}>")).unwrap_or_default();
                let _ = write!(Bytes(out), "BINARY[{}]{origin} ", path_label(&path));
                match data {
                    Ok(data) => {
                        let data = partial(&data, *range);
                        if data.contains(&0) {
                            out.push(b'~');
                        }
                        literal(out, data);
                    }
                    Err(mime::BinaryError::NoPart) => out.extend_from_slice(b"NIL"),
                    Err(mime::BinaryError::UnknownEncoding) => return Err(ImapError::UnknownCte),
                }
            }
            MessageDataItemName::BinarySize { section } => {
                let path: Vec<u32> = section.iter().map(|n| n.get()).collect();
                let bytes = raw.get()?;
                let message = mime::parse(bytes);
                let size = match &message {
                    Some(m) => match mime::binary(bytes, m, &path) {
                        Ok(d) => d.len(),
                        Err(mime::BinaryError::NoPart) => 0,
                        Err(mime::BinaryError::UnknownEncoding) => {
                            return Err(ImapError::UnknownCte);
                        }
                    },
                    None => 0,
                };
                let _ = write!(Bytes(out), "BINARY.SIZE[{}] {size}", path_label(&path));
            }
        }
        Ok(())
    }
}
