//! A write transaction: reads see the transaction's own writes, and the
//! writes are applied as one atomic sled batch when the operation succeeds.
//!
//! Operations run one at a time under the store's write lock, so a value read
//! in a transaction cannot change before the transaction commits; there are
//! no conflicts and no retries. An operation that returns an error leaves no
//! trace, because its writes were only ever in the overlay.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Serialize, de::DeserializeOwned};
use sled::IVec;

use crate::codec::{decode, encode};
use crate::notify::MailboxChange;
use crate::{BodyId, Error, MailboxId, keys};

/// Pending writes and the changes to announce once they are durable.
pub(crate) struct Txn<'a> {
    tree: &'a sled::Tree,
    /// Key → new value, or `None` for a removal.
    writes: BTreeMap<Vec<u8>, Option<IVec>>,
    /// Changes to publish after the commit is durable.
    changes: Vec<(MailboxId, MailboxChange)>,
    /// Bodies given a record, and bodies whose record was removed, by this
    /// transaction (their files need work around the commit).
    bodies_touched: BTreeSet<BodyId>,
}

/// A finished transaction, ready to apply.
pub(crate) struct Finished {
    /// The writes, as one atomic batch.
    pub(crate) batch: sled::Batch,
    /// Changes to announce once the batch is durable.
    pub(crate) changes: Vec<(MailboxId, MailboxChange)>,
    /// Bodies that get a record: their directory entries must be fsynced
    /// before the batch counts as durable.
    pub(crate) bodies_added: Vec<BodyId>,
    /// Bodies whose record goes: their files are unlinked once the batch is
    /// durable.
    pub(crate) bodies_freed: Vec<BodyId>,
    /// The batch changes a user, an organisation or a gateway's proof
    /// (certificate, networks): open sessions must check their
    /// credentials again.
    pub(crate) credentials_changed: bool,
}

impl<'a> Txn<'a> {
    pub(crate) fn new(tree: &'a sled::Tree) -> Self {
        Self {
            tree,
            writes: BTreeMap::new(),
            changes: Vec::new(),
            bodies_touched: BTreeSet::new(),
        }
    }

    /// The current value of `key`, including this transaction's writes.
    pub(crate) fn get(&self, key: &[u8]) -> Result<Option<IVec>, Error> {
        match self.writes.get(key) {
            Some(v) => Ok(v.clone()),
            None => Ok(self.tree.get(key)?),
        }
    }

    /// The decoded value of `key`.
    pub(crate) fn get_as<T: DeserializeOwned>(
        &self,
        key: &[u8],
        what: &'static str,
    ) -> Result<Option<T>, Error> {
        self.get(key)?.map(|v| decode(&v, what)).transpose()
    }

    /// Whether `key` exists.
    pub(crate) fn contains(&self, key: &[u8]) -> Result<bool, Error> {
        Ok(self.get(key)?.is_some())
    }

    /// Writes raw bytes.
    pub(crate) fn put(&mut self, key: Vec<u8>, value: impl Into<IVec>) {
        self.writes.insert(key, Some(value.into()));
    }

    /// Writes an encoded value.
    pub(crate) fn put_as<T: Serialize>(&mut self, key: Vec<u8>, value: &T) {
        self.put(key, encode(value));
    }

    /// Removes a key.
    pub(crate) fn remove(&mut self, key: Vec<u8>) {
        self.writes.insert(key, None);
    }

    /// All entries whose key starts with `prefix`, in key order, including
    /// this transaction's writes.
    pub(crate) fn scan_prefix(&self, prefix: &[u8]) -> Result<Vec<(IVec, IVec)>, Error> {
        let mut out: Vec<(IVec, IVec)> = Vec::new();
        for item in self.tree.scan_prefix(prefix) {
            let (k, v) = item?;
            out.push((k, v));
        }
        let pending: Vec<_> = self
            .writes
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .collect();
        if pending.is_empty() {
            return Ok(out);
        }
        let mut merged: BTreeMap<IVec, IVec> = out.into_iter().collect();
        for (k, v) in pending {
            match v {
                Some(v) => merged.insert(IVec::from(k.as_slice()), v.clone()),
                None => merged.remove(k.as_slice()),
            };
        }
        Ok(merged.into_iter().collect())
    }

    /// Takes the next value of a store-wide counter (starting at 1).
    pub(crate) fn next_id(&mut self, counter: &'static str) -> Result<u64, Error> {
        let key = keys::text(keys::META, counter);
        let current = self.get_as::<u64>(&key, "counter")?.unwrap_or(0);
        let next = current
            .checked_add(1)
            .ok_or(Error::CounterExhausted(counter))?;
        self.put_as(key, &next);
        Ok(next)
    }

    /// Queues a change for announcement once the transaction is durable.
    pub(crate) fn announce(&mut self, mailbox: MailboxId, change: MailboxChange) {
        self.changes.push((mailbox, change));
    }

    /// Notes that the transaction creates the record of body `id`.
    pub(crate) fn body_added(&mut self, id: BodyId) {
        self.bodies_touched.insert(id);
    }

    /// Notes that the transaction removes the record of body `id`.
    pub(crate) fn body_freed(&mut self, id: BodyId) {
        self.bodies_touched.insert(id);
    }

    /// Whether the transaction wrote anything.
    pub(crate) fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The batch to apply, the changes to announce afterwards and the body
    /// files concerned. A body both added and freed within the transaction
    /// counts by its final state.
    pub(crate) fn finish(self) -> Finished {
        let mut finished = Finished {
            batch: sled::Batch::default(),
            changes: self.changes,
            bodies_added: Vec::new(),
            bodies_freed: Vec::new(),
            credentials_changed: false,
        };
        for id in self.bodies_touched {
            let existed = matches!(self.tree.contains_key(keys::body(&id.0)), Ok(true));
            match (existed, self.writes.get(&keys::body(&id.0))) {
                (false, Some(Some(_))) => finished.bodies_added.push(id),
                (true, Some(None)) => finished.bodies_freed.push(id),
                _ => {}
            }
        }
        for (k, v) in self.writes {
            finished.credentials_changed |= match k.first() {
                // Sign-ins write the user too (last login, failed
                // attempts): only a change that can end a session counts,
                // so that logins do not make every open session check.
                Some(&keys::USER) => {
                    let old = self.tree.get(&k).ok().flatten();
                    credentials_differ(old.as_deref(), v.as_deref())
                }
                Some(&(keys::ORG | keys::GATEWAY_CERT | keys::GATEWAY_NETWORKS)) => true,
                _ => false,
            };
            match v {
                Some(v) => finished.batch.insert(k, v),
                None => finished.batch.remove(k),
            }
        }
        finished
    }
}

/// Whether a user record's write changes what an open session signed in
/// as it relies on: status, password, organisation (a record that does not
/// decode counts as changed).
fn credentials_differ(old: Option<&[u8]>, new: Option<&[u8]>) -> bool {
    let (Some(old), Some(new)) = (old, new) else {
        return true;
    };
    match (
        decode::<crate::User>(old, "user"),
        decode::<crate::User>(new, "user"),
    ) {
        (Ok(a), Ok(b)) => {
            a.status != b.status
                || a.password_hash != b.password_hash
                || a.organisation != b.organisation
        }
        _ => true,
    }
}
