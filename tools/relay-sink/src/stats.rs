//! What the sink has accepted, shared by every session.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

/// Running counts.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    connections: AtomicU64,
    tls: AtomicU64,
    errors: AtomicU64,
    messages: AtomicU64,
    recipients: AtomicU64,
    duplicates: AtomicU64,
    without_id: AtomicU64,
    first_ms: AtomicU64,
    last_ms: AtomicU64,
    /// Every Message-ID seen, to find duplicates.
    ids: Mutex<HashSet<Vec<u8>>>,
}

/// One reading of [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) connections: u64,
    pub(crate) tls: u64,
    pub(crate) errors: u64,
    pub(crate) messages: u64,
    pub(crate) recipients: u64,
    pub(crate) duplicates: u64,
    pub(crate) without_id: u64,
    pub(crate) first_ms: u64,
    pub(crate) last_ms: u64,
}

/// Unix time in milliseconds.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Stats {
    /// A connection was accepted.
    pub(crate) fn connection(&self) {
        self.connections.fetch_add(1, Ordering::Relaxed);
    }

    /// A TLS handshake completed.
    pub(crate) fn tls(&self) {
        self.tls.fetch_add(1, Ordering::Relaxed);
    }

    /// A session ended in an error (not QUIT, not a close between
    /// commands).
    pub(crate) fn error(&self) -> u64 {
        self.errors.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A message was accepted for `recipients` recipients, carrying this
    /// Message-ID (if any). The message is counted after the ID, so a
    /// reader that sees `messages = N` also sees every duplicate among
    /// them.
    pub(crate) fn message(&self, recipients: u64, message_id: Option<&[u8]>) {
        match message_id {
            Some(id) => {
                let fresh = self
                    .ids
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(id.to_vec());
                if !fresh {
                    self.duplicates.fetch_add(1, Ordering::Relaxed);
                }
            }
            None => {
                self.without_id.fetch_add(1, Ordering::Relaxed);
            }
        }
        let now = now_ms();
        let _ = self
            .first_ms
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        self.last_ms.fetch_max(now, Ordering::Relaxed);
        self.recipients.fetch_add(recipients, Ordering::Relaxed);
        self.messages.fetch_add(1, Ordering::Release);
    }

    /// The counts now.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let messages = self.messages.load(Ordering::Acquire);
        Snapshot {
            connections: self.connections.load(Ordering::Relaxed),
            tls: self.tls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            messages,
            recipients: self.recipients.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            without_id: self.without_id.load(Ordering::Relaxed),
            first_ms: self.first_ms.load(Ordering::Relaxed),
            last_ms: self.last_ms.load(Ordering::Relaxed),
        }
    }
}

impl Snapshot {
    /// The fields that make a change worth printing.
    pub(crate) fn counts(&self) -> (u64, u64, u64) {
        (self.messages, self.recipients, self.duplicates)
    }

    /// One `key=value` line.
    pub(crate) fn line(&self) -> String {
        format!(
            "messages={} recipients={} duplicates={} without_id={} connections={} tls={} errors={} first_ms={} last_ms={}",
            self.messages,
            self.recipients,
            self.duplicates,
            self.without_id,
            self.connections,
            self.tls,
            self.errors,
            self.first_ms,
            self.last_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_missing_ids_are_counted() {
        let stats = Stats::default();
        stats.message(2, Some(b"<a@x>"));
        stats.message(1, Some(b"<b@x>"));
        stats.message(1, Some(b"<a@x>"));
        stats.message(1, None);
        let s = stats.snapshot();
        assert_eq!(s.messages, 4);
        assert_eq!(s.recipients, 5);
        assert_eq!(s.duplicates, 1);
        assert_eq!(s.without_id, 1);
        assert!(s.first_ms > 0 && s.last_ms >= s.first_ms);
        assert!(
            s.line()
                .starts_with("messages=4 recipients=5 duplicates=1 ")
        );
    }
}
