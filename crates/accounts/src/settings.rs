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
    /// Public mail providers (`gmail.com`, `hotmail.*`, ...), lower case:
    /// an application from one of their domains is an individual's (seed
    /// 001's safeguarders), who joins under a parent organisation, and no
    /// organisation may claim the domain. An entry `name.*` covers `name.`
    /// followed by anything (`hotmail.com`, `hotmail.co.uk`); any other
    /// entry covers that domain and its subdomains.
    pub public_mail_providers: Vec<String>,
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
    /// A new password may not be any of the user's last this many
    /// passwords (the current one included); 0 checks only the current.
    pub password_history: usize,
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
            public_mail_providers: DEFAULT_PUBLIC_MAIL_PROVIDERS
                .iter()
                .map(|d| (*d).to_owned())
                .collect(),
            terms_version: "1.0".to_owned(),
            password_max_age: Duration::from_secs(90 * 86_400),
            inactivity_lock: Duration::from_secs(30 * 86_400),
            max_failed_logins: 5,
            failed_login_lock: Duration::from_secs(30 * 60),
            password_history: 5,
            deleted_retention: Duration::from_secs(90 * 86_400),
            hostname: "localhost".to_owned(),
        }
    }
}

impl Settings {
    /// True when `domain` belongs to a public mail provider.
    pub fn is_public_mail_provider(&self, domain: &str) -> bool {
        self.public_mail_providers
            .iter()
            .any(|p| provider_covers(p, domain))
    }
}

/// The public mail providers known by default: the large webmail services
/// and the UK consumer internet providers individuals apply from.
pub(crate) const DEFAULT_PUBLIC_MAIL_PROVIDERS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.*",
    "hotmail.*",
    "live.*",
    "msn.com",
    "yahoo.*",
    "ymail.com",
    "rocketmail.com",
    "aol.*",
    "aim.com",
    "icloud.com",
    "me.com",
    "mac.com",
    "btinternet.com",
    "btopenworld.com",
    "talk21.com",
    "sky.com",
    "virginmedia.com",
    "ntlworld.com",
    "blueyonder.co.uk",
    "talktalk.net",
    "tiscali.co.uk",
    "plus.com",
    "protonmail.com",
    "proton.me",
    "pm.me",
    "gmx.*",
    "mail.com",
    "zoho.com",
    "yandex.*",
    "fastmail.com",
    "tutanota.com",
];

/// Whether a provider entry covers `domain`: `name.*` covers every domain
/// whose first label is `name`; any other entry covers itself and its
/// subdomains. Case-insensitive.
fn provider_covers(entry: &str, domain: &str) -> bool {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let entry = entry.trim().to_ascii_lowercase();
    match entry.strip_suffix(".*") {
        Some(label) => domain
            .strip_prefix(label)
            .is_some_and(|rest| rest.len() > 1 && rest.starts_with('.')),
        None => {
            domain == entry
                || domain
                    .strip_suffix(entry.as_str())
                    .is_some_and(|head| head.ends_with('.'))
        }
    }
}

pub(crate) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_mail_providers_cover_their_domains_only() {
        for (entry, domain, covered) in [
            ("gmail.com", "gmail.com", true),
            ("gmail.com", "GMail.Com", true),
            ("gmail.com", "mail.gmail.com", true),
            ("gmail.com", "notgmail.com", false),
            ("gmail.com", "gmail.com.evil.example", false),
            ("hotmail.*", "hotmail.com", true),
            ("hotmail.*", "hotmail.co.uk", true),
            ("hotmail.*", "hotmail", false),
            ("hotmail.*", "hotmail.", false),
            ("hotmail.*", "hotmailer.com", false),
            ("hotmail.*", "mail.hotmail.com", false),
            ("yahoo.*", "yahoo.fr", true),
        ] {
            assert_eq!(
                provider_covers(entry, domain),
                covered,
                "{entry} covering {domain}"
            );
        }
    }

    #[test]
    fn the_default_list_has_seed_001s_providers_and_no_organisations() {
        let s = Settings::default();
        for d in [
            "gmail.com",
            "outlook.com",
            "hotmail.co.uk",
            "yahoo.co.uk",
            "btinternet.com",
            "aol.com",
            "icloud.com",
        ] {
            assert!(s.is_public_mail_provider(d), "{d}");
        }
        for d in [
            "greenstonechambers.co.uk",
            "justice.gov.uk",
            "cps.gov.uk",
            "nhs.net",
        ] {
            assert!(!s.is_public_mail_provider(d), "{d}");
        }
    }
}
