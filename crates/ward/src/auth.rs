//! The password check the protocol servers use: `accounts::Service::login`
//! (with every account rule), its answer turned into each protocol's terms.
//!
//! Every sign-in checked is audited by the accounts service, with the
//! protocol and the client's address as its source (`imap 192.0.2.1`).
//! Guessing cannot turn into unbounded writes: after [`IP_FAILURE_LIMIT`]
//! failures from one address within [`IP_WINDOW`], its attempts are turned
//! away unchecked, and so unrecorded, until the window passes; the moment
//! an address is cut off is recorded once (`login.throttled`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accounts::{AccountRefusal, AdminError, Service, SessionRevoked};
use policy::{Address, AuthenticatedUser, ParseOptions, PolicyError};
use smtp_in::AuthOutcome;

/// Failed logins from one IP address within [`IP_WINDOW`] after which
/// further attempts from it are turned away unchecked until the window
/// passes (the per-account limit is the accounts' lockout).
pub const IP_FAILURE_LIMIT: u32 = 10;
/// The window of [`IP_FAILURE_LIMIT`].
pub const IP_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Failed logins per client IP address, shared by every listener.
#[derive(Debug, Default)]
pub struct IpThrottle(Mutex<HashMap<IpAddr, (u32, Instant)>>);

impl IpThrottle {
    /// True when `ip` has failed too often lately.
    pub fn blocked(&self, ip: IpAddr) -> bool {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(&ip) {
            Some((_, since)) if since.elapsed() >= IP_WINDOW => {
                map.remove(&ip);
                false
            }
            Some((n, _)) => *n >= IP_FAILURE_LIMIT,
            None => false,
        }
    }

    /// Counts a failure from `ip`; returns the failures within the window.
    pub fn failed(&self, ip: IpAddr) -> u32 {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Bound the table: forget the oldest half when it grows large.
        if map.len() > 100_000 {
            let mut ages: Vec<Instant> = map.values().map(|(_, t)| *t).collect();
            ages.sort();
            let cut = ages[ages.len() / 2];
            map.retain(|_, (_, t)| *t > cut);
        }
        let entry = map.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= IP_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
        entry.0
    }
}

/// Checks SMTP AUTH credentials against the accounts.
#[derive(Debug, Clone)]
pub struct AccountsAuthenticator {
    /// The account operations.
    pub service: Service,
    /// Failures per client address.
    pub throttle: Arc<IpThrottle>,
}

impl smtp_in::Authenticator for AccountsAuthenticator {
    fn authenticate(&self, username: &str, password: &str, peer: Option<IpAddr>) -> AuthOutcome {
        if let Some(ip) = peer
            && self.throttle.blocked(ip)
        {
            return AuthOutcome::Unavailable {
                detail: format!("{ip} failed to authenticate {IP_FAILURE_LIMIT} times recently"),
            };
        }
        let outcome = self.check(username, password, peer);
        if let (Some(ip), AuthOutcome::BadCredentials) = (peer, &outcome) {
            self.count_failure(ip, "smtp");
        }
        outcome
    }

    fn still_valid(&self, user: &Address, since: i64) -> Result<(), PolicyError> {
        let user = user.clone();
        match self.service.session_still_valid(&user.to_string(), since) {
            Ok(()) => Ok(()),
            Err(SessionRevoked::PasswordChanged) => Err(PolicyError::AuthenticationFailed),
            Err(SessionRevoked::Account(refusal)) => Err(smtp_refusal(refusal, user)),
        }
    }
}

impl AccountsAuthenticator {
    /// Counts a failed sign-in from `ip`; when that cuts the address off,
    /// says so in the audit log (once per window).
    fn count_failure(&self, ip: IpAddr, protocol: &str) {
        if self.throttle.failed(ip) != IP_FAILURE_LIMIT {
            return;
        }
        let event = store::AuditEvent {
            actor: "system".to_owned(),
            action: "login.throttled".to_owned(),
            source: format!("{protocol} {ip}"),
            detail: format!(
                "ip={ip} failures={IP_FAILURE_LIMIT} minutes={}",
                IP_WINDOW.as_secs() / 60
            ),
        };
        if let Err(e) = self.service.store().audit(&event) {
            tracing::warn!(error = %e, "cannot write the throttling to the audit log");
        }
    }

    fn check(&self, username: &str, password: &str, peer: Option<IpAddr>) -> AuthOutcome {
        let source = peer.map_or_else(|| "smtp".to_owned(), |p| format!("smtp {p}"));
        let user = || {
            Address::parse(username.trim().as_bytes(), ParseOptions::smtputf8()).map_err(|e| {
                AuthOutcome::Unavailable {
                    detail: format!("stored address does not parse: {e}"),
                }
            })
        };
        match self.service.login(username, password, &source) {
            Ok(login) => match Address::parse(login.address.as_bytes(), ParseOptions::smtputf8()) {
                Ok(address) => AuthOutcome::Accepted(AuthenticatedUser::new(address)),
                Err(e) => AuthOutcome::Unavailable {
                    detail: format!("stored address {} does not parse: {e}", login.address),
                },
            },
            Err(AdminError::BadCredentials) => AuthOutcome::BadCredentials,
            Err(AdminError::AccountRefused(refusal)) => match user() {
                Ok(user) => AuthOutcome::AccountRefused(smtp_refusal(refusal, user)),
                Err(outcome) => outcome,
            },
            Err(e) => AuthOutcome::Unavailable {
                detail: e.to_string(),
            },
        }
    }
}

/// An account refusal in SMTP's terms (`policy::check_account`'s replies).
fn smtp_refusal(refusal: AccountRefusal, user: Address) -> PolicyError {
    match refusal {
        AccountRefusal::Locked => PolicyError::AccountLocked { user },
        AccountRefusal::MustChangePassword | AccountRefusal::PasswordExpired => {
            PolicyError::PasswordChangeRequired { user }
        }
        AccountRefusal::Suspended | AccountRefusal::OrganisationSuspended => {
            PolicyError::AccountSuspended { user }
        }
        AccountRefusal::Deleted => PolicyError::AccountDeleted { user },
    }
}

/// An account refusal in IMAP's terms.
fn imap_refusal(refusal: AccountRefusal) -> imap::AuthOutcome {
    use imap::AuthOutcome as A;
    match refusal {
        AccountRefusal::Locked => A::Locked,
        AccountRefusal::MustChangePassword | AccountRefusal::PasswordExpired => {
            A::MustChangePassword {
                hint: CHANGE_PASSWORD_HINT.to_owned(),
            }
        }
        AccountRefusal::Suspended | AccountRefusal::OrganisationSuspended => A::Suspended,
        AccountRefusal::Deleted => A::Deleted,
    }
}

/// Where a user whose one-time or expired password must be changed is sent.
pub const CHANGE_PASSWORD_HINT: &str = "Change it first: your organisation administrator \
     or the service desk runs `ward passwd` with you on the Ward server.";

impl imap::Authenticator for AccountsAuthenticator {
    fn authenticate(
        &self,
        username: &str,
        password: &str,
        peer: Option<IpAddr>,
    ) -> imap::AuthOutcome {
        use imap::AuthOutcome as A;
        if let Some(ip) = peer
            && self.throttle.blocked(ip)
        {
            return A::Throttled;
        }
        let source = peer.map_or_else(|| "imap".to_owned(), |p| format!("imap {p}"));
        let outcome = match self.service.login(username, password, &source) {
            Ok(login) => A::Accepted {
                user: login.id,
                address: login.address,
            },
            Err(AdminError::BadCredentials) => A::BadCredentials,
            Err(AdminError::AccountRefused(refusal)) => imap_refusal(refusal),
            Err(e) => A::Unavailable {
                detail: e.to_string(),
            },
        };
        if let (Some(ip), A::BadCredentials) = (peer, &outcome) {
            self.count_failure(ip, "imap");
        }
        outcome
    }

    fn still_valid(&self, address: &str, since: i64) -> Result<(), imap::AuthOutcome> {
        use imap::AuthOutcome as A;
        match self.service.session_still_valid(address, since) {
            Ok(()) => Ok(()),
            Err(SessionRevoked::PasswordChanged) => Err(A::BadCredentials),
            Err(SessionRevoked::Account(refusal)) => Err(imap_refusal(refusal)),
        }
    }
}
