//! Change notification: sessions subscribe to a mailbox and learn of new,
//! changed and expunged messages (IMAP IDLE, concurrent sessions).
//!
//! Changes are published only after the operation that made them is on
//! disk, so a session never announces a message that a crash could take
//! back. Each mailbox has a `tokio::sync::broadcast` channel, created on
//! first subscription and dropped when its last receiver goes.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use tokio::sync::broadcast;

use crate::{MailboxId, Uid};

/// How many unread changes a subscriber may fall behind before it receives
/// `RecvError::Lagged` and must resynchronise the whole mailbox.
const CHANNEL_CAPACITY: usize = 4096;

/// A change to a mailbox, as seen by subscribers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MailboxChange {
    /// A message was delivered, appended, copied or moved in.
    Added {
        /// Its UID.
        uid: Uid,
        /// Its MODSEQ.
        modseq: u64,
    },
    /// A message's flags or keywords changed.
    FlagsChanged {
        /// Its UID.
        uid: Uid,
        /// Its new MODSEQ.
        modseq: u64,
    },
    /// A message was expunged (or moved out).
    Expunged {
        /// Its UID.
        uid: Uid,
        /// The MODSEQ of the expunge.
        modseq: u64,
    },
    /// The mailbox was renamed.
    Renamed {
        /// Its new name.
        name: String,
    },
    /// The mailbox was deleted; sessions that have it selected must close it.
    Deleted,
}

/// The per-mailbox channels.
#[derive(Debug, Default)]
pub(crate) struct Notifier {
    channels: Mutex<HashMap<MailboxId, broadcast::Sender<MailboxChange>>>,
}

impl Notifier {
    /// A receiver of the mailbox's future changes.
    pub(crate) fn subscribe(&self, mailbox: MailboxId) -> broadcast::Receiver<MailboxChange> {
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        channels
            .entry(mailbox)
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe()
    }

    /// Sends committed, durable changes to their subscribers.
    pub(crate) fn publish(&self, changes: Vec<(MailboxId, MailboxChange)>) {
        if changes.is_empty() {
            return;
        }
        let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
        for (mailbox, change) in changes {
            let Some(sender) = channels.get(&mailbox) else {
                continue;
            };
            if sender.send(change).is_err() {
                // No receiver left: forget the channel.
                channels.remove(&mailbox);
            }
        }
    }
}
