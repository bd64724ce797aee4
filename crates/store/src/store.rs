//! The open store: opening, the write path (lock → transaction → atomic
//! batch → group-commit wait → notify) and durability.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast;

use crate::commit::GroupCommit;
use crate::notify::{MailboxChange, Notifier};
use crate::txn::Txn;
use crate::{Error, MailboxId, keys};

/// The layout version written into new stores; `open` refuses others.
const SCHEMA_VERSION: u64 = 1;

/// sled's log segment size. Log items larger than a quarter of a segment
/// become separate "blob" files that sled 0.34 does not fsync, so segments
/// are made large enough (2 MiB items) that tree nodes holding 64 KiB body
/// chunks always stay in the fsynced log.
const SEGMENT_SIZE: usize = 8 << 20;

/// Tunables for [`Store::open_with`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// Bytes of page cache sled may use. Default 512 MiB: enough to keep the
    /// index of a few million messages hot on a small server.
    pub cache_capacity: u64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cache_capacity: 512 << 20,
        }
    }
}

/// State shared by all clones of a [`Store`].
pub(crate) struct Inner {
    pub(crate) db: sled::Db,
    /// Serialises read-modify-write operations (see [`crate::txn`]).
    write_lock: Mutex<()>,
    commit: GroupCommit,
    notifier: Notifier,
    created: bool,
}

/// An open store. Cheap to clone; clones share the same database.
///
/// Every method is synchronous and may block on disk I/O: call it from
/// `tokio::task::spawn_blocking` (or a dedicated thread) in async code.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("created", &self.inner.created)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `path` with default options.
    ///
    /// Opening reads no messages: counters are kept up to date by every
    /// operation, so a store with millions of messages opens in the time sled
    /// needs to recover its log.
    ///
    /// # Errors
    ///
    /// [`Error::Open`], for example when another process holds the store.
    pub fn open(path: &Path) -> Result<Self, Error> {
        Self::open_with(path, &Options::default())
    }

    /// Opens (creating if needed) the store in `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Open`], for example when another process holds the store or
    /// the store was written by an incompatible version.
    pub fn open_with(path: &Path, options: &Options) -> Result<Self, Error> {
        let open_error = |reason: String| Error::Open {
            path: path.to_owned(),
            reason,
        };
        let db = sled::Config::new()
            .path(path)
            .cache_capacity(options.cache_capacity)
            .segment_size(SEGMENT_SIZE)
            // Durability comes from the group-commit flusher; sled's own
            // timer would only add unaccounted fsyncs.
            .flush_every_ms(None)
            .open()
            .map_err(|e| open_error(e.to_string()))?;
        let created = !db.was_recovered();
        let schema_key = keys::text(keys::META, "schema");
        match db.get(&schema_key).map_err(|e| open_error(e.to_string()))? {
            None => {
                db.insert(&schema_key, &SCHEMA_VERSION.to_be_bytes())
                    .map_err(|e| open_error(e.to_string()))?;
                db.flush().map_err(|e| open_error(e.to_string()))?;
            }
            Some(v) if v.as_ref() == SCHEMA_VERSION.to_be_bytes() => {}
            Some(v) => {
                return Err(open_error(format!(
                    "unsupported store layout version {v:?}; this build reads version {SCHEMA_VERSION}"
                )));
            }
        }
        let commit = GroupCommit::start(db.clone())?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                write_lock: Mutex::new(()),
                commit,
                notifier: Notifier::default(),
                created,
            }),
        })
    }

    /// Whether the store was created by this `open` rather than found on disk.
    pub fn was_created(&self) -> bool {
        self.inner.created
    }

    /// Writes everything committed so far to disk. Operations already wait
    /// for this themselves; call it before a controlled shutdown.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the disk refuses the write.
    pub fn flush(&self) -> Result<(), Error> {
        let seq = self.inner.commit.latest();
        if seq == 0 {
            return self
                .inner
                .db
                .flush()
                .map(|_| ())
                .map_err(|e| Error::Io(e.to_string()));
        }
        self.inner.commit.wait_durable(seq)
    }

    /// How many fsyncs the group-commit flusher has issued since `open`.
    /// Compare with the number of acknowledged operations to see how many
    /// writers shared each flush.
    pub fn fsync_count(&self) -> u64 {
        self.inner.commit.flushes()
    }

    /// Bytes the store occupies on disk, as sled reports it.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when sled cannot read its files.
    pub fn size_on_disk(&self) -> Result<u64, Error> {
        Ok(self.inner.db.size_on_disk()?)
    }

    /// Receives the future changes of a mailbox (for IMAP IDLE and
    /// concurrent sessions). Use `recv().await` in async code or
    /// `blocking_recv()` on a thread. A `Lagged` error means changes were
    /// missed: reread the mailbox.
    pub fn subscribe_changes(&self, mailbox: MailboxId) -> broadcast::Receiver<MailboxChange> {
        self.inner.notifier.subscribe(mailbox)
    }

    /// The tree that holds everything.
    pub(crate) fn tree(&self) -> &sled::Tree {
        &self.inner.db
    }

    /// Runs `op` as one atomic, durable operation: either all its writes
    /// reach the disk before this returns `Ok`, or none are made.
    pub(crate) fn write<T>(
        &self,
        op: impl FnOnce(&mut Txn<'_>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let guard = self
            .inner
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut txn = Txn::new(self.tree());
        let value = op(&mut txn)?;
        if txn.is_empty() {
            return Ok(value);
        }
        let (batch, changes) = txn.finish();
        self.inner.db.apply_batch(batch)?;
        let seq = self.inner.commit.committed();
        drop(guard);
        self.inner.commit.wait_durable(seq)?;
        self.inner.notifier.publish(changes);
        Ok(value)
    }

    /// Runs `f` while no operation can write.
    pub(crate) fn exclusive<T>(&self, f: impl FnOnce() -> T) -> T {
        let _guard = self
            .inner
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f()
    }

    /// Reads a decoded value outside any transaction.
    pub(crate) fn read_as<T: serde::de::DeserializeOwned>(
        &self,
        key: &[u8],
        what: &'static str,
    ) -> Result<Option<T>, Error> {
        self.tree()
            .get(key)?
            .map(|v| crate::codec::decode(&v, what))
            .transpose()
    }
}
