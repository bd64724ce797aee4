//! The two workloads: a message load (C sessions share a budget of N
//! messages, each sending its share over one connection) and an idle hold
//! (N sessions opened, then left silent for a while).
//!
//! Both are bounded: the load stops claiming messages at its deadline, and
//! every I/O step has the reply timeout. The clock of the message load
//! starts once every session is open (greeting, TLS, AUTH), so a slow
//! password hash at login is not counted as mail throughput; the opening
//! time is reported separately.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Barrier, Semaphore};
use tokio::task::JoinSet;

use crate::client::{Outcome, Session, Target};
use crate::message::Template;

/// Distinct failure texts kept for the report; later ones are only counted.
const MAX_FAILURE_KINDS: usize = 20;

/// What to send.
pub(crate) struct Load {
    /// Envelope sender.
    pub(crate) from: String,
    /// Envelope recipients.
    pub(crate) to: Vec<String>,
    /// Messages in all, over all sessions.
    pub(crate) messages: u64,
    /// Sessions at once.
    pub(crate) concurrency: usize,
    /// The message sent each time.
    pub(crate) template: Template,
    /// No message is started after this long.
    pub(crate) max_time: Duration,
}

/// Totals of a message load.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Sessions that opened.
    pub(crate) sessions_opened: usize,
    /// Time from the first connection until every session was open.
    pub(crate) opening: Duration,
    /// Time from the moment every session was open until the last
    /// finished.
    pub(crate) elapsed: Duration,
    /// Messages answered with `250` after the data.
    pub(crate) accepted: u64,
    /// Messages refused or lost with their connection.
    pub(crate) failures: u64,
    /// Failure descriptions and how often each happened.
    pub(crate) failure_kinds: BTreeMap<String, u64>,
    /// Whether the deadline cut the load short.
    pub(crate) hit_deadline: bool,
}

impl Report {
    fn fail(&mut self, what: String) {
        self.fail_n(what, 1);
    }

    fn fail_n(&mut self, what: String, n: u64) {
        self.failures += n;
        let kinds = self.failure_kinds.len();
        match self.failure_kinds.get_mut(&what) {
            Some(count) => *count += n,
            None if kinds < MAX_FAILURE_KINDS => {
                self.failure_kinds.insert(what, n);
            }
            None => *self.failure_kinds.entry("(other)".to_owned()).or_default() += n,
        }
    }

    fn merge(&mut self, other: Report) {
        self.accepted += other.accepted;
        for (what, n) in other.failure_kinds {
            self.fail_n(what, n);
        }
        self.hit_deadline |= other.hit_deadline;
    }
}

/// Runs the message load to completion (or to its deadline).
pub(crate) async fn run(target: Arc<Target>, load: Load) -> Report {
    let load = Arc::new(load);
    let next = Arc::new(AtomicU64::new(0));
    // Every session and this task meet here once all are open.
    let ready = Arc::new(Barrier::new(load.concurrency + 1));
    let began = Instant::now();
    let mut tasks = JoinSet::new();
    for id in 0..load.concurrency {
        let (target, load, next, ready) =
            (target.clone(), load.clone(), next.clone(), ready.clone());
        tasks.spawn(async move {
            let opened = Session::open(&target).await;
            ready.wait().await;
            let mut report = Report::default();
            let mut session = match opened {
                Ok(session) => session,
                Err(e) => {
                    report.fail(format!("session did not open: {e:#}"));
                    return (false, report);
                }
            };
            let deadline = Instant::now() + load.max_time;
            loop {
                if Instant::now() >= deadline {
                    report.hit_deadline = next.load(Ordering::Relaxed) < load.messages;
                    break;
                }
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= load.messages {
                    break;
                }
                let headers = load.template.headers(id, index);
                match session
                    .send(&load.from, &load.to, &headers, load.template.body())
                    .await
                {
                    Ok(Outcome::Accepted) => report.accepted += 1,
                    Ok(Outcome::Refused { step, reply }) => {
                        report.fail(format!("{step}: {reply}"));
                    }
                    Err(e) => {
                        // The connection is unusable; the other sessions
                        // take over the remaining messages.
                        report.fail(format!("session lost: {e:#}"));
                        return (true, report);
                    }
                }
            }
            session.quit().await;
            (true, report)
        });
    }
    ready.wait().await;
    let opening = began.elapsed();
    let started = Instant::now();
    let mut total = Report {
        opening,
        ..Report::default()
    };
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((opened, report)) => {
                total.sessions_opened += usize::from(opened);
                total.merge(report);
            }
            Err(e) => total.fail(format!("session task failed: {e}")),
        }
    }
    total.elapsed = started.elapsed();
    total
}

/// Totals of an idle hold.
#[derive(Debug, Default)]
pub(crate) struct IdleReport {
    /// Sessions open during the hold.
    pub(crate) held: usize,
    /// Sessions that could not be opened, by reason.
    pub(crate) failures: BTreeMap<String, u64>,
}

/// Opens `count` sessions (at most `parallel` handshakes at once), calls
/// `holding` once they are all open, keeps them silent for `hold`, then
/// closes them with `QUIT`.
pub(crate) async fn idle(
    target: Arc<Target>,
    count: usize,
    parallel: usize,
    hold: Duration,
    holding: impl FnOnce(usize),
) -> IdleReport {
    let gate = Arc::new(Semaphore::new(parallel.max(1)));
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let (target, gate) = (target.clone(), gate.clone());
        tasks.spawn(async move {
            let _permit = gate
                .acquire_owned()
                .await
                .expect("the semaphore is never closed");
            Session::open(&target).await
        });
    }
    let mut report = IdleReport::default();
    let mut sessions = Vec::with_capacity(count);
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(session)) => sessions.push(session),
            Ok(Err(e)) => *report.failures.entry(format!("{e:#}")).or_default() += 1,
            Err(e) => {
                *report
                    .failures
                    .entry(format!("task failed: {e}"))
                    .or_default() += 1
            }
        }
    }
    report.held = sessions.len();
    holding(report.held);
    tokio::time::sleep(hold).await;
    let mut closing = JoinSet::new();
    for session in sessions {
        closing.spawn(session.quit());
    }
    while closing.join_next().await.is_some() {}
    report
}
