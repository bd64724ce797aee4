//! Group commit: many writers, one fsync.
//!
//! Every write is applied to sled under the store's write lock and receives
//! a commit sequence number. A writer then waits until a flush that *started
//! after* its commit has finished. One dedicated flusher thread performs the
//! flushes: it reads the latest committed sequence number, fsyncs the body
//! directories that new body files were renamed into, calls
//! `sled::Db::flush` (which writes and fsyncs everything committed so far),
//! and marks that number durable. Writers that committed while a flush was
//! running are covered by the next one, so with N concurrent writers each
//! fsync acknowledges up to N operations instead of one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use crate::Error;
use crate::files::BodyFiles;

/// Progress shared between writers and the flusher.
#[derive(Debug, Default)]
struct Progress {
    /// Highest commit sequence number applied to sled.
    committed: u64,
    /// Highest sequence number some writer waits for.
    requested: u64,
    /// Highest sequence number known to be on disk.
    durable: u64,
    /// Set when a flush failed: the disk refused a write and nothing after it
    /// can be acknowledged.
    failure: Option<String>,
    /// Set when the store is dropped; the flusher finishes and exits.
    shutdown: bool,
}

/// State shared with the flusher thread.
#[derive(Debug, Default)]
struct Shared {
    progress: Mutex<Progress>,
    /// Wakes the flusher when a writer requests durability.
    wake_flusher: Condvar,
    /// Wakes writers when `durable` advances.
    durable_advanced: Condvar,
    /// Number of flushes (fsyncs) performed, for benchmarks and tests.
    flushes: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The group-commit coordinator owned by an open store.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl GroupCommit {
    /// Starts the flusher thread for `db` and the body files beside it.
    /// `db_file`, sled's data file, is fdatasynced after every flush.
    pub(crate) fn start(
        db: sled::Db,
        files: Arc<BodyFiles>,
        db_file: Option<std::fs::File>,
    ) -> Result<Self, Error> {
        let shared = Arc::new(Shared::default());
        let for_thread = Arc::clone(&shared);
        let flusher = std::thread::Builder::new()
            .name("store-flusher".into())
            .spawn(move || run_flusher(&db, db_file.as_ref(), &files, &for_thread))
            .map_err(|e| Error::Io(format!("cannot start the flusher thread: {e}")))?;
        Ok(Self {
            shared,
            flusher: Some(flusher),
        })
    }

    /// Records that one more write has been applied; returns its sequence
    /// number. Call while still holding the store's write lock so that
    /// numbers follow the order of application.
    pub(crate) fn committed(&self) -> u64 {
        let mut p = self.shared.lock();
        p.committed += 1;
        p.committed
    }

    /// The sequence number the next [`Self::committed`] will return. Only
    /// meaningful under the store's write lock.
    pub(crate) fn next(&self) -> u64 {
        self.shared.lock().committed + 1
    }

    /// The latest committed sequence number.
    pub(crate) fn latest(&self) -> u64 {
        self.shared.lock().committed
    }

    /// Blocks until commit `seq` is on disk.
    pub(crate) fn wait_durable(&self, seq: u64) -> Result<(), Error> {
        let mut p = self.shared.lock();
        loop {
            if let Some(failure) = &p.failure {
                return Err(Error::Io(failure.clone()));
            }
            if p.durable >= seq {
                return Ok(());
            }
            if p.requested < seq {
                p.requested = seq;
                self.shared.wake_flusher.notify_one();
            }
            p = self
                .shared
                .durable_advanced
                .wait(p)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// How many flushes (fsyncs) the coordinator has performed.
    pub(crate) fn flushes(&self) -> u64 {
        self.shared.flushes.load(Ordering::Relaxed)
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.wake_flusher.notify_one();
        if let Some(handle) = self.flusher.take() {
            let _ = handle.join();
        }
    }
}

fn run_flusher(db: &sled::Db, db_file: Option<&std::fs::File>, files: &BodyFiles, shared: &Shared) {
    loop {
        let target = {
            let mut p = shared.lock();
            let has_work = |p: &Progress| p.requested > p.durable && p.failure.is_none();
            while !has_work(&p) && !p.shutdown {
                p = shared
                    .wake_flusher
                    .wait(p)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if !has_work(&p) {
                return;
            }
            // Everything committed up to now is applied to sled, so the flush
            // below covers it.
            p.committed
        };
        // Writers mark a body directory dirty before their commit gets its
        // sequence number, so every mark for commits up to `target` is seen.
        let result = files
            .sync_dirty()
            .map_err(|e| format!("body directory fsync failed: {e}"))
            .and_then(|()| db.flush().map_err(|e| format!("flush failed: {e}")))
            .and_then(|_| match db_file {
                Some(f) => f.sync_data().map_err(|e| format!("fdatasync failed: {e}")),
                None => Ok(()),
            });
        shared.flushes.fetch_add(1, Ordering::Relaxed);
        let mut p = shared.lock();
        match result {
            Ok(_) => p.durable = p.durable.max(target),
            Err(e) => {
                tracing::error!(error = %e, "store flush failed; refusing further acknowledgements");
                p.failure = Some(e);
            }
        }
        shared.durable_advanced.notify_all();
    }
}
