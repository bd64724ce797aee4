//! Password hashing (argon2id), one-time passwords and the password rules.

use std::collections::HashSet;
use std::sync::OnceLock;

use std::sync::{Condvar, Mutex, PoisonError};

use argon2::password_hash::{Output, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, Version};
use rand::Rng;
use rand::rngs::OsRng;

/// The shortest password accepted.
pub const MIN_LENGTH: usize = 12;

const COMMON: &str = include_str!("../data/common-passwords.txt");

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// At most this many argon2 computations run at once (one per core), and
/// each slot owns its 19 MiB of argon2 memory for the life of the process:
/// a burst of logins queues instead of growing memory, and no thread's
/// allocator arena keeps a freed 19 MiB block (which is how 50 concurrent
/// logins once left Ward 700 MiB larger for good).
fn with_memory<T>(blocks_needed: usize, work: impl FnOnce(&mut [Block]) -> T) -> T {
    struct Pool {
        free: Vec<Vec<Block>>,
        made: usize,
    }
    static POOL: OnceLock<(Mutex<Pool>, Condvar)> = OnceLock::new();
    let (lock, freed) = POOL.get_or_init(|| {
        (
            Mutex::new(Pool {
                free: Vec::new(),
                made: 0,
            }),
            Condvar::new(),
        )
    });
    let limit = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let mut memory = {
        let mut pool = lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(memory) = pool.free.pop() {
                break memory;
            }
            if pool.made < limit {
                pool.made += 1;
                break Vec::new();
            }
            pool = freed.wait(pool).unwrap_or_else(PoisonError::into_inner);
        }
    };
    if memory.len() < blocks_needed {
        memory.resize(blocks_needed, Block::default());
    }
    let result = work(&mut memory[..blocks_needed]);
    // A stored hash with unusual (larger) parameters does not make the
    // slot keep more than the default needs.
    memory.truncate(Params::default().block_count());
    lock.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .free
        .push(memory);
    freed.notify_one();
    result
}

/// The raw argon2 output for `password`, salt bytes and parameters,
/// computed in a slot's memory.
fn compute(
    argon2: &Argon2<'_>,
    params: &Params,
    password: &str,
    salt: &[u8],
    output: &mut [u8],
) -> argon2::Result<()> {
    with_memory(params.block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password.as_bytes(), salt, output, blocks)
    })
}

/// Hashes a password with argon2id and a random salt (PHC string form).
pub fn hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    OsRng.fill(&mut salt);
    let params = Params::default();
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .expect("a salt just encoded decodes");
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    compute(&argon2, &params, password, salt_bytes, &mut output)
        .expect("argon2id with default parameters accepts any password");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params).try_into().expect("default parameters encode"),
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&output).expect("32 bytes are a valid output")),
    }
    .to_string()
}

/// True when `password` matches the PHC string `stored`. A malformed
/// stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from)
        .unwrap_or(Version::V0x13);
    let mut salt_bytes = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon2 = Argon2::new(algorithm, version, params.clone());
    let mut output = vec![0u8; expected.len()];
    compute(&argon2, &params, password, salt_bytes, &mut output).is_ok()
        // `Output`'s comparison takes constant time.
        && Output::new(&output).is_ok_and(|computed| computed == expected)
}

/// Spends the time of one verification, so that an unknown address takes
/// as long to refuse as a wrong password.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("dummy password for timing"));
    let _ = verify(password, stored);
}

/// A strong one-time password: four groups of four characters from an
/// alphabet without look-alikes (about 79 bits), e.g. `k7pm-x2qr-9tcz-hb4w`.
pub fn one_time() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut out = String::with_capacity(19);
    for i in 0..16 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[OsRng.gen_range(0..ALPHABET.len())]));
    }
    out
}

/// Checks a new password against the rules: at least [`MIN_LENGTH`]
/// characters, not the address or the user's name, not a common password.
/// `personal` holds the address, its local part and the names.
///
/// # Errors
///
/// The rule broken, as a sentence.
pub fn check_rules(password: &str, personal: &[&str]) -> Result<(), String> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(format!(
            "it has {length} characters; at least {MIN_LENGTH} are needed"
        ));
    }
    let lower = password.to_lowercase();
    for item in personal {
        let item = item.trim().to_lowercase();
        if item.chars().count() >= 3 && lower.contains(&item) {
            return Err("it must not contain your address or your name".to_owned());
        }
    }
    let stem = lower.trim_end_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    let stem = stem.trim_start_matches(|c: char| c.is_ascii_digit() || c.is_ascii_punctuation());
    if common().contains(lower.as_str()) || common().contains(stem) || stem.is_empty() {
        return Err("it is too common; choose a longer phrase of unrelated words".to_owned());
    }
    let distinct: HashSet<char> = lower.chars().collect();
    if distinct.len() < 5 {
        return Err("it repeats too few different characters".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash("correct horse battery");
        let b = hash("correct horse battery");
        assert_ne!(a, b, "salted");
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &a));
        assert!(!verify("correct horse batterY", &a));
        assert!(!verify("anything", "not a hash"));
    }

    #[test]
    fn hashes_agree_with_the_argon2_crates_own_hasher() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        // Stored by earlier builds, which used the crate's hasher.
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let theirs = Argon2::default()
            .hash_password(b"copper lantern orchard", &salt)
            .unwrap()
            .to_string();
        assert!(verify("copper lantern orchard", &theirs));
        assert!(!verify("copper lantern orchards", &theirs));
        let ours = hash("copper lantern orchard");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"copper lantern orchard", &parsed)
                .is_ok()
        );
    }

    #[test]
    fn one_time_passwords_are_long_and_random() {
        let a = one_time();
        assert_eq!(a.len(), 19);
        assert_ne!(a, one_time());
        assert!(check_rules(&a, &[]).is_ok());
    }

    #[test]
    fn rules() {
        let me = [
            "eric.brown@greenstone.cjsm.net",
            "eric.brown",
            "Eric",
            "Brown",
        ];
        assert!(
            check_rules("short", &me)
                .unwrap_err()
                .contains("at least 12")
        );
        assert!(
            check_rules("EricIsTheBest!2026", &me)
                .unwrap_err()
                .contains("name")
        );
        assert!(
            check_rules("Password1234", &me)
                .unwrap_err()
                .contains("common")
        );
        assert!(
            check_rules("qwertyuiop123", &me)
                .unwrap_err()
                .contains("common")
        );
        assert!(
            check_rules("123456789012", &me)
                .unwrap_err()
                .contains("common")
        );
        assert!(
            check_rules("abababababab", &me)
                .unwrap_err()
                .contains("different")
        );
        assert!(check_rules("violet tractor umbrella", &me).is_ok());
    }
}
