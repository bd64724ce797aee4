//! Files readable by nobody else. The data folder holds message bodies,
//! password hashes and private keys, so everything Ward creates is its
//! user's alone whatever umask it was started with (`restrict_umask`, and
//! explicit modes where Ward creates files itself), and `ward serve`
//! refuses a data folder in which anything is open to group or others
//! ([`check`]), naming the command that fixes it.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Makes every file and folder this process creates private (umask 077):
/// sled's own files, the admin socket, anything a library writes.
pub fn restrict_umask() {
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
}

/// How many offending paths a refusal lists.
const SHOWN: usize = 5;

/// A data folder in which something is open to other users.
#[derive(Debug)]
pub struct Exposed {
    /// The data folder.
    pub folder: PathBuf,
    /// The first offending paths with their permission bits.
    pub examples: Vec<(PathBuf, u32)>,
    /// How many paths are open to group or others in all.
    pub count: usize,
}

impl fmt::Display for Exposed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the data folder {} is open to other users: {} path(s) in it can be read or written by its group or by others, for example:",
            self.folder.display(),
            self.count
        )?;
        for (path, mode) in &self.examples {
            writeln!(f, "  {:04o}  {}", mode & 0o7777, path.display())?;
        }
        write!(
            f,
            "It holds messages and password hashes. Make it private, then start Ward again:\n  chmod -R go-rwx {}",
            self.folder.display()
        )
    }
}

/// Checks that nothing in `folder` (the folder included) is readable,
/// writable or searchable by group or others. A folder that does not exist
/// yet passes: Ward creates it private.
///
/// Message body files are not looked at one by one (there is one per
/// stored message): their fan-out folders under `store/bodies/` are, and a
/// file in a folder that only its owner may enter is out of anyone else's
/// reach whatever its own mode.
///
/// # Errors
///
/// An I/O error reading the folder.
pub fn check(folder: &Path) -> io::Result<Result<(), Exposed>> {
    let mut exposed = Exposed {
        folder: folder.to_owned(),
        examples: Vec::new(),
        count: 0,
    };
    let meta = match fs::symlink_metadata(folder) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Ok(())),
        Err(e) => return Err(e),
    };
    let bodies = folder.join("store").join("bodies");
    let mut note = |path: &Path, mode: u32| {
        if mode & 0o077 != 0 {
            exposed.count += 1;
            if exposed.examples.len() < SHOWN {
                exposed.examples.push((path.to_owned(), mode));
            }
        }
    };
    note(folder, meta.permissions().mode());
    let mut pending = vec![folder.to_owned()];
    while let Some(dir) = pending.pop() {
        let inside_bodies = dir.parent() == Some(bodies.as_path());
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_symlink() || (inside_bodies && !kind.is_dir()) {
                continue;
            }
            let path = entry.path();
            note(&path, entry.metadata()?.permissions().mode());
            if kind.is_dir() {
                pending.push(path);
            }
        }
    }
    Ok(if exposed.count == 0 {
        Ok(())
    } else {
        Err(exposed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_private_folder_passes_and_an_open_file_is_named_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        assert!(check(&data).unwrap().is_ok(), "not there yet");
        fs::create_dir_all(data.join("store/bodies/ab")).unwrap();
        for d in ["", "store", "store/bodies", "store/bodies/ab"] {
            chmod(&data.join(d), 0o700);
        }
        fs::write(data.join("store/db"), b"x").unwrap();
        chmod(&data.join("store/db"), 0o600);
        // A body file is covered by its private folder.
        fs::write(data.join("store/bodies/ab/cd"), b"x").unwrap();
        chmod(&data.join("store/bodies/ab/cd"), 0o644);
        assert!(check(&data).unwrap().is_ok());

        chmod(&data.join("store/db"), 0o644);
        chmod(&data.join("store/bodies/ab"), 0o755);
        let exposed = check(&data).unwrap().unwrap_err();
        assert_eq!(exposed.count, 2);
        let text = exposed.to_string();
        assert!(text.contains("0644"), "{text}");
        assert!(text.contains("store/db"), "{text}");
        assert!(
            text.contains(&format!("chmod -R go-rwx {}", data.display())),
            "{text}"
        );
    }
}
