//! The outbound queue for `smtp-relay`: one entry per accepted message with
//! a state per recipient, durable across restarts.
//!
//! The queued body lives in the shared body store, so a message delivered
//! locally and queued for a gateway is stored once. Removing the entry
//! releases the body.

use serde::{Deserialize, Serialize};

use crate::body::release;
use crate::{BodyId, Error, QueueId, Store, codec, keys};

/// Where one recipient of a queued message stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecipientState {
    /// Not tried yet, or to be retried.
    Pending,
    /// Tried and deferred (temporary failure).
    Deferred {
        /// The last error, as the peer or the network gave it.
        last_error: String,
    },
    /// Delivered.
    Delivered {
        /// When (seconds since the Unix epoch).
        at: i64,
    },
    /// Given up on (permanent failure or expiry); a bounce is due.
    Failed {
        /// Why.
        reason: String,
    },
}

/// One recipient of a queued message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRecipient {
    /// The recipient address.
    pub address: String,
    /// Its state.
    pub state: RecipientState,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// DSN `NOTIFY=` as received (`SUCCESS,DELAY`, `NEVER`), if given.
    pub notify: Option<String>,
    /// DSN `ORCPT=` as received (`rfc822;addr`, xtext), if given.
    pub orcpt: Option<String>,
    /// Since when the recipient's organisation has been suspended or its
    /// delivery held (seconds since the Unix epoch), while it is.
    pub held_since: Option<i64>,
    /// Seconds the recipient spent held in earlier holds: they count
    /// neither against the maximum age nor towards a delay notice.
    pub held_for: i64,
}

impl QueueRecipient {
    /// Seconds spent held, up to `now`, including a hold still running.
    pub fn time_held(&self, now: i64) -> i64 {
        self.held_for
            + self
                .held_since
                .map_or(0, |since| now.saturating_sub(since).max(0))
    }
}

/// A recipient to queue, with its DSN parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewQueueRecipient {
    /// The recipient address.
    pub address: String,
    /// DSN `NOTIFY=`, if given.
    pub notify: Option<String>,
    /// DSN `ORCPT=`, if given.
    pub orcpt: Option<String>,
}

/// The envelope parameters the relay must honour (RFC 3461, 6152, 6531,
/// 8689).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEnvelope {
    /// DSN `RET=` (`FULL` or `HDRS`), if given.
    pub ret: Option<String>,
    /// DSN `ENVID=` (xtext, as received), if given.
    pub envid: Option<String>,
    /// `BODY=8BITMIME` was declared.
    pub eight_bit: bool,
    /// `SMTPUTF8` was given.
    pub smtputf8: bool,
    /// `REQUIRETLS`: relay only over verified TLS, never downgrade.
    pub requiretls: bool,
}

/// A copy of a message to queue for the relay, in the same atomic step as
/// its local deliveries ([`Store::deliver_and_enqueue`]).
#[derive(Clone, Copy, Debug)]
pub struct Outbound<'a> {
    /// The envelope sender (empty for bounces).
    pub sender: &'a str,
    /// The remote recipients.
    pub recipients: &'a [NewQueueRecipient],
    /// The envelope parameters.
    pub envelope: &'a QueueEnvelope,
    /// Now, seconds since the Unix epoch: queued and first due then.
    pub now: i64,
}

impl Outbound<'_> {
    pub(crate) fn entry(&self, body: BodyId, size: u64) -> QueueEntry {
        QueueEntry {
            sender: self.sender.to_owned(),
            recipients: self
                .recipients
                .iter()
                .map(|r| QueueRecipient {
                    address: r.address.clone(),
                    state: RecipientState::Pending,
                    attempts: 0,
                    notify: r.notify.clone(),
                    orcpt: r.orcpt.clone(),
                    held_since: None,
                    held_for: 0,
                })
                .collect(),
            envelope: self.envelope.clone(),
            body,
            size,
            queued_at: self.now,
            next_attempt_at: self.now,
            held: false,
            held_since: None,
            held_for: 0,
        }
    }
}

/// A queued outbound message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// The envelope sender (empty for bounces).
    pub sender: String,
    /// The recipients and their states.
    pub recipients: Vec<QueueRecipient>,
    /// The envelope parameters to pass on.
    pub envelope: QueueEnvelope,
    /// The message body; read it with [`Store::body_reader`].
    pub body: BodyId,
    /// Its size in bytes.
    pub size: u64,
    /// When it was queued (seconds since the Unix epoch).
    pub queued_at: i64,
    /// Earliest time of the next attempt.
    pub next_attempt_at: i64,
    /// Held by an operator: not tried until released.
    pub held: bool,
    /// Since when an operator has held it, while held.
    pub held_since: Option<i64>,
    /// Seconds spent held by an operator in earlier holds.
    pub held_for: i64,
}

impl QueueEntry {
    /// Puts the entry on hold (an operator's), from `now`.
    pub fn hold(&mut self, now: i64) {
        if !self.held {
            self.held = true;
            self.held_since = Some(now);
        }
    }

    /// Releases an operator's hold at `now`; the time held is remembered.
    pub fn release(&mut self, now: i64) {
        if let Some(since) = self.held_since.take() {
            self.held_for += now.saturating_sub(since).max(0);
        }
        self.held = false;
    }

    /// How old recipient `index` is at `now` for expiry and delay notices:
    /// time since queueing less the time it was held, by an operator or by
    /// its organisation's suspension.
    pub fn age_of(&self, index: usize, now: i64) -> i64 {
        let entry_held = self.held_for
            + self
                .held_since
                .map_or(0, |since| now.saturating_sub(since).max(0));
        let recipient_held = self.recipients.get(index).map_or(0, |r| r.time_held(now));
        now.saturating_sub(self.queued_at) - entry_held - recipient_held
    }
}

/// Now, in seconds since the Unix epoch.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Store {
    /// Queues a message for relay, durably. Each recipient starts
    /// [`RecipientState::Pending`], due at `now`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`].
    pub fn enqueue(
        &self,
        sender: &str,
        recipients: &[String],
        raw: &[u8],
        now: i64,
    ) -> Result<QueueId, Error> {
        let recipients: Vec<NewQueueRecipient> = recipients
            .iter()
            .map(|r| NewQueueRecipient {
                address: r.clone(),
                ..NewQueueRecipient::default()
            })
            .collect();
        self.enqueue_with(sender, &recipients, &QueueEnvelope::default(), raw, now)
    }

    /// [`Store::enqueue`] with DSN parameters and envelope options kept for
    /// the relay.
    ///
    /// # Errors
    ///
    /// [`Error::Io`].
    pub fn enqueue_with(
        &self,
        sender: &str,
        recipients: &[NewQueueRecipient],
        envelope: &QueueEnvelope,
        raw: &[u8],
        now: i64,
    ) -> Result<QueueId, Error> {
        let outbound = Outbound {
            sender,
            recipients,
            envelope,
            now,
        };
        let message = crate::NewMessage {
            raw,
            cached: None,
            internal_date: now,
            flags: crate::Flags::default(),
            keywords: Default::default(),
        };
        let (_, id) = self.deliver_and_enqueue(&[], &message, Some(&outbound))?;
        id.ok_or_else(|| Error::Io("the queue entry was not written".to_owned()))
    }

    /// A queue entry by id.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn queue_entry(&self, id: QueueId) -> Result<Option<QueueEntry>, Error> {
        self.read_as(&keys::id(keys::QUEUE, id.0), "queue entry")
    }

    /// All queue entries in id (arrival) order.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn queue_entries(&self) -> Result<Vec<(QueueId, QueueEntry)>, Error> {
        let mut out = Vec::new();
        for item in self.tree().scan_prefix([keys::QUEUE]) {
            let (k, v) = item?;
            out.push((QueueId(keys::key_id(&k)), codec::decode(&v, "queue entry")?));
        }
        Ok(out)
    }

    /// Changes a queue entry atomically and durably (recipient states,
    /// next attempt, hold/release). Returns the new entry.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchQueueEntry`], [`Error::Io`].
    pub fn update_queue_entry(
        &self,
        id: QueueId,
        change: impl FnOnce(&mut QueueEntry),
    ) -> Result<QueueEntry, Error> {
        self.write(|txn| {
            let key = keys::id(keys::QUEUE, id.0);
            let mut entry: QueueEntry = txn
                .get_as(&key, "queue entry")?
                .ok_or(Error::NoSuchQueueEntry(id.0))?;
            let body = entry.body;
            change(&mut entry);
            // The body is owned by the entry; it cannot be swapped.
            entry.body = body;
            txn.put_as(key, &entry);
            Ok(entry)
        })
    }

    /// Changes several queue entries in one atomic, durable write (one
    /// fsync however many), e.g. making them all due now. Entries that no
    /// longer exist are skipped. Returns how many were changed.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn update_queue_entries(
        &self,
        ids: &[QueueId],
        change: impl Fn(&mut QueueEntry),
    ) -> Result<usize, Error> {
        self.write(|txn| {
            let mut changed = 0;
            for id in ids {
                let key = keys::id(keys::QUEUE, id.0);
                let Some(mut entry) = txn.get_as::<QueueEntry>(&key, "queue entry")? else {
                    continue;
                };
                let body = entry.body;
                change(&mut entry);
                entry.body = body;
                txn.put_as(key, &entry);
                changed += 1;
            }
            Ok(changed)
        })
    }

    /// Removes a queue entry (all recipients done, or an operator deleted
    /// it) and releases its body.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchQueueEntry`], [`Error::Io`].
    pub fn remove_queue_entry(&self, id: QueueId) -> Result<(), Error> {
        self.write(|txn| {
            let key = keys::id(keys::QUEUE, id.0);
            let entry: QueueEntry = txn
                .get_as(&key, "queue entry")?
                .ok_or(Error::NoSuchQueueEntry(id.0))?;
            txn.remove(key);
            release(txn, entry.body)
        })
    }
}
