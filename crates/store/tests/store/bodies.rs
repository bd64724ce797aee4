//! Body files under `bodies/`: one file per distinct body, removed with the
//! last reference, orphans from a crash reported and swept, large bodies
//! streamed.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use store::{BodyId, FlagOp, Flags, MailboxId, Options, Store, Uid};

use crate::support::{assert_consistent, ensure_user, fresh, msg};

/// Every file below `<store>/bodies`.
fn body_files(store_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for fan in std::fs::read_dir(store_dir.join("bodies")).unwrap() {
        for file in std::fs::read_dir(fan.unwrap().path()).unwrap() {
            out.push(file.unwrap().path());
        }
    }
    out.sort();
    out
}

/// Where the store keeps body `id` (the layout, as an operator sees it).
fn body_path(store_dir: &Path, id: BodyId) -> PathBuf {
    let hex = id.to_string();
    store_dir.join("bodies").join(&hex[..2]).join(&hex[2..])
}

fn delete(store: &Store, mailbox: MailboxId, uid: Uid) {
    store
        .store_flags(
            mailbox,
            &[uid],
            FlagOp::Add,
            Flags::DELETED,
            &BTreeSet::new(),
        )
        .unwrap();
    assert_eq!(store.expunge(mailbox, Some(&[uid])).unwrap(), [uid]);
}

fn no_sweep() -> Options {
    let mut options = Options::default();
    options.sweep_orphan_bodies = false;
    options
}

#[test]
fn identical_bodies_delivered_twice_share_one_file() {
    let (dir, store, a) = fresh();
    let b = ensure_user(&store, "b@greenstone.cjsm.net");
    let ia = store.mailbox_by_name(a, "INBOX").unwrap().unwrap().id;
    let ib = store.mailbox_by_name(b, "INBOX").unwrap().unwrap().id;
    let raw = b"Subject: same\r\n\r\nsame bytes\r\n";
    let first = store.deliver(&[ia], &msg(raw)).unwrap();
    let second = store.deliver(&[ia, ib], &msg(raw)).unwrap();
    let queued = store
        .enqueue("a@greenstone.cjsm.net", &["x@pnn.police.uk".into()], raw, 0)
        .unwrap();
    assert_eq!(first[0].body, second[1].body);
    assert_eq!(
        store.queue_entry(queued).unwrap().unwrap().body,
        first[0].body
    );
    assert_eq!(
        body_files(dir.path()),
        [body_path(dir.path(), first[0].body)]
    );
    assert_eq!(
        std::fs::read(body_path(dir.path(), first[0].body)).unwrap(),
        raw
    );
    let report = store.check_consistency().unwrap();
    assert_eq!((report.bodies, report.orphan_body_files), (1, 0));
    assert_consistent(&store);
}

#[test]
fn the_file_goes_with_the_last_reference() {
    let (dir, store, user) = fresh();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    let archive = store.mailbox_by_name(user, "Archive").unwrap().unwrap().id;
    let landed = store.append(inbox, &msg(b"Subject: once\r\n\r\n")).unwrap();
    let copied = store.copy_messages(inbox, &[landed.uid], archive).unwrap();
    let path = body_path(dir.path(), landed.body);
    delete(&store, inbox, landed.uid);
    assert!(path.is_file(), "a reference remains");
    delete(&store, archive, copied.uids[0].1);
    assert!(!path.exists(), "the last reference is gone");
    assert!(body_files(dir.path()).is_empty());
    // The same bytes again get a fresh file.
    store.append(inbox, &msg(b"Subject: once\r\n\r\n")).unwrap();
    assert!(path.is_file());
    assert_consistent(&store);
}

#[test]
fn a_failed_delivery_leaves_no_file() {
    let (dir, store, user) = fresh();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    assert!(
        store
            .deliver(&[inbox, MailboxId(9999)], &msg(b"never"))
            .is_err()
    );
    assert!(body_files(dir.path()).is_empty());
}

#[test]
fn orphan_files_from_a_crash_are_reported_and_swept() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, kept, path) = {
        let store = Store::open_with(dir.path(), &no_sweep()).unwrap();
        let user = ensure_user(&store, "x@greenstone.cjsm.net");
        let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
        let kept = store.append(inbox, &msg(b"Subject: kept\r\n\r\n")).unwrap();
        let gone = store.append(inbox, &msg(b"Subject: gone\r\n\r\n")).unwrap();
        let path = body_path(dir.path(), gone.body);
        let bytes = std::fs::read(&path).unwrap();
        delete(&store, inbox, gone.uid);
        // A crash after the removal was durable but before the unlink...
        std::fs::write(&path, bytes).unwrap();
        // ...and one while a new body was being written.
        let mut temp = path.clone().into_os_string();
        temp.push(".tmp3");
        std::fs::write(temp, b"Subject: hal").unwrap();
        (inbox, kept, path)
    };
    let store = Store::open_with(dir.path(), &no_sweep()).unwrap();
    let report = store.check_consistency().unwrap();
    assert!(report.is_consistent(), "{:?}", report.problems);
    assert_eq!((report.bodies, report.orphan_body_files), (1, 2));
    assert_eq!(store.sweep_orphan_bodies().unwrap(), 2);
    assert!(!path.exists());
    assert_eq!(body_files(dir.path()), [body_path(dir.path(), kept.body)]);
    let report = store.check_consistency().unwrap();
    assert_eq!((report.bodies, report.orphan_body_files), (1, 0));
    assert_eq!(
        store.read_body(kept.body).unwrap(),
        b"Subject: kept\r\n\r\n"
    );
    let entry = store.message(inbox, kept.uid).unwrap().unwrap();
    assert_eq!(entry.body, kept.body);
    drop(store);

    // By default, `open` sweeps in the background.
    std::fs::write(&path, b"Subject: gone\r\n\r\n").unwrap();
    let store = Store::open(dir.path()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while path.exists() {
        assert!(Instant::now() < deadline, "the background sweep never ran");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_consistent(&store);
}

#[test]
fn a_missing_or_truncated_file_is_a_problem() {
    let (dir, store, user) = fresh();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    let a = store.append(inbox, &msg(b"Subject: a\r\n\r\nA")).unwrap();
    let b = store.append(inbox, &msg(b"Subject: b\r\n\r\nB")).unwrap();
    std::fs::remove_file(body_path(dir.path(), a.body)).unwrap();
    std::fs::write(body_path(dir.path(), b.body), b"Subj").unwrap();
    let report = store.check_consistency().unwrap();
    assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
    assert!(matches!(
        store.read_body(a.body),
        Err(store::Error::NoSuchBody(_))
    ));
    // Delivering the same bytes again repairs the file.
    store.append(inbox, &msg(b"Subject: b\r\n\r\nB")).unwrap();
    assert_eq!(store.read_body(b.body).unwrap(), b"Subject: b\r\n\r\nB");
}

#[test]
fn a_30_mb_body_streams_and_outlives_its_expunge() {
    let (_dir, store, user) = fresh();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    let byte = |i: usize| (i % 253) as u8 ^ (i >> 16) as u8;
    let raw: Vec<u8> = (0..30 * 1024 * 1024).map(byte).collect();
    let landed = store.append(inbox, &msg(&raw)).unwrap();
    drop(raw);
    let mut reader = store.body_reader(landed.body).unwrap();
    assert_eq!(reader.len(), 30 * 1024 * 1024);
    // Read a first part, expunge, read the rest: the open file stays.
    let mut buf = vec![0u8; 100_000];
    let mut seen = 0usize;
    while seen < 10 * 1024 * 1024 {
        let n = reader.read(&mut buf).unwrap();
        assert!(n > 0 && n <= 100_000);
        assert!(
            buf[..n]
                .iter()
                .enumerate()
                .all(|(k, &b)| b == byte(seen + k))
        );
        seen += n;
    }
    delete(&store, inbox, landed.uid);
    assert!(store.body_reader(landed.body).is_err());
    loop {
        let n = reader.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        assert!(
            buf[..n]
                .iter()
                .enumerate()
                .all(|(k, &b)| b == byte(seen + k))
        );
        seen += n;
    }
    assert_eq!(seen, 30 * 1024 * 1024);
    assert_consistent(&store);
}

#[test]
fn concurrent_deliveries_and_expunges_of_one_body_keep_its_file() {
    let (dir, store, user) = fresh();
    let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
    let store = Arc::new(store);
    let raw = b"Subject: contended\r\n\r\nthe same bytes, again and again\r\n";
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for _ in 0..40 {
                    let landed = store.append(inbox, &msg(raw)).unwrap();
                    // Every acknowledged body is readable until expunged.
                    assert_eq!(store.read_body(landed.body).unwrap(), raw);
                    delete(&store, inbox, landed.uid);
                }
            })
        })
        .collect();
    // A sweep running meanwhile must not take a file in use.
    for _ in 0..20 {
        store.sweep_orphan_bodies().unwrap();
    }
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(store.mailbox(inbox).unwrap().unwrap().messages, 0);
    assert!(body_files(dir.path()).is_empty());
    assert_consistent(&store);
}
