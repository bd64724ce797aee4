//! Behaviour of the public API, one rule per test.

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use store::{
    Application, ApplicationState, ConnectionKind, Error, FlagOp, Flags, MailboxChange, NewMessage,
    OrgDetails, PasswordHash, SpecialUse, Sponsor, Store, Uid,
};

use crate::support::{assert_consistent, ensure_user, fresh, msg, organisation};

#[test]
fn a_new_user_has_the_special_use_mailboxes_subscribed() {
    let (_dir, store, user) = fresh();
    let names: Vec<_> = store
        .mailboxes(user)
        .unwrap()
        .into_iter()
        .map(|m| (m.name, m.special_use))
        .collect();
    assert_eq!(
        names,
        vec![
            ("Archive".into(), Some(SpecialUse::Archive)),
            ("Drafts".into(), Some(SpecialUse::Drafts)),
            ("INBOX".into(), None),
            ("Junk".into(), Some(SpecialUse::Junk)),
            ("Sent".into(), Some(SpecialUse::Sent)),
            ("Trash".into(), Some(SpecialUse::Trash)),
        ]
    );
    assert_eq!(store.subscriptions(user).unwrap().len(), 6);
    let inbox = store.mailbox_by_name(user, "inbox").unwrap().unwrap();
    assert_eq!(
        (inbox.uidnext, inbox.messages, inbox.highest_modseq),
        (1, 0, 1)
    );
}

#[test]
fn one_delivery_to_many_mailboxes_stores_the_body_once() {
    let (_dir, store, a) = fresh();
    let b = ensure_user(&store, "b@greenstone.cjsm.net");
    let ia = store.mailbox_by_name(a, "INBOX").unwrap().unwrap().id;
    let ib = store.mailbox_by_name(b, "INBOX").unwrap().unwrap().id;
    let raw = b"Subject: x\r\n\r\nbody\r\n";
    let landed = store.deliver(&[ia, ib], &msg(raw)).unwrap();
    assert_eq!(landed.len(), 2);
    assert_eq!(landed[0].body, landed[1].body);
    let report = store.check_consistency().unwrap();
    assert_eq!((report.messages, report.bodies), (2, 1));
    // The body goes only with the last reference.
    store
        .store_flags(
            ia,
            &[landed[0].uid],
            FlagOp::Add,
            Flags::DELETED,
            &BTreeSet::new(),
        )
        .unwrap();
    store.expunge(ia, None).unwrap();
    assert_eq!(store.read_body(landed[1].body).unwrap(), raw);
    store
        .store_flags(
            ib,
            &[landed[1].uid],
            FlagOp::Add,
            Flags::DELETED,
            &BTreeSet::new(),
        )
        .unwrap();
    store.expunge(ib, None).unwrap();
    assert!(matches!(
        store.read_body(landed[0].body),
        Err(Error::NoSuchBody(_))
    ));
    let report = store.check_consistency().unwrap();
    assert_eq!((report.messages, report.bodies), (0, 0));
    assert!(report.is_consistent(), "{:?}", report.problems);
}

#[test]
fn a_delivery_with_a_missing_mailbox_delivers_nothing() {
    let (_dir, store, user) = fresh();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    let err = store
        .deliver(&[inbox, store::MailboxId(9999)], &msg(b"x"))
        .unwrap_err();
    assert!(matches!(err, Error::NoSuchMailbox(9999)));
    assert_eq!(store.mailbox(inbox).unwrap().unwrap().messages, 0);
    let report = store.check_consistency().unwrap();
    assert_eq!(report.bodies, 0);
}

#[test]
fn delivery_and_queueing_happen_together_or_not_at_all() {
    let (_dir, store, user) = fresh();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    let remote = [store::NewQueueRecipient {
        address: "x@pnn.police.uk".into(),
        notify: Some("NEVER".into()),
        orcpt: None,
    }];
    let envelope = store::QueueEnvelope::default();
    let outbound = store::Outbound {
        sender: "a@b.cjsm.net",
        recipients: &remote,
        envelope: &envelope,
        now: 7,
    };
    let err = store
        .deliver_and_enqueue(
            &[inbox, store::MailboxId(9999)],
            &msg(b"x"),
            Some(&outbound),
        )
        .unwrap_err();
    assert!(matches!(err, Error::NoSuchMailbox(9999)));
    assert!(store.queue_entries().unwrap().is_empty(), "nothing queued");
    assert_eq!(store.mailbox(inbox).unwrap().unwrap().messages, 0);

    let (landed, queued) = store
        .deliver_and_enqueue(&[inbox], &msg(b"y"), Some(&outbound))
        .unwrap();
    let entry = store.queue_entry(queued.unwrap()).unwrap().unwrap();
    assert_eq!(entry.body, landed[0].body, "one body for both");
    assert_eq!(entry.recipients[0].notify.as_deref(), Some("NEVER"));
    assert_eq!(store.check_consistency().unwrap().bodies, 1);
    store.remove_queue_entry(queued.unwrap()).unwrap();
    assert_eq!(
        store.read_body(landed[0].body).unwrap(),
        b"y",
        "the mailbox keeps it"
    );
}

#[test]
fn uids_are_never_reused_and_modseq_grows() {
    let (_dir, store, user) = fresh();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    let first = store.append(inbox, &msg(b"one")).unwrap();
    let second = store.append(inbox, &msg(b"two")).unwrap();
    assert_eq!((first.uid, second.uid), (Uid(1), Uid(2)));
    assert!(second.modseq > first.modseq);
    store
        .store_flags(
            inbox,
            &[Uid(2)],
            FlagOp::Add,
            Flags::DELETED,
            &BTreeSet::new(),
        )
        .unwrap();
    assert_eq!(store.expunge(inbox, None).unwrap(), vec![Uid(2)]);
    let third = store.append(inbox, &msg(b"three")).unwrap();
    assert_eq!(third.uid, Uid(3));
    let info = store.mailbox(inbox).unwrap().unwrap();
    assert_eq!(
        (info.uidnext, info.messages, info.highest_modseq),
        (4, 2, third.modseq)
    );
}

#[test]
fn storing_flags_returns_the_new_modseq_and_keeps_unseen_right() {
    let (_dir, store, user) = fresh();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    for raw in [&b"a"[..], b"b", b"c"] {
        store.append(inbox, &msg(raw)).unwrap();
    }
    let before = store.mailbox(inbox).unwrap().unwrap();
    assert_eq!(before.unseen, 3);
    let kw: BTreeSet<String> = ["$Forwarded".to_owned()].into();
    let changed = store
        .store_flags(
            inbox,
            &[Uid(1), Uid(2), Uid(7)],
            FlagOp::Add,
            Flags::SEEN,
            &kw,
        )
        .unwrap();
    assert_eq!(changed.len(), 2);
    assert!(
        changed
            .iter()
            .all(|e| e.modseq == before.highest_modseq + 1 && e.keywords == kw)
    );
    let after = store.mailbox(inbox).unwrap().unwrap();
    assert_eq!(
        (after.unseen, after.highest_modseq),
        (1, before.highest_modseq + 1)
    );
    // Storing what is already there changes nothing.
    assert!(
        store
            .store_flags(inbox, &[Uid(1)], FlagOp::Add, Flags::SEEN, &kw)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.mailbox(inbox).unwrap().unwrap().highest_modseq,
        after.highest_modseq
    );
    let changed = store
        .store_flags(
            inbox,
            &[Uid(1)],
            FlagOp::Set,
            Flags::FLAGGED,
            &BTreeSet::new(),
        )
        .unwrap();
    assert_eq!(changed[0].flags, Flags::FLAGGED);
    assert_eq!(
        store
            .search_flags(inbox, Flags::SEEN, Flags::empty())
            .unwrap(),
        vec![Uid(2)]
    );
    assert_eq!(
        store
            .search_flags(inbox, Flags::empty(), Flags::SEEN)
            .unwrap(),
        vec![Uid(1), Uid(3)]
    );
    assert_eq!(
        store
            .changed_since(inbox, after.highest_modseq)
            .unwrap()
            .len(),
        1
    );
    assert_consistent(&store);
}

#[test]
fn copy_and_move_keep_flags_and_report_the_new_uids() {
    let (_dir, store, user) = fresh();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    let archive = store.mailbox_by_name(user, "Archive").unwrap().unwrap();
    let mut seen = msg(b"seen");
    seen.flags = Flags::SEEN;
    store.append(inbox, &seen).unwrap();
    store.append(inbox, &msg(b"unseen")).unwrap();
    let copied = store
        .copy_messages(inbox, &[Uid(2), Uid(1), Uid(5)], archive.id)
        .unwrap();
    assert_eq!(copied.uidvalidity, archive.uidvalidity);
    assert_eq!(copied.uids, vec![(Uid(1), Uid(1)), (Uid(2), Uid(2))]);
    assert_eq!(
        store.message(archive.id, Uid(1)).unwrap().unwrap().flags,
        Flags::SEEN
    );
    let moved = store.move_messages(inbox, &[Uid(1)], archive.id).unwrap();
    assert_eq!(moved.uids, vec![(Uid(1), Uid(3))]);
    let inbox_info = store.mailbox(inbox).unwrap().unwrap();
    let archive_info = store.mailbox(archive.id).unwrap().unwrap();
    assert_eq!((inbox_info.messages, inbox_info.unseen), (1, 1));
    assert_eq!((archive_info.messages, archive_info.unseen), (3, 1));
    assert_consistent(&store);
}

#[test]
fn rename_moves_children_and_renaming_inbox_moves_its_messages() {
    let (_dir, store, user) = fresh();
    let c = store
        .create_mailbox(user, "Clients/Smith/2024", None)
        .unwrap();
    assert!(store.mailbox_by_name(user, "Clients").unwrap().is_some());
    let mut rx = store.subscribe_changes(c);
    store
        .rename_mailbox(user, "Clients", "Old/Clients")
        .unwrap();
    assert_eq!(
        store.mailbox(c).unwrap().unwrap().name,
        "Old/Clients/Smith/2024"
    );
    assert!(
        store
            .mailbox_by_name(user, "Clients/Smith")
            .unwrap()
            .is_none()
    );
    assert!(store.mailbox_by_name(user, "Old").unwrap().is_some());
    assert_eq!(
        rx.try_recv().unwrap(),
        MailboxChange::Renamed {
            name: "Old/Clients/Smith/2024".into()
        }
    );
    assert!(matches!(
        store.rename_mailbox(user, "Old", "Old/x"),
        Err(Error::RenameIntoItself { .. })
    ));
    assert!(matches!(
        store.rename_mailbox(user, "Old", "Sent"),
        Err(Error::MailboxExists(_))
    ));

    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    store.append(inbox, &msg(b"one")).unwrap();
    store.rename_mailbox(user, "INBOX", "Saved").unwrap();
    assert_eq!(store.mailbox(inbox).unwrap().unwrap().messages, 0);
    assert_eq!(
        store
            .mailbox_by_name(user, "Saved")
            .unwrap()
            .unwrap()
            .messages,
        1
    );
    assert_consistent(&store);
}

#[test]
fn delete_refuses_inbox_and_parents_and_recreation_changes_uidvalidity() {
    let (_dir, store, user) = fresh();
    store.create_mailbox(user, "A/B", None).unwrap();
    assert!(matches!(
        store.delete_mailbox(user, "inbox"),
        Err(Error::CannotDeleteInbox)
    ));
    assert!(matches!(
        store.delete_mailbox(user, "A"),
        Err(Error::MailboxHasChildren(_))
    ));
    let b = store.mailbox_by_name(user, "A/B").unwrap().unwrap();
    store.append(b.id, &msg(b"gone soon")).unwrap();
    let mut rx = store.subscribe_changes(b.id);
    store.delete_mailbox(user, "A/B").unwrap();
    assert!(matches!(
        rx.try_recv().unwrap(),
        MailboxChange::Expunged { .. }
    ));
    assert_eq!(rx.try_recv().unwrap(), MailboxChange::Deleted);
    store.create_mailbox(user, "A/B", None).unwrap();
    let again = store.mailbox_by_name(user, "A/B").unwrap().unwrap();
    assert_ne!(again.uidvalidity, b.uidvalidity);
    assert_ne!(again.id, b.id);
    assert!(matches!(
        store.create_mailbox(user, "A/B", None),
        Err(Error::MailboxExists(_))
    ));
    assert!(matches!(
        store.create_mailbox(user, "A//B", None),
        Err(Error::InvalidMailboxName(_))
    ));
    assert_consistent(&store);
}

#[test]
fn a_30_mb_message_is_read_back_by_ranges() {
    let (_dir, store, user) = fresh();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    let raw: Vec<u8> = (0..30 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let landed = store.append(inbox, &msg(&raw)).unwrap();
    assert_eq!(
        store.message(inbox, landed.uid).unwrap().unwrap().size,
        raw.len() as u64
    );
    // A range across a chunk boundary.
    let part = store.read_body_range(landed.body, 65_000, 1_000).unwrap();
    assert_eq!(part, &raw[65_000..66_000]);
    // Past the end is cut short.
    let tail = store
        .read_body_range(landed.body, raw.len() as u64 - 10, 100)
        .unwrap();
    assert_eq!(tail, &raw[raw.len() - 10..]);
    let mut reader = store.body_reader(landed.body).unwrap();
    reader.seek(SeekFrom::Start(20 * 1024 * 1024 + 3)).unwrap();
    let mut buf = vec![0u8; 200_000];
    reader.read_exact(&mut buf).unwrap();
    assert_eq!(buf, &raw[20 * 1024 * 1024 + 3..20 * 1024 * 1024 + 200_003]);
    let mut all = Vec::new();
    store
        .body_reader(landed.body)
        .unwrap()
        .read_to_end(&mut all)
        .unwrap();
    assert!(all == raw);
}

#[test]
fn cached_parse_data_is_stored_once_per_body() {
    let (_dir, store, user) = fresh();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    let mut m = msg(b"Subject: s\r\n\r\n");
    m.cached = Some(b"envelope");
    let landed = store.append(inbox, &m).unwrap();
    assert_eq!(store.body_cache(landed.body).unwrap().unwrap(), b"envelope");
    store.set_body_cache(landed.body, b"v2").unwrap();
    assert_eq!(store.body_cache(landed.body).unwrap().unwrap(), b"v2");
}

#[test]
fn parse_data_of_many_bodies_is_stored_in_one_write() {
    let (_dir, store, user) = fresh();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    let a = store.append(inbox, &msg(b"Subject: a\r\n\r\n")).unwrap();
    let b = store.append(inbox, &msg(b"Subject: b\r\n\r\n")).unwrap();
    let gone = store::BodyId([7; 32]);
    store
        .set_body_caches(&[
            (a.body, b"ea".to_vec()),
            (gone, b"x".to_vec()),
            (b.body, b"eb".to_vec()),
        ])
        .unwrap();
    assert_eq!(store.body_cache(a.body).unwrap().unwrap(), b"ea");
    assert_eq!(store.body_cache(b.body).unwrap().unwrap(), b"eb");
}

#[test]
fn subscribers_learn_of_changes_after_they_are_durable() {
    let (_dir, store, user) = fresh();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    let mut rx = store.subscribe_changes(inbox);
    let a = store.append(inbox, &msg(b"a")).unwrap();
    assert_eq!(
        rx.try_recv().unwrap(),
        MailboxChange::Added {
            uid: a.uid,
            modseq: a.modseq
        }
    );
    let changed = store
        .store_flags(
            inbox,
            &[a.uid],
            FlagOp::Add,
            Flags::DELETED,
            &BTreeSet::new(),
        )
        .unwrap();
    assert_eq!(
        rx.try_recv().unwrap(),
        MailboxChange::FlagsChanged {
            uid: a.uid,
            modseq: changed[0].modseq
        }
    );
    store.expunge(inbox, None).unwrap();
    assert!(
        matches!(rx.try_recv().unwrap(), MailboxChange::Expunged { uid, modseq } if uid == a.uid && modseq > changed[0].modseq)
    );
    assert!(rx.try_recv().is_err());
}

#[test]
fn reopening_keeps_messages_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    let (user, inbox) = {
        let store = Store::open(dir.path()).unwrap();
        assert!(store.was_created());
        let user = ensure_user(&store, "x@greenstone.cjsm.net");
        let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
        store.append(inbox, &msg(b"kept")).unwrap();
        (user, inbox)
    };
    let store = Store::open(dir.path()).unwrap();
    assert!(!store.was_created());
    let info = store.mailbox_by_name(user, "INBOX").unwrap().unwrap();
    assert_eq!((info.id, info.messages, info.uidnext), (inbox, 1, 2));
    let entry = store.message(inbox, Uid(1)).unwrap().unwrap();
    assert_eq!(store.read_body(entry.body).unwrap(), b"kept");
    assert!(matches!(Store::open(dir.path()), Err(Error::Open { .. })));
}

#[test]
fn concurrent_writers_share_fsyncs() {
    let (_dir, store, user) = fresh();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    let store = Arc::new(store);
    let before = store.fsync_count();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..25 {
                    let raw = format!("Subject: {t}/{i}\r\n\r\nbody\r\n");
                    store.append(inbox, &msg(raw.as_bytes())).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let fsyncs = store.fsync_count() - before;
    assert_eq!(store.mailbox(inbox).unwrap().unwrap().messages, 200);
    assert!(fsyncs < 200, "{fsyncs} fsyncs for 200 deliveries");
    assert_consistent(&store);
}

#[test]
fn queue_entries_share_bodies_and_release_them() {
    let (_dir, store, user) = fresh();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    let raw = b"Subject: both\r\n\r\n";
    let landed = store.append(inbox, &msg(raw)).unwrap();
    let q = store
        .enqueue(
            "eric.brown@greenstone.cjsm.net",
            &["x@pnn.police.uk".into()],
            raw,
            100,
        )
        .unwrap();
    let entry = store.queue_entry(q).unwrap().unwrap();
    assert_eq!(entry.body, landed.body);
    assert_eq!(store.check_consistency().unwrap().bodies, 1);
    let updated = store
        .update_queue_entry(q, |e| {
            e.held = true;
            e.recipients[0].attempts += 1;
        })
        .unwrap();
    assert!(updated.held);
    assert_eq!(store.queue_entries().unwrap().len(), 1);
    store.remove_queue_entry(q).unwrap();
    assert!(store.queue_entries().unwrap().is_empty());
    assert_eq!(store.read_body(landed.body).unwrap(), raw);
    assert_consistent(&store);
}

#[test]
fn domains_addresses_and_applications_are_unique() {
    let (_dir, store, user) = fresh();
    assert!(matches!(
        store.create_organisation(&organisation("greenstone.cjsm.net")),
        Err(Error::DomainTaken(_))
    ));
    let org = store.user(user).unwrap().unwrap().organisation;
    assert!(matches!(
        store.create_user(&crate::support::user("ERIC.BROWN@greenstone.cjsm.net", org)),
        Err(Error::AddressTaken(_))
    ));
    let updated = store
        .update_user(user, |u| {
            u.address = "e.brown@greenstone.cjsm.net".into();
            u.password_hash = Some(PasswordHash("$argon2id$secret".into()));
        })
        .unwrap();
    assert!(!format!("{updated:?}").contains("secret"));
    assert!(
        store
            .user_by_address("eric.brown@greenstone.cjsm.net")
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .user_by_address("E.Brown@greenstone.cjsm.net")
            .unwrap()
            .unwrap()
            .0,
        user
    );
    assert_eq!(store.users(Some(org)).unwrap().len(), 1);

    let app = Application {
        domain: "safeguarder.org.uk".into(),
        organisation_name: "Safeguarders".into(),
        parent: None,
        connection: ConnectionKind::Smtp {
            gateway: "mx.safeguarder.org.uk".into(),
            port: 25,
            strip_suffix: false,
        },
        ex_directory: true,
        abbreviation: Some("safeguarder".into()),
        sponsors: vec![Sponsor {
            name: "S".into(),
            address: "s@justice.gov.uk".into(),
            organisation: "Ministry of Justice".into(),
            position: "Head of Service".into(),
        }],
        reason: "Exchanging case papers".into(),
        expected_users: 12,
        signatory_name: "P".into(),
        signatory_position: "Director".into(),
        signatory_address: "p@safeguarder.org.uk".into(),
        terms_version: "2024-1".into(),
        submitted_at: 0,
        state: ApplicationState::Pending,
        details: OrgDetails {
            postcode: "EH1 1AA".into(),
            ..OrgDetails::default()
        },
        individual: false,
    };
    let id = store.submit_application(&app).unwrap();
    assert_eq!(
        store.application(id).unwrap().unwrap().details.postcode,
        "EH1 1AA"
    );
    assert!(matches!(
        store.submit_application(&app),
        Err(Error::DuplicateApplication(_))
    ));
    store
        .decide_application(
            id,
            ApplicationState::Rejected {
                reason: "no sponsor reply".into(),
            },
        )
        .unwrap();
    store.submit_application(&app).unwrap();
    assert_eq!(store.applications().unwrap().len(), 2);
    // Individuals at a public mail provider share its domain and claim
    // none: two of them may wait at once.
    let individual = Application {
        domain: "gmail.com".into(),
        organisation_name: "John Smith (Safeguarder)".into(),
        abbreviation: None,
        connection: ConnectionKind::Mailbox,
        individual: true,
        ..app.clone()
    };
    store.submit_application(&individual).unwrap();
    store
        .submit_application(&Application {
            organisation_name: "Jane Smith (Safeguarder)".into(),
            ..individual
        })
        .unwrap();
    assert_eq!(store.applications().unwrap().len(), 4);
    let org2 = store
        .create_organisation(&organisation("safeguarder.cjsm.net"))
        .unwrap();
    let changed = store
        .update_organisation(org2, |o| o.domains.push("sg.cjsm.net".into()))
        .unwrap();
    assert_eq!(changed.domains.len(), 2);
    assert_eq!(
        store
            .organisation_by_domain("SG.cjsm.net")
            .unwrap()
            .unwrap()
            .0,
        org2
    );
}

#[test]
fn appended_flags_and_keywords_are_kept() {
    let (_dir, store, user) = fresh();
    let drafts = store.mailbox_by_name(user, "Drafts").unwrap().unwrap().id;
    let m = NewMessage {
        raw: b"draft",
        cached: None,
        internal_date: 42,
        flags: Flags::DRAFT | Flags::SEEN,
        keywords: ["$Label1".to_owned()].into(),
    };
    let landed = store.append(drafts, &m).unwrap();
    let entry = store.message(drafts, landed.uid).unwrap().unwrap();
    assert_eq!(
        (entry.flags, entry.internal_date, entry.size),
        (Flags::DRAFT | Flags::SEEN, 42, 5)
    );
    assert_eq!(store.mailbox(drafts).unwrap().unwrap().unseen, 0);
}

#[test]
fn closing_the_store_leaves_a_sled_snapshot_for_a_fast_open() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = {
        let store = Store::open(dir.path()).unwrap();
        let user = ensure_user(&store, "x@greenstone.cjsm.net");
        let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
        store.append(inbox, &msg(b"Subject: kept\r\n\r\n")).unwrap();
        inbox
    };
    let snapshots = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("snap.")
        })
        .count();
    assert_eq!(
        snapshots, 1,
        "the checkpoint at close writes sled's snapshot"
    );
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.mailbox(inbox).unwrap().unwrap().messages, 1);
    assert_consistent(&store);
}

// Issue 25: open sessions are told of changes that can end them, not of
// every sign-in's bookkeeping.
#[test]
fn credential_changes_are_announced_and_login_bookkeeping_is_not() {
    let (_dir, store, user) = fresh();
    let mut changes = store.subscribe_credentials();
    store
        .update_user(user, |u| u.last_login = Some(42))
        .unwrap();
    store.update_user(user, |u| u.failed_attempts += 1).unwrap();
    assert!(!changes.has_changed().unwrap(), "bookkeeping only");
    store
        .update_user(user, |u| u.status = store::AccountStatus::Suspended)
        .unwrap();
    assert!(changes.has_changed().unwrap(), "a suspension");
    changes.borrow_and_update();
    store
        .update_user(user, |u| u.password_hash = Some(PasswordHash("x".into())))
        .unwrap();
    assert!(changes.has_changed().unwrap(), "a new password");
}
