//! Signed checkpoints of the audit log's head, kept outside the store.
//!
//! The hash chain shows that no record was altered or removed *within* the
//! store; it cannot show that the whole store was not replaced by a freshly
//! built chain. So the daemon periodically (`[audit] checkpoint_interval`,
//! when the head has moved) and at every shutdown signs the head (its
//! sequence number and hash) with an Ed25519 key kept in the data folder,
//! appends the checkpoint as one JSON line to `[audit] checkpoint_file`, and
//! writes it to the log. `ward audit verify --checkpoint FILE` checks each
//! signature, then asks the store whether its chain still holds each
//! point: a store rewritten after a checkpoint no longer does.
//!
//! The signed bytes are `ward-audit-checkpoint-v1`, the host name, the
//! sequence number, the hash in hexadecimal and the time in milliseconds,
//! each ended by a line feed. Each checkpoint carries its public key; the
//! verifier also compares it with the key in the data folder, so that a
//! replaced key is noticed as well.
//!
//! The key is `data_dir/audit-key/ed25519.pk8` (PKCS#8) with its public
//! half beside it in `ed25519.pub` (hexadecimal); both, and the checkpoint
//! file, are mode 0600 like everything in the data folder. `ring`, already
//! trusted for TLS, provides Ed25519.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use store::AuditHead;

/// The format tag, also the first signed line.
pub const FORMAT: &str = "ward-audit-checkpoint-v1";

/// Why a checkpoint key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read, written or made private.
    #[error("audit checkpoint key {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The key file does not hold an Ed25519 key.
    #[error("audit checkpoint key {path} is not an Ed25519 PKCS#8 key")]
    Invalid {
        /// The file.
        path: PathBuf,
    },
}

/// The key that signs checkpoints.
#[derive(Debug)]
pub struct Signer {
    key: Ed25519KeyPair,
}

impl Signer {
    /// Loads the key from `dir`, or makes one there (folder 0700, private
    /// key 0600) on first start.
    ///
    /// # Errors
    ///
    /// [`KeyError`] when the folder or files cannot be made or read.
    pub fn load_or_create(dir: &Path) -> Result<Self, KeyError> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let io_error = |path: &Path| {
            let path = path.to_owned();
            move |source| KeyError::Io { path, source }
        };
        let private = dir.join("ed25519.pk8");
        let public = dir.join("ed25519.pub");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_error(dir))?;
        let pkcs8 = match std::fs::read(&private) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let rng = ring::rand::SystemRandom::new();
                let generated = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Io {
                    path: private.clone(),
                    source: io::Error::other("no randomness for a new key"),
                })?;
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&private)
                    .map_err(io_error(&private))?;
                file.write_all(generated.as_ref())
                    .and_then(|()| file.sync_all())
                    .map_err(io_error(&private))?;
                generated.as_ref().to_vec()
            }
            Err(e) => return Err(io_error(&private)(e)),
        };
        let key = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|_| KeyError::Invalid {
            path: private.clone(),
        })?;
        let signer = Self { key };
        let hex = signer.public_key();
        let current = std::fs::read_to_string(&public).map(|t| t.trim().to_owned());
        if current.ok() != Some(hex.clone()) {
            // Not secret, but everything in the data folder is private.
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&public)
                .and_then(|mut f| f.write_all(format!("{hex}\n").as_bytes()))
                .map_err(io_error(&public))?;
        }
        Ok(signer)
    }

    /// The public key, hexadecimal.
    pub fn public_key(&self) -> String {
        hex(self.key.public_key().as_ref())
    }

    /// A checkpoint of `head`, signed, taken at `at_millis`.
    pub fn sign(&self, host: &str, head: AuditHead, at_millis: i64) -> Checkpoint {
        let mut checkpoint = Checkpoint {
            format: FORMAT.to_owned(),
            host: host.to_owned(),
            seq: head.seq,
            hash: hex(&head.hash),
            at: accounts::clock::format_utc(at_millis.div_euclid(1000)),
            at_millis,
            public_key: self.public_key(),
            signature: String::new(),
        };
        checkpoint.signature = hex(self.key.sign(&checkpoint.signed_bytes()).as_ref());
        checkpoint
    }
}

/// The public key kept beside the signing key in `dir`, if readable.
///
/// # Errors
///
/// The file cannot be read.
pub fn stored_public_key(dir: &Path) -> io::Result<String> {
    Ok(std::fs::read_to_string(dir.join("ed25519.pub"))?
        .trim()
        .to_owned())
}

/// One checkpoint: one line of the checkpoint file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// [`FORMAT`].
    pub format: String,
    /// The Ward that wrote it.
    pub host: String,
    /// The head's sequence number (0: the empty log).
    pub seq: u64,
    /// The head record's hash, hexadecimal.
    pub hash: String,
    /// When, UTC, for people.
    pub at: String,
    /// When, in milliseconds since the Unix epoch (signed).
    pub at_millis: i64,
    /// The Ed25519 public key that signed it, hexadecimal.
    pub public_key: String,
    /// The signature over the signed bytes, hexadecimal.
    pub signature: String,
}

impl Checkpoint {
    /// What is signed.
    fn signed_bytes(&self) -> Vec<u8> {
        format!(
            "{FORMAT}\n{}\n{}\n{}\n{}\n",
            self.host, self.seq, self.hash, self.at_millis
        )
        .into_bytes()
    }

    /// Checks the signature against the checkpoint's own public key.
    ///
    /// # Errors
    ///
    /// Why it does not verify, in a sentence.
    pub fn verify_signature(&self) -> Result<(), String> {
        if self.format != FORMAT {
            return Err(format!("unknown format {:?}", self.format));
        }
        let key = unhex(&self.public_key).ok_or("the public key is not hexadecimal")?;
        let signature = unhex(&self.signature).ok_or("the signature is not hexadecimal")?;
        UnparsedPublicKey::new(&ED25519, key)
            .verify(&self.signed_bytes(), &signature)
            .map_err(|_| "the signature does not match its contents".to_owned())
    }

    /// The JSON line written to the file (without its line feed).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a checkpoint serialises")
    }
}

/// Appends `checkpoint` to `file` (creating it and its folder), flushed to
/// disk before returning.
///
/// # Errors
///
/// The file cannot be written.
pub fn append(file: &Path, checkpoint: &Checkpoint) -> io::Result<()> {
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    use std::os::unix::fs::OpenOptionsExt;
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)?;
    out.write_all(format!("{}\n", checkpoint.to_line()).as_bytes())?;
    out.sync_all()
}

/// Every checkpoint in `file`, or why a line is not one (with its line
/// number).
///
/// # Errors
///
/// The file cannot be read.
pub fn read(file: &Path) -> io::Result<Vec<(usize, Result<Checkpoint, String>)>> {
    let text = std::fs::read_to_string(file)?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            (
                i + 1,
                serde_json::from_str(l).map_err(|e| format!("not a checkpoint: {e}")),
            )
        })
        .collect())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_verifies_and_any_change_breaks_it() {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::load_or_create(&dir.path().join("key")).unwrap();
        let again = Signer::load_or_create(&dir.path().join("key")).unwrap();
        assert_eq!(signer.public_key(), again.public_key(), "the key is kept");
        assert_eq!(
            stored_public_key(&dir.path().join("key")).unwrap(),
            signer.public_key()
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("key/ed25519.pk8"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);

        let head = AuditHead {
            seq: 42,
            hash: [9; 32],
        };
        let checkpoint = signer.sign("mx.ward.test", head, 1_700_000_000_000);
        assert_eq!(checkpoint.verify_signature(), Ok(()));
        let file = dir.path().join("out/checkpoints.jsonl");
        append(&file, &checkpoint).unwrap();
        append(&file, &checkpoint).unwrap();
        let read = read(&file).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[1].1.as_ref().unwrap(), &checkpoint);

        let mut moved = checkpoint.clone();
        moved.seq = 41;
        assert!(moved.verify_signature().is_err());
        let mut rehashed = checkpoint.clone();
        rehashed.hash = hex(&[8; 32]);
        assert!(rehashed.verify_signature().is_err());
        let other = Signer::load_or_create(&dir.path().join("other")).unwrap();
        let mut resigned = other.sign("mx.ward.test", head, 1_700_000_000_000);
        resigned.public_key = checkpoint.public_key.clone();
        assert!(resigned.verify_signature().is_err());
    }
}
