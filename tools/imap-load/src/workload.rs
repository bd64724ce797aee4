//! The workloads. Each session is a task; sessions share a budget of
//! operations through an atomic counter and stop at the deadline.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Barrier, Mutex};
use tokio::task::JoinSet;

use crate::client::{Session, Target};

/// Distinct failure texts kept; later ones are only counted.
const MAX_FAILURE_KINDS: usize = 20;

/// What every mode shares.
pub(crate) struct Plan {
    pub(crate) target: Arc<Target>,
    pub(crate) mailbox: String,
    pub(crate) concurrency: usize,
    pub(crate) size: usize,
    pub(crate) deadline: Duration,
}

/// The outcome of a run.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) mode: &'static str,
    pub(crate) operations: u64,
    pub(crate) elapsed: Duration,
    pub(crate) per_command: BTreeMap<&'static str, u64>,
    pub(crate) timings: Vec<Duration>,
    pub(crate) held: usize,
    pub(crate) failures: BTreeMap<String, u64>,
    pub(crate) hit_deadline: bool,
}

impl Report {
    fn fail(&mut self, what: String) {
        if self.failures.len() < MAX_FAILURE_KINDS || self.failures.contains_key(&what) {
            *self.failures.entry(what).or_default() += 1;
        } else {
            *self.failures.entry("(other failures)".into()).or_default() += 1;
        }
    }

    fn merge(&mut self, other: Report) {
        self.operations += other.operations;
        for (k, v) in other.per_command {
            *self.per_command.entry(k).or_default() += v;
        }
        for (k, v) in other.failures {
            *self.failures.entry(k).or_default() += v;
        }
        self.hit_deadline |= other.hit_deadline;
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seconds = self.elapsed.as_secs_f64();
        match self.mode {
            "select-all" => {
                let mut sorted = self.timings.clone();
                sorted.sort();
                for (i, t) in self.timings.iter().enumerate() {
                    writeln!(
                        f,
                        "select+fetch-all run {}: {:.3} s",
                        i + 1,
                        t.as_secs_f64()
                    )?;
                }
                if let Some(median) = sorted.get(sorted.len() / 2) {
                    writeln!(
                        f,
                        "median select+fetch-all seconds: {:.3}",
                        median.as_secs_f64()
                    )?;
                }
            }
            "idle" => writeln!(f, "sessions held in IDLE: {}", self.held)?,
            mode => {
                writeln!(f, "mode: {mode}")?;
                writeln!(f, "operations: {}", self.operations)?;
                writeln!(f, "seconds: {seconds:.3}")?;
                if seconds > 0.0 {
                    writeln!(
                        f,
                        "operations per second: {:.1}",
                        self.operations as f64 / seconds
                    )?;
                }
                for (command, n) in &self.per_command {
                    writeln!(f, "  {command:<14} {n}")?;
                }
            }
        }
        if self.hit_deadline {
            writeln!(f, "stopped at --max-seconds")?;
        }
        for (what, n) in &self.failures {
            writeln!(f, "failed ({n}x): {what}")?;
        }
        Ok(())
    }
}

/// A message of about `size` octets, unique by `n`.
fn message(n: u64, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: Load Tool <load@example.cjsm.net>\r\nTo: Reader <reader@example.cjsm.net>\r\n\
         Subject: load message {n}\r\nDate: Mon, 23 Nov 2026 12:00:00 +0000\r\n\
         Message-ID: <load.{n}.{}@imap-load>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\r\n",
        std::process::id()
    )
    .into_bytes();
    let line = b"The quick brown fox jumps over the lazy dog; case papers follow.\r\n";
    while m.len() + line.len() <= size {
        m.extend_from_slice(line);
    }
    while m.len() < size.saturating_sub(2) {
        m.push(b'x');
    }
    m.extend_from_slice(b"\r\n");
    m
}

/// A small deterministic generator (xorshift), one per session.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        if n == 0 { 0 } else { self.0 % n }
    }
}

/// The UIDNEXT in a SELECT answer.
fn uidnext(untagged: &[String]) -> Option<u64> {
    untagged.iter().find_map(|l| {
        let at = l.find("[UIDNEXT ")?;
        l[at + 9..].split(']').next()?.trim().parse().ok()
    })
}

async fn select(session: &mut Session, mailbox: &str) -> anyhow::Result<u64> {
    let answer = session
        .command(&format!("SELECT {}", crate::client::quoted(mailbox)))
        .await?;
    anyhow::ensure!(answer.ok(), "SELECT: {}", answer.completion);
    Ok(uidnext(&answer.untagged).unwrap_or(1))
}

/// APPENDs `n` messages over the plan's sessions.
pub(crate) async fn populate(plan: &Plan, n: u64) -> Report {
    let budget = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..plan.concurrency {
        let (target, budget, mailbox, size, deadline) = (
            plan.target.clone(),
            budget.clone(),
            plan.mailbox.clone(),
            plan.size,
            plan.deadline,
        );
        tasks.spawn(async move {
            let mut report = Report::default();
            let mut session = match Session::open(&target).await {
                Ok(s) => s,
                Err(e) => {
                    report.fail(format!("open: {e:#}"));
                    return report;
                }
            };
            loop {
                if started.elapsed() >= deadline {
                    report.hit_deadline = true;
                    break;
                }
                let i = budget.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                match session.append(&mailbox, "", &message(i, size)).await {
                    Ok(_) => {
                        report.operations += 1;
                        *report.per_command.entry("APPEND").or_default() += 1;
                    }
                    Err(e) => {
                        report.fail(format!("{e:#}"));
                        return report;
                    }
                }
            }
            session.logout().await;
            report
        });
    }
    let mut total = Report {
        mode: "populate",
        ..Report::default()
    };
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(r) => total.merge(r),
            Err(e) => total.fail(format!("session task: {e}")),
        }
    }
    total.elapsed = started.elapsed();
    total
}

/// One round of the mixed workload; returns the operations done.
async fn round(
    session: &mut Session,
    rng: &mut Rng,
    uidnext: u64,
    mailbox: &str,
    body: &[u8],
    counts: &mut BTreeMap<&'static str, u64>,
) -> anyhow::Result<u64> {
    let top = uidnext.max(2) - 1;
    let first = 1 + rng.below(top);
    let headers = session
        .command(&format!(
            "UID FETCH {first}:{} (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE)])",
            first + 9
        ))
        .await?;
    anyhow::ensure!(headers.ok(), "FETCH headers: {}", headers.completion);
    *counts.entry("FETCH headers").or_default() += 1;
    let one = 1 + rng.below(top);
    let whole = session
        .command(&format!("UID FETCH {one} (BODY.PEEK[])"))
        .await?;
    anyhow::ensure!(whole.ok(), "FETCH body: {}", whole.completion);
    *counts.entry("FETCH body").or_default() += 1;
    let flag = session
        .command(&format!("UID STORE {one} +FLAGS.SILENT (\\Flagged)"))
        .await?;
    anyhow::ensure!(flag.ok(), "STORE: {}", flag.completion);
    *counts.entry("STORE").or_default() += 1;
    let uid = session.append(mailbox, "\\Seen", body).await?;
    *counts.entry("APPEND").or_default() += 1;
    let Some(uid) = uid else {
        return Ok(4);
    };
    let delete = session
        .command(&format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"))
        .await?;
    anyhow::ensure!(delete.ok(), "STORE deleted: {}", delete.completion);
    *counts.entry("STORE").or_default() += 1;
    let expunge = session.command(&format!("UID EXPUNGE {uid}")).await?;
    anyhow::ensure!(expunge.ok(), "UID EXPUNGE: {}", expunge.completion);
    *counts.entry("UID EXPUNGE").or_default() += 1;
    Ok(6)
}

/// The mixed workload: sessions share `n` operations.
pub(crate) async fn mixed(plan: &Plan, n: u64) -> Report {
    let budget = Arc::new(AtomicU64::new(0));
    let barrier = Arc::new(Barrier::new(plan.concurrency));
    let clock: Arc<Mutex<Option<Instant>>> = Arc::default();
    let mut tasks = JoinSet::new();
    for id in 0..plan.concurrency {
        let (target, budget, barrier, clock) = (
            plan.target.clone(),
            budget.clone(),
            barrier.clone(),
            clock.clone(),
        );
        let (mailbox, size, deadline) = (plan.mailbox.clone(), plan.size, plan.deadline);
        tasks.spawn(async move {
            let mut report = Report::default();
            let body = message(id as u64, size);
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1));
            let opened = async {
                let mut s = Session::open(&target).await?;
                let next = select(&mut s, &mailbox).await?;
                anyhow::Ok((s, next))
            }
            .await;
            barrier.wait().await;
            let started = *clock.lock().await.get_or_insert_with(Instant::now);
            let (mut session, mut next) = match opened {
                Ok(x) => x,
                Err(e) => {
                    report.fail(format!("open: {e:#}"));
                    return report;
                }
            };
            let mut rounds = 0u64;
            loop {
                if started.elapsed() >= deadline {
                    report.hit_deadline = true;
                    break;
                }
                // Claim a round's worth of the budget.
                if budget.fetch_add(6, Ordering::Relaxed) >= n {
                    break;
                }
                rounds += 1;
                if rounds.is_multiple_of(10) {
                    session.logout().await;
                    let reopened = async {
                        let mut s = Session::open(&target).await?;
                        let next = select(&mut s, &mailbox).await?;
                        anyhow::Ok((s, next))
                    }
                    .await;
                    match reopened {
                        Ok((s, n)) => (session, next) = (s, n),
                        Err(e) => {
                            report.fail(format!("reconnect: {e:#}"));
                            return report;
                        }
                    }
                    report.operations += 3;
                    *report.per_command.entry("LOGIN+SELECT").or_default() += 1;
                    *report.per_command.entry("LOGOUT").or_default() += 1;
                }
                match round(
                    &mut session,
                    &mut rng,
                    next,
                    &mailbox,
                    &body,
                    &mut report.per_command,
                )
                .await
                {
                    Ok(ops) => report.operations += ops,
                    Err(e) => {
                        report.fail(format!("{e:#}"));
                        return report;
                    }
                }
            }
            session.logout().await;
            report
        });
    }
    let mut total = Report {
        mode: "mixed",
        ..Report::default()
    };
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(r) => total.merge(r),
            Err(e) => total.fail(format!("session task: {e}")),
        }
    }
    total.elapsed = clock.lock().await.map_or(Duration::ZERO, |t| t.elapsed());
    total
}

/// Times SELECT plus `FETCH 1:* (UID FLAGS)`, `times` times.
pub(crate) async fn select_all(plan: &Plan, times: u64) -> Report {
    let mut report = Report {
        mode: "select-all",
        ..Report::default()
    };
    let mut session = match Session::open(&plan.target).await {
        Ok(s) => s,
        Err(e) => {
            report.fail(format!("open: {e:#}"));
            return report;
        }
    };
    for _ in 0..times {
        let started = Instant::now();
        let result = async {
            select(&mut session, &plan.mailbox).await?;
            let all = session.command("FETCH 1:* (UID FLAGS)").await?;
            anyhow::ensure!(all.ok(), "FETCH: {}", all.completion);
            let close = session.command("UNSELECT").await?;
            anyhow::ensure!(close.ok(), "UNSELECT: {}", close.completion);
            anyhow::Ok(all.untagged.len())
        }
        .await;
        match result {
            Ok(n) => {
                report.timings.push(started.elapsed());
                report.operations += n as u64;
            }
            Err(e) => report.fail(format!("{e:#}")),
        }
    }
    session.logout().await;
    report
}

/// Opens `n` sessions, each SELECTs and enters IDLE; holds them.
pub(crate) async fn idle(
    plan: &Plan,
    n: usize,
    hold: Duration,
    on_held: impl FnOnce(usize),
) -> Report {
    let mut report = Report {
        mode: "idle",
        ..Report::default()
    };
    let mut sessions = Vec::with_capacity(n);
    let mut opening = JoinSet::new();
    let mut started = 0;
    while started < n || !opening.is_empty() {
        while started < n && opening.len() < 50 {
            let (target, mailbox) = (plan.target.clone(), plan.mailbox.clone());
            opening.spawn(async move {
                let mut s = Session::open(&target).await?;
                select(&mut s, &mailbox).await?;
                s.idle().await?;
                anyhow::Ok(s)
            });
            started += 1;
        }
        match opening.join_next().await {
            Some(Ok(Ok(s))) => sessions.push(s),
            Some(Ok(Err(e))) => report.fail(format!("open: {e:#}")),
            Some(Err(e)) => report.fail(format!("task: {e}")),
            None => break,
        }
    }
    report.held = sessions.len();
    on_held(sessions.len());
    tokio::time::sleep(hold).await;
    drop(sessions);
    report
}
