//! SEARCH and UID SEARCH: every RFC 9051 search key, CHARSET UTF-8 and
//! CONDSTORE's MODSEQ criterion.

use std::fmt::Write as _;

use imap_codec::imap_types::core::Charset;
use imap_codec::imap_types::datetime::NaiveDate;
use imap_codec::imap_types::search::SearchKey;
use imap_codec::imap_types::sequence::{SeqOrUid, Sequence, SequenceSet};
use mail_parser::Message;
use store::{Flags, MessageEntry, Uid};

use super::{Done, Engine};
use crate::error::ImapError;
use crate::mime;
use crate::proto::encode::{Bytes, days_from_civil, sequence_set};
use crate::proto::extended::SearchReturn;
use crate::selected::Selected;

/// Days since the epoch of a search date.
fn day_of(date: &NaiveDate) -> i64 {
    // chrono's Debug form is ISO 8601, `2024-01-31`.
    let text = format!("{:?}", date.as_ref());
    let mut fields = text.split('-').filter_map(|f| f.parse::<i64>().ok());
    match (fields.next(), fields.next(), fields.next()) {
        (Some(y), Some(m), Some(d)) => days_from_civil(y, m as u32, d as u32),
        _ => 0,
    }
}

fn contains(haystack: &str, needle: &[u8]) -> bool {
    let needle = String::from_utf8_lossy(needle).to_lowercase();
    haystack.to_lowercase().contains(&needle)
}

/// One message being tested, with its body parsed on first need.
struct Candidate<'a> {
    seq: u32,
    entry: &'a MessageEntry,
    store: &'a store::Store,
    raw: Option<Vec<u8>>,
}

impl Candidate<'_> {
    fn raw(&mut self) -> Result<&[u8], ImapError> {
        if self.raw.is_none() {
            self.raw = Some(self.store.read_body(self.entry.body)?);
        }
        Ok(self.raw.as_deref().unwrap_or_default())
    }

    fn with_message<T>(
        &mut self,
        f: impl FnOnce(&[u8], &Message<'_>) -> T,
        default: T,
    ) -> Result<T, ImapError> {
        let raw = self.raw()?;
        Ok(match mime::parse(raw) {
            Some(m) => f(raw, &m),
            None => default,
        })
    }
}

/// Whether the candidate is in a sequence set (of UIDs with `uid`), with
/// `*` the last message; in O(ranges), not O(messages).
fn in_set(selected: &Selected, set: &SequenceSet, uid: bool, c: &Candidate<'_>) -> bool {
    let last = if uid {
        selected.uids().last().map_or(0, |u| u.0)
    } else {
        selected.uids().len() as u32
    };
    let value = |v: &SeqOrUid| match v {
        SeqOrUid::Value(n) => n.get(),
        SeqOrUid::Asterisk => last,
    };
    let n = if uid { c.entry.uid.0 } else { c.seq };
    set.0.as_ref().iter().any(|s| match s {
        Sequence::Single(v) => value(v) == n,
        Sequence::Range(a, b) => {
            let (a, b) = (value(a), value(b));
            (a.min(b)..=a.max(b)).contains(&n)
        }
    })
}

fn matches(
    key: &SearchKey<'_>,
    c: &mut Candidate<'_>,
    selected: &Selected,
) -> Result<bool, ImapError> {
    let flags = c.entry.flags;
    let header = |c: &mut Candidate<'_>, name: &str, needle: &[u8]| {
        c.with_message(
            |raw, m| {
                mime::header_text(raw, m, name)
                    .iter()
                    .any(|v| contains(v, needle))
            },
            false,
        )
    };
    Ok(match key {
        SearchKey::All => true,
        SearchKey::And(keys) => {
            for k in keys.as_ref() {
                if !matches(k, c, selected)? {
                    return Ok(false);
                }
            }
            true
        }
        SearchKey::Or(a, b) => matches(a, c, selected)? || matches(b, c, selected)?,
        SearchKey::Not(k) => !matches(k, c, selected)?,
        SearchKey::SequenceSet(set) => in_set(selected, set, false, c),
        SearchKey::Uid(set) => in_set(selected, set, true, c),
        SearchKey::Answered => flags.contains(Flags::ANSWERED),
        SearchKey::Unanswered => !flags.contains(Flags::ANSWERED),
        SearchKey::Deleted => flags.contains(Flags::DELETED),
        SearchKey::Undeleted => !flags.contains(Flags::DELETED),
        SearchKey::Draft => flags.contains(Flags::DRAFT),
        SearchKey::Undraft => !flags.contains(Flags::DRAFT),
        SearchKey::Flagged => flags.contains(Flags::FLAGGED),
        SearchKey::Unflagged => !flags.contains(Flags::FLAGGED),
        SearchKey::Seen => flags.contains(Flags::SEEN),
        SearchKey::Unseen => !flags.contains(Flags::SEEN),
        // No message is \Recent in Ward: the flag is per session and
        // IMAP4rev2 dropped it.
        SearchKey::Recent | SearchKey::New => false,
        SearchKey::Old => true,
        SearchKey::Keyword(k) => c
            .entry
            .keywords
            .iter()
            .any(|w| w.eq_ignore_ascii_case(k.inner())),
        SearchKey::Unkeyword(k) => !c
            .entry
            .keywords
            .iter()
            .any(|w| w.eq_ignore_ascii_case(k.inner())),
        SearchKey::Larger(n) => c.entry.size > u64::from(*n),
        SearchKey::Smaller(n) => c.entry.size < u64::from(*n),
        SearchKey::Before(d) => c.entry.internal_date.div_euclid(86_400) < day_of(d),
        SearchKey::On(d) => c.entry.internal_date.div_euclid(86_400) == day_of(d),
        SearchKey::Since(d) => c.entry.internal_date.div_euclid(86_400) >= day_of(d),
        SearchKey::SentBefore(d) => c.with_message(
            |_, m| mime::sent_day(m).is_some_and(|s| s < day_of(d)),
            false,
        )?,
        SearchKey::SentOn(d) => {
            c.with_message(|_, m| mime::sent_day(m) == Some(day_of(d)), false)?
        }
        SearchKey::SentSince(d) => c.with_message(
            |_, m| mime::sent_day(m).is_some_and(|s| s >= day_of(d)),
            false,
        )?,
        SearchKey::From(s) => header(c, "From", s.as_ref())?,
        SearchKey::To(s) => header(c, "To", s.as_ref())?,
        SearchKey::Cc(s) => header(c, "Cc", s.as_ref())?,
        SearchKey::Bcc(s) => header(c, "Bcc", s.as_ref())?,
        SearchKey::Subject(s) => header(c, "Subject", s.as_ref())?,
        SearchKey::Header(name, value) => {
            let name = String::from_utf8_lossy(name.as_ref()).into_owned();
            let value = value.as_ref().to_vec();
            c.with_message(
                |raw, m| {
                    let values = mime::header_text(raw, m, &name);
                    !values.is_empty()
                        && (value.is_empty() || values.iter().any(|v| contains(v, &value)))
                },
                false,
            )?
        }
        SearchKey::Body(s) => {
            let needle = s.as_ref().to_vec();
            c.with_message(|_, m| contains(&mime::body_text(m), &needle), false)?
        }
        SearchKey::Text(s) => {
            let needle = s.as_ref().to_vec();
            c.with_message(
                |raw, m| {
                    let header = &raw[..mime::header_end(raw)];
                    contains(&String::from_utf8_lossy(header), &needle)
                        || contains(&mime::body_text(m), &needle)
                },
                false,
            )?
        }
        SearchKey::ModSequence { modseq, .. } => c.entry.modseq >= *modseq,
    })
}

fn uses_modseq(key: &SearchKey<'_>) -> bool {
    match key {
        SearchKey::ModSequence { .. } => true,
        SearchKey::And(keys) => keys.as_ref().iter().any(uses_modseq),
        SearchKey::Or(a, b) => uses_modseq(a) || uses_modseq(b),
        SearchKey::Not(k) => uses_modseq(k),
        _ => false,
    }
}

impl Engine {
    pub(super) fn search(
        &mut self,
        charset: Option<&Charset<'_>>,
        criteria: &[SearchKey<'_>],
        uid: bool,
        esearch: Option<(&str, &[SearchReturn])>,
        out: &mut Vec<u8>,
    ) -> Done {
        if let Some(charset) = charset {
            let name = charset.as_ref();
            if !name.eq_ignore_ascii_case("UTF-8") && !name.eq_ignore_ascii_case("US-ASCII") {
                return Err(ImapError::BadCharset);
            }
        }
        let modseq = criteria.iter().any(uses_modseq);
        if modseq {
            self.condstore = true;
        }
        let store = self.store.clone();
        let selected = self.selected.as_ref().ok_or(ImapError::NoMailboxSelected)?;
        let entries: std::collections::HashMap<Uid, MessageEntry> = store
            .messages(selected.info.id)?
            .into_iter()
            .map(|e| (e.uid, e))
            .collect();
        let mut found = Vec::new();
        let mut found_uids = Vec::new();
        let mut highest = 0u64;
        for (i, u) in selected.uids().iter().enumerate() {
            let Some(entry) = entries.get(u) else {
                continue;
            };
            let mut candidate = Candidate {
                seq: i as u32 + 1,
                entry,
                store: &store,
                raw: None,
            };
            let mut all = true;
            for key in criteria {
                if !matches(key, &mut candidate, selected)? {
                    all = false;
                    break;
                }
            }
            if all {
                highest = highest.max(entry.modseq);
                found_uids.push(*u);
                found.push(if uid { u.0 } else { i as u32 + 1 });
            }
        }
        if let Some((tag, returns)) = esearch {
            if returns.contains(&SearchReturn::Save) {
                // RFC 5182 §2.4: with MIN and/or MAX only, only those.
                let full = returns.contains(&SearchReturn::All)
                    || returns.contains(&SearchReturn::Count)
                    || !(returns.contains(&SearchReturn::Min)
                        || returns.contains(&SearchReturn::Max));
                let saved = if full {
                    found_uids.clone()
                } else {
                    let mut some = Vec::new();
                    if returns.contains(&SearchReturn::Min) {
                        some.extend(found_uids.first().copied());
                    }
                    if returns.contains(&SearchReturn::Max) {
                        some.extend(found_uids.last().copied());
                    }
                    some
                };
                self.save_result(saved);
                if returns.iter().all(|r| *r == SearchReturn::Save) {
                    return Ok("SEARCH completed, result saved".into());
                }
            }
            let all = returns.is_empty() || returns.contains(&SearchReturn::All);
            let _ = write!(Bytes(out), "* ESEARCH (TAG \"{tag}\")");
            if uid {
                out.extend_from_slice(b" UID");
            }
            if let (true, Some(min)) = (returns.contains(&SearchReturn::Min), found.first()) {
                let _ = write!(Bytes(out), " MIN {min}");
            }
            if let (true, Some(max)) = (returns.contains(&SearchReturn::Max), found.last()) {
                let _ = write!(Bytes(out), " MAX {max}");
            }
            if returns.contains(&SearchReturn::Count) {
                let _ = write!(Bytes(out), " COUNT {}", found.len());
            }
            if all && !found.is_empty() {
                let _ = write!(Bytes(out), " ALL {}", sequence_set(&found));
            }
            if modseq && !found.is_empty() {
                let _ = write!(Bytes(out), " MODSEQ {highest}");
            }
            out.extend_from_slice(b"\r\n");
            return Ok("SEARCH completed".into());
        }
        out.extend_from_slice(b"* SEARCH");
        for n in &found {
            let _ = write!(Bytes(out), " {n}");
        }
        if modseq && !found.is_empty() {
            let _ = write!(Bytes(out), " (MODSEQ {highest})");
        }
        out.extend_from_slice(b"\r\n");
        Ok("SEARCH completed".into())
    }
}
