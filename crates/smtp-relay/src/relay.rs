//! The delivery engine: scans the queue (on a store notification, a
//! community change, an operator's wake or flush, a finished delivery, or
//! the poll interval), asks the scheduler what is due, and runs one task per
//! destination with up to `max_connections_per_destination` connections,
//! each carrying messages one after another. Mail for a destination whose
//! task is running joins that task's list. Every outcome is written to the
//! queue entry as soon as it is known; a delivered mark first of all.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use policy::Community;
use store::{
    AccountStatus, AuditEvent, NewMessage, NewQueueRecipient, QueueEntry, QueueEnvelope, QueueId,
    RecipientState, Store,
};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::client::{ClientContext, Session};
use crate::config::RelayConfig;
use crate::dsn::{self, Action, RecipientReport};
use crate::error::{Failure, RelayError};
use crate::resolve::{Candidate, Resolver};
use crate::route::Destination;
use crate::schedule::{
    self, Backoff, Flush, Hold, Job, Plan, ScanState, Schedule, after_delay_notice,
    wants_delay_notice, wants_failure_notice, wants_success_notice,
};
use crate::session::{Envelope, Rcpt};

/// Now, in the queue's unit.
fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the handle and the engine share.
#[derive(Debug)]
struct Shared {
    wake: Notify,
    flush: Mutex<Flush>,
    tls: Arc<crate::tls::ClientTls>,
}

/// Lets the daemon and operators prod a running relay. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RelayHandle {
    shared: Arc<Shared>,
}

impl RelayHandle {
    /// Scans the queue now (new mail was queued, or an entry released).
    pub fn wake(&self) {
        self.shared.wake.notify_one();
    }

    /// Retries now, ignoring retry times and back-off: every destination
    /// (`None`), or those named (a domain, a gateway host or `host:port`).
    pub fn flush(&self, destination: Option<String>) {
        lock(&self.shared.flush).add(destination);
        self.shared.wake.notify_one();
    }

    /// Reads the extra CA file and the client certificate again (SIGHUP);
    /// new connections use them. On any problem the old ones stay.
    ///
    /// # Errors
    ///
    /// [`RelayError::Certificate`] or [`RelayError::Tls`].
    pub fn reload_tls(&self) -> Result<(), RelayError> {
        self.shared.tls.reload()
    }
}

/// Everything a delivery task needs, shared by all of them.
struct Engine {
    store: Arc<Store>,
    config: RelayConfig,
    schedule: Schedule,
    client: ClientContext,
    resolver: Resolver,
    connections: Arc<Semaphore>,
    per_destination: Mutex<HashMap<Destination, Arc<Semaphore>>>,
    /// The job list of each destination with a running delivery task: a
    /// scan adds to it instead of starting another task, so that running
    /// connections carry new mail too.
    active: Mutex<HashMap<Destination, JobList>>,
    /// Entries being worked on, with the number of tasks working on each.
    in_flight: Mutex<HashMap<QueueId, usize>>,
}

/// Jobs waiting for one destination's connections, and a signal that a
/// scan added some (so the task may open more connections).
#[derive(Default)]
struct Waiting {
    jobs: Mutex<VecDeque<Job>>,
    added: Notify,
}

/// A destination's shared job list.
type JobList = Arc<Waiting>;

/// What a destination task reports when it ends.
#[derive(Debug)]
struct DestinationReport {
    destination: Destination,
    delivered: bool,
    failure: Option<Failure>,
}

/// The outbound relay. Build it with [`Relay::new`], keep a
/// [`Relay::handle`], then [`Relay::run`] it until shutdown.
pub struct Relay {
    engine: Arc<Engine>,
    community: watch::Receiver<Arc<Community>>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("hostname", &self.engine.config.hostname)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// Prepares the relay: TLS client configuration, DNS resolver.
    ///
    /// # Errors
    ///
    /// [`RelayError`] when a certificate file is unusable, the resolver
    /// cannot be configured or a limit is zero.
    pub fn new(
        store: Arc<Store>,
        community: watch::Receiver<Arc<Community>>,
        config: RelayConfig,
    ) -> Result<Self, RelayError> {
        if config.max_connections == 0 || config.max_connections_per_destination == 0 {
            return Err(RelayError::Config(
                "max_connections and max_connections_per_destination must be at least 1".into(),
            ));
        }
        let tls = Arc::new(crate::tls::ClientTls::new(&config)?);
        let resolver = Resolver::new(&config.resolver)?;
        let client = ClientContext {
            hostname: config.hostname.clone(),
            tls: Arc::clone(&tls),
            connect_timeout: config.connect_timeout,
            command_timeout: config.command_timeout,
            implicit_tls_ports: config.implicit_tls_ports.clone(),
        };
        Ok(Self {
            engine: Arc::new(Engine {
                store,
                schedule: Schedule::new(&config),
                connections: Arc::new(Semaphore::new(config.max_connections)),
                config,
                client,
                resolver,
                per_destination: Mutex::new(HashMap::new()),
                active: Mutex::new(HashMap::new()),
                in_flight: Mutex::new(HashMap::new()),
            }),
            community,
            shared: Arc::new(Shared {
                wake: Notify::new(),
                flush: Mutex::new(Flush::default()),
                tls,
            }),
        })
    }

    /// A handle to wake or flush the running relay.
    pub fn handle(&self) -> RelayHandle {
        RelayHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Delivers queued mail until `shutdown` is cancelled, then returns
    /// promptly. Transactions in progress are abandoned: their recipients
    /// stay queued and are retried after the restart (if the peer had
    /// already answered the message with 250, that is the one duplicate
    /// window; see the crate documentation).
    pub async fn run(self, shutdown: CancellationToken) {
        let engine = self.engine;
        let mut community = self.community;
        let mut queue = engine.store.subscribe_queue();
        let mut backoff = Backoff::default();
        let mut recovered: HashSet<Destination> = HashSet::new();
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<DestinationReport>();
        let mut tasks = JoinSet::new();
        tracing::info!(hostname = %engine.config.hostname, "relay started");
        loop {
            let flush = std::mem::take(&mut *lock(&self.shared.flush));
            let current = Arc::clone(&community.borrow_and_update());
            let next_wake = match scan(
                &engine, &current, &backoff, &flush, &recovered, &mut tasks, &done_tx, &shutdown,
            )
            .await
            {
                Ok(next) => next,
                Err(e) => {
                    tracing::error!(error = %e, "relay cannot read the queue; retrying");
                    None
                }
            };
            recovered.clear();
            let mut sleep = engine.config.poll_interval;
            if let Some(at) = next_wake {
                let secs = u64::try_from(at.saturating_sub(now())).unwrap_or(0);
                sleep = sleep.min(Duration::from_secs(secs).max(Duration::from_millis(50)));
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.shared.wake.notified() => {}
                changed = community.changed() => {
                    if changed.is_err() {
                        // The daemon dropped the community: it is shutting down.
                        break;
                    }
                }
                changed = queue.changed() => {
                    if changed.is_err() {
                        // The store is gone: nothing more to deliver.
                        break;
                    }
                    // Let a burst of submissions land before scanning.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Some(report) = done_rx.recv() => {
                    apply(&engine, &mut backoff, &mut recovered, report);
                    while let Ok(report) = done_rx.try_recv() {
                        apply(&engine, &mut backoff, &mut recovered, report);
                    }
                }
                () = tokio::time::sleep(sleep) => {}
            }
            while tasks.try_join_next().is_some() {}
        }
        tasks.abort_all();
        tracing::info!("relay stopped");
    }
}

fn apply(
    engine: &Engine,
    backoff: &mut Backoff,
    recovered: &mut HashSet<Destination>,
    report: DestinationReport,
) {
    if report.delivered {
        if backoff.succeeded(&report.destination) {
            tracing::info!(destination = %report.destination, "destination answers again");
            recovered.insert(report.destination);
        }
    } else if let Some(f) = report.failure {
        backoff.failed(&report.destination, now(), &engine.schedule);
        tracing::warn!(destination = %report.destination, error = %f, "destination backed off");
    }
}

/// One scan: plan, settle what needs no connection, launch deliveries.
/// Returns when something next becomes due.
#[allow(clippy::too_many_arguments)]
async fn scan(
    engine: &Arc<Engine>,
    community: &Community,
    backoff: &Backoff,
    flush: &Flush,
    recovered: &HashSet<Destination>,
    tasks: &mut JoinSet<()>,
    done: &mpsc::UnboundedSender<DestinationReport>,
    shutdown: &CancellationToken,
) -> Result<Option<i64>, store::Error> {
    // In-flight entries first, the queue second: an entry released in
    // between has its outcome on disk already, so the queue read after
    // shows it (the other order could deliver it twice).
    let in_flight: HashSet<QueueId> = lock(&engine.in_flight).keys().copied().collect();
    let store = Arc::clone(&engine.store);
    let entries = tokio::task::spawn_blocking(move || store.queue_entries())
        .await
        .map_err(|e| store::Error::Io(e.to_string()))??;
    let mut plan = schedule::plan(
        &entries,
        community,
        &engine.schedule,
        ScanState {
            now: now(),
            backoff,
            flush,
            recovered,
            in_flight: &in_flight,
        },
    );
    let deliveries = std::mem::take(&mut plan.deliveries);
    let next_wake = plan.next_wake;
    let has_chores = !(plan.local.is_empty()
        && plan.refused.is_empty()
        && plan.expired.is_empty()
        && plan.delay_notices.is_empty()
        && plan.finished.is_empty()
        && plan.holds.is_empty());
    if has_chores {
        let e = Arc::clone(engine);
        let chores = tokio::task::spawn_blocking(move || settle(&e, plan));
        if let Err(err) = chores.await {
            tracing::error!(error = %err, "relay housekeeping failed");
        }
    }
    for (destination, jobs) in deliveries {
        {
            let mut in_flight = lock(&engine.in_flight);
            for job in &jobs {
                *in_flight.entry(job.id).or_default() += 1;
            }
        }
        let list: JobList = {
            let mut active = lock(&engine.active);
            if let Some(list) = active.get(&destination) {
                // Its task is running: its connections take these too.
                lock(&list.jobs).extend(jobs);
                list.added.notify_one();
                continue;
            }
            let list = Arc::new(Waiting {
                jobs: Mutex::new(VecDeque::from(jobs)),
                added: Notify::new(),
            });
            active.insert(destination.clone(), Arc::clone(&list));
            list
        };
        let e = Arc::clone(engine);
        let done = done.clone();
        let shutdown = shutdown.clone();
        let span = tracing::info_span!("relay", destination = %destination);
        tasks.spawn(
            async move {
                let report = tokio::select! {
                    r = deliver_destination(&e, destination, list) => r,
                    () = shutdown.cancelled() => return,
                };
                let _ = done.send(report);
            }
            .instrument(span),
        );
    }
    Ok(next_wake)
}

/// Settles, without any connection, what the plan decided: local
/// deliveries, refusals, expiry, delay notices and finished entries.
fn settle(engine: &Engine, plan: Plan) {
    let store = &engine.store;
    let now = now();
    record_holds(store, &plan.holds, now);
    for (id, index, mailbox) in plan.local {
        let result = deliver_locally(store, id, &mailbox, now);
        match result {
            Ok(()) => {}
            Err(Failure::Store(e)) => {
                tracing::warn!(queue = %id, error = %e, "local delivery failed; will retry")
            }
            Err(f) => fail_recipients(engine, id, &[(index, f)], now),
        }
    }
    let mut refused: HashMap<QueueId, Vec<(usize, Failure)>> = HashMap::new();
    for (id, index, reason) in plan.refused {
        refused
            .entry(id)
            .or_default()
            .push((index, Failure::NotRoutable(reason)));
    }
    for (id, failures) in refused {
        fail_recipients(engine, id, &failures, now);
    }
    for (id, indices) in plan.expired {
        let Ok(Some(entry)) = store.queue_entry(id) else {
            continue;
        };
        let max_age = age_in_words(engine.schedule.max_age());
        let failures: Vec<(usize, Failure)> = indices
            .into_iter()
            .map(|i| {
                let last_error = match entry.recipients.get(i).map(|r| &r.state) {
                    Some(RecipientState::Deferred { last_error }) => last_error.clone(),
                    _ => "it could not be attempted".to_owned(),
                };
                (
                    i,
                    Failure::Expired {
                        max_age: max_age.clone(),
                        last_error,
                    },
                )
            })
            .collect();
        fail_recipients(engine, id, &failures, now);
    }
    for (id, indices) in plan.delay_notices {
        send_delay_notice(engine, id, &indices, now);
    }
    for id in plan.finished {
        remove_if_done(store, id);
    }
}

/// Records when recipients' holds began and ended, so that the time held
/// counts neither against the maximum age nor towards a delay notice.
fn record_holds(store: &Store, holds: &[(QueueId, usize, Hold)], now: i64) {
    let mut by_entry: HashMap<QueueId, Vec<(usize, Hold)>> = HashMap::new();
    for &(id, index, hold) in holds {
        by_entry.entry(id).or_default().push((index, hold));
    }
    for (id, changes) in by_entry {
        let result = store.update_queue_entry(id, |entry| {
            for &(index, hold) in &changes {
                let Some(r) = entry.recipients.get_mut(index) else {
                    continue;
                };
                match hold {
                    Hold::Began => r.held_since = r.held_since.or(Some(now)),
                    Hold::Ended => {
                        if let Some(since) = r.held_since.take() {
                            r.held_for += now.saturating_sub(since).max(0);
                        }
                    }
                }
            }
        });
        match result {
            Ok(_) => tracing::info!(queue = %id, ?changes, "held recipients recorded"),
            Err(e) => tracing::warn!(queue = %id, error = %e, "cannot record a hold"),
        }
    }
}

/// The message without the `Return-Path:` line smtp-in put first for its
/// local copies (RFC 5321 §4.4: only final delivery adds one; a relay
/// passes none on).
fn without_return_path(mut raw: Vec<u8>) -> Vec<u8> {
    const NAME: &[u8] = b"return-path:";
    if raw.len() >= NAME.len()
        && raw[..NAME.len()].eq_ignore_ascii_case(NAME)
        && let Some(end) = raw.windows(2).position(|w| w == b"\r\n")
    {
        raw.drain(..end + 2);
    }
    raw
}

fn reason_of(f: &Failure) -> String {
    f.to_string()
}

/// `5 days`, `4 hours`, `90 seconds`.
fn age_in_words(seconds: i64) -> String {
    match seconds {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s >= 3_600 && s % 3_600 == 0 => format!("{} hours", s / 3_600),
        s => format!("{s} seconds"),
    }
}

/// Delivers a queued recipient that has become a hosted mailbox.
fn deliver_locally(store: &Store, id: QueueId, mailbox: &str, now: i64) -> Result<(), Failure> {
    let storage = |e: store::Error| Failure::Store(e.to_string());
    let user = store
        .user_by_address(mailbox)
        .map_err(storage)?
        .filter(|(_, u)| u.status != AccountStatus::Deleted);
    let Some((user, _)) = user else {
        return Err(Failure::NotRoutable(format!(
            "there is no mailbox {mailbox}"
        )));
    };
    let inbox = store
        .mailbox_by_name(user, "INBOX")
        .map_err(storage)?
        .ok_or_else(|| Failure::NotRoutable(format!("{mailbox} has no INBOX")))?;
    let Some(entry) = store.queue_entry(id).map_err(storage)? else {
        return Ok(());
    };
    let raw = store.read_body(entry.body).map_err(storage)?;
    store
        .deliver(
            &[inbox.id],
            &NewMessage {
                raw: &raw,
                cached: None,
                internal_date: now,
                flags: Default::default(),
                keywords: Default::default(),
            },
        )
        .map_err(storage)?;
    store
        .update_queue_entry(id, |e| {
            for r in &mut e.recipients {
                if r.address.eq_ignore_ascii_case(mailbox)
                    && matches!(
                        r.state,
                        RecipientState::Pending | RecipientState::Deferred { .. }
                    )
                {
                    r.state = RecipientState::Delivered { at: now };
                }
            }
        })
        .map_err(storage)?;
    remove_if_done(store, id);
    Ok(())
}

/// Removes an entry whose every recipient is delivered or failed.
fn remove_if_done(store: &Store, id: QueueId) {
    let Ok(Some(entry)) = store.queue_entry(id) else {
        return;
    };
    let done = entry.recipients.iter().all(|r| {
        matches!(
            r.state,
            RecipientState::Delivered { .. } | RecipientState::Failed { .. }
        )
    });
    if done {
        match store.remove_queue_entry(id) {
            Ok(()) | Err(store::Error::NoSuchQueueEntry(_)) => {}
            Err(e) => {
                tracing::warn!(queue = %id, error = %e, "cannot remove a finished queue entry")
            }
        }
    }
}

/// Sends a report to the entry's sender: into their INBOX when they are a
/// hosted mailbox, otherwise queued with an empty sender (so a report is
/// never reported on). Nothing for an empty sender.
fn send_report(
    engine: &Engine,
    entry: &QueueEntry,
    recipients: Vec<RecipientReport>,
    retry_until: Option<i64>,
    now: i64,
) -> Result<(), store::Error> {
    if entry.sender.is_empty() || recipients.is_empty() {
        return Ok(());
    }
    let store = &engine.store;
    let original = store.read_body(entry.body).unwrap_or_default();
    let raw = dsn::build(&dsn::Report {
        reporting_mta: &engine.config.hostname,
        to: &entry.sender,
        envid: entry.envelope.envid.as_deref(),
        arrival: entry.queued_at,
        now,
        headers_only: entry
            .envelope
            .ret
            .as_deref()
            .is_some_and(|r| r.eq_ignore_ascii_case("HDRS")),
        original: &original,
        recipients,
        retry_until,
    });
    let local = store
        .user_by_address(&entry.sender)?
        .filter(|(_, u)| u.status != AccountStatus::Deleted);
    if let Some((user, _)) = local
        && let Some(inbox) = store.mailbox_by_name(user, "INBOX")?
    {
        store.deliver(
            &[inbox.id],
            &NewMessage {
                raw: &raw,
                cached: None,
                internal_date: now,
                flags: Default::default(),
                keywords: Default::default(),
            },
        )?;
        return Ok(());
    }
    store.enqueue_with(
        "",
        &[NewQueueRecipient {
            address: entry.sender.clone(),
            ..NewQueueRecipient::default()
        }],
        &QueueEnvelope::default(),
        &raw,
        now,
    )?;
    Ok(())
}

fn report_line(
    entry: &QueueEntry,
    index: usize,
    action: Action,
    f: &Failure,
) -> Option<RecipientReport> {
    let r = entry.recipients.get(index)?;
    Some(RecipientReport {
        address: r.address.clone(),
        orcpt: r.orcpt.clone(),
        action,
        status: f.status(),
        reason: reason_of(f),
        diagnostic: f.diagnostic(),
        remote_mta: f.remote_host().filter(|h| !h.is_empty()).map(str::to_owned),
    })
}

/// Fails recipients for good: the failure report first (durably delivered
/// or queued), then the `Failed` marks, then the entry goes if it is done.
/// A crash between the two may repeat the report, never lose it.
fn fail_recipients(engine: &Engine, id: QueueId, failures: &[(usize, Failure)], now: i64) {
    let store = &engine.store;
    let Ok(Some(entry)) = store.queue_entry(id) else {
        return;
    };
    let failures: Vec<&(usize, Failure)> = failures
        .iter()
        .filter(|(i, _)| {
            entry.recipients.get(*i).is_some_and(|r| {
                matches!(
                    r.state,
                    RecipientState::Pending | RecipientState::Deferred { .. }
                )
            })
        })
        .collect();
    if failures.is_empty() {
        return;
    }
    let reports = failures
        .iter()
        .filter(|(i, _)| wants_failure_notice(entry.recipients[*i].notify.as_deref()))
        .filter_map(|(i, f)| report_line(&entry, *i, Action::Failed, f))
        .collect();
    if let Err(e) = send_report(engine, &entry, reports, None, now) {
        tracing::warn!(queue = %id, error = %e, "cannot deliver the failure report; will try again");
        return;
    }
    let updated = store.update_queue_entry(id, |e| {
        for (i, f) in &failures {
            if let Some(r) = e.recipients.get_mut(*i) {
                r.state = RecipientState::Failed {
                    reason: reason_of(f),
                };
            }
        }
    });
    if let Err(e) = updated {
        tracing::warn!(queue = %id, error = %e, "cannot record failed recipients");
        return;
    }
    let addresses: Vec<&str> = failures
        .iter()
        .filter_map(|(i, _)| entry.recipients.get(*i).map(|r| r.address.as_str()))
        .collect();
    let reason = failures
        .first()
        .map(|(_, f)| reason_of(f))
        .unwrap_or_default();
    tracing::info!(queue = %id, recipients = ?addresses, %reason, "recipients failed");
    let _ = store.audit(&AuditEvent {
        actor: "system".into(),
        action: "relay.fail".into(),
        source: failures
            .first()
            .and_then(|(_, f)| f.remote_host())
            .unwrap_or("relay")
            .to_owned(),
        detail: format!(
            "queue={id} sender=<{}> recipients={} reason={reason}",
            entry.sender,
            addresses.join(",")
        ),
    });
    remove_if_done(store, id);
}

/// Defers recipients: one more attempt counted, the next one scheduled.
fn defer_recipients(engine: &Engine, id: QueueId, failures: &[(usize, Failure)], now: i64) {
    let schedule = &engine.schedule;
    let result = engine.store.update_queue_entry(id, |e| {
        for (i, f) in failures {
            if let Some(r) = e.recipients.get_mut(*i)
                && matches!(
                    r.state,
                    RecipientState::Pending | RecipientState::Deferred { .. }
                )
            {
                r.attempts = r.attempts.saturating_add(1);
                r.state = RecipientState::Deferred {
                    last_error: f.to_string(),
                };
            }
        }
        let attempts = e
            .recipients
            .iter()
            .filter(|r| matches!(r.state, RecipientState::Deferred { .. }))
            .map(|r| r.attempts)
            .max()
            .unwrap_or(1);
        e.next_attempt_at = now.saturating_add(schedule.retry_after(attempts));
    });
    if let Err(e) = result {
        tracing::warn!(queue = %id, error = %e, "cannot record deferred recipients");
    }
}

/// Records each recipient's outcome other than delivery: permanent
/// failures bounce, temporary ones wait.
fn settle_failures(engine: &Engine, id: QueueId, results: Vec<(usize, Failure)>) {
    let now = now();
    let (permanent, temporary): (Vec<_>, Vec<_>) =
        results.into_iter().partition(|(_, f)| f.is_permanent());
    if !temporary.is_empty() {
        defer_recipients(engine, id, &temporary, now);
    }
    if !permanent.is_empty() {
        fail_recipients(engine, id, &permanent, now);
    }
}

/// The delay notice: report, then remember it by taking DELAY out of the
/// recipients' NOTIFY.
fn send_delay_notice(engine: &Engine, id: QueueId, indices: &[usize], now: i64) {
    let store = &engine.store;
    let Ok(Some(entry)) = store.queue_entry(id) else {
        return;
    };
    let indices: Vec<usize> = indices
        .iter()
        .copied()
        .filter(|&i| {
            entry
                .recipients
                .get(i)
                .is_some_and(|r| wants_delay_notice(r.notify.as_deref()))
        })
        .collect();
    let reports = indices
        .iter()
        .map(|&i| {
            let r = &entry.recipients[i];
            let reason = match &r.state {
                RecipientState::Deferred { last_error } => last_error.clone(),
                _ => "not yet attempted".into(),
            };
            RecipientReport {
                address: r.address.clone(),
                orcpt: r.orcpt.clone(),
                action: Action::Delayed,
                status: "4.0.0".into(),
                reason,
                diagnostic: None,
                remote_mta: None,
            }
        })
        .collect();
    let until = entry.queued_at.saturating_add(engine.schedule.max_age());
    if let Err(e) = send_report(engine, &entry, reports, Some(until), now) {
        tracing::warn!(queue = %id, error = %e, "cannot deliver the delay notice");
        return;
    }
    let _ = store.update_queue_entry(id, |e| {
        for &i in &indices {
            if let Some(r) = e.recipients.get_mut(i) {
                r.notify = Some(after_delay_notice(r.notify.as_deref()));
            }
        }
    });
}

/// Keeps a destination's job list registered while its task runs. Dropped
/// (the normal end, shutdown or a panic), it unregisters the list and
/// releases the jobs nobody took, so the next scan plans them again.
struct Registration {
    engine: Arc<Engine>,
    destination: Destination,
    list: JobList,
}

impl Registration {
    /// Unregisters the list if nothing is waiting in it, or, with `force`,
    /// whatever waits; returns the jobs that were left. `None`: jobs arrived
    /// and the task should carry on.
    fn close(&self, force: bool) -> Option<Vec<Job>> {
        let mut active = lock(&self.engine.active);
        let mut list = lock(&self.list.jobs);
        if !force && !list.is_empty() {
            return None;
        }
        if active
            .get(&self.destination)
            .is_some_and(|l| Arc::ptr_eq(l, &self.list))
        {
            active.remove(&self.destination);
        }
        Some(list.drain(..).collect())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(left) = self.close(true) {
            for job in left {
                release(&self.engine, job.id);
            }
        }
    }
}

/// Defers or fails a destination's jobs with one failure.
async fn settle_all(engine: &Arc<Engine>, jobs: Vec<Job>, f: Failure) {
    if jobs.is_empty() {
        return;
    }
    let e = Arc::clone(engine);
    let _ = tokio::task::spawn_blocking(move || {
        for job in jobs {
            let results = job
                .recipients
                .iter()
                .map(|r| (r.index, f.clone()))
                .collect();
            settle_failures(&e, job.id, results);
            release(&e, job.id);
        }
    })
    .await;
}

/// Delivers a destination's jobs, and those scans add meanwhile, over up to
/// the per-destination number of connections, and reports how the
/// destination fared.
async fn deliver_destination(
    engine: &Arc<Engine>,
    destination: Destination,
    list: JobList,
) -> DestinationReport {
    let registration = Registration {
        engine: Arc::clone(engine),
        destination: destination.clone(),
        list: Arc::clone(&list),
    };
    let candidates = match engine
        .resolver
        .candidates(&destination, engine.config.mx_port)
        .await
    {
        Ok(c) => Arc::new(c),
        Err(f) => {
            tracing::warn!(error = %f, "cannot resolve");
            let left = registration.close(true).unwrap_or_default();
            settle_all(engine, left, f.clone()).await;
            return DestinationReport {
                destination,
                delivered: false,
                failure: f.is_destination_wide().then_some(f),
            };
        }
    };
    let limit = Arc::clone(
        lock(&engine.per_destination)
            .entry(destination.clone())
            .or_insert_with(|| {
                Arc::new(Semaphore::new(
                    engine.config.max_connections_per_destination,
                ))
            }),
    );
    let mut delivered = false;
    let mut failure: Option<Failure> = None;
    let mut set = JoinSet::new();
    let left = loop {
        // Open connections for waiting jobs, unless one just failed.
        if failure.is_none() {
            let waiting = lock(&list.jobs).len();
            let room = engine
                .config
                .max_connections_per_destination
                .saturating_sub(set.len());
            for _ in 0..waiting.min(room) {
                let engine = Arc::clone(engine);
                let list = Arc::clone(&list);
                let candidates = Arc::clone(&candidates);
                let limit = Arc::clone(&limit);
                let destination = destination.clone();
                set.spawn(
                    async move {
                        let Ok(_mine) = limit.acquire_owned().await else {
                            return (false, None);
                        };
                        let Ok(_any) = Arc::clone(&engine.connections).acquire_owned().await else {
                            return (false, None);
                        };
                        worker(&engine, &destination, &candidates, &list.jobs).await
                    }
                    .in_current_span(),
                );
            }
        }
        let finished = tokio::select! {
            finished = set.join_next() => finished,
            // A scan added jobs: open more connections if there is room.
            () = list.added.notified(), if !set.is_empty() => continue,
        };
        match finished {
            Some(Ok((d, f))) => {
                // The latest connection's fate decides whether to open more.
                delivered |= d;
                failure = f;
            }
            Some(Err(e)) => tracing::error!(error = %e, "a delivery worker failed"),
            None => {
                // No connection left: done, unless a scan added jobs and the
                // destination still answers.
                if let Some(left) = registration.close(failure.is_some()) {
                    break left;
                }
            }
        }
    };
    // Every connection failed: what is left waits for the next attempt.
    if !left.is_empty() {
        let f = failure.clone().unwrap_or(Failure::Connect {
            host: destination.to_string(),
            reason: "no connection".into(),
        });
        settle_all(engine, left, f).await;
    }
    DestinationReport {
        destination,
        delivered,
        failure: if delivered { None } else { failure },
    }
}

fn release(engine: &Engine, id: QueueId) {
    let mut in_flight = lock(&engine.in_flight);
    if let Some(n) = in_flight.get_mut(&id) {
        *n -= 1;
        if *n == 0 {
            in_flight.remove(&id);
        }
    }
}

/// Numbers connections for the tracing spans.
static CONNECTION_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Opens a connection to the first candidate that works.
async fn connect(engine: &Engine, candidates: &[Candidate]) -> Result<Session, Failure> {
    let mut last: Option<Failure> = None;
    for c in candidates {
        match Session::open(c, &engine.client).await {
            Ok(s) => return Ok(s),
            Err(f) => {
                tracing::info!(host = %c.host, error = %f, "server not usable; trying the next");
                last = Some(match last {
                    None => f,
                    Some(l) => l.more_telling(f),
                });
            }
        }
    }
    Err(last.unwrap_or(Failure::Connect {
        host: String::new(),
        reason: "no server to try".into(),
    }))
}

/// One connection's worth of work: take jobs from the shared list until it
/// is empty; reconnect when a connection breaks or has carried its share.
/// Returns whether anything was delivered and the last connection failure.
async fn worker(
    engine: &Arc<Engine>,
    destination: &Destination,
    candidates: &[Candidate],
    queue: &Mutex<VecDeque<Job>>,
) -> (bool, Option<Failure>) {
    let mut delivered = false;
    'connections: loop {
        if lock(queue).is_empty() {
            return (delivered, None);
        }
        let mut session = match connect(engine, candidates).await {
            Ok(s) => s,
            Err(f) => return (delivered, Some(f)),
        };
        let connection = CONNECTION_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let span = tracing::info_span!("connection", id = connection, host = %session.host, peer = %session.peer);
        let _guard = span.enter();
        tracing::debug!(tls = %session.tls.version, cipher = %session.tls.cipher, "connected");
        drop(_guard);
        for _ in 0..engine.config.max_messages_per_connection.max(1) {
            let Some(job) = next_job(queue, engine.config.idle_linger).await else {
                session.quit().await;
                return (delivered, None);
            };
            let (ok, reusable) = deliver_job(engine, destination, &mut session, job)
                .instrument(span.clone())
                .await;
            delivered |= ok;
            if !reusable {
                continue 'connections;
            }
        }
        session.quit().await;
    }
}

/// The next job, waiting up to `linger` for a scan to add one, so that an
/// open connection carries mail that arrives just after the last.
async fn next_job(queue: &Mutex<VecDeque<Job>>, linger: Duration) -> Option<Job> {
    let deadline = tokio::time::Instant::now() + linger;
    loop {
        if let Some(job) = lock(queue).pop_front() {
            return Some(job);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// One message over an open session. Returns (delivered to anyone,
/// connection reusable).
async fn deliver_job(
    engine: &Arc<Engine>,
    destination: &Destination,
    session: &mut Session,
    job: Job,
) -> (bool, bool) {
    let store = Arc::clone(&engine.store);
    let body = job.body;
    let raw = match tokio::task::spawn_blocking(move || store.read_body(body)).await {
        Ok(Ok(raw)) => raw,
        Ok(Err(e)) => {
            let f = Failure::Store(e.to_string());
            finish_job(engine, job, f).await;
            return (false, true);
        }
        Err(e) => {
            let f = Failure::Store(e.to_string());
            finish_job(engine, job, f).await;
            return (false, true);
        }
    };
    let raw = without_return_path(raw);
    let message = match &job.rewriter {
        Some(r) => r.outbound_headers(&raw),
        None => raw,
    };
    let outcome = session
        .send(envelope(&job, session, &message), &message)
        .await;
    let accepted: Vec<usize> = if outcome.accepted {
        outcome
            .recipients
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(i, _)| *i)
            .collect()
    } else {
        Vec::new()
    };
    let failures: Vec<(usize, Failure)> = outcome
        .recipients
        .into_iter()
        .filter_map(|(i, r)| r.err().map(|f| (i, f)))
        .collect();
    // The peer has the message: mark it delivered durably before anything
    // else, so that a retry can never send it twice.
    if !accepted.is_empty() {
        let e = Arc::clone(engine);
        let id = job.id;
        let marks = accepted.clone();
        let at = now();
        let marked = tokio::task::spawn_blocking(move || {
            e.store.update_queue_entry(id, |entry| {
                for &i in &marks {
                    if let Some(r) = entry.recipients.get_mut(i) {
                        r.attempts = r.attempts.saturating_add(1);
                        r.state = RecipientState::Delivered { at };
                    }
                }
            })
        })
        .await;
        if !matches!(marked, Ok(Ok(_))) {
            tracing::error!(queue = %job.id, "delivered, but the mark could not be written; the message may be sent again");
        }
        let message_id = message_id(&message);
        let recipients: Vec<&str> = job
            .recipients
            .iter()
            .filter(|r| accepted.contains(&r.index))
            .map(|r| r.address.as_str())
            .collect();
        tracing::info!(
            queue = %job.id, %destination, host = %session.host, message_id = %message_id,
            recipients = ?recipients, tls = %session.tls.version, cipher = %session.tls.cipher,
            "delivered"
        );
        let event = AuditEvent {
            actor: "system".into(),
            action: "relay.deliver".into(),
            source: format!("{destination} {} [{}]", session.host, session.peer),
            detail: format!(
                "queue={} message-id={} sender=<{}> recipients={} size={} classification={} tls={} cipher={}",
                job.id,
                message_id,
                job.sender,
                recipients.join(","),
                message.len(),
                policy::read_label(&message).map_or("-", |l| l.classification.as_str()),
                session.tls.version,
                session.tls.cipher
            ),
        };
        // Shown to the sender's and the recipients' organisations.
        let subjects: Vec<String> = recipients
            .iter()
            .map(|r| (*r).to_owned())
            .chain(std::iter::once(job.sender.clone()))
            .collect();
        let e = Arc::clone(engine);
        let success: Vec<usize> = job
            .recipients
            .iter()
            .filter(|r| accepted.contains(&r.index) && wants_success_notice(r.notify.as_deref()))
            .map(|r| r.index)
            .collect();
        let peer_dsn = session.capabilities.dsn;
        let host = session.host.clone();
        let id = job.id;
        let _ = tokio::task::spawn_blocking(move || {
            let written = e
                .store
                .organisations_of(subjects.iter().map(String::as_str))
                .and_then(|organisations| e.store.audit_for(&event, &organisations));
            if let Err(err) = written {
                tracing::warn!(error = %err, "cannot write the delivery audit record");
            }
            if !success.is_empty() && !peer_dsn {
                relayed_notice(&e, id, &success, &host);
            }
        })
        .await;
    }
    let reusable = outcome.reusable;
    let e = Arc::clone(engine);
    let id = job.id;
    let _ = tokio::task::spawn_blocking(move || {
        if !failures.is_empty() {
            settle_failures(&e, id, failures);
        }
        remove_if_done(&e.store, id);
        release(&e, id);
    })
    .await;
    (!accepted.is_empty(), reusable)
}

/// The transaction's envelope: DSN parameters only for peers that speak DSN.
fn envelope(job: &Job, session: &Session, message: &[u8]) -> Envelope {
    let dsn = session.capabilities.dsn;
    Envelope {
        sender: job.sender.clone(),
        recipients: job
            .recipients
            .iter()
            .map(|r| Rcpt {
                index: r.index,
                address: r.address.clone(),
                params: if dsn {
                    r.notify
                        .iter()
                        .map(|n| format!("NOTIFY={n}"))
                        .chain(r.orcpt.iter().map(|o| format!("ORCPT={o}")))
                        .collect()
                } else {
                    Vec::new()
                },
            })
            .collect(),
        eight_bit: job.envelope.eight_bit,
        smtputf8: job.envelope.smtputf8,
        requiretls: job.envelope.requiretls,
        ret: job.envelope.ret.clone(),
        envid: job.envelope.envid.clone(),
        size: message.len() as u64,
    }
}

/// Records a failure for every recipient of a job that could not be sent.
async fn finish_job(engine: &Arc<Engine>, job: Job, f: Failure) {
    let e = Arc::clone(engine);
    let _ = tokio::task::spawn_blocking(move || {
        let results = job
            .recipients
            .iter()
            .map(|r| (r.index, f.clone()))
            .collect();
        settle_failures(&e, job.id, results);
        release(&e, job.id);
    })
    .await;
}

/// NOTIFY=SUCCESS to a server without DSN: tell the sender it was relayed.
fn relayed_notice(engine: &Engine, id: QueueId, indices: &[usize], host: &str) {
    let Ok(Some(entry)) = engine.store.queue_entry(id) else {
        return;
    };
    let reports = indices
        .iter()
        .filter_map(|&i| entry.recipients.get(i))
        .map(|r| RecipientReport {
            address: r.address.clone(),
            orcpt: r.orcpt.clone(),
            action: Action::Relayed,
            status: "2.0.0".into(),
            reason: format!("relayed to {host}, which does not return delivery reports"),
            diagnostic: None,
            remote_mta: Some(host.to_owned()),
        })
        .collect();
    if let Err(e) = send_report(engine, &entry, reports, None, now()) {
        tracing::warn!(queue = %id, error = %e, "cannot deliver the relayed notice");
    }
}

/// The message's Message-ID for the audit log, or `-`.
fn message_id(message: &[u8]) -> String {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(message.len(), |p| p + 2);
    mail_parser::MessageParser::default()
        .parse_headers(&message[..end])
        .and_then(|m| m.message_id().map(|id| format!("<{id}>")))
        .unwrap_or_else(|| "-".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_return_path_of_final_delivery_is_not_passed_on() {
        let raw = b"Return-Path: <a@b.example>\r\nReceived: x\r\n\r\nbody\r\n".to_vec();
        assert_eq!(without_return_path(raw), b"Received: x\r\n\r\nbody\r\n");
        let plain = b"Received: x\r\nReturn-Path: <a@b>\r\n\r\n".to_vec();
        assert_eq!(without_return_path(plain.clone()), plain);
    }
}
