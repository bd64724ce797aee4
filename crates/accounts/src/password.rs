//! Password hashing (argon2id), one-time passwords and the password rules.

use std::collections::HashSet;
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHash};
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

/// At most this many argon2 computations run at once (each takes 19 MiB),
/// so a burst of logins queues instead of growing memory without bound.
fn hashing_slot() -> SlotGuard {
    static SLOTS: OnceLock<(std::sync::Mutex<usize>, std::sync::Condvar)> = OnceLock::new();
    let (lock, freed) = SLOTS.get_or_init(Default::default);
    let limit = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let mut busy = lock
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    while *busy >= limit {
        busy = freed
            .wait(busy)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
    }
    *busy += 1;
    SlotGuard(lock, freed)
}

struct SlotGuard(
    &'static std::sync::Mutex<usize>,
    &'static std::sync::Condvar,
);

impl Drop for SlotGuard {
    fn drop(&mut self) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) -= 1;
        self.1.notify_one();
    }
}

/// Hashes a password with argon2id and a random salt (PHC string form).
pub fn hash(password: &str) -> String {
    let _slot = hashing_slot();
    let mut salt = [0u8; 16];
    OsRng.fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id with default parameters accepts any password")
        .to_string()
}

/// True when `password` matches the PHC string `stored`. A malformed
/// stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        let _slot = hashing_slot();
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
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
