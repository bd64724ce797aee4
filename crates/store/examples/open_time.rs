//! Times opening a store, filling it first if it is new: `cargo run
//! --release -p store --example open_time -- <dir> <messages>`. Used to
//! study sled's recovery cost apart from the full benchmark.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use store::{
    AccountStatus, ConnectionKind, Flags, NewMessage, Options, OrgState, Organisation, Role, Store,
    User,
};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(&args[1]);
    let messages: u64 = args[2].parse().unwrap();
    let mut options = Options::default();
    options.sweep_orphan_bodies = false;
    if !dir.exists() {
        let store = Store::open_with(&dir, &options).unwrap();
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
        let inbox = store.mailbox_by_name(user, "INBOX").unwrap().unwrap().id;
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
                        let raw = format!("Message-ID: <{id}@bench>\r\n\r\n{}", "x".repeat(200));
                        store
                            .deliver(
                                &[inbox],
                                &NewMessage {
                                    raw: raw.as_bytes(),
                                    cached: None,
                                    internal_date: 0,
                                    flags: Flags::empty(),
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
        println!(
            "filled {messages} in {:.1} s, sled {} MB",
            start.elapsed().as_secs_f64(),
            store.size_on_disk().unwrap() >> 20
        );
    }
    if args.get(3).is_some_and(|a| a == "fill-only") {
        return;
    }
    for _ in 0..2 {
        let start = Instant::now();
        let store = Store::open_with(&dir, &options).unwrap();
        println!(
            "open: {:.1} ms (sled {} MB)",
            start.elapsed().as_secs_f64() * 1e3,
            store.size_on_disk().unwrap() >> 20
        );
    }
}
