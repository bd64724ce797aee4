//! Store benchmarks: durable delivery throughput with group commit, IMAP
//! operations on a 100,000-message mailbox, open time and disk use (sled's
//! files and the body files under `bodies/`).
//!
//! Run with `cargo bench -p store --bench store`. Bounded: each throughput
//! case runs for `WARD_BENCH_SECS` seconds (default 3) and the whole run
//! takes a couple of minutes on two cores.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use std::os::unix::fs::MetadataExt;

use store::{
    AccountStatus, ConnectionKind, FlagOp, Flags, MailboxId, NewMessage, Options, OrgState,
    Organisation, Role, Store, Uid, User,
};

fn setup(store: &Store) -> MailboxId {
    let org = store
        .create_organisation(&Organisation {
            name: "Bench".into(),
            domains: vec!["bench.cjsm.net".into()],
            abbreviation: None,
            connection: ConnectionKind::Mailbox,
            parent: None,
            ex_directory: false,
            state: OrgState::Active,
            delivery_held: false,
            details: Default::default(),
        })
        .unwrap();
    let user = store
        .create_user(&User {
            address: "bench@bench.cjsm.net".into(),
            first_name: "B".into(),
            last_name: "B".into(),
            notice_address: None,
            organisation: org,
            role: Role::User,
            directory: Default::default(),
            ex_directory: false,
            status: AccountStatus::Active,
            password_hash: None,
            password_set_at: None,
            previous_passwords: Vec::new(),
            failed_attempts: 0,
            locked_at: None,
            last_login: None,
            created_at: 0,
        })
        .unwrap();
    store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id
}

/// A unique message of `size` bytes (unique so deduplication does not help).
fn message(id: u64, size: usize) -> Vec<u8> {
    let mut raw = format!("Message-ID: <{id}@bench>\r\nSubject: bench {id}\r\n\r\n").into_bytes();
    let mut x = id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    while raw.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Printable text, like real mail bodies.
        raw.push(b' ' + (x % 94) as u8);
        if raw.len().is_multiple_of(78) {
            raw.extend_from_slice(b"\r\n");
        }
    }
    raw.truncate(size);
    raw
}

/// Bytes used below `path`: (file lengths, blocks allocated including
/// directories). Only the `bodies` folder's files are counted in `files`.
#[derive(Default)]
struct DiskUse {
    file_bytes: u64,
    allocated: u64,
    body_files: u64,
}

fn disk_use(path: &Path, usage: &mut DiskUse) {
    for entry in std::fs::read_dir(path).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        usage.allocated += meta.blocks() * 512;
        if meta.is_dir() {
            disk_use(&entry.path(), usage);
        } else {
            usage.file_bytes += meta.len();
            if path.parent().and_then(Path::file_name) == Some("bodies".as_ref()) {
                usage.body_files += 1;
            }
        }
    }
}

/// Runs `writers` threads delivering `size`-byte messages for `secs`.
fn throughput(writers: usize, size: usize, secs: u64) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let inbox = setup(&store);
    let next = Arc::new(AtomicU64::new(0));
    let fsyncs_before = store.fsync_count();
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let threads: Vec<_> = (0..writers)
        .map(|_| {
            let store = store.clone();
            let next = Arc::clone(&next);
            std::thread::spawn(move || {
                let mut done = 0u64;
                while Instant::now() < deadline {
                    let id = next.fetch_add(1, Ordering::Relaxed);
                    let raw = message(id, size);
                    store
                        .deliver(
                            &[inbox],
                            &NewMessage {
                                raw: &raw,
                                cached: None,
                                internal_date: 0,
                                flags: Flags::empty(),
                                keywords: BTreeSet::new(),
                            },
                        )
                        .unwrap();
                    done += 1;
                }
                done
            })
        })
        .collect();
    let delivered: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let elapsed = start.elapsed().as_secs_f64();
    let fsyncs = store.fsync_count() - fsyncs_before;
    println!(
        "| {writers:>3} | {:>7} | {:>8.0} | {:>8.1} | {:>8.0} | {:>5.1} |",
        if size >= 1024 {
            format!("{} KiB", size / 1024)
        } else {
            format!("{size} B")
        },
        delivered as f64 / elapsed,
        delivered as f64 * size as f64 / elapsed / 1e6,
        fsyncs as f64 / elapsed,
        delivered as f64 / fsyncs.max(1) as f64,
    );
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    println!("| {what} | {:.1} ms |", start.elapsed().as_secs_f64() * 1e3);
    value
}

fn big_mailbox(messages: u64, size: usize) {
    let dir = tempfile::tempdir().unwrap();
    let inbox;
    {
        let store = Store::open(dir.path()).unwrap();
        inbox = setup(&store);
        let next = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let threads: Vec<_> = (0..64)
            .map(|_| {
                let store = store.clone();
                let next = Arc::clone(&next);
                std::thread::spawn(move || {
                    loop {
                        let id = next.fetch_add(1, Ordering::Relaxed);
                        if id >= messages {
                            break;
                        }
                        let raw = message(id, size);
                        let flags = if id.is_multiple_of(10) {
                            Flags::FLAGGED
                        } else {
                            Flags::empty()
                        };
                        store
                            .deliver(
                                &[inbox],
                                &NewMessage {
                                    raw: &raw,
                                    cached: None,
                                    internal_date: 0,
                                    flags,
                                    keywords: BTreeSet::new(),
                                },
                            )
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let elapsed = start.elapsed().as_secs_f64();
        println!(
            "| fill: {messages} deliveries of {} KiB by 64 writers | {:.1} s ({:.0}/s, {} fsyncs) |",
            size / 1024,
            elapsed,
            messages as f64 / elapsed,
            store.fsync_count()
        );
        store.flush().unwrap();
        let stored = messages * size as u64;
        let mut usage = DiskUse::default();
        disk_use(dir.path(), &mut usage);
        let sled = store.size_on_disk().unwrap();
        println!(
            "| disk use after {messages} deliveries | {:.0} MB in files ({:.0} MB allocated) for {:.0} MB of messages = {:.2} bytes ({:.2} allocated) per stored byte; sled {:.0} MB, {} body files |",
            usage.file_bytes as f64 / 1e6,
            usage.allocated as f64 / 1e6,
            stored as f64 / 1e6,
            usage.file_bytes as f64 / stored as f64,
            usage.allocated as f64 / stored as f64,
            sled as f64 / 1e6,
            usage.body_files,
        );
        // Dropping the last handle checkpoints sled: it replays the log of
        // the whole fill once, the work an open after a crash would do.
        timed(
            "close after the fill (checkpoint: sled replays the session's log once)",
            || drop(store),
        );
    }
    // The default open also starts the orphan sweep in the background; it is
    // timed on its own below so that it does not disturb the other rows.
    let mut options = Options::default();
    options.sweep_orphan_bodies = false;
    let store = timed("open the store (after the clean close)", || {
        Store::open_with(dir.path(), &options).unwrap()
    });
    timed("first STATUS after open (mailbox counters)", || {
        store.mailbox(inbox).unwrap().unwrap()
    });
    let all = timed("fetch all flags (cold, first scan after open)", || {
        store.messages(inbox).unwrap()
    });
    assert_eq!(all.len() as u64, messages);
    let all = timed("fetch all flags again (warm cache)", || {
        store.messages(inbox).unwrap()
    });
    let flagged = timed("search FLAGGED", || {
        store
            .search_flags(inbox, Flags::FLAGGED, Flags::empty())
            .unwrap()
    });
    assert_eq!(flagged.len() as u64, messages / 10);
    timed("search UNSEEN", || {
        store
            .search_flags(inbox, Flags::empty(), Flags::SEEN)
            .unwrap()
    });
    let doomed: Vec<Uid> = all
        .iter()
        .step_by(all.len() / 1000)
        .take(1000)
        .map(|e| e.uid)
        .collect();
    timed("STORE +FLAGS \\Deleted on 1,000 messages (one op)", || {
        store
            .store_flags(
                inbox,
                &doomed,
                FlagOp::Add,
                Flags::DELETED,
                &BTreeSet::new(),
            )
            .unwrap()
    });
    let gone = timed("EXPUNGE 1,000 \\Deleted (scans the whole mailbox)", || {
        store.expunge(inbox, None).unwrap()
    });
    assert_eq!(gone.len(), 1000);
    let more: Vec<Uid> = all
        .iter()
        .skip(1)
        .step_by(all.len() / 1000)
        .take(1000)
        .map(|e| e.uid)
        .collect();
    store
        .store_flags(inbox, &more, FlagOp::Add, Flags::DELETED, &BTreeSet::new())
        .unwrap();
    timed("UID EXPUNGE 1,000 given UIDs", || {
        store.expunge(inbox, Some(&more)).unwrap()
    });
    let info = store.mailbox(inbox).unwrap().unwrap();
    assert_eq!(info.messages, messages - 2000);
    let report = timed("full consistency check", || {
        store.check_consistency().unwrap()
    });
    assert!(report.is_consistent(), "{:?}", report.problems);
    let swept = timed(
        "orphan body sweep (runs in the background after a default open)",
        || store.sweep_orphan_bodies().unwrap(),
    );
    assert_eq!(swept, 0);
}

fn main() {
    let secs: u64 = std::env::var("WARD_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let messages: u64 = std::env::var("WARD_BENCH_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    println!("### Durable deliveries ({secs} s per case)\n");
    println!("| writers | size | deliveries/s | MB/s | fsyncs/s | deliveries per fsync |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for size in [4 * 1024, 100 * 1024] {
        for writers in [1, 10, 100] {
            throughput(writers, size, secs);
        }
    }
    println!("\n### Mailbox of {messages} messages (4 KiB each)\n");
    println!("| operation | time |");
    println!("|---|---:|");
    big_mailbox(messages, 4 * 1024);
}
