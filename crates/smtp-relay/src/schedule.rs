//! The scheduler as pure logic: which queue entries are due, which
//! recipients go to which destination, when the next attempt is, when mail
//! expires or a delay notice is due, and which destinations are backed off.
//! No sockets, no store writes, no clock: `now` is passed in (seconds since
//! the Unix epoch, the queue's unit).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use policy::{Community, Rewriter};
use store::{BodyId, QueueEntry, QueueEnvelope, QueueId, RecipientState};

use crate::config::RelayConfig;
use crate::route::{Destination, Routed, route};

/// Retry delays, maximum age and delay-notice age, in whole seconds (at
/// least one, so that a failing destination is never retried in a loop).
#[derive(Debug, Clone)]
pub struct Schedule {
    retry: Vec<i64>,
    max_age: i64,
    delay_notice_after: i64,
}

fn seconds(d: Duration) -> i64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    i64::try_from(s.max(1)).unwrap_or(i64::MAX)
}

impl Schedule {
    /// The schedule of a configuration. An empty retry schedule means one
    /// retry a minute.
    pub fn new(config: &RelayConfig) -> Self {
        let mut retry: Vec<i64> = config.retry_schedule.iter().copied().map(seconds).collect();
        if retry.is_empty() {
            retry.push(60);
        }
        Self {
            retry,
            max_age: seconds(config.max_age),
            delay_notice_after: seconds(config.delay_notice_after),
        }
    }

    /// Seconds to wait after the `attempts`-th failed attempt (from 1); the
    /// last delay of the schedule repeats.
    pub fn retry_after(&self, attempts: u32) -> i64 {
        let i = usize::try_from(attempts.saturating_sub(1)).unwrap_or(usize::MAX);
        self.retry[i.min(self.retry.len() - 1)]
    }

    /// Whether mail of this age (seconds queued, less the time it was
    /// held: [`QueueEntry::age_of`]) has passed its maximum age.
    pub fn is_expired(&self, age: i64) -> bool {
        age >= self.max_age
    }

    /// Whether mail of this age is old enough for a delay notice.
    pub fn delay_notice_due(&self, age: i64) -> bool {
        age >= self.delay_notice_after
    }

    /// The maximum age in seconds (for the failure DSN's wording).
    pub fn max_age(&self) -> i64 {
        self.max_age
    }
}

/// How one destination has fared lately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Health {
    /// Consecutive destination-wide failures.
    failures: u32,
    /// No attempt before this time.
    retry_at: i64,
}

/// Destinations that keep failing, and until when they are left alone.
/// Kept in memory: after a restart every destination is tried once again,
/// which is what an operator restarting the server expects.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    destinations: HashMap<Destination, Health>,
}

impl Backoff {
    /// Records a destination-wide failure at `now`: the destination is left
    /// alone for the schedule's delay for its number of consecutive failures.
    pub fn failed(&mut self, destination: &Destination, now: i64, schedule: &Schedule) {
        let health = self
            .destinations
            .entry(destination.clone())
            .or_insert(Health {
                failures: 0,
                retry_at: now,
            });
        health.failures = health.failures.saturating_add(1);
        health.retry_at = now.saturating_add(schedule.retry_after(health.failures));
    }

    /// Records a successful delivery; returns whether the destination had
    /// been failing (its waiting mail should then flow at once).
    pub fn succeeded(&mut self, destination: &Destination) -> bool {
        self.destinations.remove(destination).is_some()
    }

    /// Whether the destination may be tried at `now`.
    pub fn is_ready(&self, destination: &Destination, now: i64) -> bool {
        self.destinations
            .get(destination)
            .is_none_or(|h| h.retry_at <= now)
    }

    /// When the destination may next be tried, if it is backed off.
    pub fn retry_at(&self, destination: &Destination) -> Option<i64> {
        self.destinations.get(destination).map(|h| h.retry_at)
    }
}

/// An operator's request to retry now, ignoring back-off and retry times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Flush {
    /// No flush pending.
    #[default]
    None,
    /// Every destination.
    All,
    /// The destinations these names match ([`Destination::matches`]: a
    /// domain, a gateway host or `host:port`), or organisations' gateways by
    /// organisation name.
    Only(Vec<String>),
}

impl Flush {
    /// Adds a request (`None` = everything).
    pub fn add(&mut self, destination: Option<String>) {
        *self = match (std::mem::take(self), destination) {
            (Flush::All, _) | (_, None) => Flush::All,
            (Flush::None, Some(d)) => Flush::Only(vec![d]),
            (Flush::Only(mut v), Some(d)) => {
                v.push(d);
                Flush::Only(v)
            }
        };
    }

    /// Whether the request covers a destination, named by itself or by the
    /// organisation whose gateway it is (case-insensitive).
    fn covers(&self, destination: &Destination, organisation: Option<&str>) -> bool {
        match self {
            Flush::None => false,
            Flush::All => true,
            Flush::Only(names) => names.iter().any(|n| {
                destination.matches(n) || organisation.is_some_and(|o| o.eq_ignore_ascii_case(n))
            }),
        }
    }
}

/// `NOTIFY=` semantics (RFC 3461 §4.1): absent means FAILURE and DELAY at
/// the MTA's discretion; Ward gives both.
fn notify_has(notify: Option<&str>, word: &str) -> bool {
    match notify {
        None => word != "SUCCESS",
        Some(n) => n.split(',').any(|w| w.trim().eq_ignore_ascii_case(word)),
    }
}

/// Whether the sender asked to hear of a failure.
pub fn wants_failure_notice(notify: Option<&str>) -> bool {
    notify_has(notify, "FAILURE")
}

/// Whether the sender asked to hear of a delay (and has not yet).
pub fn wants_delay_notice(notify: Option<&str>) -> bool {
    notify_has(notify, "DELAY")
}

/// Whether the sender asked to hear of success.
pub fn wants_success_notice(notify: Option<&str>) -> bool {
    notify_has(notify, "SUCCESS")
}

/// The recipient's `NOTIFY` once its delay notice has gone out: `DELAY`
/// removed, so that the notice is given once and the fact survives a
/// restart (the queue entry has no other field for it).
pub fn after_delay_notice(notify: Option<&str>) -> String {
    let words: Vec<&str> = match notify {
        None => vec!["FAILURE"],
        Some(n) => n
            .split(',')
            .map(str::trim)
            .filter(|w| !w.eq_ignore_ascii_case("DELAY") && !w.is_empty())
            .collect(),
    };
    if words.is_empty() {
        "NEVER".to_owned()
    } else {
        words.join(",")
    }
}

/// One recipient of a [`Job`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecipient {
    /// Its index in the queue entry.
    pub index: usize,
    /// The address as the destination expects it.
    pub address: String,
    /// DSN `NOTIFY=`, as queued.
    pub notify: Option<String>,
    /// DSN `ORCPT=`, as queued.
    pub orcpt: Option<String>,
}

/// One message to one destination: one SMTP transaction.
#[derive(Debug, Clone)]
pub struct Job {
    /// The queue entry.
    pub id: QueueId,
    /// The envelope sender (empty for bounces).
    pub sender: String,
    /// The envelope parameters.
    pub envelope: QueueEnvelope,
    /// The stored message.
    pub body: BodyId,
    /// Its size.
    pub size: u64,
    /// When it was queued.
    pub queued_at: i64,
    /// The recipients for this destination.
    pub recipients: Vec<JobRecipient>,
    /// Header rewriting (strip-suffix organisations).
    pub rewriter: Option<Rewriter>,
}

/// What one scan of the queue decided.
#[derive(Debug, Default)]
pub struct Plan {
    /// Transactions to run, per destination, in queue order.
    pub deliveries: BTreeMap<Destination, Vec<Job>>,
    /// Recipients that became hosted mailboxes: (entry, index, mailbox).
    pub local: Vec<(QueueId, usize, String)>,
    /// Recipients the community no longer routes: (entry, index, reason).
    pub refused: Vec<(QueueId, usize, String)>,
    /// Entries past their maximum age, with their undelivered recipients.
    pub expired: Vec<(QueueId, Vec<usize>)>,
    /// Entries whose delay notice is due, with the recipients it covers.
    pub delay_notices: Vec<(QueueId, Vec<usize>)>,
    /// Entries every recipient of which is done: to remove.
    pub finished: Vec<QueueId>,
    /// Recipients whose organisation's hold began or ended since the last
    /// scan, to record so that the time held does not count against them.
    pub holds: Vec<(QueueId, usize, Hold)>,
    /// The earliest future time something becomes due (a retry, a back-off
    /// ending, an expiry), to sleep until.
    pub next_wake: Option<i64>,
}

/// A change in a recipient's hold (its organisation suspended or its
/// delivery held, then resumed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// The hold began: record since when.
    Began,
    /// The hold ended: add its length to the time held; deliver now.
    Ended,
}

/// What the scan needs to know besides the queue.
#[derive(Debug, Clone, Copy)]
pub struct ScanState<'a> {
    /// Now, seconds since the Unix epoch.
    pub now: i64,
    /// Destinations backed off.
    pub backoff: &'a Backoff,
    /// An operator's flush request.
    pub flush: &'a Flush,
    /// Destinations that answered again: their waiting mail goes now.
    pub recovered: &'a HashSet<Destination>,
    /// Entries being worked on: not planned again.
    pub in_flight: &'a HashSet<QueueId>,
}

fn is_open(state: &RecipientState) -> bool {
    matches!(
        state,
        RecipientState::Pending | RecipientState::Deferred { .. }
    )
}

fn earliest(a: Option<i64>, b: i64) -> Option<i64> {
    Some(a.map_or(b, |a| a.min(b)))
}

/// Decides what to do with the queue now.
pub fn plan(
    entries: &[(QueueId, QueueEntry)],
    community: &Community,
    schedule: &Schedule,
    state: ScanState<'_>,
) -> Plan {
    let now = state.now;
    let mut plan = Plan::default();
    for (id, entry) in entries {
        let id = *id;
        if state.in_flight.contains(&id) {
            continue;
        }
        let open: Vec<usize> = (0..entry.recipients.len())
            .filter(|&i| is_open(&entry.recipients[i].state))
            .collect();
        if open.is_empty() {
            plan.finished.push(id);
            continue;
        }
        if entry.held {
            continue;
        }
        let mut to_expire = Vec::new();
        let mut to_notify = Vec::new();
        let mut released = false;
        let mut youngest = i64::MAX;
        let mut groups: BTreeMap<(Destination, Option<String>), Job> = BTreeMap::new();
        for i in open {
            let r = &entry.recipients[i];
            let routed = route(community, &r.address);
            match (&routed, r.held_since) {
                (Routed::Held, None) => plan.holds.push((id, i, Hold::Began)),
                (Routed::Held, Some(_)) => {}
                (_, Some(_)) => {
                    plan.holds.push((id, i, Hold::Ended));
                    released = true;
                }
                (_, None) => {}
            }
            let age = entry.age_of(i, now);
            match routed {
                Routed::Held => {}
                Routed::Refused(reason) => plan.refused.push((id, i, reason)),
                Routed::Local { mailbox } => plan.local.push((id, i, mailbox)),
                Routed::Remote { .. } if schedule.is_expired(age) => to_expire.push(i),
                Routed::Remote {
                    destination,
                    organisation,
                    recipient,
                    rewriter,
                } => {
                    youngest = youngest.min(age);
                    if matches!(r.state, RecipientState::Deferred { .. })
                        && wants_delay_notice(r.notify.as_deref())
                        && schedule.delay_notice_due(age)
                    {
                        to_notify.push(i);
                    }
                    let job = groups
                        .entry((destination, organisation))
                        .or_insert_with(|| Job {
                            id,
                            sender: entry.sender.clone(),
                            envelope: entry.envelope.clone(),
                            body: entry.body,
                            size: entry.size,
                            queued_at: entry.queued_at,
                            recipients: Vec::new(),
                            rewriter,
                        });
                    job.recipients.push(JobRecipient {
                        index: i,
                        address: recipient,
                        notify: r.notify.clone(),
                        orcpt: r.orcpt.clone(),
                    });
                }
            }
        }
        if !to_expire.is_empty() {
            plan.expired.push((id, to_expire));
        }
        if !to_notify.is_empty() {
            plan.delay_notices.push((id, to_notify));
        }
        if groups.is_empty() {
            continue;
        }
        let expiry = now.saturating_add(schedule.max_age() - youngest);
        plan.next_wake = earliest(plan.next_wake, expiry);
        // An organisation that resumes gets its waiting mail at once.
        let due = entry.next_attempt_at <= now || released;
        for ((destination, organisation), job) in groups {
            let flushed = released || state.flush.covers(&destination, organisation.as_deref());
            let ready = state.backoff.is_ready(&destination, now);
            let go = flushed || (ready && (due || state.recovered.contains(&destination)));
            if go {
                plan.deliveries.entry(destination).or_default().push(job);
            } else {
                let mut at = entry.next_attempt_at.max(now + 1);
                if let Some(b) = state.backoff.retry_at(&destination) {
                    at = at.max(b);
                }
                plan.next_wake = earliest(plan.next_wake, at);
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::{Domain, Gateway, Organisation, SuffixRewrite};
    use store::QueueRecipient;

    fn schedule() -> Schedule {
        Schedule::new(&RelayConfig {
            retry_schedule: vec![Duration::from_secs(120), Duration::from_secs(300)],
            max_age: Duration::from_secs(1000),
            delay_notice_after: Duration::from_secs(100),
            ..RelayConfig::default()
        })
    }

    fn community() -> Community {
        let mut c = Community::default();
        for (name, domain, host) in [
            ("A", "a.org.uk", "gw.a.org.uk"),
            ("B", "b.org.uk", "gw.b.org.uk"),
        ] {
            c.organisations.push(Organisation::smtp(
                name,
                Domain::parse(domain).unwrap(),
                Gateway {
                    host: Domain::parse(host).unwrap(),
                    port: 25,
                    rewrite: SuffixRewrite::KeepSuffix,
                },
            ));
        }
        c
    }

    fn entry(recipients: &[(&str, RecipientState)], queued_at: i64, next: i64) -> QueueEntry {
        QueueEntry {
            sender: "s@a.org.uk.cjsm.net".into(),
            recipients: recipients
                .iter()
                .map(|(a, s)| QueueRecipient {
                    address: (*a).into(),
                    state: s.clone(),
                    attempts: 0,
                    notify: None,
                    orcpt: None,
                    held_since: None,
                    held_for: 0,
                })
                .collect(),
            envelope: QueueEnvelope::default(),
            body: BodyId([0; 32]),
            size: 10,
            queued_at,
            next_attempt_at: next,
            held: false,
            held_since: None,
            held_for: 0,
        }
    }

    struct Scan {
        backoff: Backoff,
        flush: Flush,
        recovered: HashSet<Destination>,
        in_flight: HashSet<QueueId>,
    }

    impl Scan {
        fn new() -> Self {
            Self {
                backoff: Backoff::default(),
                flush: Flush::None,
                recovered: HashSet::new(),
                in_flight: HashSet::new(),
            }
        }
        fn run(&self, entries: &[(QueueId, QueueEntry)], now: i64) -> Plan {
            plan(
                entries,
                &community(),
                &schedule(),
                ScanState {
                    now,
                    backoff: &self.backoff,
                    flush: &self.flush,
                    recovered: &self.recovered,
                    in_flight: &self.in_flight,
                },
            )
        }
    }

    fn gw(host: &str) -> Destination {
        Destination::Gateway {
            host: host.into(),
            port: 25,
        }
    }

    #[test]
    fn retry_delays_follow_the_schedule_and_repeat_the_last() {
        let s = schedule();
        assert_eq!(
            [1, 2, 3, 50].map(|a| s.retry_after(a)),
            [120, 300, 300, 300]
        );
        let d = Schedule::new(&RelayConfig::default());
        assert_eq!(
            (1..=7).map(|a| d.retry_after(a) / 60).collect::<Vec<_>>(),
            [2, 5, 15, 30, 60, 120, 120]
        );
        assert!(!s.is_expired(999) && s.is_expired(1000));
        // Sub-second delays round up: never a retry loop.
        let fast = Schedule::new(&RelayConfig {
            retry_schedule: vec![Duration::from_millis(10)],
            ..RelayConfig::default()
        });
        assert_eq!(fast.retry_after(1), 1);
    }

    #[test]
    fn recipients_group_per_destination_in_one_job() {
        let p = RecipientState::Pending;
        let entries = vec![(
            QueueId(1),
            entry(
                &[
                    ("x@a.org.uk.cjsm.net", p.clone()),
                    ("y@b.org.uk.cjsm.net", p.clone()),
                    ("z@a.org.uk.cjsm.net", p.clone()),
                    ("d@a.org.uk.cjsm.net", RecipientState::Delivered { at: 1 }),
                ],
                0,
                0,
            ),
        )];
        let plan = Scan::new().run(&entries, 10);
        assert_eq!(plan.deliveries.len(), 2);
        let a = &plan.deliveries[&gw("gw.a.org.uk")];
        assert_eq!(a.len(), 1);
        assert_eq!(
            a[0].recipients.iter().map(|r| r.index).collect::<Vec<_>>(),
            [0, 2]
        );
        assert_eq!(plan.deliveries[&gw("gw.b.org.uk")][0].recipients.len(), 1);
    }

    #[test]
    fn not_due_held_in_flight_and_backed_off_entries_wait() {
        let p = RecipientState::Pending;
        let e = |next| entry(&[("x@a.org.uk.cjsm.net", p.clone())], 0, next);
        let mut held = e(0);
        held.held = true;
        let entries = vec![
            (QueueId(1), e(50)),
            (QueueId(2), held),
            (QueueId(3), e(0)),
            (QueueId(4), e(0)),
        ];
        let mut scan = Scan::new();
        scan.in_flight.insert(QueueId(4));
        let plan = scan.run(&entries, 10);
        let jobs = &plan.deliveries[&gw("gw.a.org.uk")];
        assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<_>>(), [QueueId(3)]);
        assert_eq!(plan.next_wake, Some(50));

        // Backed off: nothing goes, and the wake-up is at the back-off's end.
        scan.backoff.failed(&gw("gw.a.org.uk"), 10, &schedule());
        let plan = scan.run(&entries, 10);
        assert!(plan.deliveries.is_empty());
        assert_eq!(plan.next_wake, Some(130));
        assert!(scan.run(&entries, 130).deliveries.len() == 1);

        // A flush ignores back-off and retry times.
        scan.flush.add(Some("gw.a.org.uk".into()));
        let plan = scan.run(&entries, 10);
        assert_eq!(plan.deliveries[&gw("gw.a.org.uk")].len(), 2);

        // A destination that answered again gets all its mail at once.
        let mut scan = Scan::new();
        scan.recovered.insert(gw("gw.a.org.uk"));
        assert_eq!(
            scan.run(&entries, 10).deliveries[&gw("gw.a.org.uk")].len(),
            3
        );
        assert!(scan.backoff.is_ready(&gw("gw.a.org.uk"), 0));
    }

    #[test]
    fn backoff_grows_and_resets() {
        let s = schedule();
        let mut b = Backoff::default();
        let d = gw("gw.a.org.uk");
        b.failed(&d, 0, &s);
        assert_eq!(b.retry_at(&d), Some(120));
        b.failed(&d, 120, &s);
        assert_eq!(b.retry_at(&d), Some(420));
        assert!(!b.is_ready(&d, 419) && b.is_ready(&d, 420));
        assert!(b.succeeded(&d));
        assert!(!b.succeeded(&d));
        assert!(b.is_ready(&d, 0));
    }

    #[test]
    fn expiry_delay_notices_refusals_and_finished_entries() {
        let deferred = RecipientState::Deferred {
            last_error: "down".into(),
        };
        let entries = vec![
            (
                QueueId(1),
                entry(&[("x@a.org.uk.cjsm.net", deferred.clone())], 0, 0),
            ),
            (
                QueueId(2),
                entry(
                    &[
                        ("x@a.org.uk.cjsm.net", deferred.clone()),
                        ("y@gmail.com", RecipientState::Pending),
                    ],
                    900,
                    2000,
                ),
            ),
            (
                QueueId(3),
                entry(
                    &[(
                        "x@a.org.uk.cjsm.net",
                        RecipientState::Failed { reason: "r".into() },
                    )],
                    0,
                    0,
                ),
            ),
        ];
        let plan = Scan::new().run(&entries, 1000);
        assert_eq!(plan.expired, [(QueueId(1), vec![0])]);
        assert_eq!(plan.delay_notices, [(QueueId(2), vec![0])]);
        assert_eq!(plan.refused.len(), 1);
        assert_eq!(plan.refused[0].0, QueueId(2));
        assert_eq!(plan.finished, [QueueId(3)]);
        assert!(plan.deliveries.is_empty());
        // Entry 2 is too young for a delay notice; entry 1 is not expired.
        let plan = Scan::new().run(&entries, 950);
        assert_eq!(plan.delay_notices, [(QueueId(1), vec![0])]);
        assert!(plan.expired.is_empty());
    }

    // Issue 24: a suspension holds mail without ageing it.
    #[test]
    fn held_recipients_do_not_age_and_go_at_once_on_resumption() {
        let deferred = RecipientState::Deferred {
            last_error: "down".into(),
        };
        let mut suspended = community();
        suspended.organisations[0].suspended = true;
        let entries = vec![(
            QueueId(1),
            entry(&[("x@a.org.uk.cjsm.net", deferred.clone())], 0, 5000),
        )];
        let scan = |c: &Community, entries: &[(QueueId, QueueEntry)], now| {
            let s = Scan::new();
            plan(
                entries,
                c,
                &schedule(),
                ScanState {
                    now,
                    backoff: &s.backoff,
                    flush: &s.flush,
                    recovered: &s.recovered,
                    in_flight: &s.in_flight,
                },
            )
        };
        // Suspended: the hold begins; nothing expires, is notified or goes.
        let plan = scan(&suspended, &entries, 10);
        assert_eq!(plan.holds, [(QueueId(1), 0, Hold::Began)]);
        assert!(plan.deliveries.is_empty() && plan.expired.is_empty());
        let mut held = entries.clone();
        held[0].1.recipients[0].held_since = Some(10);
        let plan = scan(&suspended, &held, 100_000);
        assert!(plan.holds.is_empty() && plan.expired.is_empty());
        assert!(plan.delay_notices.is_empty());
        // Resumed long after max_age (1000 s): the hold ends, the recipient
        // goes now despite its retry time, and its age is 10 s, not 100,000.
        let plan = scan(&community(), &held, 100_000);
        assert_eq!(plan.holds, [(QueueId(1), 0, Hold::Ended)]);
        assert!(plan.expired.is_empty() && plan.delay_notices.is_empty());
        assert_eq!(plan.deliveries[&gw("gw.a.org.uk")].len(), 1);
        assert_eq!(held[0].1.age_of(0, 100_000), 10);
        // The time held is remembered after the hold ends.
        held[0].1.recipients[0].held_since = None;
        held[0].1.recipients[0].held_for = 99_990;
        assert_eq!(held[0].1.age_of(0, 100_000), 10);
        assert!(scan(&community(), &held, 100_985).expired.is_empty());
        assert_eq!(scan(&community(), &held, 100_990).expired.len(), 1);
    }

    #[test]
    fn an_operators_hold_does_not_age_the_entry() {
        let mut e = entry(&[("x@a.org.uk.cjsm.net", RecipientState::Pending)], 0, 0);
        e.hold(100);
        assert_eq!(e.age_of(0, 5000), 100);
        e.release(5000);
        assert!(!e.held && e.held_since.is_none());
        assert_eq!(e.age_of(0, 5050), 150);
    }

    #[test]
    fn notify_words() {
        assert!(wants_failure_notice(None) && wants_delay_notice(None));
        assert!(!wants_success_notice(None));
        assert!(!wants_failure_notice(Some("NEVER")));
        assert!(wants_success_notice(Some("SUCCESS,DELAY")));
        assert_eq!(after_delay_notice(None), "FAILURE");
        assert_eq!(after_delay_notice(Some("SUCCESS,DELAY")), "SUCCESS");
        assert_eq!(after_delay_notice(Some("DELAY")), "NEVER");
        assert!(!wants_delay_notice(Some(&after_delay_notice(None))));
    }

    #[test]
    fn flush_requests_accumulate() {
        let mut f = Flush::None;
        f.add(Some("a".into()));
        f.add(Some("b".into()));
        assert_eq!(f, Flush::Only(vec!["a".into(), "b".into()]));
        f.add(None);
        assert_eq!(f, Flush::All);
    }
}
