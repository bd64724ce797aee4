//! Message bodies: stored once, content-addressed, reference counted, and
//! streamed from their files.
//!
//! A body is identified by the SHA-256 of its bytes. Its bytes live in one
//! file under `bodies/` (see the `files` module); its record in sled holds
//! the size, the number of mailbox entries and queue entries that refer to
//! it, and the caller's cached parse data (IMAP ENVELOPE and BODYSTRUCTURE),
//! stored once per body. When the count reaches zero the record is removed
//! in the same transaction and the file is unlinked once that is durable.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::txn::Txn;
use crate::{BodyId, Error, Store, keys};

/// Read buffer of a [`BodyReader`]: a 30 MB body is read in 64 KiB steps.
const READ_BUFFER: usize = 64 * 1024;

/// What the store knows about one body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct BodyRecord {
    /// Length in bytes.
    pub(crate) size: u64,
    /// Number of mailbox entries and queue entries referring to the body.
    pub(crate) refs: u64,
    /// Opaque parse data supplied by the caller (ENVELOPE, BODYSTRUCTURE).
    pub(crate) cached: Option<Vec<u8>>,
}

/// A body whose file is on disk and protected from the unlinkers until this
/// is dropped: the proof [`add_body`] needs. Obtained from
/// [`Store::stage_body`] outside the write lock, since hashing and writing
/// 30 MB take a while.
pub(crate) struct StagedBody<'a> {
    store: &'a Store,
    pub(crate) id: BodyId,
    pub(crate) size: u64,
    /// Whether this staging wrote the file (and so must remove it if the
    /// operation commits nothing).
    wrote: bool,
    /// Set once a commit refers to the body.
    kept: bool,
}

impl StagedBody<'_> {
    /// Marks the body as referred to by a successful commit.
    pub(crate) fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for StagedBody<'_> {
    fn drop(&mut self) {
        let files = &self.store.inner.files;
        if self.wrote && !self.kept {
            let has_record = || {
                self.store
                    .tree()
                    .contains_key(keys::body(&self.id.0))
                    .unwrap_or(true)
            };
            files.unstage(self.id, Some(&has_record));
        } else {
            files.unstage(self.id, None);
        }
    }
}

/// Adds `refs` references to a staged body, creating its record if it is
/// new.
pub(crate) fn add_body(
    txn: &mut Txn<'_>,
    body: &StagedBody<'_>,
    cached: Option<&[u8]>,
    refs: u64,
) -> Result<(), Error> {
    let key = keys::body(&body.id.0);
    let record = match txn.get_as::<BodyRecord>(&key, "body record")? {
        Some(mut record) => {
            record.refs += refs;
            if record.cached.is_none() {
                record.cached = cached.map(<[u8]>::to_vec);
            }
            record
        }
        None => {
            txn.body_added(body.id);
            BodyRecord {
                size: body.size,
                refs,
                cached: cached.map(<[u8]>::to_vec),
            }
        }
    };
    txn.put_as(key, &record);
    Ok(())
}

/// Adds references to a body already stored (COPY).
pub(crate) fn add_refs(txn: &mut Txn<'_>, id: BodyId, refs: u64) -> Result<(), Error> {
    let key = keys::body(&id.0);
    let mut record = txn
        .get_as::<BodyRecord>(&key, "body record")?
        .ok_or_else(|| Error::NoSuchBody(id.to_string()))?;
    record.refs += refs;
    txn.put_as(key, &record);
    Ok(())
}

/// Drops one reference; removes the record when it was the last (the file
/// goes once that is durable).
pub(crate) fn release(txn: &mut Txn<'_>, id: BodyId) -> Result<(), Error> {
    let key = keys::body(&id.0);
    let mut record = txn
        .get_as::<BodyRecord>(&key, "body record")?
        .ok_or_else(|| Error::NoSuchBody(id.to_string()))?;
    record.refs = record.refs.saturating_sub(1);
    if record.refs == 0 {
        txn.remove(key);
        txn.body_freed(id);
    } else {
        txn.put_as(key, &record);
    }
    Ok(())
}

impl Store {
    /// Hashes `raw` and makes sure its file is on disk (written, fsynced and
    /// renamed into place unless an identical body is stored already).
    pub(crate) fn stage_body(&self, raw: &[u8]) -> Result<StagedBody<'_>, Error> {
        let id = BodyId(Sha256::digest(raw).into());
        let files = &self.inner.files;
        files.stage(id);
        // From here on the guard undoes the staging, whatever happens.
        let mut staged = StagedBody {
            store: self,
            id,
            size: raw.len() as u64,
            wrote: false,
            kept: false,
        };
        staged.wrote = files
            .ensure(id, raw)
            .map_err(|e| Error::Io(format!("cannot write body {id}: {e}")))?;
        Ok(staged)
    }

    /// Opens the file of a body that has a record.
    fn body_file(&self, id: BodyId) -> Result<File, Error> {
        File::open(self.inner.files.path(id)).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::NoSuchBody(id.to_string()),
            _ => Error::Io(format!("cannot read body {id}: {e}")),
        })
    }

    pub(crate) fn body_record(&self, id: BodyId) -> Result<BodyRecord, Error> {
        self.read_as::<BodyRecord>(&keys::body(&id.0), "body record")?
            .ok_or_else(|| Error::NoSuchBody(id.to_string()))
    }

    /// The size in bytes of a stored body.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchBody`] when no message refers to the body any more.
    pub fn body_size(&self, id: BodyId) -> Result<u64, Error> {
        Ok(self.body_record(id)?.size)
    }

    /// The parse data cached for a body at delivery or by
    /// [`Store::set_body_cache`], if any.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchBody`] when no message refers to the body any more.
    pub fn body_cache(&self, id: BodyId) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.body_record(id)?.cached)
    }

    /// Stores parse data for a body (for instance computed on first FETCH of
    /// a message delivered without it).
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchBody`] when the body is gone; [`Error::Io`].
    pub fn set_body_cache(&self, id: BodyId, cached: &[u8]) -> Result<(), Error> {
        self.write(|txn| {
            let key = keys::body(&id.0);
            let mut record = txn
                .get_as::<BodyRecord>(&key, "body record")?
                .ok_or_else(|| Error::NoSuchBody(id.to_string()))?;
            record.cached = Some(cached.to_vec());
            txn.put_as(key, &record);
            Ok(())
        })
    }

    /// Stores parse data for many bodies in one durable write (the first
    /// FETCH of a mailbox whose messages were delivered without it). Bodies
    /// that are gone meanwhile are skipped.
    ///
    /// # Errors
    ///
    /// [`Error::Io`], [`Error::Corrupt`].
    pub fn set_body_caches(&self, entries: &[(BodyId, Vec<u8>)]) -> Result<(), Error> {
        if entries.is_empty() {
            return Ok(());
        }
        self.write(|txn| {
            for (id, cached) in entries {
                let key = keys::body(&id.0);
                if let Some(mut record) = txn.get_as::<BodyRecord>(&key, "body record")? {
                    record.cached = Some(cached.clone());
                    txn.put_as(key, &record);
                }
            }
            Ok(())
        })
    }

    /// A buffered reader over a stored body's file; it implements [`Read`]
    /// and [`Seek`] for partial fetches and never holds more than 64 KiB of
    /// the body in memory.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchBody`] when no message refers to the body any more;
    /// [`Error::Io`] when its file cannot be opened.
    pub fn body_reader(&self, id: BodyId) -> Result<BodyReader, Error> {
        let record = self.body_record(id)?;
        let file = self.body_file(id)?;
        Ok(BodyReader {
            id,
            size: record.size,
            file: BufReader::with_capacity(READ_BUFFER, file),
        })
    }

    /// Reads up to `len` bytes of a body starting at `offset` (IMAP partial
    /// FETCH `BODY[]<offset.len>`), reading only that part of its file.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchBody`] when the body is missing or its file is short;
    /// [`Error::Io`].
    pub fn read_body_range(&self, id: BodyId, offset: u64, len: usize) -> Result<Vec<u8>, Error> {
        let size = self.body_size(id)?;
        let start = offset.min(size);
        let len = len.min(usize::try_from(size - start).unwrap_or(usize::MAX));
        let mut file = self.body_file(id)?;
        let mut out = vec![0u8; len];
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(&mut out))
            .map_err(|e| Error::NoSuchBody(format!("{id}: {e}")))?;
        Ok(out)
    }

    /// Reads a whole body into memory. Prefer [`Store::body_reader`] for
    /// large messages.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchBody`] when the body is missing or its file is short;
    /// [`Error::Io`].
    pub fn read_body(&self, id: BodyId) -> Result<Vec<u8>, Error> {
        let size = self.body_size(id)?;
        self.read_body_range(id, 0, usize::try_from(size).unwrap_or(usize::MAX))
    }
}

/// Streams a stored body from its file. Obtained from
/// [`Store::body_reader`]. The file stays open, so a reader keeps working
/// when the message is expunged meanwhile.
pub struct BodyReader {
    id: BodyId,
    size: u64,
    file: BufReader<File>,
}

impl std::fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyReader")
            .field("id", &self.id)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl BodyReader {
    /// The body's total length in bytes.
    pub fn len(&self) -> u64 {
        self.size
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.size == 0
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl Seek for BodyReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}
