//! Body files: each message body is one file under `<store>/bodies/`, named
//! by the SHA-256 of its bytes (`bodies/ab/cdef…`: two hex digits of fan-out,
//! then the other 62), written once and shared by every message with the
//! same bytes. sled holds only the small body record (size, reference count,
//! cached parse data), so the log sled replays at open stays small.
//!
//! **Ordering.** A file is written to a temporary name, fsynced and renamed
//! into place *before* the metadata batch that refers to it is committed.
//! The rename's directory entry is made durable by the group-commit flusher,
//! which fsyncs every fan-out directory touched since its last flush before
//! it flushes sled. A commit that creates a body's record marks its
//! directory even when it found the file already there (an orphan, or
//! another writer's rename whose directory fsync is still pending). So a
//! durable body record always has a durable file.
//! When the last reference goes, the record is removed in the batch and the
//! file is unlinked only once that removal is durable.
//!
//! **Orphans.** A crash between the file write and the metadata commit, or
//! between the record removal and the unlink, leaves a file no record refers
//! to. Such a file is harmless (it is never read) and is removed by
//! [`crate::Store::sweep_orphan_bodies`], which `open` runs in the background.
//!
//! **Races.** A file may be unlinked (after a release, or by the sweep) only
//! while its body is neither *staged* (a writer has checked or written the
//! file and is about to commit a record for it) nor *doomed* (its record was
//! removed by a commit that is not yet known durable), and has no record in
//! the tree. All three are checked under one mutex, and writers stage before
//! they look at the file, so a writer never commits a record for a file that
//! is about to vanish.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::BodyId;

/// The folder, inside the store folder, that holds the body files.
pub(crate) const BODIES_DIR: &str = "bodies";

/// Most threads one flush uses to fsync body directories concurrently.
const SYNC_THREADS: usize = 16;

/// What the unlinkers must respect; see the module documentation.
#[derive(Debug, Default)]
struct Guards {
    /// Body → number of writers that staged it and have not finished.
    staged: HashMap<BodyId, u32>,
    /// Body → commit sequence number of the latest batch that removed its
    /// record; the file goes once that batch is durable.
    doomed: HashMap<BodyId, u64>,
}

/// The body files of one store.
#[derive(Debug)]
pub(crate) struct BodyFiles {
    /// `<store>/bodies`.
    root: PathBuf,
    guards: Mutex<Guards>,
    /// Fan-out directories with renames not yet fsynced.
    dirty: Mutex<BTreeSet<u8>>,
    /// Makes temporary names unique within this process (one process holds
    /// the store at a time).
    next_temp: AtomicU64,
}

/// What [`BodyFiles::list`] found on disk.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Body files with their lengths.
    pub(crate) bodies: Vec<(BodyId, u64)>,
    /// Temporary files no writer is using (left by a crash).
    pub(crate) stale_temps: u64,
    /// Names that are neither body files nor temporary files.
    pub(crate) strangers: Vec<PathBuf>,
}

fn hex(byte: u8) -> [u8; 2] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    [
        DIGITS[usize::from(byte >> 4)],
        DIGITS[usize::from(byte & 15)],
    ]
}

fn unhex(digits: &[u8]) -> Option<Vec<u8>> {
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let value = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    digits
        .chunks(2)
        .map(|pair| Some(value(pair[0])? << 4 | value(pair[1])?))
        .collect()
}

/// The body a file name in fan-out directory `fan` stands for.
fn parse_name(fan: u8, name: &str) -> Option<BodyId> {
    let rest = unhex(name.as_bytes())?;
    let mut hash = [0u8; 32];
    if rest.len() != 31 {
        return None;
    }
    hash[0] = fan;
    hash[1..].copy_from_slice(&rest);
    Some(BodyId(hash))
}

fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Takes group and others' access away from everything in the store
/// folder (the folder included), except the body files, which are created
/// 0600 and live in 0700 folders. Best effort: a failure is logged.
pub(crate) fn restrict_modes(store_dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let restrict = |path: &Path| {
        let Ok(meta) = fs::symlink_metadata(path) else {
            return;
        };
        let mode = meta.permissions().mode();
        if !meta.file_type().is_symlink() && mode & 0o077 != 0 {
            let private = fs::Permissions::from_mode(mode & 0o7700);
            if let Err(e) = fs::set_permissions(path, private) {
                tracing::warn!(path = %path.display(), error = %e, "cannot make a store file private");
            }
        }
    };
    let bodies = store_dir.join(BODIES_DIR);
    let mut pending = vec![store_dir.to_owned()];
    restrict(store_dir);
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        let inside_bodies = dir.parent() == Some(bodies.as_path());
        for entry in entries.flatten() {
            let path = entry.path();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            if inside_bodies && !is_dir {
                continue;
            }
            restrict(&path);
            if is_dir {
                pending.push(path);
            }
        }
    }
}

/// Creates (or truncates) a file readable and writable by its owner only.
pub(crate) fn private_file(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

impl BodyFiles {
    /// Opens the body folder of the store in `store_dir`, creating it and its
    /// 256 fan-out directories if needed (256 `stat`s when they exist).
    pub(crate) fn open(store_dir: &Path) -> io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let root = store_dir.join(BODIES_DIR);
        let mut created = false;
        if !root.is_dir() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&root)?;
            created = true;
        }
        for fan in 0..=u8::MAX {
            let dir = root.join(std::str::from_utf8(&hex(fan)).unwrap_or_default());
            if !dir.is_dir() {
                fs::DirBuilder::new().mode(0o700).create(&dir)?;
                created = true;
            }
        }
        if created {
            sync_dir(&root)?;
            sync_dir(store_dir)?;
        }
        Ok(Self {
            root,
            guards: Mutex::default(),
            dirty: Mutex::default(),
            next_temp: AtomicU64::new(0),
        })
    }

    fn guards(&self) -> MutexGuard<'_, Guards> {
        self.guards.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fan_dir(&self, fan: u8) -> PathBuf {
        self.root
            .join(std::str::from_utf8(&hex(fan)).unwrap_or_default())
    }

    /// The file of body `id`.
    pub(crate) fn path(&self, id: BodyId) -> PathBuf {
        let name: Vec<u8> = id.0[1..].iter().flat_map(|b| hex(*b)).collect();
        self.fan_dir(id.0[0])
            .join(std::str::from_utf8(&name).unwrap_or_default())
    }

    /// Protects body `id`'s file from the unlinkers until [`Self::unstage`].
    pub(crate) fn stage(&self, id: BodyId) {
        *self.guards().staged.entry(id).or_default() += 1;
    }

    /// Ends one [`Self::stage`]. When `discard` is given (the writer created
    /// the file but committed nothing), the file is removed if nothing else
    /// needs it: `discard` says whether a record refers to the body.
    pub(crate) fn unstage(&self, id: BodyId, discard: Option<&dyn Fn() -> bool>) {
        let mut guards = self.guards();
        if let Some(count) = guards.staged.get_mut(&id) {
            *count -= 1;
            if *count == 0 {
                guards.staged.remove(&id);
            }
        }
        if let Some(has_record) = discard
            && !guards.staged.contains_key(&id)
            && !guards.doomed.contains_key(&id)
            && !has_record()
        {
            // A failure here only leaves an orphan for the sweep.
            let _ = remove_if_present(&self.path(id));
        }
    }

    /// Whether a writer or a pending unlink is working on body `id`'s file.
    pub(crate) fn is_busy(&self, id: BodyId) -> bool {
        let guards = self.guards();
        guards.staged.contains_key(&id) || guards.doomed.contains_key(&id)
    }

    /// Makes sure body `id`'s file holds `raw`, writing it if it is missing
    /// or has the wrong length. Call between [`Self::stage`] and the commit.
    /// Returns whether the file was written.
    pub(crate) fn ensure(&self, id: BodyId, raw: &[u8]) -> io::Result<bool> {
        let path = self.path(id);
        if fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == raw.len() as u64) {
            return Ok(false);
        }
        let n = self.next_temp.fetch_add(1, Ordering::Relaxed);
        let mut temp = path.clone().into_os_string();
        temp.push(format!(".tmp{n}"));
        let temp = PathBuf::from(temp);
        let written = (|| {
            // Message bodies are for Ward's eyes only, whatever the umask.
            let mut file = private_file(&temp)?;
            file.write_all(raw)?;
            file.sync_data()?;
            fs::rename(&temp, &path)
        })();
        // Also when a record exists already (a repaired file): the new entry
        // must be durable with the next flush.
        self.mark_dirty(id);
        if written.is_err() {
            let _ = fs::remove_file(&temp);
        }
        written.map(|()| true)
    }

    /// Notes that a commit is about to refer to body `id` for the first
    /// time: its directory entry must be fsynced before that commit is
    /// reported durable. Call before the commit gets its sequence number.
    pub(crate) fn mark_dirty(&self, id: BodyId) {
        self.dirty
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.0[0]);
    }

    /// Fsyncs the fan-out directories marked so far. The flusher calls it
    /// before flushing sled. The fsyncs run concurrently: file systems with
    /// a journal (ext4, XFS) then complete them with one journal commit,
    /// where one after another each would wait for a commit of its own
    /// while writers keep adding entries.
    pub(crate) fn sync_dirty(&self) -> io::Result<()> {
        let dirty: Vec<u8> =
            std::mem::take(&mut *self.dirty.lock().unwrap_or_else(PoisonError::into_inner))
                .into_iter()
                .collect();
        let sync_all = |fans: &[u8]| fans.iter().try_for_each(|&f| sync_dir(&self.fan_dir(f)));
        let result = if dirty.len() <= 1 {
            sync_all(&dirty)
        } else {
            let per_thread = dirty.len().div_ceil(SYNC_THREADS);
            std::thread::scope(|scope| {
                let threads: Vec<_> = dirty
                    .chunks(per_thread)
                    .map(|fans| scope.spawn(move || sync_all(fans)))
                    .collect();
                threads.into_iter().try_for_each(|t| {
                    t.join()
                        .unwrap_or_else(|_| Err(io::Error::other("directory fsync panicked")))
                })
            })
        };
        if result.is_err() {
            // Keep them for the next attempt.
            self.dirty
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(dirty);
        }
        result
    }

    /// Records that the commit with sequence number `seq` removes the
    /// records of `ids`. Call before the batch is applied.
    pub(crate) fn doom(&self, ids: &[BodyId], seq: u64) {
        let mut guards = self.guards();
        for &id in ids {
            guards.doomed.insert(id, seq);
        }
    }

    /// Forgets a [`Self::doom`] whose batch was never applied.
    pub(crate) fn undoom(&self, ids: &[BodyId], seq: u64) {
        let mut guards = self.guards();
        for id in ids {
            if guards.doomed.get(id) == Some(&seq) {
                guards.doomed.remove(id);
            }
        }
    }

    /// Unlinks the files of `ids`, whose records the commit `seq` removed,
    /// now that it is durable. A body staged or given a record again since
    /// keeps its file; one removed again by a later commit is left to that
    /// commit's writer.
    pub(crate) fn unlink_doomed(
        &self,
        ids: &[BodyId],
        seq: u64,
        has_record: &dyn Fn(BodyId) -> bool,
    ) -> io::Result<()> {
        let mut guards = self.guards();
        let mut result = Ok(());
        for &id in ids {
            if guards.doomed.get(&id).is_none_or(|&s| s > seq) {
                continue;
            }
            guards.doomed.remove(&id);
            if guards.staged.contains_key(&id) || has_record(id) {
                continue;
            }
            // On failure, carry on: the file is an orphan for the sweep.
            if let Err(e) = remove_if_present(&self.path(id)) {
                result = Err(e);
            }
        }
        result
    }

    /// Lists every file in the body folder.
    pub(crate) fn list(&self) -> io::Result<Listing> {
        let mut listing = Listing::default();
        for fan in 0..=u8::MAX {
            for entry in fs::read_dir(self.fan_dir(fan))? {
                let entry = entry?;
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if let Some(id) = parse_name(fan, &name) {
                    listing.bodies.push((id, entry.metadata()?.len()));
                } else if let Some(id) = self.temp_owner(fan, &name) {
                    if !self.guards().staged.contains_key(&id) {
                        listing.stale_temps += 1;
                    }
                } else {
                    listing.strangers.push(entry.path());
                }
            }
        }
        Ok(listing)
    }

    /// The body a temporary file was being written for.
    fn temp_owner(&self, fan: u8, name: &str) -> Option<BodyId> {
        let (body, n) = name.split_once(".tmp")?;
        n.parse::<u64>().ok()?;
        parse_name(fan, body)
    }

    /// Removes the body files no record refers to and the temporary files
    /// no writer is using; returns how many files it removed. Stops early
    /// when `stop` is set.
    pub(crate) fn sweep(
        &self,
        has_record: &dyn Fn(BodyId) -> Result<bool, crate::Error>,
        stop: &AtomicBool,
    ) -> Result<u64, crate::Error> {
        let mut removed = 0;
        for fan in 0..=u8::MAX {
            let dir = self.fan_dir(fan);
            let names: Vec<String> = fs::read_dir(&dir)
                .map_err(|e| crate::Error::Io(format!("cannot list {}: {e}", dir.display())))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            for name in names {
                if stop.load(Ordering::Relaxed) {
                    return Ok(removed);
                }
                let path = dir.join(&name);
                let (id, temp) = match parse_name(fan, &name) {
                    Some(id) => (id, false),
                    None => match self.temp_owner(fan, &name) {
                        Some(id) => (id, true),
                        None => continue,
                    },
                };
                let guards = self.guards();
                if guards.staged.contains_key(&id) || guards.doomed.contains_key(&id) {
                    continue;
                }
                if temp || !has_record(id)? {
                    remove_if_present(&path).map_err(|e| {
                        crate::Error::Io(format!("cannot remove {}: {e}", path.display()))
                    })?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let mut hash = [0u8; 32];
        for (i, b) in hash.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37);
        }
        let dir = tempfile::tempdir().unwrap();
        let files = BodyFiles::open(dir.path()).unwrap();
        let path = files.path(BodyId(hash));
        let name = path.file_name().unwrap().to_str().unwrap();
        let fan = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        assert_eq!(fan, "00");
        assert_eq!(name.len(), 62);
        assert_eq!(parse_name(0, name), Some(BodyId(hash)));
        assert_eq!(parse_name(0, &name[1..]), None);
        assert_eq!(parse_name(0, &name.to_uppercase()), None);
        assert_eq!(
            files.temp_owner(0, &format!("{name}.tmp12")),
            Some(BodyId(hash))
        );
        assert_eq!(files.temp_owner(0, &format!("{name}.tmpx")), None);
    }
}
