//! Ward's durable store: the only crate that touches sled.
//!
//! It will own the community (organisations, applications, sponsors), the
//! accounts, the mailboxes with their IMAP semantics (UIDVALIDITY, UIDs,
//! MODSEQ, flags), the message bodies (stored once, reference counted), the
//! outbound queue and the hash-chained audit log. Every operation that
//! acknowledges data returns only after the data is flushed to disk.
//!
//! No sled type crosses this crate's boundary, so another backend could sit
//! behind the same API.
//!
//! ```
//! let dir = tempfile::tempdir().unwrap();
//! let store = store::Store::open(dir.path()).unwrap();
//! store.flush().unwrap();
//! ```

use std::path::{Path, PathBuf};

/// What went wrong in the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store could not be opened: missing permissions, a damaged file, or
    /// another process (another `ward serve`) holding it.
    #[error("cannot open the store at {path}: {reason}")]
    Open {
        /// The store folder.
        path: PathBuf,
        /// What the storage engine said.
        reason: String,
    },
    /// Data could not be written to disk.
    #[error("the store could not write to disk: {0}")]
    Io(String),
}

/// An open store. Cheap to clone; clones share the same database.
#[derive(Clone, Debug)]
pub struct Store {
    db: sled::Db,
}

impl Store {
    /// Opens (creating if needed) the store in `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Open`], for example when another process holds the store.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let db = sled::Config::new()
            .path(path)
            .open()
            .map_err(|e| Error::Open {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(Self { db })
    }

    /// Whether the store was created by this `open` rather than found on disk.
    pub fn was_created(&self) -> bool {
        !self.db.was_recovered()
    }

    /// Writes everything acknowledged so far to disk.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the disk refuses the write.
    pub fn flush(&self) -> Result<(), Error> {
        self.db
            .flush()
            .map(|_| ())
            .map_err(|e| Error::Io(e.to_string()))
    }
}
