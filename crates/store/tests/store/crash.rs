//! The crash test: a child process (this test binary, re-executed with an
//! environment variable) delivers messages from several threads and prints
//! each one as soon as the store acknowledges it; the parent SIGKILLs it at
//! random moments, reopens the store and checks that every acknowledged
//! message is present and byte-identical, every acknowledged expunge
//! happened, and the store is consistent (counters, reference counts, a file
//! of the right size for every body). Body files left without a record by
//! the kill are counted, must not make the store inconsistent, and are swept
//! before the bodies are compared.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rand::Rng;
use store::{FlagOp, Flags, MailboxId, Options, Store, Uid};

use crate::support::{assert_consistent, ensure_user, msg};

const DIR_VAR: &str = "WARD_STORE_CRASH_DIR";
const CYCLE_VAR: &str = "WARD_STORE_CRASH_CYCLE";
const CYCLES: u64 = 20;
const WRITERS: u64 = 4;

/// The deterministic body of message `n` of writer `t` in `cycle`: mostly
/// small, sometimes several chunks long.
fn body(cycle: u64, t: u64, n: u64) -> Vec<u8> {
    let mut state = (cycle << 40) ^ (t << 32) ^ n ^ 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let len = if next() % 10 == 0 {
        70_000 + next() % 230_000
    } else {
        200 + next() % 20_000
    };
    let mut out =
        format!("Message-ID: <{cycle}.{t}.{n}@crash.test>\r\nSubject: crash\r\n\r\n").into_bytes();
    while (out.len() as u64) < len {
        out.extend_from_slice(&next().to_le_bytes());
    }
    out
}

fn inboxes(store: &Store) -> (MailboxId, MailboxId) {
    let a = ensure_user(store, "a@crash.cjsm.net");
    let b = ensure_user(store, "b@crash.cjsm.net");
    (
        store.mailbox_by_name(a, "INBOX").unwrap().unwrap().id,
        store.mailbox_by_name(b, "INBOX").unwrap().unwrap().id,
    )
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // " END" marks a complete line: a line cut by the kill is ignored.
    writeln!(out, "{line} END").unwrap();
    out.flush().unwrap();
}

/// The child's side: runs only when re-executed by the parent.
#[test]
fn crash_writer_child() {
    let Ok(dir) = std::env::var(DIR_VAR) else {
        return;
    };
    let cycle: u64 = std::env::var(CYCLE_VAR).unwrap().parse().unwrap();
    let store = Store::open(dir.as_ref()).unwrap();
    let (ia, ib) = inboxes(&store);
    say("READY");
    let writers: Vec<_> = (0..WRITERS)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for n in 0.. {
                    let raw = body(cycle, t, n);
                    let landed = store.deliver(&[ia, ib], &msg(&raw)).unwrap();
                    let (ua, ub) = (landed[0].uid.0, landed[1].uid.0);
                    say(&format!("ACK {cycle} {t} {n} {ua} {ub}"));
                    if n % 4 == 3 {
                        let targets: &[(MailboxId, u32, &str)] = if n % 8 == 7 {
                            &[(ia, ua, "A"), (ib, ub, "B")]
                        } else {
                            &[(ia, ua, "A")]
                        };
                        for &(mailbox, uid, side) in targets {
                            store
                                .store_flags(
                                    mailbox,
                                    &[Uid(uid)],
                                    FlagOp::Add,
                                    Flags::DELETED,
                                    &Default::default(),
                                )
                                .unwrap();
                            store.expunge(mailbox, Some(&[Uid(uid)])).unwrap();
                            say(&format!("EXP {side} {uid}"));
                        }
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
}

/// What the parent knows was acknowledged: per inbox, UID → (cycle, writer,
/// n, whether the child was about to expunge it, so that it may be gone
/// although no "EXP" line was seen).
type Acked = BTreeMap<u32, (u64, u64, u64, bool)>;

#[test]
fn acknowledged_deliveries_survive_sigkill() {
    if std::env::var(DIR_VAR).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let (mut acked_a, mut acked_b): (Acked, Acked) = Default::default();
    let (mut expunged_a, mut expunged_b): (Vec<u32>, Vec<u32>) = Default::default();
    let mut total_acks = 0;
    let mut total_orphans = 0;
    let mut rng = rand::thread_rng();
    for cycle in 0..CYCLES {
        let mut child = Command::new(&exe)
            .args([
                "crash::crash_writer_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_VAR, dir.path())
            .env(CYCLE_VAR, cycle.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut lines = Vec::new();
        loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("child never got ready");
            // libtest prints "test crash::crash_writer_child ... " first.
            let ready = line.ends_with("READY END");
            lines.push(line);
            if ready {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(30..250)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        reader.join().unwrap();
        lines.extend(rx.try_iter());

        for line in &lines {
            let Some(line) = line.strip_suffix(" END") else {
                continue;
            };
            let Some(start) = line.find("ACK ").or_else(|| line.find("EXP ")) else {
                continue;
            };
            let line = &line[start..];
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["ACK", c, t, n, ua, ub] => {
                    let (c, t, n): (u64, u64, u64) =
                        (c.parse().unwrap(), t.parse().unwrap(), n.parse().unwrap());
                    acked_a.insert(ua.parse().unwrap(), (c, t, n, n % 4 == 3));
                    acked_b.insert(ub.parse().unwrap(), (c, t, n, n % 8 == 7));
                    total_acks += 1;
                }
                ["EXP", "A", uid] => {
                    let uid = uid.parse().unwrap();
                    assert!(acked_a.remove(&uid).is_some());
                    expunged_a.push(uid);
                }
                ["EXP", "B", uid] => {
                    let uid = uid.parse().unwrap();
                    assert!(acked_b.remove(&uid).is_some());
                    expunged_b.push(uid);
                }
                _ => {}
            }
        }

        // No background sweep: this test sweeps itself, to count orphans.
        let mut options = Options::default();
        options.sweep_orphan_bodies = false;
        let store = Store::open_with(dir.path(), &options).unwrap();
        let before = store.check_consistency().unwrap();
        assert!(
            before.is_consistent(),
            "cycle {cycle}: {:#?}",
            before.problems
        );
        let swept = store.sweep_orphan_bodies().unwrap();
        assert_eq!(swept, before.orphan_body_files, "cycle {cycle}");
        total_orphans += swept;
        let (ia, ib) = inboxes(&store);
        for (mailbox, acked) in [(ia, &acked_a), (ib, &acked_b)] {
            let present: BTreeMap<u32, store::MessageEntry> = store
                .messages(mailbox)
                .unwrap()
                .into_iter()
                .map(|e| (e.uid.0, e))
                .collect();
            for (&uid, &(c, t, n, may_be_expunged)) in acked.iter() {
                match present.get(&uid) {
                    Some(entry) => {
                        assert!(
                            store.read_body(entry.body).unwrap() == body(c, t, n),
                            "cycle {cycle}: UID {uid} differs"
                        );
                    }
                    None => assert!(
                        may_be_expunged,
                        "cycle {cycle}: acknowledged UID {uid} of mailbox {mailbox} is lost"
                    ),
                }
            }
        }
        // Acknowledged expunges stay expunged.
        for (mailbox, gone) in [(ia, &expunged_a), (ib, &expunged_b)] {
            for uid in gone {
                assert!(
                    store.message(mailbox, Uid(*uid)).unwrap().is_none(),
                    "cycle {cycle}: expunged UID {uid} is back"
                );
            }
        }
        assert_consistent(&store);
        assert_eq!(store.check_consistency().unwrap().orphan_body_files, 0);
    }
    assert!(
        total_acks >= CYCLES,
        "only {total_acks} deliveries were acknowledged"
    );
    eprintln!(
        "crash test: {total_acks} acknowledged deliveries over {CYCLES} SIGKILLs, \
         {total_orphans} orphan body files swept"
    );
}
