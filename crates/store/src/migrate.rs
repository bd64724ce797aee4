//! Layout upgrades: `open` brings a store written by an older build up to
//! the current layout version in place, before anything else reads it.
//!
//! Records are bincode, which has no room for a field it does not know, so
//! a record whose type gained a field is decoded with a copy of its old
//! type (kept here, frozen) and written again in the new form. The whole
//! upgrade is one atomic sled batch that also writes the new version number,
//! flushed before `open` goes on: a crash leaves either the old store or the
//! new one, never a mixture. Version 1 (bodies inside sled) is not upgraded;
//! `open` refuses it.

use serde::{Serialize, de::DeserializeOwned};

use crate::codec;

/// One table's upgrade: its key prefix and the function that rewrites one
/// value.
struct Step {
    table: u8,
    what: &'static str,
    convert: fn(&[u8]) -> Result<Vec<u8>, crate::Error>,
}

fn rewrite<Old: DeserializeOwned, New: Serialize>(
    bytes: &[u8],
    what: &'static str,
    change: impl FnOnce(Old) -> New,
) -> Result<Vec<u8>, crate::Error> {
    let old: Old = codec::decode(bytes, what)?;
    Ok(codec::encode(&change(old)))
}

/// The upgrade from layout 2 to layout 3.
fn steps_2_to_3() -> Vec<Step> {
    vec![
        Step {
            table: crate::keys::ORG,
            what: "organisation",
            convert: |b| rewrite(b, "organisation", v2::Organisation::upgrade),
        },
        Step {
            table: crate::keys::APPLICATION,
            what: "application",
            convert: |b| rewrite(b, "application", v2::Application::upgrade),
        },
        Step {
            table: crate::keys::USER,
            what: "user",
            convert: |b| rewrite(b, "user", v2::User::upgrade),
        },
        Step {
            table: crate::keys::QUEUE,
            what: "queue entry",
            convert: |b| rewrite(b, "queue entry", v2::QueueEntry::upgrade),
        },
    ]
}

/// Upgrades `db` from layout `from` to `to`, atomically and durably.
///
/// # Errors
///
/// A message for [`crate::Error::Open`]: no upgrade path, or a record that
/// does not decode in its old form.
pub(crate) fn upgrade(db: &sled::Db, from: u64, to: u64, schema_key: &[u8]) -> Result<(), String> {
    let steps = match (from, to) {
        (2, 3) => steps_2_to_3(),
        _ => {
            return Err(format!(
                "unsupported store layout version {from}; this build reads version {to} and upgrades only from version 2"
            ));
        }
    };
    let mut batch = sled::Batch::default();
    let mut count = 0u64;
    for step in steps {
        for item in db.scan_prefix([step.table]) {
            let (key, value) = item.map_err(|e| e.to_string())?;
            let new = (step.convert)(&value)
                .map_err(|e| format!("upgrading {} {key:?}: {e}", step.what))?;
            batch.insert(key, new);
            count += 1;
        }
    }
    batch.insert(schema_key, &to.to_be_bytes());
    db.apply_batch(batch).map_err(|e| e.to_string())?;
    db.flush().map_err(|e| e.to_string())?;
    tracing::info!(from, to, records = count, "store layout upgraded");
    Ok(())
}

/// The record types as layout 2 wrote them. Frozen: never edit these; add
/// the new field to the current type and set it in `upgrade`.
mod v2 {
    use serde::Deserialize;

    use crate::{
        AccountStatus, ApplicationState, BodyId, ConnectionKind, DirectoryFields, OrgId, OrgState,
        PasswordHash, QueueEnvelope, RecipientState, Role, Sponsor,
    };

    #[derive(Deserialize)]
    pub(super) struct Organisation {
        name: String,
        domains: Vec<String>,
        abbreviation: Option<String>,
        connection: ConnectionKind,
        parent: Option<OrgId>,
        ex_directory: bool,
        state: OrgState,
    }

    impl Organisation {
        pub(super) fn upgrade(self) -> crate::Organisation {
            crate::Organisation {
                name: self.name,
                domains: self.domains,
                abbreviation: self.abbreviation,
                connection: self.connection,
                parent: self.parent,
                ex_directory: self.ex_directory,
                state: self.state,
                delivery_held: false,
                details: crate::OrgDetails::default(),
            }
        }
    }

    #[derive(Deserialize)]
    pub(super) struct Application {
        domain: String,
        organisation_name: String,
        parent: Option<OrgId>,
        connection: ConnectionKind,
        ex_directory: bool,
        abbreviation: Option<String>,
        reason: String,
        expected_users: u32,
        sponsors: Vec<Sponsor>,
        signatory_name: String,
        signatory_position: String,
        signatory_address: String,
        terms_version: String,
        submitted_at: i64,
        state: ApplicationState,
    }

    impl Application {
        pub(super) fn upgrade(self) -> crate::Application {
            crate::Application {
                domain: self.domain,
                organisation_name: self.organisation_name,
                parent: self.parent,
                connection: self.connection,
                ex_directory: self.ex_directory,
                abbreviation: self.abbreviation,
                reason: self.reason,
                expected_users: self.expected_users,
                sponsors: self.sponsors,
                signatory_name: self.signatory_name,
                signatory_position: self.signatory_position,
                signatory_address: self.signatory_address,
                terms_version: self.terms_version,
                submitted_at: self.submitted_at,
                state: self.state,
                details: crate::OrgDetails::default(),
                individual: false,
            }
        }
    }

    #[derive(Deserialize)]
    pub(super) struct User {
        address: String,
        first_name: String,
        last_name: String,
        notice_address: Option<String>,
        organisation: OrgId,
        role: Role,
        directory: DirectoryFields,
        ex_directory: bool,
        status: AccountStatus,
        password_hash: Option<PasswordHash>,
        password_set_at: Option<i64>,
        failed_attempts: u32,
        locked_at: Option<i64>,
        last_login: Option<i64>,
        created_at: i64,
    }

    impl User {
        pub(super) fn upgrade(self) -> crate::User {
            crate::User {
                address: self.address,
                first_name: self.first_name,
                last_name: self.last_name,
                notice_address: self.notice_address,
                organisation: self.organisation,
                role: self.role,
                directory: self.directory,
                ex_directory: self.ex_directory,
                status: self.status,
                password_hash: self.password_hash,
                password_set_at: self.password_set_at,
                previous_passwords: Vec::new(),
                failed_attempts: self.failed_attempts,
                locked_at: self.locked_at,
                last_login: self.last_login,
                created_at: self.created_at,
            }
        }
    }

    #[derive(Deserialize)]
    pub(super) struct QueueRecipient {
        address: String,
        state: RecipientState,
        attempts: u32,
        notify: Option<String>,
        orcpt: Option<String>,
    }

    #[derive(Deserialize)]
    pub(super) struct QueueEntry {
        sender: String,
        recipients: Vec<QueueRecipient>,
        envelope: QueueEnvelope,
        body: BodyId,
        size: u64,
        queued_at: i64,
        next_attempt_at: i64,
        held: bool,
    }

    impl QueueEntry {
        pub(super) fn upgrade(self) -> crate::QueueEntry {
            // An entry held by an operator when the store was upgraded is
            // counted as held from now on.
            let now = crate::queue::unix_now();
            crate::QueueEntry {
                sender: self.sender,
                recipients: self
                    .recipients
                    .into_iter()
                    .map(|r| crate::QueueRecipient {
                        address: r.address,
                        state: r.state,
                        attempts: r.attempts,
                        notify: r.notify,
                        orcpt: r.orcpt,
                        held_since: None,
                        held_for: 0,
                    })
                    .collect(),
                envelope: self.envelope,
                body: self.body,
                size: self.size,
                queued_at: self.queued_at,
                next_attempt_at: self.next_attempt_at,
                held: self.held,
                held_since: self.held.then_some(now),
                held_for: 0,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        BodyId, ConnectionKind, OrgId, OrgState, QueueEnvelope, QueueId, RecipientState, Store,
        keys,
    };

    // bincode encodes a struct as its fields in order, like a tuple: these
    // tuples are the bytes layout 2 wrote.
    type OrgV2 = (
        String,
        Vec<String>,
        Option<String>,
        ConnectionKind,
        Option<OrgId>,
        bool,
        OrgState,
    );
    type RecipientV2 = (String, RecipientState, u32, Option<String>, Option<String>);
    type QueueV2 = (
        String,
        Vec<RecipientV2>,
        QueueEnvelope,
        BodyId,
        u64,
        i64,
        i64,
        bool,
    );

    #[test]
    fn a_layout_2_store_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = crate::store::sled_config(dir.path(), 1 << 20)
                .open()
                .unwrap();
            let org: OrgV2 = (
                "Kent Probation".into(),
                vec!["kentprobation.org.uk.cjsm.net".into()],
                None,
                ConnectionKind::Mailbox,
                None,
                false,
                OrgState::Suspended,
            );
            db.insert(keys::id(keys::ORG, 1), codec::encode(&org))
                .unwrap();
            let entry: QueueV2 = (
                "s@a.example".into(),
                vec![(
                    "x@kentprobation.org.uk.cjsm.net".into(),
                    RecipientState::Pending,
                    2,
                    None,
                    None,
                )],
                QueueEnvelope::default(),
                BodyId([7; 32]),
                10,
                1_000,
                2_000,
                false,
            );
            db.insert(keys::id(keys::QUEUE, 1), codec::encode(&entry))
                .unwrap();
            db.insert(keys::text(keys::META, "schema"), &2u64.to_be_bytes())
                .unwrap();
            db.flush().unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let org = store.organisation(OrgId(1)).unwrap().unwrap();
        assert_eq!(org.name, "Kent Probation");
        assert_eq!(org.state, OrgState::Suspended);
        assert!(!org.delivery_held);
        let entry = store.queue_entry(QueueId(1)).unwrap().unwrap();
        assert_eq!(entry.recipients[0].attempts, 2);
        assert_eq!((entry.queued_at, entry.next_attempt_at), (1_000, 2_000));
        assert_eq!(entry.recipients[0].held_for, 0);
        assert_eq!(entry.age_of(0, 1_500), 500);
        drop(store);
        // Upgraded once: the next open finds layout 3.
        let store = Store::open(dir.path()).unwrap();
        assert!(store.organisation(OrgId(1)).unwrap().is_some());
    }

    #[test]
    fn a_layout_without_an_upgrade_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = crate::store::sled_config(dir.path(), 1 << 20)
                .open()
                .unwrap();
            db.insert(keys::text(keys::META, "schema"), &1u64.to_be_bytes())
                .unwrap();
            db.flush().unwrap();
        }
        let error = Store::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("upgrades only from version 2"), "{error}");
    }
}
