//! CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB and STATUS.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use imap_codec::imap_types::mailbox::Mailbox;
use imap_codec::imap_types::status::StatusDataItemName;
use store::{MailboxInfo, SpecialUse};

use super::{Done, Engine, mailbox_name};
use crate::error::ImapError;
use crate::proto::encode::{Bytes, astring};
use crate::proto::extended::ListExtended;
use crate::proto::utf7;

/// The special-use attribute's name (RFC 6154).
pub(crate) fn special_use_name(special: SpecialUse) -> &'static str {
    match special {
        SpecialUse::Sent => "\\Sent",
        SpecialUse::Drafts => "\\Drafts",
        SpecialUse::Trash => "\\Trash",
        SpecialUse::Junk => "\\Junk",
        SpecialUse::Archive => "\\Archive",
    }
}

/// Whether `name` matches a LIST pattern: `*` matches anything, `%`
/// anything but the delimiter (RFC 9051 §6.3.9). Dynamic programming over
/// (pattern, name) positions, so no pattern can make it backtrack
/// exponentially.
pub(crate) fn matches(pattern: &[char], name: &[char]) -> bool {
    // reach[j]: the first i pattern characters can match name[..j].
    let mut reach = vec![false; name.len() + 1];
    reach[0] = true;
    for &p in pattern {
        let mut next = vec![false; name.len() + 1];
        match p {
            '*' | '%' => {
                for j in 0..=name.len() {
                    next[j] = reach[j]
                        || (j > 0 && next[j - 1] && (p == '*' || name[j - 1] != store::DELIMITER));
                }
            }
            c => {
                for j in 1..=name.len() {
                    next[j] = reach[j - 1] && name[j - 1] == c;
                }
            }
        }
        reach = next;
    }
    reach[name.len()]
}

/// The mailbox name as sent to the client: modified UTF-7, or UTF-8 once
/// IMAP4rev2 is enabled.
pub(crate) fn wire_name(name: &str, rev2: bool) -> String {
    if rev2 {
        name.to_owned()
    } else {
        utf7::encode(name)
    }
}

/// A name or pattern from the client, as UTF-8.
pub(crate) fn decode_name(name: &str, rev2: bool) -> Option<String> {
    if rev2 {
        Some(name.to_owned())
    } else {
        utf7::decode(name)
    }
}

impl Engine {
    pub(super) fn create(&mut self, mailbox: &Mailbox<'_>) -> Done {
        let name = mailbox_name(mailbox, self.rev2)?;
        if name == "INBOX" {
            return Err(ImapError::MailboxExists(name));
        }
        self.store.create_mailbox(self.user, &name, None)?;
        Ok("CREATE completed".into())
    }

    pub(super) fn delete(&mut self, mailbox: &Mailbox<'_>) -> Done {
        let name = mailbox_name(mailbox, self.rev2)?;
        // Deleting the selected mailbox closes it here first, so that this
        // session does not take its own DELETE for someone else's.
        let was_selected = self.selected.as_ref().is_some_and(|s| s.info.name == name);
        let selected = if was_selected {
            self.selected.take()
        } else {
            None
        };
        if let Err(error) = self.store.delete_mailbox(self.user, &name) {
            self.selected = selected;
            return Err(error.into());
        }
        Ok("DELETE completed".into())
    }

    pub(super) fn rename(&mut self, from: &Mailbox<'_>, to: &Mailbox<'_>) -> Done {
        let from = mailbox_name(from, self.rev2)?;
        let to = mailbox_name(to, self.rev2)?;
        self.store.rename_mailbox(self.user, &from, &to)?;
        Ok("RENAME completed".into())
    }

    pub(super) fn subscribe(&mut self, mailbox: &Mailbox<'_>, on: bool) -> Done {
        let name = mailbox_name(mailbox, self.rev2)?;
        if on {
            self.store.subscribe_mailbox(self.user, &name)?;
            Ok("SUBSCRIBE completed".into())
        } else {
            self.store.unsubscribe_mailbox(self.user, &name)?;
            Ok("UNSUBSCRIBE completed".into())
        }
    }

    pub(super) fn list(
        &mut self,
        reference: &Mailbox<'_>,
        pattern: &[u8],
        lsub: bool,
        out: &mut Vec<u8>,
    ) -> Done {
        let command = if lsub { "LSUB" } else { "LIST" };
        let reference = match reference {
            Mailbox::Inbox => "INBOX".to_owned(),
            Mailbox::Other(other) => String::from_utf8_lossy(other.as_ref()).into_owned(),
        };
        let pattern = String::from_utf8_lossy(pattern).into_owned();
        if pattern.is_empty() && !lsub {
            let _ = write!(Bytes(out), "* LIST (\\Noselect) \"/\" \"\"\r\n");
            return Ok("LIST completed".into());
        }
        let full = decode_name(&format!("{reference}{pattern}"), self.rev2).unwrap_or_default();
        let pattern: Vec<char> = full.chars().collect();
        let mailboxes = self.store.mailboxes(self.user)?;
        let names: BTreeSet<&str> = mailboxes.iter().map(|m| m.name.as_str()).collect();
        let subscribed: BTreeSet<String> =
            self.store.subscriptions(self.user)?.into_iter().collect();
        let has_children = |name: &str| {
            let prefix = format!("{name}{}", store::DELIMITER);
            names
                .range(prefix.as_str()..)
                .next()
                .is_some_and(|n| n.starts_with(&prefix))
        };
        let matching = |name: &str| {
            let chars: Vec<char> = name.chars().collect();
            if matches(&pattern, &chars) {
                return true;
            }
            // INBOX matches case-insensitively.
            name == "INBOX" && {
                let upper: Vec<char> = full.to_ascii_uppercase().chars().collect();
                matches(&upper, &chars)
            }
        };
        let entries: Vec<&MailboxInfo> = mailboxes.iter().collect();
        for info in entries {
            if !matching(&info.name) || (lsub && !subscribed.contains(&info.name)) {
                continue;
            }
            let mut attrs = vec![if has_children(&info.name) {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            }];
            if let Some(special) = info.special_use {
                attrs.push(special_use_name(special));
            }
            let _ = write!(Bytes(out), "* {command} ({}) \"/\" ", attrs.join(" "));
            astring(out, &wire_name(&info.name, self.rev2));
            out.extend_from_slice(b"\r\n");
        }
        Ok(format!("{command} completed"))
    }

    pub(super) fn status(
        &mut self,
        mailbox: &Mailbox<'_>,
        items: &[StatusDataItemName],
        out: &mut Vec<u8>,
    ) -> Done {
        let name = mailbox_name(mailbox, self.rev2)?;
        let info = self
            .store
            .mailbox_by_name(self.user, &name)?
            .ok_or_else(|| ImapError::NoSuchMailbox(name.clone()))?;
        self.status_line(&info, items, out)?;
        Ok("STATUS completed".into())
    }

    /// One `* STATUS` response.
    fn status_line(
        &mut self,
        info: &MailboxInfo,
        items: &[StatusDataItemName],
        out: &mut Vec<u8>,
    ) -> Result<(), ImapError> {
        let mut values = Vec::new();
        for item in items {
            let value = match item {
                StatusDataItemName::Messages => format!("MESSAGES {}", info.messages),
                StatusDataItemName::Recent => "RECENT 0".into(),
                StatusDataItemName::UidNext => format!("UIDNEXT {}", info.uidnext),
                StatusDataItemName::UidValidity => format!("UIDVALIDITY {}", info.uidvalidity),
                StatusDataItemName::Unseen => format!("UNSEEN {}", info.unseen),
                StatusDataItemName::Size => format!("SIZE {}", info.size),
                StatusDataItemName::HighestModSeq => {
                    self.condstore = true;
                    format!("HIGHESTMODSEQ {}", info.highest_modseq)
                }
                StatusDataItemName::Deleted => {
                    let deleted = self.store.search_flags(
                        info.id,
                        store::Flags::DELETED,
                        store::Flags::empty(),
                    )?;
                    format!("DELETED {}", deleted.len())
                }
                StatusDataItemName::DeletedStorage => {
                    let mut total = 0u64;
                    for e in self.store.messages(info.id)? {
                        if e.flags.contains(store::Flags::DELETED) {
                            total += e.size;
                        }
                    }
                    format!("DELETED-STORAGE {total}")
                }
            };
            values.push(value);
        }
        out.extend_from_slice(b"* STATUS ");
        astring(out, &wire_name(&info.name, self.rev2));
        let _ = write!(Bytes(out), " ({})\r\n", values.join(" "));
        Ok(())
    }

    /// LIST with LIST-EXTENDED selection and return options and
    /// LIST-STATUS (RFC 5258, RFC 5819, RFC 6154).
    pub(super) fn list_extended(&mut self, list: &ListExtended, out: &mut Vec<u8>) -> Done {
        if list.patterns.iter().all(String::is_empty) {
            out.extend_from_slice(b"* LIST (\\Noselect) \"/\" \"\"\r\n");
            return Ok("LIST completed".into());
        }
        let items: Vec<StatusDataItemName> = match &list.status {
            None => Vec::new(),
            Some(names) => names
                .iter()
                .map(|n| match n.as_str() {
                    "MESSAGES" => Ok(StatusDataItemName::Messages),
                    "RECENT" => Ok(StatusDataItemName::Recent),
                    "UIDNEXT" => Ok(StatusDataItemName::UidNext),
                    "UIDVALIDITY" => Ok(StatusDataItemName::UidValidity),
                    "UNSEEN" => Ok(StatusDataItemName::Unseen),
                    "SIZE" => Ok(StatusDataItemName::Size),
                    "HIGHESTMODSEQ" => Ok(StatusDataItemName::HighestModSeq),
                    "DELETED" => Ok(StatusDataItemName::Deleted),
                    _ => Err(ImapError::Malformed),
                })
                .collect::<Result<_, _>>()?,
        };
        let patterns: Vec<(Vec<char>, Vec<char>)> = list
            .patterns
            .iter()
            .map(|p| {
                let full =
                    decode_name(&format!("{}{p}", list.reference), self.rev2).unwrap_or_default();
                (
                    full.chars().collect(),
                    full.to_ascii_uppercase().chars().collect(),
                )
            })
            .collect();
        let mailboxes = self.store.mailboxes(self.user)?;
        let by_name: std::collections::BTreeMap<&str, &MailboxInfo> =
            mailboxes.iter().map(|m| (m.name.as_str(), m)).collect();
        let subscribed: BTreeSet<String> =
            self.store.subscriptions(self.user)?.into_iter().collect();
        let names: Vec<String> = if list.subscribed {
            subscribed.iter().cloned().collect()
        } else {
            mailboxes.iter().map(|m| m.name.clone()).collect()
        };
        for name in names {
            let chars: Vec<char> = name.chars().collect();
            let hit = patterns.iter().any(|(p, upper)| {
                matches(p, &chars) || (name == "INBOX" && matches(upper, &chars))
            });
            if !hit {
                continue;
            }
            let info = by_name.get(name.as_str()).copied();
            if list.special_use_only && info.and_then(|i| i.special_use).is_none() {
                continue;
            }
            let mut attrs = Vec::new();
            match info {
                Some(info) => {
                    let prefix = format!("{name}{}", store::DELIMITER);
                    attrs.push(if by_name.keys().any(|n| n.starts_with(&prefix)) {
                        "\\HasChildren"
                    } else {
                        "\\HasNoChildren"
                    });
                    if let Some(special) = info.special_use {
                        attrs.push(special_use_name(special));
                    }
                }
                None => attrs.push("\\NonExistent"),
            }
            if (list.subscribed || list.return_subscribed) && subscribed.contains(&name) {
                attrs.push("\\Subscribed");
            }
            let _ = write!(Bytes(out), "* LIST ({}) \"/\" ", attrs.join(" "));
            astring(out, &wire_name(&name, self.rev2));
            out.extend_from_slice(b"\r\n");
            if let (Some(info), false) = (info, items.is_empty()) {
                self.status_line(info, &items, out)?;
            }
        }
        Ok("LIST completed".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> bool {
        matches(
            &p.chars().collect::<Vec<_>>(),
            &n.chars().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn list_wildcards() {
        assert!(m("*", "a/b"));
        assert!(m("%", "a"));
        assert!(!m("%", "a/b"));
        assert!(m("a/%", "a/b"));
        assert!(m("a*", "a/b/c"));
        assert!(!m("b*", "a"));
        assert!(m("a%c", "abc"));
        assert!(!m("a%c", "a/c"));
        assert!(m("%/%", "a/b"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        let long: String = "%*".repeat(40) + "x";
        assert!(!m(&long, &"a".repeat(200)));
    }
}
