//! A bounded memory of recent successful password checks, so that a mail
//! client reconnecting with the same credentials does not pay the full
//! argon2id cost each time (as Dovecot's auth cache does).
//!
//! An entry is a keyed digest of the *stored hash* and the password the
//! client gave: nothing that could be replayed or reversed stays in memory,
//! and a password change or reset (which stores a new hash) can never match
//! an old entry. The account's status, lock and expiry are checked on every
//! login regardless, so suspension or locking takes effect at once. Entries
//! expire after [`TTL`]; the table holds at most [`CAPACITY`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::RngCore;
use rand::rngs::OsRng;
use sha2::{Digest, Sha256};

/// How long a successful check is remembered.
pub(crate) const TTL: Duration = Duration::from_secs(10 * 60);
/// Most entries kept; the oldest half is dropped when it is full.
pub(crate) const CAPACITY: usize = 10_000;

/// The cache; one per [`Service`](crate::Service) and its clones.
#[derive(Debug)]
pub(crate) struct VerifiedCache {
    key: [u8; 32],
    entries: Mutex<HashMap<[u8; 32], Instant>>,
    hits: AtomicU64,
}

impl Default for VerifiedCache {
    fn default() -> Self {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        Self {
            key,
            entries: Mutex::default(),
            hits: AtomicU64::new(0),
        }
    }
}

impl VerifiedCache {
    fn digest(&self, stored_hash: &str, password: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update((stored_hash.len() as u64).to_be_bytes());
        h.update(stored_hash.as_bytes());
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// True when this password was verified against this stored hash
    /// within [`TTL`].
    pub(crate) fn contains(&self, stored_hash: &str, password: &str) -> bool {
        let digest = self.digest(stored_hash, password);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(&digest) {
            Some(at) if at.elapsed() < TTL => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                true
            }
            Some(_) => {
                entries.remove(&digest);
                false
            }
            None => false,
        }
    }

    /// Remembers a successful verification.
    pub(crate) fn insert(&self, stored_hash: &str, password: &str) {
        let digest = self.digest(stored_hash, password);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY {
            entries.retain(|_, at| at.elapsed() < TTL);
            if entries.len() >= CAPACITY {
                let mut ages: Vec<Instant> = entries.values().copied().collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                entries.retain(|_, at| *at > cut);
            }
        }
        entries.insert(digest, Instant::now());
    }

    /// Logins answered from the cache so far.
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_only_the_same_password_against_the_same_hash() {
        let cache = VerifiedCache::default();
        assert!(!cache.contains("$argon2id$old", "secret"));
        cache.insert("$argon2id$old", "secret");
        assert!(cache.contains("$argon2id$old", "secret"));
        assert!(!cache.contains("$argon2id$old", "secreT"));
        assert!(
            !cache.contains("$argon2id$new", "secret"),
            "a new hash never matches"
        );
        assert_eq!(cache.hits(), 1);
    }

    #[test]
    fn stays_bounded() {
        let cache = VerifiedCache::default();
        for i in 0..CAPACITY + 10 {
            cache.insert("h", &i.to_string());
        }
        let len = cache.entries.lock().unwrap().len();
        assert!(len <= CAPACITY, "{len}");
        assert!(cache.contains("h", &(CAPACITY + 9).to_string()));
    }
}
