//! Model-based property test: random sequences of mailbox operations run
//! against the store and against a plain in-memory model must end in the
//! same state, and the UID, MODSEQ and UIDVALIDITY invariants must hold
//! after every step.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use proptest::prelude::*;
use store::{FlagOp, Flags, MailboxInfo, NewMessage, Store, Uid, UserId};

use crate::support::{assert_consistent, fresh};

/// Mailbox names the operations pick from.
const NAMES: [&str; 7] = ["INBOX", "Sent", "A", "A/B", "A/B/C", "C", "C/D"];
/// Bodies the operations pick from (few, so deduplication is exercised).
const BODIES: [&[u8]; 4] = [
    b"Subject: 1\r\n\r\none",
    b"Subject: 2\r\n\r\ntwo",
    b"",
    b"Subject: 4\r\n\r\nfour",
];
const KEYWORDS: [&str; 2] = ["$Forwarded", "$Work"];

#[derive(Clone, Debug)]
enum Op {
    Deliver {
        targets: Vec<usize>,
        body: usize,
    },
    Append {
        mailbox: usize,
        body: usize,
        flags: u8,
    },
    Copy {
        from: usize,
        to: usize,
        pick: Vec<usize>,
    },
    Move {
        from: usize,
        to: usize,
        pick: Vec<usize>,
    },
    Store {
        mailbox: usize,
        pick: Vec<usize>,
        op: u8,
        flags: u8,
        keywords: u8,
    },
    Expunge {
        mailbox: usize,
        pick: Option<Vec<usize>>,
    },
    Create {
        name: usize,
    },
    Rename {
        from: usize,
        to: usize,
    },
    Delete {
        name: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let name = 0..NAMES.len();
    let pick = prop::collection::vec(0usize..8, 0..4);
    prop_oneof![
        3 => (prop::collection::vec(name.clone(), 1..3), 0..BODIES.len())
            .prop_map(|(targets, body)| Op::Deliver { targets, body }),
        2 => (name.clone(), 0..BODIES.len(), 0u8..32).prop_map(|(mailbox, body, flags)| Op::Append { mailbox, body, flags }),
        1 => (name.clone(), name.clone(), pick.clone()).prop_map(|(from, to, pick)| Op::Copy { from, to, pick }),
        1 => (name.clone(), name.clone(), pick.clone()).prop_map(|(from, to, pick)| Op::Move { from, to, pick }),
        3 => (name.clone(), pick.clone(), 0u8..3, 0u8..32, 0u8..4)
            .prop_map(|(mailbox, pick, op, flags, keywords)| Op::Store { mailbox, pick, op, flags, keywords }),
        2 => (name.clone(), prop::option::of(pick)).prop_map(|(mailbox, pick)| Op::Expunge { mailbox, pick }),
        1 => name.clone().prop_map(|name| Op::Create { name }),
        1 => (name.clone(), name.clone()).prop_map(|(from, to)| Op::Rename { from, to }),
        1 => name.prop_map(|name| Op::Delete { name }),
    ]
}

fn flags_of(bits: u8) -> Flags {
    Flags::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .fold(Flags::empty(), |acc, (_, (f, _))| acc | *f)
}

fn keywords_of(bits: u8) -> BTreeSet<String> {
    KEYWORDS
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, k)| (*k).to_owned())
        .collect()
}

#[derive(Clone, Debug, PartialEq)]
struct ModelMessage {
    flags: Flags,
    keywords: BTreeSet<String>,
    body: usize,
}

#[derive(Clone, Debug)]
struct ModelMailbox {
    uidnext: u32,
    messages: BTreeMap<u32, ModelMessage>,
    /// UIDs added or changed by the current operation.
    touched: BTreeSet<u32>,
    /// Whether the current operation changed the mailbox (so HIGHESTMODSEQ
    /// must grow).
    changed: bool,
}

impl ModelMailbox {
    fn fresh() -> Self {
        Self {
            uidnext: 1,
            messages: BTreeMap::new(),
            touched: BTreeSet::new(),
            changed: false,
        }
    }

    fn add(&mut self, m: ModelMessage) -> u32 {
        let uid = self.uidnext;
        self.uidnext += 1;
        self.messages.insert(uid, m);
        self.touched.insert(uid);
        self.changed = true;
        uid
    }

    fn picked(&self, pick: &[usize]) -> Vec<u32> {
        // Index into the existing UIDs; index 7 names a UID that never existed.
        let uids: Vec<u32> = self.messages.keys().copied().collect();
        pick.iter()
            .map(|&i| {
                if i == 7 || uids.is_empty() {
                    self.uidnext + 5
                } else {
                    uids[i % uids.len()]
                }
            })
            .collect()
    }
}

/// The model: one user's mailboxes by name.
#[derive(Debug, Default)]
struct Model {
    mailboxes: BTreeMap<String, ModelMailbox>,
}

impl Model {
    fn new() -> Self {
        let mut m = Self::default();
        for name in ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"] {
            m.mailboxes.insert(name.into(), ModelMailbox::fresh());
        }
        m
    }

    fn create(&mut self, name: &str) {
        let mut prefix = String::new();
        for level in name.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(level);
            self.mailboxes
                .entry(prefix.clone())
                .or_insert_with(ModelMailbox::fresh);
        }
    }

    fn has_children(&self, name: &str) -> bool {
        let p = format!("{name}/");
        self.mailboxes.keys().any(|k| k.starts_with(&p))
    }
}

/// Applies `op` to model and store; returns whether both agreed on success.
fn apply(model: &mut Model, store: &Store, user: UserId, op: &Op) {
    for mb in model.mailboxes.values_mut() {
        mb.touched.clear();
        mb.changed = false;
    }
    let id = |name: &str| store.mailbox_by_name(user, name).unwrap().map(|m| m.id);
    match op {
        Op::Deliver { targets, body } => {
            let names: Vec<&str> = targets.iter().map(|&t| NAMES[t]).collect();
            let ids: Option<Vec<_>> = names.iter().map(|n| id(n)).collect();
            let message = NewMessage {
                raw: BODIES[*body],
                cached: None,
                internal_date: 7,
                flags: Flags::empty(),
                keywords: BTreeSet::new(),
            };
            match ids {
                Some(ids) => {
                    let landed = store.deliver(&ids, &message).unwrap();
                    for (name, appended) in names.iter().zip(landed) {
                        let mb = model.mailboxes.get_mut(*name).unwrap();
                        let uid = mb.add(ModelMessage {
                            flags: Flags::empty(),
                            keywords: BTreeSet::new(),
                            body: *body,
                        });
                        assert_eq!(appended.uid, Uid(uid));
                    }
                }
                None => assert!(!names.iter().all(|n| model.mailboxes.contains_key(*n))),
            }
        }
        Op::Append {
            mailbox,
            body,
            flags,
        } => {
            let name = NAMES[*mailbox];
            let Some(mid) = id(name) else {
                assert!(!model.mailboxes.contains_key(name));
                return;
            };
            let flags = flags_of(*flags);
            let message = NewMessage {
                raw: BODIES[*body],
                cached: None,
                internal_date: 7,
                flags,
                keywords: BTreeSet::new(),
            };
            let landed = store.append(mid, &message).unwrap();
            let uid = model.mailboxes.get_mut(name).unwrap().add(ModelMessage {
                flags,
                keywords: BTreeSet::new(),
                body: *body,
            });
            assert_eq!(landed.uid, Uid(uid));
        }
        Op::Copy { from, to, pick } | Op::Move { from, to, pick } => {
            let moving = matches!(op, Op::Move { .. });
            let (Some(fid), Some(tid)) = (id(NAMES[*from]), id(NAMES[*to])) else {
                return;
            };
            let uids = model.mailboxes[NAMES[*from]].picked(pick);
            let result = if moving {
                store
                    .move_messages(fid, &uids.iter().map(|&u| Uid(u)).collect::<Vec<_>>(), tid)
                    .unwrap()
            } else {
                store
                    .copy_messages(fid, &uids.iter().map(|&u| Uid(u)).collect::<Vec<_>>(), tid)
                    .unwrap()
            };
            let existing: BTreeSet<u32> = uids
                .into_iter()
                .filter(|u| model.mailboxes[NAMES[*from]].messages.contains_key(u))
                .collect();
            let copies: Vec<(u32, ModelMessage)> = existing
                .iter()
                .map(|u| (*u, model.mailboxes[NAMES[*from]].messages[u].clone()))
                .collect();
            let mut expected = Vec::new();
            for (old, m) in copies {
                let new = model.mailboxes.get_mut(NAMES[*to]).unwrap().add(m);
                expected.push((Uid(old), Uid(new)));
            }
            if moving && !existing.is_empty() {
                let src = model.mailboxes.get_mut(NAMES[*from]).unwrap();
                for u in &existing {
                    src.messages.remove(u);
                }
                src.changed = true;
            }
            assert_eq!(result.uids, expected);
        }
        Op::Store {
            mailbox,
            pick,
            op,
            flags,
            keywords,
        } => {
            let name = NAMES[*mailbox];
            let Some(mid) = id(name) else { return };
            let uids = model.mailboxes[name].picked(pick);
            let (flag_op, flags, keywords) = (
                [FlagOp::Set, FlagOp::Add, FlagOp::Remove][usize::from(*op)],
                flags_of(*flags),
                keywords_of(*keywords),
            );
            let changed = store
                .store_flags(
                    mid,
                    &uids.iter().map(|&u| Uid(u)).collect::<Vec<_>>(),
                    flag_op,
                    flags,
                    &keywords,
                )
                .unwrap();
            let mb = model.mailboxes.get_mut(name).unwrap();
            let mut expected = BTreeSet::new();
            for u in uids {
                let Some(m) = mb.messages.get_mut(&u) else {
                    continue;
                };
                let (nf, nk) = match flag_op {
                    FlagOp::Set => (flags, keywords.clone()),
                    FlagOp::Add => (
                        m.flags | flags,
                        m.keywords.union(&keywords).cloned().collect(),
                    ),
                    FlagOp::Remove => (
                        m.flags.without(flags),
                        m.keywords.difference(&keywords).cloned().collect(),
                    ),
                };
                if (nf, &nk) != (m.flags, &m.keywords) {
                    m.flags = nf;
                    m.keywords = nk;
                    expected.insert(u);
                }
            }
            assert_eq!(
                changed.iter().map(|e| e.uid.0).collect::<BTreeSet<_>>(),
                expected
            );
            mb.changed = !expected.is_empty();
            mb.touched = expected;
        }
        Op::Expunge { mailbox, pick } => {
            let name = NAMES[*mailbox];
            let Some(mid) = id(name) else { return };
            let mb = model.mailboxes.get_mut(name).unwrap();
            let candidates: Vec<u32> = match pick {
                Some(p) => mb.picked(p),
                None => mb.messages.keys().copied().collect(),
            };
            let uids: Option<Vec<Uid>> = pick
                .as_ref()
                .map(|_| candidates.iter().map(|&u| Uid(u)).collect());
            let expunged = store.expunge(mid, uids.as_deref()).unwrap();
            let mut expected: BTreeSet<u32> = BTreeSet::new();
            for u in candidates {
                if mb
                    .messages
                    .get(&u)
                    .is_some_and(|m| m.flags.contains(Flags::DELETED))
                {
                    mb.messages.remove(&u);
                    expected.insert(u);
                }
            }
            mb.changed = !expected.is_empty();
            assert_eq!(
                expunged.into_iter().map(|u| u.0).collect::<BTreeSet<_>>(),
                expected
            );
        }
        Op::Create { name } => {
            let name = NAMES[*name];
            let result = store.create_mailbox(user, name, None);
            if model.mailboxes.contains_key(name) {
                assert!(result.is_err());
            } else {
                result.unwrap();
                model.create(name);
            }
        }
        Op::Rename { from, to } => {
            let (from, to) = (NAMES[*from], NAMES[*to]);
            let result = store.rename_mailbox(user, from, to);
            let ok = model.mailboxes.contains_key(from)
                && !model.mailboxes.contains_key(to)
                && !to.starts_with(&format!("{from}/"));
            assert_eq!(result.is_ok(), ok, "rename {from} → {to}: {result:?}");
            if !ok {
                return;
            }
            if from == "INBOX" {
                model.create(to);
                let moved: Vec<_> =
                    std::mem::take(&mut model.mailboxes.get_mut("INBOX").unwrap().messages)
                        .into_values()
                        .collect();
                let inbox = model.mailboxes.get_mut("INBOX").unwrap();
                inbox.changed = !moved.is_empty();
                for m in moved {
                    model.mailboxes.get_mut(to).unwrap().add(m);
                }
            } else {
                let names: Vec<String> = model
                    .mailboxes
                    .keys()
                    .filter(|k| *k == from || k.starts_with(&format!("{from}/")))
                    .cloned()
                    .collect();
                let moved: Vec<(String, ModelMailbox)> = names
                    .iter()
                    .map(|n| (n.clone(), model.mailboxes.remove(n).unwrap()))
                    .collect();
                if let Some((parent, _)) = to.rsplit_once('/') {
                    model.create(parent);
                }
                for (old, mb) in moved {
                    model
                        .mailboxes
                        .insert(format!("{to}{}", &old[from.len()..]), mb);
                }
            }
        }
        Op::Delete { name } => {
            let name = NAMES[*name];
            let result = store.delete_mailbox(user, name);
            let ok =
                name != "INBOX" && model.mailboxes.contains_key(name) && !model.has_children(name);
            assert_eq!(result.is_ok(), ok, "delete {name}: {result:?}");
            if ok {
                model.mailboxes.remove(name);
            }
        }
    }
}

/// What the test remembers of each mailbox between steps, by mailbox id.
#[derive(Clone, Debug)]
struct Seen {
    info: MailboxInfo,
    modseqs: BTreeMap<u32, u64>,
}

fn check(
    model: &Model,
    store: &Store,
    user: UserId,
    seen: &mut HashMap<u64, Seen>,
    validities: &mut HashSet<u32>,
) {
    let infos = store.mailboxes(user).unwrap();
    assert_eq!(
        infos.iter().map(|m| m.name.clone()).collect::<Vec<_>>(),
        model.mailboxes.keys().cloned().collect::<Vec<_>>()
    );
    let mut next_seen = HashMap::new();
    for info in infos {
        let mb = &model.mailboxes[&info.name];
        let entries = store.messages(info.id).unwrap();
        assert_eq!(
            entries.iter().map(|e| e.uid.0).collect::<Vec<_>>(),
            mb.messages.keys().copied().collect::<Vec<_>>(),
            "{}",
            info.name
        );
        for e in &entries {
            let m = &mb.messages[&e.uid.0];
            assert_eq!((e.flags, &e.keywords), (m.flags, &m.keywords));
            assert_eq!(store.read_body(e.body).unwrap(), BODIES[m.body]);
            assert!(e.modseq <= info.highest_modseq);
        }
        let unseen = mb
            .messages
            .values()
            .filter(|m| !m.flags.contains(Flags::SEEN))
            .count() as u64;
        let size: u64 = mb
            .messages
            .values()
            .map(|m| BODIES[m.body].len() as u64)
            .sum();
        assert_eq!(
            (info.uidnext, info.messages, info.unseen, info.size),
            (mb.uidnext, mb.messages.len() as u64, unseen, size)
        );
        let modseqs: BTreeMap<u32, u64> = entries.iter().map(|e| (e.uid.0, e.modseq)).collect();
        match seen.get(&info.id.0) {
            Some(prev) => {
                assert_eq!(
                    prev.info.uidvalidity, info.uidvalidity,
                    "UIDVALIDITY changed without recreation"
                );
                if mb.changed {
                    assert!(
                        info.highest_modseq > prev.info.highest_modseq,
                        "HIGHESTMODSEQ did not grow"
                    );
                } else {
                    assert_eq!(info.highest_modseq, prev.info.highest_modseq);
                }
                for (uid, modseq) in &modseqs {
                    if mb.touched.contains(uid) {
                        assert!(
                            *modseq > prev.info.highest_modseq,
                            "MODSEQ of changed UID {uid} did not grow"
                        );
                    } else {
                        assert_eq!(
                            Some(modseq),
                            prev.modseqs.get(uid),
                            "untouched UID {uid} changed MODSEQ"
                        );
                    }
                }
            }
            None => assert!(
                validities.insert(info.uidvalidity),
                "UIDVALIDITY {} reused",
                info.uidvalidity
            ),
        }
        next_seen.insert(info.id.0, Seen { info, modseqs });
    }
    *seen = next_seen;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_match_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let (_dir, store, user) = fresh();
        let mut model = Model::new();
        let mut seen = HashMap::new();
        let mut validities = HashSet::new();
        check(&model, &store, user, &mut seen, &mut validities);
        for op in &ops {
            apply(&mut model, &store, user, op);
            check(&model, &store, user, &mut seen, &mut validities);
        }
        assert_consistent(&store);
    }
}
