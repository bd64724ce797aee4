//! The mailbox engine: every authenticated command, run against the store.
//!
//! An [`Engine`] belongs to one logged-in session. Its methods block (the
//! store fsyncs), so the driver runs them on a blocking thread. Each
//! command writes its untagged responses and its tagged completion into
//! one buffer; refusals are [`ImapError`]s turned into `NO`/`BAD` in one
//! place. One file per command family: `mailboxes` (CREATE … LIST,
//! STATUS), `select`, `append`, `fetch`, `search`, `flags` (STORE),
//! `copy` (COPY, MOVE), `expunge`.

mod append;
mod copy;
mod expunge;
mod fetch;
mod flags;
mod mailboxes;
mod saved;
mod search;
mod select;

use std::fmt::Write as _;

use imap_codec::imap_types::command::CommandBody;
use imap_codec::imap_types::mailbox::Mailbox;
use store::{MailboxChange, Store, UserId};

use crate::error::ImapError;
use crate::proto::encode::Bytes;
use crate::proto::extended::Extension;
use crate::selected::Selected;

/// One logged-in user's view of the store.
#[derive(Debug)]
pub(crate) struct Engine {
    store: Store,
    user: UserId,
    selected: Option<Selected>,
    /// CONDSTORE is enabled (ENABLE, SELECT (CONDSTORE), or a MODSEQ use).
    condstore: bool,
    /// QRESYNC is enabled: expunges are reported as VANISHED.
    qresync: bool,
    /// The saved search result (SEARCHRES), as UIDs.
    saved: Vec<store::Uid>,
    /// Where a long response goes while it is being built (set by the
    /// driver for each command), so that `FETCH 1:* BODY[]` never holds
    /// more than a few messages in memory.
    sink: Option<tokio::sync::mpsc::Sender<Vec<u8>>>,
    /// IMAP4rev2 is enabled (RFC 9051): UTF-8 names, ESEARCH results, no
    /// RECENT.
    rev2: bool,
    /// The selected mailbox was deleted elsewhere: BYE sent, close now.
    lost: bool,
}

/// A command's result: untagged responses are already in the buffer; the
/// tagged OK text (with its response code) comes back here.
type Done = Result<String, ImapError>;

impl Engine {
    /// An engine for `user`.
    pub(crate) fn new(store: Store, user: UserId) -> Self {
        Self {
            store,
            user,
            selected: None,
            condstore: false,
            qresync: false,
            saved: Vec::new(),
            sink: None,
            rev2: false,
            lost: false,
        }
    }

    /// Runs one command and returns everything to send for it.
    pub(crate) fn execute(
        &mut self,
        tag: &str,
        body: CommandBody<'static>,
        extension: Option<Extension>,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let name = body.name();
        let (result, allow_expunge) = match extension {
            Some(Extension::List(list)) => (self.list_extended(&list, &mut out), true),
            Some(Extension::SavedResult(returns)) => match self.with_saved_result(body) {
                Err(done) => (done, true),
                Ok(CommandBody::Search {
                    charset,
                    criteria,
                    uid,
                }) => {
                    let returns = returns.unwrap_or_default();
                    let esearch = (self.rev2 || !returns.is_empty()).then_some((tag, &returns[..]));
                    (
                        self.search(charset.as_ref(), criteria.as_ref(), uid, esearch, &mut out),
                        uid,
                    )
                }
                Ok(other) => self.run(tag, other, &mut out),
            },
            Some(Extension::MultiAppend(more)) => match body {
                CommandBody::Append {
                    mailbox,
                    flags,
                    date,
                    message,
                } => (self.multiappend(&mailbox, flags, date, message, more), true),
                other => self.run(tag, other, &mut out),
            },
            Some(Extension::SearchReturn(returns)) => match body {
                CommandBody::Search {
                    charset,
                    criteria,
                    uid,
                } => (
                    self.search(
                        charset.as_ref(),
                        criteria.as_ref(),
                        uid,
                        Some((tag, &returns)),
                        &mut out,
                    ),
                    uid,
                ),
                other => self.run(tag, other, &mut out),
            },
            None => self.run(tag, body, &mut out),
        };
        self.updates(allow_expunge, &mut out);
        if self.lost {
            return out;
        }
        match result {
            Ok(text) => {
                let _ = write!(Bytes(&mut out), "{tag} OK {text}\r\n");
            }
            Err(error) => {
                if let ImapError::Store(detail) = &error {
                    tracing::warn!(command = name, %detail, "store failed");
                }
                out.extend_from_slice(&error.tagged(tag));
            }
        }
        out
    }

    /// Runs a command; returns its outcome and whether EXPUNGE responses
    /// may follow it.
    fn run(&mut self, tag: &str, body: CommandBody<'static>, out: &mut Vec<u8>) -> (Done, bool) {
        match body {
            CommandBody::Noop => (Ok("NOOP completed".into()), true),
            CommandBody::Check => (self.selected().map(|_| "CHECK completed".into()), true),
            CommandBody::Enable { capabilities } => {
                let mut enabled = Vec::new();
                for cap in capabilities.as_ref() {
                    let name = cap.to_string();
                    if name.eq_ignore_ascii_case("CONDSTORE") {
                        self.condstore = true;
                        enabled.push("CONDSTORE");
                    } else if name.eq_ignore_ascii_case("IMAP4rev2") {
                        self.rev2 = true;
                        enabled.push("IMAP4rev2");
                    } else if name.eq_ignore_ascii_case("QRESYNC") {
                        self.condstore = true;
                        self.qresync = true;
                        enabled.push("QRESYNC");
                    }
                }
                let _ = write!(Bytes(out), "* ENABLED {}\r\n", enabled.join(" "));
                (Ok("ENABLE completed".into()), true)
            }
            CommandBody::Namespace => {
                out.extend_from_slice(b"* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
                (Ok("NAMESPACE completed".into()), true)
            }
            CommandBody::Select {
                mailbox,
                parameters,
            } => (self.select(&mailbox, false, &parameters, out), true),
            CommandBody::Examine {
                mailbox,
                parameters,
            } => (self.select(&mailbox, true, &parameters, out), true),
            CommandBody::Create { mailbox } => (self.create(&mailbox), true),
            CommandBody::Delete { mailbox } => (self.delete(&mailbox), true),
            CommandBody::Rename { from, to } => (self.rename(&from, &to), true),
            CommandBody::Subscribe { mailbox } => (self.subscribe(&mailbox, true), true),
            CommandBody::Unsubscribe { mailbox } => (self.subscribe(&mailbox, false), true),
            CommandBody::List {
                reference,
                mailbox_wildcard,
            } => (
                self.list(&reference, list_pattern(&mailbox_wildcard), false, out),
                true,
            ),
            CommandBody::Lsub {
                reference,
                mailbox_wildcard,
            } => (
                self.list(&reference, list_pattern(&mailbox_wildcard), true, out),
                true,
            ),
            CommandBody::Status {
                mailbox,
                item_names,
            } => (self.status(&mailbox, &item_names, out), true),
            CommandBody::Append {
                mailbox,
                flags,
                date,
                message,
            } => (
                self.append(&mailbox, &flags, date.as_ref(), message, out),
                true,
            ),
            CommandBody::Close => (self.close(true), true),
            CommandBody::Unselect => (self.close(false), true),
            CommandBody::Expunge => (self.expunge(None, out), true),
            CommandBody::ExpungeUid { sequence_set } => {
                (self.expunge(Some(&sequence_set), out), true)
            }
            CommandBody::Search {
                charset,
                criteria,
                uid,
            } => {
                // IMAP4rev2 answers every SEARCH with ESEARCH (RFC 9051 §6.4.4).
                let esearch = self.rev2.then_some((tag, &[][..]));
                (
                    self.search(charset.as_ref(), criteria.as_ref(), uid, esearch, out),
                    uid,
                )
            }
            CommandBody::Fetch {
                sequence_set,
                macro_or_item_names,
                uid,
                modifiers,
            } => (
                self.fetch(&sequence_set, macro_or_item_names, uid, &modifiers, out),
                uid,
            ),
            CommandBody::Store {
                sequence_set,
                kind,
                response,
                flags,
                uid,
                modifiers,
            } => (
                self.store_flags(
                    &sequence_set,
                    &kind,
                    &response,
                    &flags,
                    uid,
                    &modifiers,
                    out,
                ),
                uid,
            ),
            CommandBody::Copy {
                sequence_set,
                mailbox,
                uid,
            } => (self.copy(&sequence_set, &mailbox, uid, false, out), true),
            CommandBody::Move {
                sequence_set,
                mailbox,
                uid,
            } => (self.copy(&sequence_set, &mailbox, uid, true, out), true),
            other => (Err(ImapError::Unsupported(other.name())), true),
        }
    }

    /// The selected mailbox, or the refusal for commands that need one.
    fn selected(&mut self) -> Result<&mut Selected, ImapError> {
        self.selected.as_mut().ok_or(ImapError::NoMailboxSelected)
    }

    /// Sends a long response's bytes so far to the driver.
    ///
    /// # Errors
    ///
    /// [`ImapError::ClientGone`] when the driver stopped listening (the
    /// client went away): the command stops.
    pub(crate) fn spill(&self, out: &mut Vec<u8>) -> Result<(), ImapError> {
        const SPILL_AT: usize = 256 * 1024;
        if out.len() < SPILL_AT {
            return Ok(());
        }
        match &self.sink {
            Some(sink) => sink
                .blocking_send(std::mem::take(out))
                .map_err(|_| ImapError::ClientGone),
            None => Ok(()),
        }
    }

    /// Runs one command, streaming long responses through `sink`.
    pub(crate) fn execute_streaming(
        &mut self,
        tag: &str,
        body: CommandBody<'static>,
        extension: Option<Extension>,
        sink: tokio::sync::mpsc::Sender<Vec<u8>>,
    ) -> Vec<u8> {
        self.sink = Some(sink);
        let out = self.execute(tag, body, extension);
        self.sink = None;
        out
    }

    /// Whether the connection must close (the selected mailbox was
    /// deleted by another session and BYE was sent).
    pub(crate) fn must_close(&self) -> bool {
        self.lost
    }

    /// The untagged updates to send while idling.
    pub(crate) fn idle_updates(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.updates(true, &mut out);
        out
    }

    /// Writes the selected mailbox's pending untagged updates; a mailbox
    /// deleted elsewhere ends the connection with BYE.
    fn updates(&mut self, allow_expunge: bool, out: &mut Vec<u8>) {
        let Some(selected) = self.selected.as_mut() else {
            return;
        };
        if let Err(error) = selected.updates(
            &self.store,
            allow_expunge,
            self.condstore,
            self.qresync,
            out,
        ) {
            tracing::warn!(%error, "mailbox update failed");
        }
        if selected.deleted {
            self.selected = None;
            self.lost = true;
            out.extend_from_slice(
                b"* BYE [NONEXISTENT] The selected mailbox was deleted; please reconnect\r\n",
            );
        }
    }

    /// A receiver of the selected mailbox's changes (IDLE waits on it).
    pub(crate) fn change_receiver(
        &self,
    ) -> Option<tokio::sync::broadcast::Receiver<MailboxChange>> {
        self.selected
            .as_ref()
            .map(|s| self.store.subscribe_changes(s.info.id))
    }
}

/// The UTF-8 name of a mailbox argument (INBOX canonical; other names are
/// modified UTF-7 from IMAP4rev1 clients).
pub(crate) fn mailbox_name(mailbox: &Mailbox<'_>, rev2: bool) -> Result<String, ImapError> {
    match mailbox {
        Mailbox::Inbox => Ok("INBOX".into()),
        Mailbox::Other(other) => {
            let raw = String::from_utf8_lossy(other.as_ref()).into_owned();
            let name = mailboxes::decode_name(&raw, rev2)
                .ok_or_else(|| ImapError::InvalidMailboxName(raw.clone()))?;
            Ok(name.trim_end_matches(store::DELIMITER).to_owned())
        }
    }
}

/// The bytes of a LIST pattern.
fn list_pattern<'a>(pattern: &'a imap_codec::imap_types::mailbox::ListMailbox<'_>) -> &'a [u8] {
    use imap_codec::imap_types::mailbox::ListMailbox;
    match pattern {
        ListMailbox::Token(t) => t.as_ref(),
        ListMailbox::String(s) => s.as_ref(),
    }
}
