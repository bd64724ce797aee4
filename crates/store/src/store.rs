//! The open store: opening, the write path (lock → transaction → atomic
//! batch → group-commit wait → notify) and durability.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use tokio::sync::{broadcast, watch};

use crate::commit::GroupCommit;
use crate::files::BodyFiles;
use crate::notify::{MailboxChange, Notifier};
use crate::txn::Txn;
use crate::{Error, MailboxId, keys};

/// The layout version written into new stores; `open` upgrades older ones
/// (see `migrate`). Version 1 kept bodies as 64 KiB chunks inside sled;
/// version 2 keeps them as files under `bodies/`; version 3 adds the
/// delivery hold, the time queued mail spent held, the fuller application
/// and the password history.
const SCHEMA_VERSION: u64 = 3;

/// sled's log segment size. Log items larger than a quarter of a segment
/// become separate "blob" files that sled 0.34 does not fsync, so segments
/// are made large enough (2 MiB items) that a tree node full of body records
/// with large cached parse data still stays in the fsynced log.
const SEGMENT_SIZE: usize = 8 << 20;

/// Tunables for [`Store::open_with`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// Bytes of page cache sled may use. Default 512 MiB: enough to keep the
    /// index of a few million messages hot on a small server.
    pub cache_capacity: u64,
    /// Whether `open` starts a background thread that removes orphan body
    /// files (left by a crash; see [`Store::sweep_orphan_bodies`]). Default
    /// true: open itself never lists the body files, so it stays fast.
    pub sweep_orphan_bodies: bool,
    /// Whether dropping the last handle of the store opens sled once more,
    /// briefly, so that sled writes a snapshot of its page table. sled 0.34
    /// writes one only while opening, and otherwise replays at open the whole
    /// log written since the previous open: seconds after a session of a
    /// million deliveries. With the checkpoint, that replay happens at a
    /// clean shutdown instead, and the next open reads only the snapshot.
    /// After a crash, the next open replays the log. Default true.
    pub checkpoint_on_close: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cache_capacity: 512 << 20,
            sweep_orphan_bodies: true,
            checkpoint_on_close: true,
        }
    }
}

/// The background orphan sweep started by `open`; stopped and joined when
/// the store is dropped, so that the database is closed when `Store` is.
struct Sweeper {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// State shared by all clones of a [`Store`].
pub(crate) struct Inner {
    pub(crate) db: sled::Db,
    /// Serialises read-modify-write operations (see [`crate::txn`]).
    write_lock: Mutex<()>,
    commit: GroupCommit,
    /// The body files under `bodies/`.
    pub(crate) files: Arc<BodyFiles>,
    notifier: Notifier,
    /// Counts queue entries committed since open; bumped after each
    /// enqueue is durable, so the relay wakes without polling.
    pub(crate) queued: watch::Sender<u64>,
    /// Counts durable changes to users, organisations and gateway proofs.
    credentials: watch::Sender<u64>,
    created: bool,
    /// The background orphan sweep, stopped and joined on drop.
    _sweeper: Option<Sweeper>,
    /// Dropped once every handle on the database (ours, the flusher's, the
    /// sweeper's) is closed.
    _checkpoint: Option<Checkpoint>,
    /// Declared last: after sled has written its last files (under the
    /// process's umask), makes them private.
    _private: Private,
}

/// Restricts the store folder's modes when dropped.
struct Private(std::path::PathBuf);

impl Drop for Private {
    fn drop(&mut self) {
        crate::files::restrict_modes(&self.0);
    }
}

/// Reopens sled when dropped (see [`Options::checkpoint_on_close`]).
struct Checkpoint {
    path: std::path::PathBuf,
    cache_capacity: u64,
}

impl Drop for Checkpoint {
    fn drop(&mut self) {
        // Opening writes the snapshot; dropping the handle closes it again.
        if let Err(e) = sled_config(&self.path, self.cache_capacity).open() {
            tracing::warn!(error = %e, "store checkpoint at close failed; the next open replays the log");
        }
    }
}

/// sled's configuration for the store in `path`.
pub(crate) fn sled_config(path: &Path, cache_capacity: u64) -> sled::Config {
    sled::Config::new()
        .path(path)
        .cache_capacity(cache_capacity)
        .segment_size(SEGMENT_SIZE)
        // Durability comes from the group-commit flusher; sled's own timer
        // would only add unaccounted fsyncs.
        .flush_every_ms(None)
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
    /// Opening reads no messages and lists no body files: counters are kept
    /// up to date by every operation and bodies live outside sled. What
    /// remains is sled's recovery: reading its page-table snapshot, then
    /// replaying the log written since that snapshot (see
    /// [`Options::checkpoint_on_close`]).
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
        let db = sled_config(path, options.cache_capacity)
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
                let from = <[u8; 8]>::try_from(v.as_ref()).map_or(0, u64::from_be_bytes);
                crate::migrate::upgrade(&db, from, SCHEMA_VERSION, &schema_key)
                    .map_err(open_error)?;
            }
        }
        let files = Arc::new(BodyFiles::open(path).map_err(|e| open_error(e.to_string()))?);
        // sled creates its files under the process's umask: take group and
        // others' access away from whatever it (or an older build) made.
        crate::files::restrict_modes(path);
        // sled 0.34 makes its flush durable with sync_file_range on Linux,
        // which survives a crash of the process but not of the machine; the
        // flusher also fdatasyncs sled's data file.
        let db_file = std::fs::File::open(path.join("db")).ok();
        let commit = GroupCommit::start(db.clone(), Arc::clone(&files), db_file)?;
        let sweeper = if options.sweep_orphan_bodies && !created {
            Some(start_sweeper(db.clone(), Arc::clone(&files))?)
        } else {
            None
        };
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                write_lock: Mutex::new(()),
                commit,
                files,
                notifier: Notifier::default(),
                queued: watch::Sender::new(0),
                credentials: watch::Sender::new(0),
                created,
                _sweeper: sweeper,
                _checkpoint: options.checkpoint_on_close.then(|| Checkpoint {
                    path: path.to_owned(),
                    cache_capacity: options.cache_capacity,
                }),
                _private: Private(path.to_owned()),
            }),
        })
    }

    /// Removes the body files no record refers to: left by a crash between
    /// a body's file write and its commit, or between the removal of its
    /// last reference and the unlink. Such files are never read, so this is
    /// housekeeping, not repair; `open` runs it in the background unless
    /// [`Options::sweep_orphan_bodies`] is off. Safe while the store is in
    /// use. Returns the number of files removed.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when a folder cannot be listed or a file removed.
    pub fn sweep_orphan_bodies(&self) -> Result<u64, Error> {
        let db = &self.inner.db;
        self.inner
            .files
            .sweep(&|id| has_body_record(db, id), &AtomicBool::new(false))
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

    /// Bytes sled's files occupy on disk: the metadata, without the body
    /// files under `bodies/`.
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

    /// Watches the outbound queue: the value changes after each new queue
    /// entry is durable ([`Store::enqueue`], [`Store::deliver_and_enqueue`]).
    /// The relay waits on `changed()` instead of polling.
    pub fn subscribe_queue(&self) -> watch::Receiver<u64> {
        self.inner.queued.subscribe()
    }

    /// Moves (once the change is durable) whenever a user, an organisation
    /// or a gateway certificate or network changes: a suspension, a
    /// revocation, a password change. Open sessions watch it and check
    /// their credentials again; most changes concern other accounts, so the
    /// check must be cheap.
    pub fn subscribe_credentials(&self) -> watch::Receiver<u64> {
        self.inner.credentials.subscribe()
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
        let finished = txn.finish();
        let files = &self.inner.files;
        // Both before the commit gets its number: the flusher must see the
        // dirty directories, and the sweep must not take a freed body's file
        // while its removal may still be undone by a crash.
        for &id in &finished.bodies_added {
            files.mark_dirty(id);
        }
        let seq = self.inner.commit.next();
        files.doom(&finished.bodies_freed, seq);
        if let Err(e) = self.inner.db.apply_batch(finished.batch) {
            files.undoom(&finished.bodies_freed, seq);
            return Err(e.into());
        }
        let committed = self.inner.commit.committed();
        debug_assert_eq!(committed, seq);
        drop(guard);
        self.inner.commit.wait_durable(seq)?;
        if !finished.bodies_freed.is_empty() {
            let db = &self.inner.db;
            let unlinked = files.unlink_doomed(&finished.bodies_freed, seq, &|id| {
                has_body_record(db, id).unwrap_or(true)
            });
            if let Err(e) = unlinked {
                // The removal is durable; the file is only an orphan now.
                tracing::warn!(error = %e, "cannot unlink a freed body file; the sweep will");
            }
        }
        self.inner.notifier.publish(finished.changes);
        if finished.credentials_changed {
            self.inner.credentials.send_modify(|n| *n += 1);
        }
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

/// Whether body `id` has a record (applied, if not yet durable).
fn has_body_record(db: &sled::Db, id: crate::BodyId) -> Result<bool, Error> {
    Ok(db.contains_key(keys::body(&id.0))?)
}

fn start_sweeper(db: sled::Db, files: Arc<BodyFiles>) -> Result<Sweeper, Error> {
    let stop = Arc::new(AtomicBool::new(false));
    let stop_thread = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("store-sweeper".into())
        .spawn(
            move || match files.sweep(&|id| has_body_record(&db, id), &stop_thread) {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "removed orphan body files"),
                Err(e) => tracing::warn!(error = %e, "orphan body sweep stopped"),
            },
        )
        .map_err(|e| Error::Io(format!("cannot start the sweeper thread: {e}")))?;
    Ok(Sweeper {
        stop,
        thread: Some(thread),
    })
}
