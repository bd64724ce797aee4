//! The audit log: append-only, hash-chained records of who did what, when,
//! from where.
//!
//! Record *n* carries the SHA-256 of record *n−1* and its own hash over a
//! canonical encoding of all its fields (sequence number and previous hash
//! included). The head (last sequence number and hash) is kept in the meta
//! table, so [`Store::verify_audit`] notices an altered record, a removed
//! record in the middle, and records cut from the end.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Error, Store, codec, keys};

/// What to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// Who acted: a user address, `operator:<name>` or `system`.
    pub actor: String,
    /// What was done, as a short verb phrase (`user.suspend`).
    pub action: String,
    /// From where: peer address, `cli`, `admin-web`.
    pub source: String,
    /// Particulars (the object acted on, parameters).
    pub detail: String,
}

/// A stored audit record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the log, from 1, without gaps.
    pub seq: u64,
    /// When, in milliseconds since the Unix epoch.
    pub at_millis: i64,
    /// Who acted.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// From where.
    pub source: String,
    /// Particulars.
    pub detail: String,
    /// The hash of the previous record (zeros for the first).
    pub prev_hash: [u8; 32],
    /// This record's hash.
    pub hash: [u8; 32],
}

/// Why the audit chain is broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditProblem {
    /// The record's contents do not match its hash.
    Altered,
    /// The record is missing.
    Missing,
    /// The record's previous-hash does not match the record before it, which
    /// was therefore replaced or rewritten.
    ChainBroken,
}

/// The outcome of [`Store::verify_audit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditVerdict {
    /// Every record is present and unaltered.
    Intact {
        /// Number of records.
        records: u64,
    },
    /// The first problem found.
    Broken {
        /// The sequence number of the record at fault.
        seq: u64,
        /// What is wrong with it.
        problem: AuditProblem,
    },
}

/// The last record's sequence number and hash.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: [u8; 32],
}

fn head_key() -> Vec<u8> {
    keys::text(keys::META, "audit_head")
}

/// The hash over the canonical encoding: a domain tag, the fixed-width
/// numbers, then each text field prefixed by its length.
fn record_hash(r: &AuditRecord) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"ward-audit-v1");
    h.update(r.seq.to_be_bytes());
    h.update(r.at_millis.to_be_bytes());
    for field in [&r.actor, &r.action, &r.source, &r.detail] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.update(r.prev_hash);
    h.finalize().into()
}

impl Store {
    /// Appends a record to the audit log, durably.
    ///
    /// # Errors
    ///
    /// [`Error::Io`].
    pub fn audit(&self, event: &AuditEvent) -> Result<AuditRecord, Error> {
        let at_millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.write(|txn| {
            let head: Head = txn.get_as(&head_key(), "audit head")?.unwrap_or_default();
            let mut record = AuditRecord {
                seq: head.seq + 1,
                at_millis,
                actor: event.actor.clone(),
                action: event.action.clone(),
                source: event.source.clone(),
                detail: event.detail.clone(),
                prev_hash: head.hash,
                hash: [0; 32],
            };
            record.hash = record_hash(&record);
            txn.put_as(keys::id(keys::AUDIT, record.seq), &record);
            txn.put_as(
                head_key(),
                &Head {
                    seq: record.seq,
                    hash: record.hash,
                },
            );
            Ok(record)
        })
    }

    /// Up to `limit` audit records from sequence number `from` on.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn audit_records(&self, from: u64, limit: usize) -> Result<Vec<AuditRecord>, Error> {
        let mut out = Vec::new();
        for item in self
            .tree()
            .range(keys::id(keys::AUDIT, from)..keys::id(keys::AUDIT + 1, 0))
            .take(limit)
        {
            let (_, v) = item?;
            out.push(codec::decode(&v, "audit record")?);
        }
        Ok(out)
    }

    /// Walks the whole audit chain and reports the first altered, missing or
    /// re-linked record.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the log cannot be read (damage that makes a record
    /// undecodable is reported as [`AuditProblem::Altered`]).
    pub fn verify_audit(&self) -> Result<AuditVerdict, Error> {
        let head: Head = self.read_as(&head_key(), "audit head")?.unwrap_or_default();
        let mut expected = 1u64;
        let mut prev = [0u8; 32];
        for item in self.tree().scan_prefix([keys::AUDIT]) {
            let (k, v) = item?;
            let key_seq = keys::key_id(&k);
            if key_seq != expected {
                return Ok(AuditVerdict::Broken {
                    seq: expected,
                    problem: AuditProblem::Missing,
                });
            }
            let altered = AuditVerdict::Broken {
                seq: key_seq,
                problem: AuditProblem::Altered,
            };
            let Ok(record) = codec::decode::<AuditRecord>(&v, "audit record") else {
                return Ok(altered);
            };
            if record.seq != key_seq || record_hash(&record) != record.hash {
                return Ok(altered);
            }
            if record.prev_hash != prev {
                return Ok(AuditVerdict::Broken {
                    seq: key_seq,
                    problem: AuditProblem::ChainBroken,
                });
            }
            prev = record.hash;
            expected += 1;
        }
        let records = expected - 1;
        if head.seq > records {
            return Ok(AuditVerdict::Broken {
                seq: records + 1,
                problem: AuditProblem::Missing,
            });
        }
        if head.seq == records && head.hash != prev {
            return Ok(AuditVerdict::Broken {
                seq: records,
                problem: AuditProblem::Altered,
            });
        }
        Ok(AuditVerdict::Intact { records })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: u32) -> AuditEvent {
        AuditEvent {
            actor: format!("operator:alice{i}"),
            action: "user.suspend".into(),
            source: "127.0.0.1".into(),
            detail: format!("user {i}"),
        }
    }

    fn store_with_records(n: u32) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for i in 1..=n {
            let r = store.audit(&event(i)).unwrap();
            assert_eq!(r.seq, u64::from(i));
        }
        (dir, store)
    }

    /// Test-only hook: the raw tree, to tamper with records behind the API.
    fn raw(store: &Store) -> &sled::Tree {
        store.tree()
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let (_dir, store) = store_with_records(5);
        assert_eq!(
            store.verify_audit().unwrap(),
            AuditVerdict::Intact { records: 5 }
        );
        let records = store.audit_records(2, 2).unwrap();
        assert_eq!(
            records.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert_eq!(records[1].prev_hash, records[0].hash);
    }

    #[test]
    fn an_empty_log_verifies() {
        let (_dir, store) = store_with_records(0);
        assert_eq!(
            store.verify_audit().unwrap(),
            AuditVerdict::Intact { records: 0 }
        );
    }

    #[test]
    fn a_modified_record_is_detected() {
        let (_dir, store) = store_with_records(5);
        let key = keys::id(keys::AUDIT, 3);
        let mut record: AuditRecord =
            codec::decode(&raw(&store).get(&key).unwrap().unwrap(), "audit").unwrap();
        record.detail = "nothing happened".into();
        raw(&store).insert(&key, codec::encode(&record)).unwrap();
        assert_eq!(
            store.verify_audit().unwrap(),
            AuditVerdict::Broken {
                seq: 3,
                problem: AuditProblem::Altered
            }
        );
    }

    #[test]
    fn a_modified_and_rehashed_record_breaks_the_chain() {
        let (_dir, store) = store_with_records(5);
        let key = keys::id(keys::AUDIT, 3);
        let mut record: AuditRecord =
            codec::decode(&raw(&store).get(&key).unwrap().unwrap(), "audit").unwrap();
        record.actor = "someone else".into();
        record.hash = record_hash(&record);
        raw(&store).insert(&key, codec::encode(&record)).unwrap();
        assert_eq!(
            store.verify_audit().unwrap(),
            AuditVerdict::Broken {
                seq: 4,
                problem: AuditProblem::ChainBroken
            }
        );
    }

    #[test]
    fn a_removed_record_is_detected() {
        let (_dir, store) = store_with_records(5);
        raw(&store).remove(keys::id(keys::AUDIT, 2)).unwrap();
        assert_eq!(
            store.verify_audit().unwrap(),
            AuditVerdict::Broken {
                seq: 2,
                problem: AuditProblem::Missing
            }
        );
    }

    #[test]
    fn a_removed_last_record_is_detected() {
        let (_dir, store) = store_with_records(5);
        raw(&store).remove(keys::id(keys::AUDIT, 5)).unwrap();
        assert_eq!(
            store.verify_audit().unwrap(),
            AuditVerdict::Broken {
                seq: 5,
                problem: AuditProblem::Missing
            }
        );
    }

    #[test]
    fn the_chain_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.audit(&event(1)).unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        store.audit(&event(2)).unwrap();
        assert_eq!(
            store.verify_audit().unwrap(),
            AuditVerdict::Intact { records: 2 }
        );
    }
}
