//! The connection registry: every client connection the daemon has
//! admitted, what each has proved, and the caps that bound them, after
//! Postfix's postscreen and stress mode.
//!
//! - A newcomer is refused (`421`/`BYE`) when its IP address, or its
//!   network (the /24 of an IPv4 address, the /64 of an IPv6 one), already
//!   holds its cap.
//! - At the overall cap, the oldest connection that has proved least is
//!   evicted to make room: first those that have not sent a byte, then
//!   those that have not completed TLS, then those that have not signed
//!   in. Trusted connections (signed in, an
//!   organisation's gateway, a sender whose message was accepted) are never
//!   evicted; when every connection is trusted the newcomer is refused.
//! - A connection must complete TLS within [`Deadlines::tls`] of its
//!   admission and, on the listeners where people sign in (submission,
//!   IMAP), sign in within [`Deadlines::login`]. When busy (at least
//!   [`BUSY_PERCENT`] of the cap in use) the shorter busy deadlines apply,
//!   to the connections already open too.
//!
//! An evicted connection holds its socket until its driver has said why and
//! closed; until then it counts towards the per-address caps, and at most
//! an eighth of the overall cap more may be open while they close. Beyond
//! that a newcomer gets [`Refusal::Closing`], and the accept loop waits
//! ([`Registry::closed`]) rather than turning it away.
//!
//! ```text
//!  admit ──► Connected ──bytes──► Heard ──TLS──► Encrypted ──sign-in, gateway, accepted message──► Trusted
//!               │                   │                │
//!               └──── deadline, or crowded out ──────┴──► evicted (421 / BYE) ──► released when the task ends
//! ```

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use transport::{Admission, Eviction, Evictor, Standing};

/// The share of `max_connections` in use, in percent, from which the
/// daemon is busy and the busy deadlines apply (Postfix's stress mode
/// starts when the process limit is reached; Ward starts a little before,
/// so that room stays for clients that prove themselves).
pub const BUSY_PERCENT: usize = 90;

/// How long a connection may take to prove itself, counted from its
/// admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Deadlines {
    /// To complete TLS (STARTTLS, or the handshake on an implicit-TLS
    /// port). Default 10 seconds: a client that means to use TLS starts it
    /// at once, and a handshake is a few round trips.
    pub tls: Duration,
    /// To sign in, on the submission and IMAP listeners. Default 60
    /// seconds, as IMAP's usual pre-login timer.
    pub login: Duration,
    /// [`Deadlines::tls`] when busy. Default 2 seconds.
    pub busy_tls: Duration,
    /// [`Deadlines::login`] when busy. Default 10 seconds: enough for a
    /// mail program with a stored password.
    pub busy_login: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            tls: Duration::from_secs(10),
            login: Duration::from_secs(60),
            busy_tls: Duration::from_secs(2),
            busy_login: Duration::from_secs(10),
        }
    }
}

/// The registry's caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Connections over all listeners.
    pub total: usize,
    /// Connections from one IP address.
    pub per_ip: usize,
    /// Connections from one /24 (IPv4) or /64 (IPv6) network.
    pub per_network: usize,
    /// Time to prove oneself.
    pub deadlines: Deadlines,
}

impl Caps {
    /// The caps `[server]` configures.
    pub fn of(config: &crate::config::Config) -> Self {
        Self {
            total: config.max_connections,
            per_ip: config.max_connections_per_ip,
            per_network: config.max_connections_per_network,
            deadlines: config.deadlines,
        }
    }

    /// How many connections may be open at once, counting those evicted
    /// and still closing: the file descriptors the daemon needs for them.
    pub fn most_open(&self) -> usize {
        self.total + self.closing_allowance()
    }

    fn closing_allowance(&self) -> usize {
        self.total / 8 + 1
    }

    fn busy_from(&self) -> usize {
        (self.total * BUSY_PERCENT).div_ceil(100).max(1)
    }
}

/// Why a newcomer was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its IP address holds its cap.
    Address,
    /// Its /24 or /64 network holds its cap.
    Network,
    /// Every place is taken by a trusted connection.
    Full,
    /// The connections to evict are there, but too many evicted ones are
    /// still closing: wait for one ([`Registry::closed`]) and try again.
    Closing,
}

impl Refusal {
    /// For the log.
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::Address => "per-address connection cap reached",
            Refusal::Network => "per-network connection cap reached",
            Refusal::Full => "connection cap reached with no untrusted connection to evict",
            Refusal::Closing => "connection cap reached and evicted connections still closing",
        }
    }
}

/// A network for the per-network cap: the /24 of an IPv4 address, the
/// /64 of an IPv6 one (IPv4-mapped IPv6 addresses count as IPv4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Network {
    V4([u8; 3]),
    V6([u16; 4]),
}

impl Network {
    fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Network::V4([a, b, c])
            }
            IpAddr::V6(v6) => {
                let [a, b, c, d, ..] = v6.segments();
                Network::V6([a, b, c, d])
            }
        }
    }
}

/// Every admitted connection, shared by the accept loops, the drivers'
/// reports and the reaper. Cloning is cheap.
#[derive(Clone)]
pub struct Registry {
    caps: Caps,
    table: Arc<Mutex<Table>>,
    /// Told when an evicted connection has closed.
    closed: Arc<Notify>,
}

/// A connection that was let in: its place (released when dropped) and
/// the handle its driver reports through.
pub struct Admitted {
    /// Holds the place under the caps until dropped.
    pub permit: Permit,
    /// Given to the driver.
    pub admission: Admission,
    /// The connection evicted to make room, if any (for the log).
    pub evicted: Option<u64>,
}

/// Holds a connection's place under the caps until dropped.
pub struct Permit {
    id: u64,
    table: Arc<Mutex<Table>>,
    closed: Arc<Notify>,
}

/// What the registry holds now, for the log and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Admitted and not evicted.
    pub live: usize,
    /// Evicted and not yet closed.
    pub closing: usize,
    /// Live connections that are trusted.
    pub trusted: usize,
    /// Evicted to make room, since start.
    pub crowded_out: u64,
    /// Evicted for missing a deadline, since start.
    pub too_slow: u64,
}

struct Entry {
    ip: IpAddr,
    network: Network,
    admitted: Instant,
    standing: Standing,
    /// On a listener where people sign in.
    login: bool,
    evictor: Evictor,
    evicted: bool,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    entries: HashMap<u64, Entry>,
    /// The live connections that may be evicted, by standing and then
    /// admission order: the first is the one to evict.
    evictable: BTreeSet<(Standing, u64)>,
    per_ip: HashMap<IpAddr, usize>,
    per_network: HashMap<Network, usize>,
    counts: Counts,
    busy: bool,
}

impl Registry {
    /// An empty registry.
    pub fn new(caps: Caps) -> Self {
        Self {
            caps,
            table: Arc::default(),
            closed: Arc::default(),
        }
    }

    /// Waits up to `limit` for an evicted connection to close (after
    /// [`Refusal::Closing`]). Meanwhile newcomers wait in the kernel's
    /// listen queue rather than being turned away.
    pub async fn closed(&self, limit: Duration) {
        let _ = tokio::time::timeout(limit, self.closed.notified()).await;
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets a connection from `ip` in, evicting the oldest untrusted one
    /// when at the cap; `login` says whether its listener is one where
    /// people sign in.
    ///
    /// # Errors
    ///
    /// Why it was turned away.
    pub fn admit(&self, ip: IpAddr, login: bool, now: Instant) -> Result<Admitted, Refusal> {
        let ip = ip.to_canonical();
        let network = Network::of(ip);
        let mut table = self.lock();
        if table.per_ip.get(&ip).copied().unwrap_or(0) >= self.caps.per_ip {
            return Err(Refusal::Address);
        }
        if table.per_network.get(&network).copied().unwrap_or(0) >= self.caps.per_network {
            return Err(Refusal::Network);
        }
        let mut evicted = None;
        if table.counts.live >= self.caps.total {
            let Some(&(_, victim)) = table.evictable.first() else {
                return Err(Refusal::Full);
            };
            if table.counts.closing >= self.caps.closing_allowance() {
                return Err(Refusal::Closing);
            }
            table.evict(victim, Eviction::Crowded);
            evicted = Some(victim);
        }
        table.next_id += 1;
        let id = table.next_id;
        let reporter = Arc::downgrade(&self.table);
        let (admission, evictor) = Admission::watched(move |standing| {
            if let Some(table) = reporter.upgrade() {
                let mut table = table.lock().unwrap_or_else(|p| p.into_inner());
                table.promote(id, standing);
            }
        });
        table.entries.insert(
            id,
            Entry {
                ip,
                network,
                admitted: now,
                standing: Standing::Connected,
                login,
                evictor,
                evicted: false,
            },
        );
        table.evictable.insert((Standing::Connected, id));
        *table.per_ip.entry(ip).or_default() += 1;
        *table.per_network.entry(network).or_default() += 1;
        table.counts.live += 1;
        Ok(Admitted {
            permit: Permit {
                id,
                table: self.table.clone(),
                closed: self.closed.clone(),
            },
            admission,
            evicted,
        })
    }

    /// Evicts every connection past its deadline at `now`; returns how
    /// many. The deadlines are the busy ones when at least
    /// [`BUSY_PERCENT`] of the cap is in use.
    pub fn reap(&self, now: Instant) -> usize {
        let mut table = self.lock();
        let busy = table.counts.live >= self.caps.busy_from();
        if busy != table.busy {
            table.busy = busy;
            if busy {
                warn!(
                    open = table.counts.live,
                    cap = self.caps.total,
                    "busy: shorter deadlines to start TLS and sign in"
                );
            } else {
                info!(open = table.counts.live, "no longer busy");
            }
        }
        let d = self.caps.deadlines;
        let (tls, login) = if busy {
            (d.busy_tls, d.busy_login)
        } else {
            (d.tls, d.login)
        };
        // Within a standing, admission order is age order, so each walk
        // stops at the first connection within the shortest deadline that
        // could apply to it.
        let due = |e: &Entry, limit: Duration| e.admitted + limit <= now;
        let mut late = Vec::new();
        for before_tls in [Standing::Connected, Standing::Heard] {
            for (_, id) in table
                .evictable
                .range((before_tls, 0)..=(before_tls, u64::MAX))
            {
                let entry = &table.entries[id];
                if !due(entry, tls.min(login)) {
                    break;
                }
                if due(entry, if entry.login { tls.min(login) } else { tls }) {
                    late.push(*id);
                }
            }
        }
        // Encrypted: only where people sign in (gateways need not).
        for (_, id) in table.evictable.range((Standing::Encrypted, 0)..) {
            let entry = &table.entries[id];
            if !due(entry, login) {
                break;
            }
            if entry.login {
                late.push(*id);
            }
        }
        for &id in &late {
            table.evict(id, Eviction::TooSlow);
        }
        late.len()
    }

    /// What the registry holds now.
    pub fn counts(&self) -> Counts {
        self.lock().counts
    }

    /// Reaps every quarter second, and logs what was evicted every
    /// minute, until `shutdown`.
    pub async fn reap_until(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reported = Counts::default();
        let mut last_report = Instant::now();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {}
            }
            self.reap(Instant::now());
            if last_report.elapsed() >= Duration::from_secs(60) {
                let now = self.counts();
                if now.crowded_out != reported.crowded_out || now.too_slow != reported.too_slow {
                    info!(
                        open = now.live,
                        trusted = now.trusted,
                        crowded_out = now.crowded_out - reported.crowded_out,
                        too_slow = now.too_slow - reported.too_slow,
                        "untrusted connections evicted in the last minute"
                    );
                }
                reported = now;
                last_report = Instant::now();
            }
        }
    }
}

impl Table {
    /// Takes a live connection's place back and tells its driver why.
    fn evict(&mut self, id: u64, why: Eviction) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        if entry.evicted {
            return;
        }
        entry.evicted = true;
        entry.evictor.evict(why);
        let standing = entry.standing;
        self.evictable.remove(&(standing, id));
        if standing == Standing::Trusted {
            self.counts.trusted -= 1;
        }
        self.counts.live -= 1;
        self.counts.closing += 1;
        match why {
            Eviction::Crowded => self.counts.crowded_out += 1,
            Eviction::TooSlow => self.counts.too_slow += 1,
        }
    }

    /// Records what a live connection has proved; a connection never
    /// goes back.
    fn promote(&mut self, id: u64, standing: Standing) {
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        if entry.evicted || standing <= entry.standing {
            return;
        }
        let old = std::mem::replace(&mut entry.standing, standing);
        self.evictable.remove(&(old, id));
        if standing == Standing::Trusted {
            self.counts.trusted += 1;
        } else {
            self.evictable.insert((standing, id));
        }
    }

    /// Forgets a connection that has ended; true if it had been evicted.
    fn release(&mut self, id: u64) -> bool {
        let Some(entry) = self.entries.remove(&id) else {
            return false;
        };
        if entry.evicted {
            self.counts.closing -= 1;
        } else {
            self.counts.live -= 1;
            if entry.standing == Standing::Trusted {
                self.counts.trusted -= 1;
            } else {
                self.evictable.remove(&(entry.standing, id));
            }
        }
        decrement(&mut self.per_ip, entry.ip);
        decrement(&mut self.per_network, entry.network);
        entry.evicted
    }
}

fn decrement<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, key: K) {
    if let Some(n) = counts.get_mut(&key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(&key);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let table = &mut self.table.lock().unwrap_or_else(|p| p.into_inner());
        if table.release(self.id) {
            // One waiter at most is woken, or the next to wait is.
            self.closed.notify_one();
        }
    }
}

/// Open files the daemon needs besides client connections: listeners, the
/// store's files, message bodies being read, the admin socket, logs.
const FILES_BESIDES_CONNECTIONS: u64 = 256;

/// The open files `config` may need at once: every client connection
/// (with those evicted and still closing), every relay connection, and a
/// reserve for the rest.
pub fn files_needed(config: &crate::config::Config) -> u64 {
    let clients = Caps::of(config).most_open() as u64;
    clients + config.relay.max_connections as u64 + FILES_BESIDES_CONNECTIONS
}

/// Raises the soft limit on open files to the hard limit (every
/// connection is one), logs both, and warns when `needed` does not fit.
pub fn raise_open_file_limit(needed: u64) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            warn!(error = %e, "cannot raise the open file limit to its hard limit");
        }
    }
    let limit = getrlimit(Resource::Nofile);
    let show = |v: Option<u64>| v.map_or_else(|| "unlimited".to_owned(), |v| v.to_string());
    info!(
        soft = %show(limit.current),
        hard = %show(limit.maximum),
        needed,
        "open file limit"
    );
    if limit.current.is_some_and(|soft| soft < needed) {
        warn!(
            soft = %show(limit.current),
            needed,
            "the open file limit is below what server.max_connections needs; \
             raise LimitNOFILE (systemd) or lower max_connections"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(total: usize, per_ip: usize, per_network: usize) -> Caps {
        Caps {
            total,
            per_ip,
            per_network,
            deadlines: Deadlines::default(),
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn caps_count_overall_per_address_and_per_network() {
        let registry = Registry::new(caps(100, 2, 3));
        let now = Instant::now();
        let a1 = registry.admit(ip("192.0.2.1"), true, now).unwrap();
        let _a2 = registry.admit(ip("192.0.2.1"), true, now).unwrap();
        assert_eq!(
            registry.admit(ip("192.0.2.1"), true, now).err(),
            Some(Refusal::Address)
        );
        let _b = registry.admit(ip("192.0.2.200"), true, now).unwrap();
        assert_eq!(
            registry.admit(ip("192.0.2.9"), true, now).err(),
            Some(Refusal::Network),
            "the /24 is full"
        );
        assert!(registry.admit(ip("192.0.3.9"), true, now).is_ok());
        drop(a1);
        assert!(
            registry.admit(ip("192.0.2.9"), true, now).is_ok(),
            "a place freed on drop"
        );
    }

    #[test]
    fn ipv6_counts_by_64_and_mapped_ipv4_as_ipv4() {
        let registry = Registry::new(caps(100, 1, 2));
        let now = Instant::now();
        let _a = registry.admit(ip("2001:db8:1:2::1"), true, now).unwrap();
        let _b = registry
            .admit(ip("2001:db8:1:2:ffff::9"), true, now)
            .unwrap();
        assert_eq!(
            registry.admit(ip("2001:db8:1:2::3"), true, now).err(),
            Some(Refusal::Network)
        );
        assert!(registry.admit(ip("2001:db8:1:3::1"), true, now).is_ok());
        let _v4 = registry.admit(ip("198.51.100.7"), true, now).unwrap();
        assert_eq!(
            registry.admit(ip("::ffff:198.51.100.7"), true, now).err(),
            Some(Refusal::Address)
        );
    }

    #[tokio::test]
    async fn at_the_cap_the_oldest_least_proved_makes_room() {
        let registry = Registry::new(caps(4, 10, 10));
        let now = Instant::now();
        let admit = |n: u8| {
            registry
                .admit(ip(&format!("192.0.2.{n}")), true, now)
                .unwrap()
        };
        let trusted = admit(1);
        let encrypted = admit(2);
        let heard = admit(3);
        let silent = admit(4);
        trusted.admission.trusted();
        encrypted.admission.encrypted();
        heard.admission.heard();

        // The newest, but the only one that has not said a word.
        let fifth = admit(5);
        assert_eq!(fifth.evicted, Some(4));
        assert_eq!(silent.admission.evicted().await, Eviction::Crowded);
        drop(silent);
        let sixth = admit(6);
        assert_eq!(sixth.evicted, Some(5), "silent again: evicted first");
        drop(fifth);
        sixth.admission.heard();
        let seventh = admit(7);
        assert_eq!(seventh.evicted, Some(3), "then the oldest without TLS");
        drop(heard);
        let eighth = admit(8);
        assert_eq!(eighth.evicted, Some(7));
        drop(seventh);
        sixth.admission.encrypted();
        eighth.admission.encrypted();
        let ninth = admit(9);
        assert_eq!(ninth.evicted, Some(2), "then the oldest not signed in");
        assert_eq!(trusted.admission.eviction(), None, "never the trusted");
        let counts = registry.counts();
        assert_eq!(
            (
                counts.live,
                counts.closing,
                counts.trusted,
                counts.crowded_out
            ),
            (4, 1, 1, 5)
        );
    }

    #[test]
    fn a_full_house_of_trusted_connections_refuses_newcomers() {
        let registry = Registry::new(caps(2, 10, 10));
        let now = Instant::now();
        let held: Vec<_> = (1..=2)
            .map(|n| {
                let a = registry
                    .admit(ip(&format!("192.0.2.{n}")), true, now)
                    .unwrap();
                a.admission.trusted();
                a
            })
            .collect();
        assert_eq!(
            registry.admit(ip("192.0.2.9"), true, now).err(),
            Some(Refusal::Full)
        );
        drop(held);
        assert_eq!(registry.counts(), Counts::default());
    }

    #[tokio::test]
    async fn evicted_connections_still_closing_are_bounded() {
        // Cap 8: two more may be closing.
        let registry = Registry::new(caps(8, 100, 100));
        assert_eq!(caps(8, 1, 1).most_open(), 10);
        let now = Instant::now();
        let mut held: Vec<_> = (0..10)
            .map(|_| registry.admit(ip("192.0.2.1"), true, now).unwrap())
            .collect();
        assert_eq!(registry.counts().closing, 2);
        assert_eq!(
            registry.admit(ip("192.0.2.1"), true, now).err(),
            Some(Refusal::Closing),
            "the evicted ones have not closed yet"
        );
        held.remove(0);
        registry.closed(Duration::from_secs(10)).await;
        assert!(registry.admit(ip("192.0.2.1"), true, now).is_ok());
    }

    #[test]
    fn a_connection_released_after_eviction_frees_its_address() {
        let registry = Registry::new(caps(1, 1, 1));
        let now = Instant::now();
        let first = registry.admit(ip("192.0.2.1"), true, now).unwrap();
        let second = registry.admit(ip("192.0.2.2"), true, now);
        assert_eq!(second.err(), Some(Refusal::Network), "same /24");
        let other = registry.admit(ip("198.51.100.1"), true, now).unwrap();
        assert_eq!(first.admission.eviction(), Some(Eviction::Crowded));
        // A report from an evicted connection changes nothing.
        first.admission.trusted();
        assert_eq!(registry.counts().trusted, 0);
        drop(first);
        drop(other);
        assert_eq!(
            registry.counts(),
            Counts {
                crowded_out: 1,
                ..Counts::default()
            }
        );
        assert!(registry.admit(ip("192.0.2.1"), true, now).is_ok());
    }

    #[test]
    fn deadlines_to_start_tls_and_sign_in() {
        let registry = Registry::new(caps(100, 100, 100));
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let plain = registry.admit(ip("192.0.2.1"), false, t0).unwrap();
        let gateway = registry.admit(ip("192.0.2.2"), false, t0).unwrap();
        let user = registry.admit(ip("192.0.2.3"), true, t0).unwrap();
        let signed_in = registry.admit(ip("192.0.2.4"), true, t0).unwrap();
        let late = registry.admit(ip("192.0.2.5"), true, t0 + s(5)).unwrap();
        late.admission.heard();
        gateway.admission.encrypted();
        user.admission.encrypted();
        signed_in.admission.encrypted();
        signed_in.admission.trusted();

        assert_eq!(registry.reap(t0 + s(9)), 0);
        assert_eq!(registry.reap(t0 + s(10)), 1, "no TLS within 10 s");
        assert_eq!(plain.admission.eviction(), Some(Eviction::TooSlow));
        assert_eq!(registry.reap(t0 + s(15)), 1, "the later one, 10 s on");
        assert_eq!(late.admission.eviction(), Some(Eviction::TooSlow));
        assert_eq!(registry.reap(t0 + s(59)), 0);
        assert_eq!(registry.reap(t0 + s(60)), 1, "no sign-in within 60 s");
        assert_eq!(user.admission.eviction(), Some(Eviction::TooSlow));
        // A gateway need not sign in; a signed-in user has no deadline.
        assert_eq!(registry.reap(t0 + s(3600)), 0);
        assert_eq!(gateway.admission.eviction(), None);
        assert_eq!(signed_in.admission.eviction(), None);
        assert_eq!(registry.counts().too_slow, 3);
    }

    #[test]
    fn busy_deadlines_are_shorter_and_apply_to_open_connections() {
        let registry = Registry::new(caps(10, 100, 100));
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut held: Vec<_> = (0..8)
            .map(|_| registry.admit(ip("192.0.2.1"), true, t0).unwrap())
            .collect();
        held[0].admission.encrypted();
        assert_eq!(registry.reap(t0 + s(3)), 0, "80%: not busy");
        held.push(registry.admit(ip("192.0.2.1"), true, t0 + s(3)).unwrap());
        // 90%: busy. The seven open 3 s without TLS go (2 s when busy);
        // the one encrypted has 10 s to sign in, the newcomer 2 s.
        assert_eq!(registry.reap(t0 + s(3)), 7);
        assert_eq!(held[0].admission.eviction(), None);
        // Two left: no longer busy, and the normal deadlines are back.
        assert_eq!(registry.reap(t0 + s(12)), 0);
        assert_eq!(registry.reap(t0 + s(13)), 1, "10 s to start TLS");
        assert_eq!(registry.reap(t0 + s(59)), 0);
        assert_eq!(registry.reap(t0 + s(60)), 1, "60 s to sign in");
        drop(held);
        assert_eq!(registry.counts().live, 0);
    }
}
