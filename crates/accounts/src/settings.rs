//! The account rules an operator can set (the `[accounts]` configuration
//! section) and the community facts the operations need.

use std::time::Duration;

/// Account rules and community facts.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The community suffix, e.g. `cjsm.net`.
    pub suffix: String,
    /// The external secure government domains (seed 001 step 7's list by
    /// default), lower case: mail may flow to them, and a sponsor's address
    /// must be on one.
    pub secure_domains: Vec<String>,
    /// The version of the terms and conditions applicants must accept.
    pub terms_version: String,
    /// A password older than this must be changed before login succeeds.
    pub password_max_age: Duration,
    /// An account unused for this long is locked.
    pub inactivity_lock: Duration,
    /// Consecutive failed logins that lock an account.
    pub max_failed_logins: u32,
    /// How long a lock after failed logins lasts before the next attempt may
    /// succeed (an administrator can unlock sooner).
    pub failed_login_lock: Duration,
    /// How long a deleted account's mailboxes are kept, and its address held
    /// back from reuse.
    pub deleted_retention: Duration,
    /// Ward's host name, named in invitations.
    pub hostname: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            suffix: policy::DEFAULT_SUFFIX.to_owned(),
            secure_domains: policy::DEFAULT_EXTERNAL_SECURE_DOMAINS
                .iter()
                .map(|d| (*d).to_owned())
                .collect(),
            terms_version: "1.0".to_owned(),
            password_max_age: Duration::from_secs(90 * 86_400),
            inactivity_lock: Duration::from_secs(30 * 86_400),
            max_failed_logins: 5,
            failed_login_lock: Duration::from_secs(30 * 60),
            deleted_retention: Duration::from_secs(90 * 86_400),
            hostname: "localhost".to_owned(),
        }
    }
}

pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
