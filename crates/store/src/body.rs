//! Message bodies: stored once, content-addressed, reference counted, and
//! read back in chunks.
//!
//! A body is keyed by the SHA-256 of its bytes and split into 64 KiB chunks
//! (`CHUNK` table), so fetching a byte range of a 30 MB message reads only
//! the chunks it needs and never materialises the whole message twice. The
//! body record counts the mailbox entries and queue entries that refer to it;
//! when the count reaches zero the record and its chunks are removed in the
//! same transaction. It also holds the caller's cached parse data (IMAP
//! ENVELOPE and BODYSTRUCTURE), stored once per body.

use std::io::{self, Read, Seek, SeekFrom};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sled::IVec;

use crate::txn::Txn;
use crate::{BodyId, Error, Store, keys};

/// Bytes per chunk. Large enough that a 30 MB message is ~460 keys, small
/// enough that a tree node of 17 chunks stays within one fsynced log item.
pub(crate) const CHUNK_SIZE: usize = 64 * 1024;

/// What the store knows about one body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct BodyRecord {
    /// Length in bytes.
    pub(crate) size: u64,
    /// Number of mailbox entries and queue entries referring to the body.
    pub(crate) refs: u64,
    /// Number of chunks.
    pub(crate) chunks: u32,
    /// Opaque parse data supplied by the caller (ENVELOPE, BODYSTRUCTURE).
    pub(crate) cached: Option<Vec<u8>>,
}

/// The id a body will have: the SHA-256 of its bytes. Computed outside the
/// write lock, since hashing 30 MB takes a while.
pub(crate) fn body_id(raw: &[u8]) -> BodyId {
    BodyId(Sha256::digest(raw).into())
}

/// Adds `refs` references to the body `raw` (with id `id`), writing its
/// chunks if it is not stored yet.
pub(crate) fn add_body(
    txn: &mut Txn<'_>,
    id: BodyId,
    raw: &[u8],
    cached: Option<&[u8]>,
    refs: u64,
) -> Result<(), Error> {
    let key = keys::body(&id.0);
    let record = match txn.get_as::<BodyRecord>(&key, "body record")? {
        Some(mut record) => {
            record.refs += refs;
            if record.cached.is_none() {
                record.cached = cached.map(<[u8]>::to_vec);
            }
            record
        }
        None => {
            let mut chunks = 0u32;
            for (i, chunk) in raw.chunks(CHUNK_SIZE).enumerate() {
                let index = u32::try_from(i).map_err(|_| Error::CounterExhausted("chunk"))?;
                txn.put(keys::chunk(&id.0, index), IVec::from(chunk));
                chunks = index + 1;
            }
            BodyRecord {
                size: raw.len() as u64,
                refs,
                chunks,
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

/// Drops one reference; removes the body when it was the last.
pub(crate) fn release(txn: &mut Txn<'_>, id: BodyId) -> Result<(), Error> {
    let key = keys::body(&id.0);
    let mut record = txn
        .get_as::<BodyRecord>(&key, "body record")?
        .ok_or_else(|| Error::NoSuchBody(id.to_string()))?;
    record.refs = record.refs.saturating_sub(1);
    if record.refs == 0 {
        for index in 0..record.chunks {
            txn.remove(keys::chunk(&id.0, index));
        }
        txn.remove(key);
    } else {
        txn.put_as(key, &record);
    }
    Ok(())
}

impl Store {
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

    /// A reader over a stored body that loads one 64 KiB chunk at a time;
    /// it implements [`Read`] and [`Seek`] for partial fetches.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchBody`] when no message refers to the body any more.
    pub fn body_reader(&self, id: BodyId) -> Result<BodyReader, Error> {
        let record = self.body_record(id)?;
        Ok(BodyReader {
            tree: self.tree().clone(),
            id,
            size: record.size,
            pos: 0,
            current: None,
        })
    }

    /// Reads up to `len` bytes of a body starting at `offset` (IMAP partial
    /// FETCH `BODY[]<offset.len>`), loading only the chunks involved.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchBody`] when the body or one of its chunks is missing.
    pub fn read_body_range(&self, id: BodyId, offset: u64, len: usize) -> Result<Vec<u8>, Error> {
        let mut reader = self.body_reader(id)?;
        let start = offset.min(reader.size);
        let len = len.min(usize::try_from(reader.size - start).unwrap_or(usize::MAX));
        reader.pos = start;
        let mut out = vec![0u8; len];
        reader
            .read_exact(&mut out)
            .map_err(|e| Error::NoSuchBody(format!("{id}: {e}")))?;
        Ok(out)
    }

    /// Reads a whole body into memory. Prefer [`Store::body_reader`] for
    /// large messages.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchBody`] when the body or one of its chunks is missing.
    pub fn read_body(&self, id: BodyId) -> Result<Vec<u8>, Error> {
        let size = self.body_size(id)?;
        self.read_body_range(id, 0, usize::try_from(size).unwrap_or(usize::MAX))
    }
}

/// Streams a stored body chunk by chunk. Obtained from
/// [`Store::body_reader`]. If the body is expunged by another session while
/// being read, reads fail with [`io::ErrorKind::NotFound`].
pub struct BodyReader {
    tree: sled::Tree,
    id: BodyId,
    size: u64,
    pos: u64,
    /// The chunk loaded last, with its index.
    current: Option<(u64, IVec)>,
}

impl std::fmt::Debug for BodyReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyReader")
            .field("id", &self.id)
            .field("size", &self.size)
            .field("pos", &self.pos)
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
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        let chunk_size = CHUNK_SIZE as u64;
        let index = self.pos / chunk_size;
        if self.current.as_ref().is_none_or(|(i, _)| *i != index) {
            let chunk_index = u32::try_from(index).map_err(io::Error::other)?;
            let chunk = self
                .tree
                .get(keys::chunk(&self.id.0, chunk_index))
                .map_err(io::Error::other)?
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("chunk {index} of body {} is missing", self.id),
                    )
                })?;
            self.current = Some((index, chunk));
        }
        let Some((_, chunk)) = &self.current else {
            return Ok(0);
        };
        let within = usize::try_from(self.pos - index * chunk_size).map_err(io::Error::other)?;
        let available = chunk.len().saturating_sub(within);
        if available == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("chunk {index} of body {} is short", self.id),
            ));
        }
        let n = available.min(buf.len());
        buf[..n].copy_from_slice(&chunk[within..within + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for BodyReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.size.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        let target = target
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before start"))?;
        self.pos = target;
        Ok(target)
    }
}
