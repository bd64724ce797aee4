//! A connection's standing with the daemon that admitted it.
//!
//! The daemon holds every connection under its caps. When they fill, it
//! closes the connections that have proved least, oldest first, and at any
//! time it closes those that take too long to start TLS or sign in. The
//! protocol drivers report through an [`Admission`] what the client has
//! proved ([`Standing`]), and wait on it to learn when the connection must
//! end ([`Eviction`]) and why, so that they can say so in the protocol.
//!
//! ```
//! use transport::{Admission, Eviction, Standing};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
//! let log = heard.clone();
//! let (admission, evictor) = Admission::watched(move |s| log.lock().unwrap().push(s));
//! admission.heard();
//! admission.heard();
//! admission.encrypted();
//! evictor.evict(Eviction::Crowded);
//! assert_eq!(admission.evicted().await, Eviction::Crowded);
//! assert_eq!(*heard.lock().unwrap(), [Standing::Heard, Standing::Encrypted]);
//! # });
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::watch;

/// What a client has proved so far, in the order it can prove it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Standing {
    /// Connected, and not a byte read from it yet.
    Connected,
    /// The client has sent something; TLS not complete yet.
    Heard,
    /// TLS complete; not signed in, and no gateway certificate.
    Encrypted,
    /// Signed in, or an organisation's gateway proved by its certificate,
    /// or (on the SMTP listener) a sender whose message was accepted.
    Trusted,
}

/// Why the daemon wants a connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Eviction {
    /// The daemon is at its connection cap and this connection, not yet
    /// trusted, was among the oldest: its place goes to a newcomer.
    Crowded,
    /// The client did not complete TLS, or sign in, in the time allowed.
    TooSlow,
}

type Report = Arc<dyn Fn(Standing) + Send + Sync>;

/// The driver's side: report progress, learn of eviction. Cloning is cheap.
#[derive(Clone)]
pub struct Admission {
    report: Option<Report>,
    /// The highest standing reported, so that each is reported once.
    reported: Arc<AtomicU8>,
    eviction: watch::Receiver<Option<Eviction>>,
}

/// The daemon's side: ends the connection at its next safe point.
#[derive(Debug)]
pub struct Evictor(watch::Sender<Option<Eviction>>);

impl Admission {
    /// A connection nobody watches: reports go nowhere and it is never
    /// evicted (tests, and servers without connection caps).
    pub fn unwatched() -> Self {
        let (_, eviction) = watch::channel(None);
        Self {
            report: None,
            reported: Arc::default(),
            eviction,
        }
    }

    /// A watched connection: `report` hears each [`Standing`] the driver
    /// reports; the [`Evictor`] ends the connection.
    pub fn watched(report: impl Fn(Standing) + Send + Sync + 'static) -> (Self, Evictor) {
        let (sender, eviction) = watch::channel(None);
        let admission = Self {
            report: Some(Arc::new(report)),
            reported: Arc::default(),
            eviction,
        };
        (admission, Evictor(sender))
    }

    /// Bytes arrived from the client: it is not merely holding a
    /// connection open. Cheap to call on every read.
    pub fn heard(&self) {
        self.report(Standing::Heard);
    }

    /// TLS is complete.
    pub fn encrypted(&self) {
        self.report(Standing::Encrypted);
    }

    /// The client signed in, or proved itself an organisation's gateway.
    pub fn trusted(&self) {
        self.report(Standing::Trusted);
    }

    fn report(&self, standing: Standing) {
        let Some(report) = &self.report else {
            return;
        };
        let rank = standing as u8;
        if self.reported.fetch_max(rank, Ordering::Relaxed) < rank {
            report(standing);
        }
    }

    /// Completes when the daemon evicts the connection; never, for an
    /// unwatched one or once the daemon has let go of it.
    pub async fn evicted(&self) -> Eviction {
        let mut eviction = self.eviction.clone();
        let why = eviction.wait_for(Option::is_some).await.map(|why| *why);
        match why {
            Ok(why) => why.unwrap_or(Eviction::Crowded),
            Err(_) => std::future::pending().await,
        }
    }

    /// Whether the connection has been evicted, and why.
    pub fn eviction(&self) -> Option<Eviction> {
        *self.eviction.borrow()
    }
}

impl fmt::Debug for Admission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admission")
            .field("watched", &self.report.is_some())
            .field("eviction", &self.eviction())
            .finish()
    }
}

impl fmt::Display for Eviction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Eviction::Crowded => "crowded out at the connection cap",
            Eviction::TooSlow => "too slow to start TLS or sign in",
        })
    }
}

impl Evictor {
    /// Asks the driver to close the connection, saying `why`. The first
    /// reason given stands.
    pub fn evict(&self, why: Eviction) {
        self.0.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some(why);
            true
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unwatched_is_never_evicted() {
        let admission = Admission::unwatched();
        admission.trusted();
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(20), admission.evicted()).await;
        assert!(waited.is_err());
        assert_eq!(admission.eviction(), None);
    }

    #[tokio::test]
    async fn the_first_reason_stands_even_after_the_evictor_is_gone() {
        let (admission, evictor) = Admission::watched(|_| {});
        let clone = admission.clone();
        evictor.evict(Eviction::TooSlow);
        evictor.evict(Eviction::Crowded);
        drop(evictor);
        assert_eq!(clone.evicted().await, Eviction::TooSlow);
        assert_eq!(admission.eviction(), Some(Eviction::TooSlow));
    }

    #[test]
    fn each_standing_is_reported_once_and_never_goes_back() {
        let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = heard.clone();
        let (admission, _evictor) = Admission::watched(move |s| log.lock().unwrap().push(s));
        let clone = admission.clone();
        admission.heard();
        clone.encrypted();
        admission.heard();
        clone.trusted();
        admission.encrypted();
        assert_eq!(
            *heard.lock().unwrap(),
            [Standing::Heard, Standing::Encrypted, Standing::Trusted]
        );
    }

    #[tokio::test]
    async fn a_released_connection_waits_for_ever() {
        let (admission, evictor) = Admission::watched(|_| {});
        drop(evictor);
        let waited =
            tokio::time::timeout(std::time::Duration::from_millis(20), admission.evicted()).await;
        assert!(waited.is_err());
    }
}
