//! The audit log: append-only, hash-chained records of who did what, when,
//! from where.
//!
//! Record *n* carries the SHA-256 of record *n−1* and its own hash over a
//! canonical encoding of all its fields (sequence number and previous hash
//! included). The head (last sequence number and hash) is kept in the meta
//! table, so [`Store::verify_audit`] notices an altered record, a removed
//! record in the middle, and records cut from the end.
//!
//! **Retention.** [`Store::purge_audit_before`] removes the oldest records
//! (only ever a prefix of the log) and moves the *base*, kept in the meta
//! table: the first retained sequence number and the hash the record there
//! must chain from. Verification starts at the base, so the chain still
//! verifies after old records are dropped. A rewrite of the whole store
//! (new records, new head, new base) is beyond what the store can notice
//! about itself; signed checkpoints kept outside it
//! ([`Store::check_audit_anchor`]) catch that.
//!
//! **Organisations.** A record may concern organisations (the sender's and
//! recipients' of a message, a signed-in user's, the one an operator acted
//! on). Each is indexed (`AUDIT_ORG`: organisation ‖ sequence number) in
//! the same batch as the record, so that an Organisation Administrator can
//! be shown exactly their organisation's records without parsing the text.
//! The index is outside the hash chain: altering it changes who may read a
//! record, never what the record says.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::txn::Txn;
use crate::{Error, OrgId, Store, codec, keys};

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
    /// Every retained record is present and unaltered.
    Intact {
        /// Number of records retained.
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

/// A point of the chain: a sequence number and the hash of the record
/// there (the head, or a checkpoint of it). Sequence number 0 with a zero
/// hash is the empty log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    /// The last record's sequence number.
    pub seq: u64,
    /// Its hash.
    pub hash: [u8; 32],
}

/// Where the retained log starts ([`Store::purge_audit_before`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditBase {
    /// The first retained sequence number (1 until something is purged).
    pub first: u64,
    /// The hash that record's `prev_hash` must equal: the last purged
    /// record's hash (zeros until something is purged).
    pub prev_hash: [u8; 32],
}

impl Default for AuditBase {
    fn default() -> Self {
        Self {
            first: 1,
            prev_hash: [0; 32],
        }
    }
}

/// Whether the log contains a point recorded earlier
/// ([`Store::check_audit_anchor`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnchorVerdict {
    /// The record at that sequence number has that hash.
    Contained,
    /// The record there has another hash (or is missing): the log was
    /// rewritten since the point was recorded.
    Differs,
    /// The log ends before that sequence number: records were cut, or the
    /// store was replaced by an older or a new one.
    Beyond {
        /// The log's last sequence number.
        head: u64,
    },
    /// The record was removed by retention, so it cannot be compared.
    Purged {
        /// The first retained sequence number.
        first: u64,
    },
}

fn head_key() -> Vec<u8> {
    keys::text(keys::META, "audit_head")
}

fn base_key() -> Vec<u8> {
    keys::text(keys::META, "audit_base")
}

fn org_key(org: OrgId, seq: u64) -> Vec<u8> {
    let mut k = keys::id(keys::AUDIT_ORG, org.0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
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

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Appends a record, and its organisation index entries, to a write
/// transaction: callers put it in the same batch as the change it
/// records, so that both become durable with one flush.
pub(crate) fn append(
    txn: &mut Txn<'_>,
    event: &AuditEvent,
    organisations: &[OrgId],
) -> Result<AuditRecord, Error> {
    let head: AuditHead = txn.get_as(&head_key(), "audit head")?.unwrap_or_default();
    let mut record = AuditRecord {
        seq: head.seq + 1,
        at_millis: now_millis(),
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
        &AuditHead {
            seq: record.seq,
            hash: record.hash,
        },
    );
    for &org in organisations {
        txn.put(org_key(org, record.seq), Vec::new());
    }
    Ok(record)
}

impl Store {
    /// Appends a record to the audit log, durably.
    ///
    /// # Errors
    ///
    /// [`Error::Io`].
    pub fn audit(&self, event: &AuditEvent) -> Result<AuditRecord, Error> {
        self.audit_for(event, &[])
    }

    /// Appends a record that concerns `organisations`, durably: their
    /// administrators may read it ([`Store::audit_records_of`]).
    ///
    /// # Errors
    ///
    /// [`Error::Io`].
    pub fn audit_for(
        &self,
        event: &AuditEvent,
        organisations: &[OrgId],
    ) -> Result<AuditRecord, Error> {
        self.write(|txn| append(txn, event, organisations))
    }

    /// The organisations that use the domains of `addresses` (an address,
    /// or a bare domain), each once, in id order. Unknown domains are
    /// skipped. For tagging audit records.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn organisations_of<'a>(
        &self,
        addresses: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<OrgId>, Error> {
        let mut found = Vec::new();
        for address in addresses {
            let domain = address.rsplit_once('@').map_or(address, |(_, d)| d);
            let domain = domain.trim().trim_end_matches('>').to_ascii_lowercase();
            if domain.is_empty() {
                continue;
            }
            if let Some(id) =
                self.read_as::<u64>(&keys::text(keys::ORG_DOMAIN, &domain), "domain")?
            {
                found.push(OrgId(id));
            }
        }
        found.sort_unstable();
        found.dedup();
        Ok(found)
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

    /// Up to `limit` audit records concerning `organisation`, from sequence
    /// number `from` on.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn audit_records_of(
        &self,
        organisation: OrgId,
        from: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, Error> {
        let mut out = Vec::new();
        let range = org_key(organisation, from)..keys::id(keys::AUDIT_ORG, organisation.0 + 1);
        for item in self.tree().range(range) {
            if out.len() >= limit {
                break;
            }
            let (k, _) = item?;
            let mut seq = [0u8; 8];
            seq.copy_from_slice(&k[9..17]);
            // An entry whose record retention removed is skipped.
            if let Some(record) = self.audit_record(u64::from_be_bytes(seq))? {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// The record at `seq`, if retained.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn audit_record(&self, seq: u64) -> Result<Option<AuditRecord>, Error> {
        self.read_as(&keys::id(keys::AUDIT, seq), "audit record")
    }

    /// The last record's sequence number and hash (the point a checkpoint
    /// anchors).
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn audit_head(&self) -> Result<AuditHead, Error> {
        Ok(self.read_as(&head_key(), "audit head")?.unwrap_or_default())
    }

    /// Where the retained log starts.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn audit_base(&self) -> Result<AuditBase, Error> {
        Ok(self.read_as(&base_key(), "audit base")?.unwrap_or_default())
    }

    /// Whether the log still holds the point `anchor` (from a checkpoint
    /// taken earlier): the record at its sequence number, checked against
    /// its own hash, has the anchor's hash. Combine with
    /// [`Store::verify_audit`], which checks that the chain from there to
    /// the head is intact.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn check_audit_anchor(&self, anchor: AuditHead) -> Result<AnchorVerdict, Error> {
        let head = self.audit_head()?;
        let base = self.audit_base()?;
        if anchor.seq > head.seq {
            return Ok(AnchorVerdict::Beyond { head: head.seq });
        }
        if anchor.seq == head.seq {
            return Ok(if anchor.hash == head.hash {
                AnchorVerdict::Contained
            } else {
                AnchorVerdict::Differs
            });
        }
        if anchor.seq + 1 < base.first {
            return Ok(AnchorVerdict::Purged { first: base.first });
        }
        if anchor.seq + 1 == base.first {
            return Ok(if anchor.hash == base.prev_hash {
                AnchorVerdict::Contained
            } else {
                AnchorVerdict::Differs
            });
        }
        let record = self
            .tree()
            .get(keys::id(keys::AUDIT, anchor.seq))?
            .and_then(|v| codec::decode::<AuditRecord>(&v, "audit record").ok());
        Ok(match record {
            Some(r) if r.hash == anchor.hash && record_hash(&r) == r.hash => {
                AnchorVerdict::Contained
            }
            _ => AnchorVerdict::Differs,
        })
    }

    /// Removes the oldest records, those written before `cutoff_millis`
    /// (milliseconds since the Unix epoch), with their organisation index
    /// entries, and moves the base past them. Only a prefix of the log is
    /// ever removed: the first record written at or after the cutoff stops
    /// the purge. Works in batches of a thousand records. Returns how many
    /// were removed.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn purge_audit_before(&self, cutoff_millis: i64) -> Result<u64, Error> {
        const BATCH: usize = 1000;
        let organisations: Vec<u64> = self
            .tree()
            .scan_prefix([keys::ORG])
            .keys()
            .filter_map(|k| k.ok().filter(|k| k.len() == 9).map(|k| keys::key_id(&k)))
            .collect();
        let mut purged = 0u64;
        loop {
            let removed = self.write(|txn| {
                let mut base: AuditBase =
                    txn.get_as(&base_key(), "audit base")?.unwrap_or_default();
                let start = base.first;
                let mut removed = 0u64;
                for item in self
                    .tree()
                    .range(keys::id(keys::AUDIT, start)..keys::id(keys::AUDIT + 1, 0))
                    .take(BATCH)
                {
                    let (k, v) = item?;
                    let record: AuditRecord = codec::decode(&v, "audit record")?;
                    if record.at_millis >= cutoff_millis || record.seq != base.first {
                        break;
                    }
                    txn.remove(k.to_vec());
                    base = AuditBase {
                        first: record.seq + 1,
                        prev_hash: record.hash,
                    };
                    removed += 1;
                }
                if removed == 0 {
                    return Ok(0);
                }
                for &org in &organisations {
                    let range = org_key(OrgId(org), start)..org_key(OrgId(org), base.first);
                    for key in self.tree().range(range).keys() {
                        txn.remove(key?.to_vec());
                    }
                }
                txn.put_as(base_key(), &base);
                // The purge is itself on the record, in the same batch.
                append(
                    txn,
                    &AuditEvent {
                        actor: "system".to_owned(),
                        action: "audit.purge".to_owned(),
                        source: "retention".to_owned(),
                        detail: format!(
                            "removed={removed} first_retained={} before_millis={cutoff_millis}",
                            base.first
                        ),
                    },
                    &[],
                )?;
                Ok(removed)
            })?;
            purged += removed;
            if removed < BATCH as u64 {
                return Ok(purged);
            }
        }
    }

    /// Walks the retained audit chain, from the base to the head, and
    /// reports the first altered, missing or re-linked record.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the log cannot be read (damage that makes a record
    /// undecodable is reported as [`AuditProblem::Altered`]).
    pub fn verify_audit(&self) -> Result<AuditVerdict, Error> {
        let head = self.audit_head()?;
        let base = self.audit_base()?;
        let mut expected = base.first;
        let mut prev = base.prev_hash;
        let mut records = 0u64;
        for item in self
            .tree()
            .range(keys::id(keys::AUDIT, base.first)..keys::id(keys::AUDIT + 1, 0))
        {
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
            records += 1;
        }
        let last = expected - 1;
        if head.seq > last {
            return Ok(AuditVerdict::Broken {
                seq: expected,
                problem: AuditProblem::Missing,
            });
        }
        if head.seq == last && head.hash != prev {
            return Ok(AuditVerdict::Broken {
                seq: last,
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
    fn retention_removes_a_prefix_and_the_rest_still_verifies() {
        let (_dir, store) = store_with_records(2);
        std::thread::sleep(std::time::Duration::from_millis(5));
        let cutoff = now_millis();
        std::thread::sleep(std::time::Duration::from_millis(5));
        for i in 3..=5 {
            store.audit(&event(i)).unwrap();
        }
        let second = store.audit_record(2).unwrap().unwrap();
        assert_eq!(store.purge_audit_before(cutoff).unwrap(), 2);
        assert_eq!(store.audit_record(1).unwrap(), None);
        assert_eq!(
            store.audit_base().unwrap(),
            AuditBase {
                first: 3,
                prev_hash: second.hash
            }
        );
        // Records 3, 4, 5 and the purge's own record.
        assert_eq!(
            store.verify_audit().unwrap(),
            AuditVerdict::Intact { records: 4 }
        );
        let purge = store.audit_record(6).unwrap().unwrap();
        assert_eq!(purge.action, "audit.purge");
        assert!(purge.detail.contains("removed=2 first_retained=3"));
        // Nothing more is old enough; a second run removes nothing.
        assert_eq!(store.purge_audit_before(cutoff).unwrap(), 0);
        // A record after the base removed behind the API is still noticed.
        raw(&store).remove(keys::id(keys::AUDIT, 3)).unwrap();
        assert_eq!(
            store.verify_audit().unwrap(),
            AuditVerdict::Broken {
                seq: 3,
                problem: AuditProblem::Missing
            }
        );
    }

    #[test]
    fn purging_everything_leaves_a_verifiable_empty_log() {
        let (_dir, store) = store_with_records(3);
        let head = store.audit_head().unwrap();
        assert_eq!(store.purge_audit_before(i64::MAX).unwrap(), 3);
        // The purge record itself is new, so it stays.
        assert_eq!(
            store.verify_audit().unwrap(),
            AuditVerdict::Intact { records: 1 }
        );
        assert_eq!(
            store.check_audit_anchor(head).unwrap(),
            AnchorVerdict::Contained,
            "the last purged record's hash is the base"
        );
    }

    #[test]
    fn anchors_are_found_or_reported() {
        let (_dir, store) = store_with_records(5);
        let third = store.audit_record(3).unwrap().unwrap();
        let anchor = AuditHead {
            seq: 3,
            hash: third.hash,
        };
        assert_eq!(
            store.check_audit_anchor(anchor).unwrap(),
            AnchorVerdict::Contained
        );
        assert_eq!(
            store
                .check_audit_anchor(store.audit_head().unwrap())
                .unwrap(),
            AnchorVerdict::Contained
        );
        assert_eq!(
            store
                .check_audit_anchor(AuditHead {
                    seq: 3,
                    hash: [7; 32]
                })
                .unwrap(),
            AnchorVerdict::Differs
        );
        assert_eq!(
            store
                .check_audit_anchor(AuditHead {
                    seq: 9,
                    hash: [7; 32]
                })
                .unwrap(),
            AnchorVerdict::Beyond { head: 5 }
        );
        assert_eq!(
            store.check_audit_anchor(AuditHead::default()).unwrap(),
            AnchorVerdict::Contained,
            "the empty log's point is where the chain starts"
        );
        // The same number of records written afresh: another chain.
        let (_other_dir, other) = store_with_records(5);
        assert_eq!(
            other.check_audit_anchor(anchor).unwrap(),
            AnchorVerdict::Differs
        );
    }

    #[test]
    fn records_are_indexed_by_the_organisations_they_concern() {
        let (_dir, store) = store_with_records(0);
        let (a, b) = (OrgId(1), OrgId(2));
        store.audit_for(&event(1), &[a]).unwrap();
        store.audit_for(&event(2), &[a, b]).unwrap();
        store.audit(&event(3)).unwrap();
        store.audit_for(&event(4), &[b]).unwrap();
        let seqs = |org| {
            store
                .audit_records_of(org, 1, 100)
                .unwrap()
                .iter()
                .map(|r| r.seq)
                .collect::<Vec<_>>()
        };
        assert_eq!(seqs(a), vec![1, 2]);
        assert_eq!(seqs(b), vec![2, 4]);
        assert_eq!(seqs(OrgId(3)), Vec::<u64>::new());
        assert_eq!(
            store
                .audit_records_of(b, 3, 100)
                .unwrap()
                .iter()
                .map(|r| r.seq)
                .collect::<Vec<_>>(),
            vec![4]
        );
    }

    #[test]
    fn an_audited_delivery_is_one_flush() {
        let (_dir, store) = store_with_records(1);
        let recipients = [crate::NewQueueRecipient {
            address: "a@example.gov.uk".into(),
            ..Default::default()
        }];
        let envelope = crate::QueueEnvelope::default();
        let outbound = crate::Outbound {
            sender: "b@example.cjsm.net",
            recipients: &recipients,
            envelope: &envelope,
            now: 0,
        };
        let message = crate::NewMessage {
            raw: b"Subject: x\r\n\r\nx\r\n",
            cached: None,
            internal_date: 0,
            flags: Default::default(),
            keywords: Default::default(),
        };
        let before = store.fsync_count();
        let (_, queued) = store
            .deliver_and_enqueue_audited(&[], &message, Some(&outbound), &event(2), &[OrgId(4)])
            .unwrap();
        assert!(queued.is_some());
        assert_eq!(store.fsync_count() - before, 1);
        assert_eq!(store.audit_records_of(OrgId(4), 1, 10).unwrap()[0].seq, 2);
        assert_eq!(
            store.verify_audit().unwrap(),
            AuditVerdict::Intact { records: 2 }
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
